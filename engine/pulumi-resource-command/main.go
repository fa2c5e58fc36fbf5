// pulumi-resource-command: a stand-in for the pulumi-command provider plugin.
//
// Built by scripts/pulumi-engine; it exists because the upstream provider's Go module is not served by the
// Go module proxy reachable here. It serves the resource types the pulumi_command Python SDK
// registers for command:local:Command and command:remote:Command, plus the command:local:run invoke,
// with the upstream semantics the project relies on:
//   - any input change is an update, which runs `update` if set, else `create`, with the new inputs;
//   - a change of `triggers` is a replacement;
//   - `delete` runs with the stored (old) inputs;
//   - outputs are the inputs plus `stdout` and `stderr` (one trailing newline trimmed);
//   - a non-zero exit fails the step, with the command, stdout and stderr in the error message;
//   - `environment` goes to remote commands through SSH Setenv (an error if the server refuses it);
//   - remote connections ignore host keys; private key, password and SSH agent authentication;
//     dialErrorLimit / perDialTimeout retries; one or more `proxy` jump hosts.
//
// Not supported: assetPaths / archivePaths, remote:CopyToRemote, remote:CopyFile.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Version is stamped at build time with -ldflags -X; it must match the pulumi_command Python package.
var Version = "1.2.1"

const (
	localCommand  = "command:local:Command"
	remoteCommand = "command:remote:Command"
	localRun      = "command:local:run"
)

type cmdProvider struct {
	plugin.UnimplementedProvider
	host *provider.HostClient
}

func main() {
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return plugin.NewProviderServer(&cmdProvider{host: host}), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
}

func (p *cmdProvider) Close() error { return nil }

func (p *cmdProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v, err := semver.ParseTolerant(Version)
	if err != nil {
		return plugin.PluginInfo{}, err
	}
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *cmdProvider) SignalCancellation(context.Context) error { return nil }

func (p *cmdProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *cmdProvider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *cmdProvider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func supported(t string) error {
	switch t {
	case localCommand, remoteCommand:
		return nil
	}
	return fmt.Errorf("resource type %q is not implemented by this pulumi-resource-command build "+
		"(only %s and %s are)", t, localCommand, remoteCommand)
}

func (p *cmdProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	if err := supported(string(req.Type)); err != nil {
		return plugin.CheckResponse{}, err
	}
	var failures []plugin.CheckFailure
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if v, ok := req.News[resource.PropertyKey(k)]; ok && !v.IsNull() {
			failures = append(failures, plugin.CheckFailure{
				Property: resource.PropertyKey(k), Reason: k + " is not supported by this pulumi-resource-command build",
			})
		}
	}
	if string(req.Type) == remoteCommand {
		if v, ok := req.News["connection"]; !ok || v.IsNull() {
			failures = append(failures, plugin.CheckFailure{Property: "connection", Reason: "missing required property"})
		}
	}
	return plugin.CheckResponse{Properties: req.News, Failures: failures}, nil
}

// plain strips secret and output wrappers, recursively, so values can be read and compared.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return resource.MakeComputed(resource.NewStringProperty(""))
		}
		return plain(o.Element)
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]resource.PropertyValue, len(arr))
		for i, e := range arr {
			out[i] = plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		return resource.NewObjectProperty(plainMap(v.ObjectValue()))
	}
	return v
}

func plainMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

func str(m resource.PropertyMap, k string) string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return ""
	}
	v = plain(v)
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(m resource.PropertyMap, k string, def float64) float64 {
	v := plain(m[resource.PropertyKey(k)])
	if v.IsNumber() {
		return v.NumberValue()
	}
	return def
}

func boolean(m resource.PropertyMap, k string, def bool) bool {
	v := plain(m[resource.PropertyKey(k)])
	if v.IsBool() {
		return v.BoolValue()
	}
	return def
}

func strMap(m resource.PropertyMap, k string) map[string]string {
	out := map[string]string{}
	v := plain(m[resource.PropertyKey(k)])
	if !v.IsObject() {
		return out
	}
	for kk, vv := range v.ObjectValue() {
		if vv.IsString() {
			out[string(kk)] = vv.StringValue()
		}
	}
	return out
}

func strList(m resource.PropertyMap, k string) []string {
	var out []string
	v := plain(m[resource.PropertyKey(k)])
	if !v.IsArray() {
		return nil
	}
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

var outputKeys = map[resource.PropertyKey]bool{"stdout": true, "stderr": true}

func (p *cmdProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	olds := req.OldInputs
	if olds == nil {
		olds = req.OldOutputs
	}
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range req.NewInputs {
		keys[k] = true
	}
	ignored := map[string]bool{}
	for _, k := range req.IgnoreChanges {
		ignored[k] = true
	}
	var changed, replaces []resource.PropertyKey
	detailed := map[string]plugin.PropertyDiff{}
	for k := range keys {
		if outputKeys[k] || ignored[string(k)] {
			continue
		}
		o, hadOld := olds[k]
		n, hasNew := req.NewInputs[k]
		if !hadOld {
			o = resource.NewNullProperty()
		}
		if !hasNew {
			n = resource.NewNullProperty()
		}
		po, pn := plain(o), plain(n)
		if !pn.ContainsUnknowns() && po.DeepEquals(pn) {
			continue
		}
		kind := plugin.DiffUpdate
		switch {
		case !hadOld || po.IsNull():
			kind = plugin.DiffAdd
		case !hasNew || pn.IsNull():
			kind = plugin.DiffDelete
		}
		changed = append(changed, k)
		if k == "triggers" {
			replaces = append(replaces, k)
			kind = kind.AsReplace()
		}
		detailed[string(k)] = plugin.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(changed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i] < changed[j] })
	return plugin.DiffResult{
		Changes:      plugin.DiffSome,
		ChangedKeys:  changed,
		ReplaceKeys:  replaces,
		DetailedDiff: detailed,
	}, nil
}

func randomID(name string) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return name + hex.EncodeToString(b), nil
}

func withOutputs(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := inputs.Copy()
	out["stdout"] = stdout
	out["stderr"] = stderr
	return out
}

func unknownString() resource.PropertyValue { return resource.MakeComputed(resource.NewStringProperty("")) }

func (p *cmdProvider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	if err := supported(string(req.Type)); err != nil {
		return plugin.CreateResponse{}, err
	}
	if req.Preview {
		return plugin.CreateResponse{
			Properties: withOutputs(req.Properties, unknownString(), unknownString()),
			Status:     resource.StatusOK,
		}, nil
	}
	id, err := randomID(req.Name)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	stdout, stderr, err := p.run(ctx, req.URN, string(req.Type), req.Properties, str(req.Properties, "create"), nil)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{
		ID:         resource.ID(id),
		Properties: withOutputs(req.Properties, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)),
		Status:     resource.StatusOK,
	}, nil
}

func (p *cmdProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	return plugin.ReadResponse{
		ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State},
		Status:     resource.StatusOK,
	}, nil
}

func (p *cmdProvider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if err := supported(string(req.Type)); err != nil {
		return plugin.UpdateResponse{}, err
	}
	if req.Preview {
		return plugin.UpdateResponse{
			Properties: withOutputs(req.NewInputs, unknownString(), unknownString()),
			Status:     resource.StatusOK,
		}, nil
	}
	command := str(req.NewInputs, "update")
	if command == "" {
		command = str(req.NewInputs, "create")
	}
	stdout, stderr, err := p.run(ctx, req.URN, string(req.Type), req.NewInputs, command, req.OldOutputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{
		Properties: withOutputs(req.NewInputs, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)),
		Status:     resource.StatusOK,
	}, nil
}

func (p *cmdProvider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	if err := supported(string(req.Type)); err != nil {
		return plugin.DeleteResponse{}, err
	}
	state := req.Outputs
	if state == nil {
		state = req.Inputs
	}
	if command := str(state, "delete"); command != "" {
		if _, _, err := p.run(ctx, req.URN, string(req.Type), state, command, state); err != nil {
			return plugin.DeleteResponse{Status: resource.StatusOK}, err
		}
	}
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
}

func (p *cmdProvider) Invoke(ctx context.Context, req plugin.InvokeRequest) (plugin.InvokeResponse, error) {
	if string(req.Tok) != localRun {
		return plugin.InvokeResponse{}, fmt.Errorf("function %q is not implemented by this pulumi-resource-command build", req.Tok)
	}
	stdout, stderr, err := p.run(ctx, "", localCommand, req.Args, str(req.Args, "command"), nil)
	if err != nil {
		return plugin.InvokeResponse{}, err
	}
	return plugin.InvokeResponse{
		Properties: withOutputs(req.Args, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)),
	}, nil
}

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

type connection struct {
	host, user, password, privateKey, privateKeyPassword, agentSocketPath string
	port, dialErrorLimit                                                  int
	perDialTimeout                                                        time.Duration
	proxy                                                                 *connection
}

func parseConnection(v resource.PropertyValue) (*connection, error) {
	if !v.IsObject() {
		return nil, errors.New("connection must be an object")
	}
	m := v.ObjectValue()
	c := &connection{
		host:               str(m, "host"),
		user:               str(m, "user"),
		password:           str(m, "password"),
		privateKey:         str(m, "privateKey"),
		privateKeyPassword: str(m, "privateKeyPassword"),
		agentSocketPath:    str(m, "agentSocketPath"),
		port:               int(num(m, "port", 22)),
		dialErrorLimit:     int(num(m, "dialErrorLimit", 10)),
		perDialTimeout:     time.Duration(num(m, "perDialTimeout", 15)) * time.Second,
	}
	if c.host == "" {
		return nil, errors.New("connection.host is required")
	}
	if c.user == "" {
		c.user = "root"
	}
	if pv, ok := m["proxy"]; ok && pv.IsObject() {
		proxy, err := parseConnection(pv)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		c.proxy = proxy
	}
	return c, nil
}

func (c *connection) addr() string { return net.JoinHostPort(c.host, fmt.Sprint(c.port)) }

func (c *connection) config() (*ssh.ClientConfig, func(), error) {
	var auths []ssh.AuthMethod
	cleanup := func() {}
	if c.privateKey != "" {
		var signer ssh.Signer
		var err error
		if c.privateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.privateKey), []byte(c.privateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.privateKey))
		}
		if err != nil {
			return nil, cleanup, fmt.Errorf("parsing private key: %w", err)
		}
		auths = append(auths, ssh.PublicKeys(signer))
	}
	if c.password != "" {
		pw := c.password
		auths = append(auths, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	sock := c.agentSocketPath
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			auths = append(auths, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
			cleanup = func() { _ = conn.Close() }
		}
	}
	return &ssh.ClientConfig{
		User:            c.user,
		Auth:            auths,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // same as the upstream provider
		Timeout:         c.perDialTimeout,
	}, cleanup, nil
}

// dial connects (through the proxy chain, if any), retrying up to dialErrorLimit times.
func (c *connection) dial(ctx context.Context) (*ssh.Client, func(), error) {
	var through *ssh.Client
	closers := []func(){}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if c.proxy != nil {
		pc, pclose, err := c.proxy.dial(ctx)
		if err != nil {
			return nil, closeAll, fmt.Errorf("dialing proxy %s: %w", c.proxy.addr(), err)
		}
		through = pc
		closers = append(closers, pclose)
	}
	cfg, cleanup, err := c.config()
	closers = append(closers, cleanup)
	if err != nil {
		return nil, closeAll, err
	}
	var lastErr error
	for attempt := 1; c.dialErrorLimit < 0 || attempt <= max(c.dialErrorLimit, 1); attempt++ {
		var client *ssh.Client
		if through != nil {
			var conn net.Conn
			conn, lastErr = through.Dial("tcp", c.addr())
			if lastErr == nil {
				var sc ssh.Conn
				var chans <-chan ssh.NewChannel
				var reqs <-chan *ssh.Request
				sc, chans, reqs, lastErr = ssh.NewClientConn(conn, c.addr(), cfg)
				if lastErr == nil {
					client = ssh.NewClient(sc, chans, reqs)
				} else {
					_ = conn.Close()
				}
			}
		} else {
			client, lastErr = ssh.Dial("tcp", c.addr(), cfg)
		}
		if lastErr == nil {
			closers = append(closers, func() { _ = client.Close() })
			return client, closeAll, nil
		}
		select {
		case <-ctx.Done():
			return nil, closeAll, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 5)) * time.Second):
		}
	}
	return nil, closeAll, fmt.Errorf("unable to connect to %s: %w", c.addr(), lastErr)
}

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
