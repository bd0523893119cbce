package review

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// NestedStackType is the CloudFormation type of a nested stack's resource in its parent.
const NestedStackType = "AWS::CloudFormation::Stack"

// nestedTemplateURL finds the asset hash of a nested stack's template in its TemplateURL: the
// SHA-256 of the template file the CDK wrote next to the parent's.
var nestedTemplateURL = regexp.MustCompile(`([0-9a-f]{64})\.json`)

// Flatten returns the template of file with every nested stack inlined, as one template that
// deploys the same resources: each nested stack's resources under its resource's logical ID
// prefix (SourcesocialNestedStack...Resource1234ABCD's CrawlerA942B6C5 becomes
// SourcesocialCrawlerA942B6C5), its parameters replaced by the values the parent passes, and the
// parent's references to its outputs by the outputs' values. files are the templates of one
// cloud assembly by file name, as synthesized (not normalized: a nested stack is found by the hash
// of its template). Checks that read a stack's policies, alarms and references read this view, so
// that they hold whether or not a resource sits in a nested stack.
func Flatten(files map[string][]byte, file string) ([]byte, error) {
	t, err := flatten(files, hashIndex(files), file, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(t)
}

// hashIndex maps the SHA-256 of each template to its file name: a nested stack's TemplateURL
// names its template by that hash.
func hashIndex(files map[string][]byte) map[string]string {
	byHash := map[string]string{}
	for name, raw := range files {
		sum := sha256.Sum256(raw)
		byHash[hex.EncodeToString(sum[:])] = name
	}
	return byHash
}

// nestedStack is a nested stack's resource in its parent's template.
type nestedStack struct {
	id, file string
	props    map[string]any
}

// nestedStacks lists the nested stacks of template t (of file), by logical ID, with the file of
// each one's template.
func nestedStacks(t map[string]any, byHash map[string]string, file string) ([]nestedStack, error) {
	res, _ := t["Resources"].(map[string]any)
	var out []nestedStack
	for _, id := range slices.Sorted(maps.Keys(res)) {
		r, _ := res[id].(map[string]any)
		if r["Type"] != NestedStackType {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		url, _ := json.Marshal(props["TemplateURL"])
		m := nestedTemplateURL.FindStringSubmatch(string(url))
		if m == nil || byHash[m[1]] == "" {
			return nil, fmt.Errorf("nested stacks of %s: %s names no template of the assembly (%s)", file, id, url)
		}
		out = append(out, nestedStack{id: id, file: byHash[m[1]], props: props})
	}
	return out, nil
}

func decode(raw []byte) (map[string]any, error) {
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func flatten(files map[string][]byte, byHash map[string]string, file string, depth int) (map[string]any, error) {
	if depth > 8 {
		return nil, fmt.Errorf("flatten %s: nested stacks deeper than 8 levels", file)
	}
	raw, ok := files[file]
	if !ok {
		return nil, fmt.Errorf("flatten: no template %s", file)
	}
	t, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("flatten %s: %w", file, err)
	}
	res, _ := t["Resources"].(map[string]any)
	stacks, err := nestedStacks(t, byHash, file)
	if err != nil {
		return nil, fmt.Errorf("flatten: %w", err)
	}
	outputs := map[string]map[string]any{} // nested stack resource -> output name -> value
	for _, ns := range stacks {
		id, props := ns.id, ns.props
		nested, err := flatten(files, byHash, ns.file, depth+1)
		if err != nil {
			return nil, err
		}
		prefix, _, _ := strings.Cut(id, "NestedStack")
		params, _ := props["Parameters"].(map[string]any)
		nres, _ := nested["Resources"].(map[string]any)
		inline := func(v any) any { return rewrite(v, prefix, params, nres) }
		for nid, nr := range nres {
			if _, dup := res[prefix+nid]; dup {
				return nil, fmt.Errorf("flatten %s: %s of nested stack %s is already a resource of the parent", file, prefix+nid, id)
			}
			res[prefix+nid] = inline(nr)
		}
		outputs[id] = map[string]any{}
		nouts, _ := nested["Outputs"].(map[string]any)
		for name, o := range nouts {
			om, _ := o.(map[string]any)
			outputs[id][name] = inline(om["Value"])
		}
		delete(res, id)
	}
	if len(outputs) == 0 {
		return t, nil
	}
	for k, v := range t {
		if k != "Parameters" {
			t[k] = resolveOutputs(v, outputs)
		}
	}
	return t, nil
}

// rewrite renames a nested template's references to its own resources with prefix and replaces
// those to its parameters with the values the parent passes.
func rewrite(v any, prefix string, params, own map[string]any) any {
	return mapJSON(v, func(x map[string]any) (any, bool) {
		if ref, ok := x["Ref"].(string); ok {
			if p, ok := params[ref]; ok {
				return p, true
			}
			if _, ok := own[ref]; ok {
				return map[string]any{"Ref": prefix + ref}, true
			}
			return x, true
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			if id, ok := ga[0].(string); ok {
				if _, ok := own[id]; ok {
					return map[string]any{"Fn::GetAtt": []any{prefix + id, ga[1]}}, true
				}
			}
		}
		return nil, false
	}, func(deps any) any { return renameAll(deps, prefix) })
}

// mapJSON rebuilds the JSON value v: fn may replace each single-key object (the form of a
// reference), and deps replaces each DependsOn value (dropped when it returns nil).
func mapJSON(v any, fn func(map[string]any) (any, bool), deps func(any) any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if r, ok := fn(x); ok {
				return r
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "DependsOn" {
				if d := deps(e); d != nil {
					out[k] = d
				}
				continue
			}
			out[k] = mapJSON(e, fn, deps)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapJSON(e, fn, deps)
		}
		return out
	}
	return v
}

func renameAll(v any, prefix string) any {
	switch x := v.(type) {
	case string:
		return prefix + x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renameAll(e, prefix)
		}
		return out
	}
	return v
}

// resolveOutputs replaces the parent's {"Fn::GetAtt": [nested, "Outputs.X"]} by output X's
// value and drops the nested stacks from DependsOn lists.
func resolveOutputs(v any, outputs map[string]map[string]any) any {
	return mapJSON(v, func(x map[string]any) (any, bool) {
		ga, ok := x["Fn::GetAtt"].([]any)
		if !ok || len(ga) != 2 {
			return nil, false
		}
		id, _ := ga[0].(string)
		attr, _ := ga[1].(string)
		val, ok := outputs[id][strings.TrimPrefix(attr, "Outputs.")]
		return val, ok
	}, func(deps any) any { return dropNested(deps, outputs) })
}

func dropNested(v any, nested map[string]map[string]any) any {
	switch x := v.(type) {
	case string:
		if _, ok := nested[x]; ok {
			return nil
		}
		return x
	case []any:
		var out []any
		for _, e := range x {
			if s, ok := e.(string); ok {
				if _, ok := nested[s]; ok {
					continue
				}
			}
			out = append(out, e)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// Nested returns the file names of the nested stacks' templates of file, and of theirs, in the
// order the parent names them. files are as for Flatten.
func Nested(files map[string][]byte, file string) ([]string, error) {
	byHash := hashIndex(files)
	var out []string
	var walk func(file string, depth int) error
	walk = func(file string, depth int) error {
		if depth > 8 {
			return fmt.Errorf("nested stacks of %s: deeper than 8 levels", file)
		}
		t, err := decode(files[file])
		if err != nil {
			return fmt.Errorf("nested stacks of %s: %w", file, err)
		}
		stacks, err := nestedStacks(t, byHash, file)
		if err != nil {
			return err
		}
		for _, ns := range stacks {
			out = append(out, ns.file)
			if err := walk(ns.file, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(file, 0); err != nil {
		return nil, err
	}
	return out, nil
}
