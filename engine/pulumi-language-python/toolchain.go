// The Python toolchain (pip, poetry or uv, and the virtualenv) that Pulumi.yaml's runtime options
// name, resolved by the upstream SDK's own python/toolchain package, as upstream's host does.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

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
