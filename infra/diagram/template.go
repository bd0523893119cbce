package diagram

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// pathMetadataKey is the resource metadata entry that holds a resource's construct path.
const pathMetadataKey = "aws:cdk:path"

// resource is one resource of a template.
type resource struct {
	// LogicalID is the resource's key in the template.
	LogicalID string
	Type      string
	// Path is the construct path below the stack, without trailing "Resource" and "Default"
	// segments: "Lake/Raw", "Plan/Function".
	Path  string
	Props map[string]any
}

// template is a decoded CloudFormation template.
type template struct {
	// Stack is the stack's construct path, the first part of every resource's path.
	Stack     string
	Resources map[string]*resource
	// Outputs are the stack outputs' values by output name.
	Outputs map[string]any
}

func parseTemplate(data []byte) (*template, error) {
	var doc struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
			Metadata   map[string]any `json:"Metadata"`
		} `json:"Resources"`
		Outputs map[string]struct {
			Value any `json:"Value"`
		} `json:"Outputs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("diagram: the template is not JSON: %w", err)
	}
	if len(doc.Resources) == 0 {
		return nil, errors.New("diagram: the template has no resources")
	}
	t := &template{Resources: map[string]*resource{}, Outputs: map[string]any{}}
	for name, o := range doc.Outputs {
		t.Outputs[name] = o.Value
	}
	var errs []error
	for _, id := range sortedKeys(doc.Resources) {
		r := doc.Resources[id]
		path, _ := r.Metadata[pathMetadataKey].(string)
		stack, rel, ok := strings.Cut(path, "/")
		if !ok {
			errs = append(errs, fmt.Errorf("resource %s has no construct path (Metadata %q); synthesize with the context %q set to true",
				id, pathMetadataKey, pathMetadataContext))
			continue
		}
		if t.Stack == "" {
			t.Stack = stack
		} else if stack != t.Stack {
			errs = append(errs, fmt.Errorf("resource %s is in %s, not in %s: give the template of one stack", id, stack, t.Stack))
			continue
		}
		t.Resources[id] = &resource{LogicalID: id, Type: r.Type, Path: trimPath(rel), Props: r.Properties}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("diagram: %w", err)
	}
	return t, nil
}

// trimPath drops the ids that L2 constructs give their CloudFormation resource.
func trimPath(p string) string {
	for {
		switch {
		case strings.HasSuffix(p, "/Resource"):
			p = strings.TrimSuffix(p, "/Resource")
		case strings.HasSuffix(p, "/Default"):
			p = strings.TrimSuffix(p, "/Default")
		default:
			return p
		}
	}
}

// subVariable matches the ${Name} and ${Name.Attribute} variables of Fn::Sub (not ${!Literal}).
var subVariable = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// refs returns the logical IDs that v references through Ref, Fn::GetAtt and Fn::Sub, sorted
// and without pseudo parameters (AWS::Region, ...).
func refs(v any) []string {
	set := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["Ref"].(string); ok {
				set[id] = true
			}
			switch ga := x["Fn::GetAtt"].(type) {
			case []any:
				if len(ga) > 0 {
					if id, ok := ga[0].(string); ok {
						set[id] = true
					}
				}
			case string:
				id, _, _ := strings.Cut(ga, ".")
				set[id] = true
			}
			if sub, ok := x["Fn::Sub"]; ok {
				text, vars := sub, map[string]any{}
				if l, ok := sub.([]any); ok && len(l) == 2 {
					text = l[0]
					vars, _ = l[1].(map[string]any)
				}
				if s, ok := text.(string); ok {
					for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
						if _, local := vars[m[1]]; !local {
							set[m[1]] = true
						}
					}
				}
			}
			for _, k := range sortedKeys(x) {
				walk(x[k])
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(set))
	for id := range set {
		if !strings.HasPrefix(id, "AWS::") {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// flatten renders a string expression (a string, or Fn::Join of strings and references) with
// pseudo parameters replaced by sample values and other references by ${LogicalId}.
func flatten(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]any:
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]any)
			var out []string
			for _, p := range parts {
				s, ok := flatten(p)
				if !ok {
					return "", false
				}
				out = append(out, s)
			}
			return strings.Join(out, sep), true
		}
		if id, ok := x["Ref"].(string); ok {
			switch id {
			case "AWS::Partition":
				return "aws", true
			case "AWS::Region":
				return "region", true
			case "AWS::AccountId":
				return "account", true
			case "AWS::URLSuffix":
				return "amazonaws.com", true
			}
			return "${" + id + "}", true
		}
		if ids := refs(x); len(ids) == 1 {
			return "${" + ids[0] + "}", true
		}
	}
	return "", false
}

// list returns v as a list of values: a list stays one, anything else is a list of one.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// lookup follows keys into nested objects; it returns nil where one is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
