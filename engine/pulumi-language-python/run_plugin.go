// Plugins written in Python, run as upstream's host runs them (RunPlugin): a policy pack
// (`pulumi preview --policy-pack DIR`, PulumiPolicy.yaml with runtime: python) and a provider
// (PulumiPlugin.yaml); and InstallDependencies. Their output is streamed back to the engine.
package main

import (
	"io"
	"os"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// streamWriter forwards a plugin's output to the engine.
type streamWriter struct {
	mu   *sync.Mutex
	send func([]byte) error
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := make([]byte, len(p))
	copy(b, p)
	if err := w.send(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RunPlugin runs a plugin written in Python: a policy pack (PulumiPolicy.yaml, runtime: python)
// through `python -u -m pulumi.policy ENGINE DIR`, or a provider (PulumiPlugin.yaml) as
// `python -u DIR ARGS...`.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, srv grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	ctx := srv.Context()
	tc, err := toolchainFor(req.GetInfo())
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram()
	}
	var args []string
	if req.GetKind() == "analyzer" {
		args = []string{"-u", "-m", "pulumi.policy"}
		rest := req.GetArgs()
		if len(rest) > 0 {
			args = append(args, rest[0], dir)
			args = append(args, rest[1:]...)
		} else {
			args = append(args, h.engineAddress, dir)
		}
	} else {
		args = append([]string{"-u", dir}, req.GetArgs()...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	if cmd.Env != nil {
		// Keep the toolchain's virtualenv activation (PATH, VIRTUAL_ENV) over the engine's environment.
		env = append(env, cmd.Env...)
	}
	cmd.Env = env
	cmd.Dir = req.GetPwd()
	mu := &sync.Mutex{}
	cmd.Stdout = streamWriter{mu, func(b []byte) error {
		return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	}}
	cmd.Stderr = streamWriter{mu, func(b []byte) error {
		return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	}}
	code := 0
	if err := cmd.Run(); err != nil {
		c, ok := exitCode(err)
		if !ok {
			return err
		}
		code = c
	}
	mu.Lock()
	defer mu.Unlock()
	return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, srv grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	ctx := srv.Context()
	tc, err := toolchainFor(req.GetInfo())
	if err != nil {
		return err
	}
	mu := &sync.Mutex{}
	out := streamWriter{mu, func(b []byte) error {
		return srv.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	}}
	errw := streamWriter{mu, func(b []byte) error {
		return srv.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
	}}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	return tc.InstallDependencies(ctx, dir, req.GetUseLanguageVersionTools(), true, out, errw)
}

var _ io.Writer = streamWriter{}
