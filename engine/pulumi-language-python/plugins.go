// What the program needs: GetRequiredPlugins / GetRequiredPackages report a resource plugin for
// every installed Python package that ships a pulumi-plugin.json with "resource": true (upstream's
// host reads the same files), and GetProgramDependencies lists the installed packages.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

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
