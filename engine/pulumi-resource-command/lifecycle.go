// Diff, create, update, delete, read and the local.run invoke, with upstream's semantics
// (provider/pkg/provider/local/ and remote/ commandController.go, common/inputs.go):
//   - any input change is an update, which runs `update` if set, else `create`, with the new inputs;
//   - a change of `triggers` is a replacement (upstream marks it replaceOnChanges);
//   - `delete` runs with the stored (old) inputs;
//   - outputs are the inputs plus `stdout` and `stderr`; during a preview both are unknown.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

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

func unknownString() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

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
