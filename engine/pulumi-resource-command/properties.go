// Reading the provider's inputs: values arrive as resource.PropertyValues, possibly wrapped as
// secrets or outputs (unknown during a preview). These helpers unwrap them, as upstream's
// typed inputs (pulumi-go-provider's infer) do before a command sees them.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

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

// optStr is a string input that may be absent (nil), as upstream's optional *string fields are:
// there an empty string that was given is still given.
func optStr(m resource.PropertyMap, k string) *string {
	v := plain(m[resource.PropertyKey(k)])
	if !v.IsString() {
		return nil
	}
	s := v.StringValue()
	return &s
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
