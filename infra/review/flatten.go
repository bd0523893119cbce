package review

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
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
	byHash := map[string]string{}
	for name, raw := range files {
		sum := sha256.Sum256(raw)
		byHash[hex.EncodeToString(sum[:])] = name
	}
	t, err := flatten(files, byHash, file, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(t)
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
	ids := make([]string, 0, len(res))
	for id := range res {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	outputs := map[string]map[string]any{} // nested stack resource -> output name -> value
	for _, id := range ids {
		r, _ := res[id].(map[string]any)
		if r["Type"] != NestedStackType {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		url, _ := json.Marshal(props["TemplateURL"])
		m := nestedTemplateURL.FindStringSubmatch(string(url))
		if m == nil {
			return nil, fmt.Errorf("flatten %s: nested stack %s has no asset TemplateURL: %s", file, id, url)
		}
		nestedFile, ok := byHash[m[1]]
		if !ok {
			return nil, fmt.Errorf("flatten %s: nested stack %s: no template of hash %s among %d files", file, id, m[1], len(files))
		}
		nested, err := flatten(files, byHash, nestedFile, depth+1)
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
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if ref, ok := x["Ref"].(string); ok {
				if p, ok := params[ref]; ok {
					return p
				}
				if _, ok := own[ref]; ok {
					return map[string]any{"Ref": prefix + ref}
				}
				return x
			}
			if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				if id, ok := ga[0].(string); ok {
					if _, ok := own[id]; ok {
						return map[string]any{"Fn::GetAtt": []any{prefix + id, ga[1]}}
					}
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "DependsOn" {
				out[k] = renameAll(e, prefix)
				continue
			}
			out[k] = rewrite(e, prefix, params, own)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = rewrite(e, prefix, params, own)
		}
		return out
	default:
		return v
	}
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
	switch x := v.(type) {
	case map[string]any:
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(x) == 1 && len(ga) == 2 {
			id, _ := ga[0].(string)
			attr, _ := ga[1].(string)
			if outs, ok := outputs[id]; ok {
				if val, ok := outs[strings.TrimPrefix(attr, "Outputs.")]; ok {
					return val
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "DependsOn" {
				if deps := dropNested(e, outputs); deps != nil {
					out[k] = deps
				}
				continue
			}
			out[k] = resolveOutputs(e, outputs)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolveOutputs(e, outputs)
		}
		return out
	}
	return v
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
	byHash := map[string]string{}
	for name, raw := range files {
		sum := sha256.Sum256(raw)
		byHash[hex.EncodeToString(sum[:])] = name
	}
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
		res, _ := t["Resources"].(map[string]any)
		ids := make([]string, 0, len(res))
		for id := range res {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			r, _ := res[id].(map[string]any)
			if r["Type"] != NestedStackType {
				continue
			}
			props, _ := r["Properties"].(map[string]any)
			url, _ := json.Marshal(props["TemplateURL"])
			m := nestedTemplateURL.FindStringSubmatch(string(url))
			if m == nil || byHash[m[1]] == "" {
				return fmt.Errorf("nested stacks of %s: %s names no template of the assembly (%s)", file, id, url)
			}
			out = append(out, byHash[m[1]])
			if err := walk(byHash[m[1]], depth+1); err != nil {
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
