package review

import (
	_ "embed"
	"encoding/json"
	"strings"
)

//go:generate go run ./internal/gencreateonly -o createonly.json

// createOnlyJSON holds, for every CloudFormation resource type, the JSON pointers of its create-only
// properties (from the resource provider schemas that cfn-lint ships): changing one replaces the
// resource.
//
//go:embed createonly.json
var createOnlyJSON []byte

var createOnly = func() map[string][][]string {
	var raw map[string][]string
	if err := json.Unmarshal(createOnlyJSON, &raw); err != nil {
		panic("review: createonly.json: " + err.Error())
	}
	out := make(map[string][][]string, len(raw))
	for typ, ptrs := range raw {
		paths := make([][]string, 0, len(ptrs))
		for _, p := range ptrs {
			paths = append(paths, strings.Split(strings.TrimPrefix(p, "/properties/"), "/"))
		}
		out[typ] = paths
	}
	return out
}()

// Replacement says what a property change does to its resource.
type Replacement int

const (
	// NoReplacement: the resource is updated in place.
	NoReplacement Replacement = iota
	// Replaces: the property is create-only; CloudFormation creates a new resource and deletes the old.
	Replaces
	// ReplacementUnknown: the resource type is not in the schemas this build knows.
	ReplacementUnknown
)

// KnowsType reports whether the replacement rules of a resource type are known. Custom resources
// are: a change to their properties is an update, handled by their provider.
func KnowsType(typ string) bool {
	if strings.HasPrefix(typ, "Custom::") || typ == "AWS::CloudFormation::CustomResource" {
		return true
	}
	_, ok := createOnly[typ]
	return ok
}

// replacement says whether changing the property at path (under Properties) replaces a resource
// of type typ: the path lies in or above a create-only property.
func replacement(typ string, path []string) Replacement {
	if !KnowsType(typ) {
		return ReplacementUnknown
	}
	for _, co := range createOnly[typ] {
		n := min(len(co), len(path))
		match := true
		for i := 0; i < n; i++ {
			if co[i] != path[i] && (co[i] != "*" || !isIndex(path[i])) {
				match = false
				break
			}
		}
		if match {
			return Replaces
		}
	}
	return NoReplacement
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
