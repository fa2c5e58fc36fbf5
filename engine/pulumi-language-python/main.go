// pulumi-language-python: a small Python language host for the Pulumi engine.
//
// Built by scripts/pulumi-engine; it exists because the upstream host's Go module is not served by the
// Go module proxy reachable here. It implements what `pulumi up/preview/destroy` and policy
// packs need: Handshake, GetPluginInfo, GetRequiredPackages/Plugins, Run, RunPlugin, About,
// GetProgramDependencies, InstallDependencies, RuntimeOptionsPrompts. The Python side is the
// SDK's own `pulumi-language-python-exec` script, installed next to this binary.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Exit code of pulumi-language-python-exec after it has shown the user an actionable message.
const bailExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string
}

func main() {
	// The engine passes flags (older engines) and the engine address as the last argument.
	engineAddress := ""
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			engineAddress = a
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
	h := &host{
		engineAddress: engineAddress,
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "fatal: language host RPC stopped serving: %v\n", err)
		os.Exit(1)
	}
}

// toolchainFor builds the Python toolchain (pip/poetry/uv, virtualenv) from Pulumi.yaml's runtime options.
func toolchainFor(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Toolchain: toolchain.Auto}
	if info != nil {
		opts.Root = info.GetRootDirectory()
		opts.ProgramDir = info.GetProgramDirectory()
		fields := info.GetOptions().GetFields()
		if v, ok := fields["virtualenv"]; ok {
			opts.Virtualenv = v.GetStringValue()
		}
		if v, ok := fields["toolchain"]; ok {
			switch v.GetStringValue() {
			case "pip":
				opts.Toolchain = toolchain.Pip
			case "poetry":
				opts.Toolchain = toolchain.Poetry
			case "uv":
				opts.Toolchain = toolchain.Uv
			case "":
			default:
				return nil, fmt.Errorf("unsupported python toolchain %q", v.GetStringValue())
			}
		}
	}
	if opts.Root == "" {
		opts.Root, _ = os.Getwd()
	}
	if opts.ProgramDir == "" {
		opts.ProgramDir = opts.Root
	}
	if opts.Virtualenv != "" && !filepath.IsAbs(opts.Virtualenv) {
		opts.Virtualenv = filepath.Join(opts.Root, opts.Virtualenv)
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

type pluginSpec struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Server  string `json:"server"`
}

// Lists the resource plugins that the installed Python packages declare in pulumi-plugin.json.
const listPluginsPy = `
import json, importlib.metadata as md
out, seen = [], set()
for d in md.distributions():
    name = (d.metadata["Name"] or "").lower().replace("-", "_")
    if name == "pulumi":
        continue
    for f in d.files or []:
        if f.name != "pulumi-plugin.json":
            continue
        try:
            j = json.loads(f.read_text())
        except Exception:
            continue
        if not j.get("resource", False):
            continue
        n = j.get("name") or (name[len("pulumi_"):] if name.startswith("pulumi_") else name)
        v = j.get("version") or d.version
        if (n, v) in seen:
            continue
        seen.add((n, v))
        out.append({"name": n, "version": v, "server": j.get("server", "")})
print(json.dumps(out))
`

func (h *host) requiredPlugins(ctx context.Context, info *pulumirpc.ProgramInfo) ([]pluginSpec, error) {
	tc, err := toolchainFor(info)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPluginsPy)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing pulumi plugins of the installed python packages: %w", err)
	}
	var specs []pluginSpec
	if err := json.Unmarshal(out, &specs); err != nil {
		return nil, fmt.Errorf("parsing plugin list %q: %w", out, err)
	}
	return specs, nil
}

func (h *host) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	specs, err := h.requiredPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, s := range specs {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: s.Name, Version: s.Version, Server: s.Server,
		})
	}
	return resp, nil
}

func (h *host) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	specs, err := h.requiredPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, s := range specs {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Kind: "resource", Name: s.Name, Version: s.Version, Server: s.Server,
		})
	}
	return resp, nil
}

func exitCode(err error) (int, bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(h.execScript); err != nil {
		return nil, fmt.Errorf("missing %s: %w", h.execScript, err)
	}
	program := req.GetProgram()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		program = info.GetProgramDirectory()
		if ep := info.GetEntryPoint(); ep != "" && ep != "." {
			program = filepath.Join(program, ep)
		}
	}
	engine := h.engineAddress
	args := []string{"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", engine,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--organization", req.GetOrganization(),
	}
	if info := req.GetInfo(); info != nil && info.GetRootDirectory() != "" {
		args = append(args, "--root_directory", info.GetRootDirectory())
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	sk, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(sk))
	cmd.Dir = req.GetPwd()
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		if code, ok := exitCode(err); ok {
			if code == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

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

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: info.PythonExecutable, Version: info.PythonVersion.String()}, nil
}

func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

func (h *host) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

var _ io.Writer = streamWriter{}
