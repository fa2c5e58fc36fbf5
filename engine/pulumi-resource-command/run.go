// One command run, local or remote, as upstream runs it: `environment` and (on update and
// delete, unless addPreviousOutputInEnv is false) PULUMI_COMMAND_STDOUT / _STDERR passed to it,
// `stdin` fed to it, one trailing newline trimmed from stdout and stderr, both logged per
// `logging` (default stdoutAndStderr), and a non-zero exit failing the step with the command,
// stdout and stderr in the error message.
package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// run executes one command (local or over SSH) and returns its trimmed stdout and stderr.
func (p *cmdProvider) run(
	ctx context.Context, urn resource.URN, typ string, inputs resource.PropertyMap, command string,
	previous resource.PropertyMap,
) (string, string, error) {
	if command == "" {
		return "", "", nil
	}
	env := strMap(inputs, "environment")
	var extraEnv map[string]string
	if previous != nil && boolean(inputs, "addPreviousOutputInEnv", true) {
		extraEnv = map[string]string{
			"PULUMI_COMMAND_STDOUT": str(previous, "stdout"),
			"PULUMI_COMMAND_STDERR": str(previous, "stderr"),
		}
	}
	stdin := str(inputs, "stdin")
	var stdout, stderr bytes.Buffer
	var err error
	if typ == remoteCommand {
		err = p.runRemote(ctx, urn, plain(inputs["connection"]), command, env, extraEnv, stdin, &stdout, &stderr)
	} else {
		err = runLocal(ctx, inputs, command, env, extraEnv, stdin, &stdout, &stderr)
	}
	outS := strings.TrimSuffix(stdout.String(), "\n")
	errS := strings.TrimSuffix(stderr.String(), "\n")
	p.logOutput(ctx, urn, str(inputs, "logging"), outS, errS)
	if err != nil {
		return outS, errS, fmt.Errorf("%w: running %q:\n%s\n%s", err, command, outS, errS)
	}
	return outS, errS, nil
}

func (p *cmdProvider) logOutput(ctx context.Context, urn resource.URN, logging, stdout, stderr string) {
	if p.host == nil || urn == "" {
		return
	}
	if logging == "" {
		logging = "stdoutAndStderr"
	}
	if (logging == "stdout" || logging == "stdoutAndStderr") && stdout != "" {
		_ = p.host.Log(ctx, diag.Info, urn, stdout)
	}
	if (logging == "stderr" || logging == "stdoutAndStderr") && stderr != "" {
		_ = p.host.Log(ctx, diag.Info, urn, stderr)
	}
}
