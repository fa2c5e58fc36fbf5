// command:local:Command and local.run: the command runs under `interpreter` (default
// /bin/sh -c) in `dir`, with this process's environment plus `environment`, as upstream's
// provider/pkg/provider/local does.
package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func runLocal(
	ctx context.Context, inputs resource.PropertyMap, command string, env, extraEnv map[string]string, stdin string,
	stdout, stderr io.Writer,
) error {
	interpreter := strList(inputs, "interpreter")
	if len(interpreter) == 0 {
		interpreter = []string{"/bin/sh", "-c"}
	}
	args := append(append([]string{}, interpreter[1:]...), command)
	cmd := exec.CommandContext(ctx, interpreter[0], args...)
	cmd.Dir = str(inputs, "dir")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range extraEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd.Run()
}
