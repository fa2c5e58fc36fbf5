// How a connection authenticates, as upstream's connectionBase.SSHConfig
// (provider/pkg/provider/remote/connection.go) does, in its order: the private key, decrypted
// with privateKeyPassword whenever that is given (so a password for an unencrypted key is an
// error, as there); the password, also answering keyboard-interactive questions; and the SSH
// agent at agentSocketPath, else at SSH_AUTH_SOCK when that is set. If that agent cannot be
// reached, upstream fails every command on the connection, even one with a key that would have
// worked: so does this provider, with an error that says what to do. Host keys are not checked.
package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// config returns the client config and a cleanup that closes the agent connection, if any.
func (c *connection) config() (*ssh.ClientConfig, func(), error) {
	var auths []ssh.AuthMethod
	cleanup := func() {}
	if c.privateKey != nil {
		signer, err := c.signer()
		if err != nil {
			return nil, cleanup, err
		}
		auths = append(auths, ssh.PublicKeys(signer))
	}
	if c.password != nil {
		auths = append(auths, passwordAuths(*c.password)...)
	}
	if sock, fix, ok := c.agentSocket(); ok {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, cleanup, fmt.Errorf("the SSH agent at %q cannot be reached (%w), and pulumi-command then "+
				"fails every SSH command, even with a private key: %s", sock, err, fix)
		}
		auths = append(auths, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		cleanup = func() { _ = conn.Close() }
	}
	return &ssh.ClientConfig{
		User:            c.user,
		Auth:            auths,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // same as the upstream provider
		Timeout:         c.perDialTimeout,
	}, cleanup, nil
}

func (c *connection) signer() (ssh.Signer, error) {
	var signer ssh.Signer
	var err error
	if c.privateKeyPassword != nil {
		signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.privateKey), []byte(*c.privateKeyPassword))
	} else {
		signer, err = ssh.ParsePrivateKey([]byte(*c.privateKey))
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return signer, nil
	case errors.As(err, &missing):
		return nil, fmt.Errorf("parsing private key: %w: give its passphrase as privateKeyPassword", err)
	case c.privateKeyPassword != nil && errors.Is(err, x509.IncorrectPasswordError):
		return nil, fmt.Errorf("parsing private key: %w: privateKeyPassword is not this key's passphrase", err)
	}
	return nil, fmt.Errorf("parsing private key: %w", err)
}

// passwordAuths answers a password prompt and every keyboard-interactive question with the password.
func passwordAuths(password string) []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.Password(password), ssh.KeyboardInteractive(
		func(_, _ string, questions []string, _ []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range answers {
				answers[i] = password
			}
			return answers, nil
		})}
}

// agentSocket is the agent socket upstream would use, if any, and what to do when it is stale.
func (c *connection) agentSocket() (sock, fix string, ok bool) {
	if c.agentSocketPath != nil {
		return *c.agentSocketPath, "start an agent on that socket, or drop connection.agentSocketPath", true
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		return sock, "unset SSH_AUTH_SOCK before running pulumi, or start an agent (eval \"$(ssh-agent)\" sets it)", true
	}
	return "", "", false
}
