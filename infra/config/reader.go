package config

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// object reads one JSON object of the context and records every problem it finds, each under its
// full key path, so that one synth reports all of them at once.
type object struct {
	path string
	m    map[string]any
	errs *problems
	seen map[string]bool
}

// problems collects configuration errors in the order they are found.
type problems struct{ list []string }

func (p *problems) add(key, format string, args ...any) {
	p.list = append(p.list, key+": "+fmt.Sprintf(format, args...))
}

func newObject(path string, v any, errs *problems) (*object, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		errs.add(path, "must be a JSON object, got %s", describe(v))
		return nil, false
	}
	return &object{path: path, m: m, errs: errs, seen: map[string]bool{}}, true
}

func (o *object) key(k string) string { return o.path + "." + k }

// get reads key k. A key that is present with the value null is a problem, not the default: a
// null left behind by a template or a script must not quietly turn into a production default.
func (o *object) get(k string) (any, bool) {
	o.seen[k] = true
	v, ok := o.m[k]
	if ok && v == nil {
		o.errs.add(o.key(k), "is null; remove the key to take its default, or give a value")
		return nil, false
	}
	return v, ok
}

// str reads an optional string; def applies when the key is absent.
func (o *object) str(k, def string) string {
	v, ok := o.get(k)
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr {
		o.errs.add(o.key(k), "must be a string, got %s", describe(v))
		return def
	}
	return s
}

// requiredStr reads a string that must be present and non-empty; hint says what to put there.
func (o *object) requiredStr(k, hint string) string {
	if v, ok := o.m[k]; !ok || v == nil {
		o.seen[k] = true
		what := "is required"
		if ok {
			what = "is null, and it is required"
		}
		o.errs.add(o.key(k), "%s; %s", what, hint)
		return ""
	}
	if v, isStr := o.m[k].(string); isStr && v == "" {
		o.errs.add(o.key(k), "must not be empty; %s", hint)
	}
	return o.str(k, "")
}

// integer reads an optional whole number within [lo, hi]; def applies when the key is absent.
func (o *object) integer(k string, def, lo, hi int64) int64 {
	v, ok := o.get(k)
	if !ok {
		return def
	}
	f, isNum := v.(float64)
	if !isNum {
		o.errs.add(o.key(k), "must be a number, got %s", describe(v))
		return def
	}
	if f != math.Trunc(f) {
		o.errs.add(o.key(k), "must be a whole number, got %v", f)
		return def
	}
	if f < float64(lo) || f > float64(hi) {
		o.errs.add(o.key(k), "must be between %d and %d, got %.0f", lo, hi, f)
		return def
	}
	return int64(f)
}

func (o *object) boolean(k string, def bool) bool {
	v, ok := o.get(k)
	if !ok {
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		o.errs.add(o.key(k), "must be true or false, got %s", describe(v))
		return def
	}
	return b
}

// child reads an optional nested object; absent yields an empty one so defaults apply.
func (o *object) child(k string) *object {
	v, ok := o.get(k)
	if !ok {
		v = map[string]any{}
	}
	c, ok := newObject(o.key(k), v, o.errs)
	if !ok {
		c, _ = newObject(o.key(k), map[string]any{}, &problems{})
	}
	return c
}

// list reads an optional array of objects.
func (o *object) list(k string) []*object {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	items, isList := v.([]any)
	if !isList {
		o.errs.add(o.key(k), "must be a JSON array, got %s", describe(v))
		return nil
	}
	var out []*object
	for i, it := range items {
		if c, ok := newObject(fmt.Sprintf("%s[%d]", o.key(k), i), it, o.errs); ok {
			out = append(out, c)
		}
	}
	return out
}

// done reports keys nobody read: a misspelt key must not be silently ignored.
func (o *object) done() {
	var unknown []string
	for k := range o.m {
		if !o.seen[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(o.seen))
	for k := range o.seen {
		known = append(known, k)
	}
	slices.Sort(known)
	for _, k := range unknown {
		o.errs.add(o.key(k), "unknown key; remove it or use one of: %s", strings.Join(known, ", "))
	}
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", v)
	case float64:
		return fmt.Sprintf("number %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// strings reads an optional array of strings.
func (o *object) strings(k string) []string {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	items, isList := v.([]any)
	if !isList {
		o.errs.add(o.key(k), "must be a JSON array of strings, got %s", describe(v))
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, isStr := it.(string)
		if !isStr {
			o.errs.add(fmt.Sprintf("%s[%d]", o.key(k), i), "must be a string, got %s", describe(it))
			continue
		}
		out = append(out, s)
	}
	return out
}
