// pulumi-resource-command: a stand-in for the pulumi-command provider plugin (upstream:
// github.com/pulumi/pulumi-command, provider/). scripts/pulumi-engine builds it because the Go
// module proxy reachable here refuses the upstream provider's module.
//
// This file: the plugin plumbing. It serves, over the SDK's provider gRPC server, the types the
// pulumi_command Python SDK registers: command:local:Command, command:remote:Command and the
// command:local:run invoke, and reports Version (the engine asks for the plugin at the version
// of the pulumi_command Python package). Check refuses what this build does not implement
// (assetPaths / archivePaths; remote:CopyToRemote and remote:CopyFile are other types).
//
// The other files: properties.go (reading inputs), lifecycle.go (diff, create, update, delete:
// upstream's semantics), run.go (one command run, its output and logging), local.go (local
// commands), remote.go (remote commands over SSH), connection.go (the SSH connection and its
// proxy chain), ssh_auth.go (how a connection authenticates).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
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
