// command:remote:Command: the command runs in one SSH session on the connection's host, as in
// upstream's provider/pkg/provider/remote/commandController.go: `environment` is sent with SSH
// Setenv and a refused variable is an error (sshd accepts only its AcceptEnv names); a refused
// PULUMI_COMMAND_STDOUT / _STDERR is only a warning.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func (p *cmdProvider) runRemote(
	ctx context.Context, urn resource.URN, connValue resource.PropertyValue, command string,
	env, extraEnv map[string]string, stdin string, stdout, stderr io.Writer,
) error {
	if connValue.ContainsUnknowns() {
		return errors.New("connection is not known")
	}
	conn, err := parseConnection(connValue)
	if err != nil {
		return err
	}
	client, closeAll, err := conn.dial(ctx)
	defer closeAll()
	if err != nil {
		return err
	}
	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("opening SSH session: %w", err)
	}
	defer func() { _ = session.Close() }()
	for k, v := range env {
		if err := session.Setenv(k, v); err != nil {
			return fmt.Errorf("could not set environment variable %q; the server may need it in AcceptEnv: %w", k, err)
		}
	}
	for k, v := range extraEnv {
		if err := session.Setenv(k, v); err != nil && p.host != nil && urn != "" {
			_ = p.host.Log(ctx, diag.Warning, urn, fmt.Sprintf(
				"could not set %s on the remote host (add it to AcceptEnv, or set addPreviousOutputInEnv to false)", k))
		}
	}
	if stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	session.Stdout = stdout
	session.Stderr = stderr
	return session.Run(command)
}
