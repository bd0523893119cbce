package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Kind is what happens to a resource.
type Kind string

const (
	Added    Kind = "added"
	Removed  Kind = "removed"
	Changed  Kind = "changed"  // updated in place
	Replaced Kind = "replaced" // a create-only property or the type changed
)

// Change is one changed value of a resource or of another section of the template.
type Change struct {
	// Path names the value: a property's path under Properties ("MemorySize",
	// "Environment.Variables.TZ"), or a resource attribute ("DeletionPolicy", "Metadata.cdk_nag").
	Path string
	// Old and New are the values; a nil pointer means absent on that side.
	Old, New *any
	// Replacement says whether the change replaces the resource.
	Replacement Replacement
}

// ResourceDiff is the change of one resource (or one output, parameter, ...) between two templates.
type ResourceDiff struct {
	// Section is the template section: Resources, Outputs, Parameters, Conditions, ...
	Section string
	// ID is the logical ID.
	ID string
	// Type is the resource type (the new one where it changed); empty outside Resources.
	Type    string
	Kind    Kind
	Changes []Change
	// IAM and SecurityGroup say whether the change touches permissions or network rules.
	IAM, SecurityGroup bool
}

// StackDiff is the difference between two templates of one stack.
type StackDiff struct {
	Stack     string
	Resources []ResourceDiff
	// IAMAdded and IAMRemoved are the policy statements (compact JSON, with the resource that holds
	// them) that only the new or only the old template has; ManagedPolicyArns and Lambda
	// permissions count as statements.
	IAMAdded, IAMRemoved []Statement
	// RulesAdded and RulesRemoved are the security-group rules only one side has.
	RulesAdded, RulesRemoved []Statement
}

// Statement is one IAM statement or security-group rule of a resource.
type Statement struct {
	ID   string // logical ID of the resource that holds it
	JSON string // compact JSON
}

// Empty reports whether the templates are the same.
func (d *StackDiff) Empty() bool { return len(d.Resources) == 0 }

// Count returns how many resources (of the Resources section) are of kind k.
func (d *StackDiff) Count(k Kind) int {
	n := 0
	for _, r := range d.Resources {
		if r.Section == "Resources" && r.Kind == k {
			n++
		}
	}
	return n
}

// Widens reports whether the change adds IAM statements or security-group rules: what `cdk deploy
// --require-approval broadening` asks about.
func (d *StackDiff) Widens() bool { return len(d.IAMAdded) > 0 || len(d.RulesAdded) > 0 }

type template map[string]any

func parse(raw []byte) (template, error) {
	var t template
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("template is not a JSON object: %w", err)
	}
	return t, nil
}

// Diff compares two normalized templates of stack. A nil base or head stands for a stack that
// does not exist on that side (every resource added, or removed).
func Diff(stack string, base, head []byte) (*StackDiff, error) {
	var bt, ht template
	var err error
	if base != nil {
		if bt, err = parse(base); err != nil {
			return nil, fmt.Errorf("%s (base): %w", stack, err)
		}
	}
	if head != nil {
		if ht, err = parse(head); err != nil {
			return nil, fmt.Errorf("%s (head): %w", stack, err)
		}
	}
	d := &StackDiff{Stack: stack}
	sections := map[string]bool{}
	for k := range bt {
		sections[k] = true
	}
	for k := range ht {
		sections[k] = true
	}
	for _, sec := range sortedKeys(sections) {
		if sec == "Resources" {
			d.diffResources(asMap(bt[sec]), asMap(ht[sec]))
			continue
		}
		bs, bok := bt[sec].(map[string]any)
		hs, hok := ht[sec].(map[string]any)
		// A section only one side has (a new stack's Outputs) is compared entry by entry.
		if _, in := bt[sec]; !in && hok {
			bs, bok = map[string]any{}, true
		}
		if _, in := ht[sec]; !in && bok {
			hs, hok = map[string]any{}, true
		}
		if !bok || !hok {
			// Description, AWSTemplateFormatVersion, Transform: one value.
			if c := valueChange(sec, bt, ht); c != nil {
				d.Resources = append(d.Resources, ResourceDiff{Section: sec, ID: sec, Kind: Changed, Changes: []Change{*c}})
			}
			continue
		}
		for _, id := range union(bs, hs) {
			b, inB := bs[id]
			h, inH := hs[id]
			switch {
			case !inB:
				d.Resources = append(d.Resources, ResourceDiff{Section: sec, ID: id, Kind: Added, Changes: []Change{{New: &h}}})
			case !inH:
				d.Resources = append(d.Resources, ResourceDiff{Section: sec, ID: id, Kind: Removed, Changes: []Change{{Old: &b}}})
			default:
				var cs []Change
				diffValue(nil, b, h, &cs)
				if len(cs) > 0 {
					d.Resources = append(d.Resources, ResourceDiff{Section: sec, ID: id, Kind: Changed, Changes: cs})
				}
			}
		}
	}
	return d, nil
}

func (d *StackDiff) diffResources(base, head map[string]any) {
	for _, id := range union(base, head) {
		b, inB := base[id].(map[string]any)
		h, inH := head[id].(map[string]any)
		rd := ResourceDiff{Section: "Resources", ID: id}
		switch {
		case !inB:
			rd.Type, rd.Kind = str(h["Type"]), Added
		case !inH:
			rd.Type, rd.Kind = str(b["Type"]), Removed
		default:
			rd.Type, rd.Kind = str(h["Type"]), Changed
			var cs []Change
			diffValue(nil, b, h, &cs)
			if len(cs) == 0 {
				continue
			}
			for i := range cs {
				c := &cs[i]
				switch {
				case c.Path == "Type":
					c.Replacement = Replaces
				case strings.HasPrefix(c.Path, "Properties."):
					c.Path = strings.TrimPrefix(c.Path, "Properties.")
					c.Replacement = replacement(rd.Type, strings.Split(c.Path, "."))
				case c.Path == "Properties":
					c.Replacement = replacement(rd.Type, nil)
				}
				if c.Replacement == Replaces {
					rd.Kind = Replaced
				}
			}
			rd.Changes = cs
		}
		ba, ha := permissions(id, b), permissions(id, h)
		added, removed := subtract(ha, ba), subtract(ba, ha)
		d.IAMAdded, d.IAMRemoved = append(d.IAMAdded, added...), append(d.IAMRemoved, removed...)
		rd.IAM = len(added)+len(removed) > 0 || isIAMType(rd.Type)
		br, hr := sgRules(id, b), sgRules(id, h)
		added, removed = subtract(hr, br), subtract(br, hr)
		d.RulesAdded, d.RulesRemoved = append(d.RulesAdded, added...), append(d.RulesRemoved, removed...)
		rd.SecurityGroup = len(added)+len(removed) > 0 || strings.HasPrefix(rd.Type, "AWS::EC2::SecurityGroup") || touches(rd.Changes, "SecurityGroupIds")
		d.Resources = append(d.Resources, rd)
	}
}

// isIAMType: resources that grant or hold permissions by being there.
func isIAMType(typ string) bool {
	return strings.HasPrefix(typ, "AWS::IAM::") || typ == "AWS::Lambda::Permission" || strings.HasSuffix(typ, "Policy")
}

// touches reports whether a change is at or under a property named prop, at any depth.
func touches(cs []Change, prop string) bool {
	for _, c := range cs {
		for _, seg := range strings.Split(c.Path, ".") {
			if seg == prop {
				return true
			}
		}
	}
	return false
}

// permissions returns the IAM statements a resource holds: every policy document's statements
// (identity, trust, resource and key policies alike), its managed policies, and a Lambda
// permission as a whole.
func permissions(id string, r map[string]any) []Statement {
	if r == nil {
		return nil
	}
	var out []Statement
	props := asMap(r["Properties"])
	if str(r["Type"]) == "AWS::Lambda::Permission" {
		return []Statement{{ID: id, JSON: compact(props)}}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if st, ok := x["Statement"]; ok {
				if list, ok := st.([]any); ok {
					for _, s := range list {
						out = append(out, Statement{ID: id, JSON: compact(s)})
					}
				} else {
					out = append(out, Statement{ID: id, JSON: compact(st)})
				}
				return
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
	walk(props)
	if arns, ok := props["ManagedPolicyArns"].([]any); ok {
		for _, a := range arns {
			out = append(out, Statement{ID: id, JSON: "ManagedPolicyArn " + compact(a)})
		}
	}
	return out
}

// sgRules returns the ingress and egress rules a resource holds.
func sgRules(id string, r map[string]any) []Statement {
	if r == nil {
		return nil
	}
	props := asMap(r["Properties"])
	switch str(r["Type"]) {
	case "AWS::EC2::SecurityGroupIngress":
		return []Statement{{ID: id, JSON: "ingress " + compact(props)}}
	case "AWS::EC2::SecurityGroupEgress":
		return []Statement{{ID: id, JSON: "egress " + compact(props)}}
	case "AWS::EC2::SecurityGroup":
		var out []Statement
		for _, dir := range []string{"SecurityGroupIngress", "SecurityGroupEgress"} {
			list, _ := props[dir].([]any)
			for _, rule := range list {
				out = append(out, Statement{ID: id, JSON: strings.ToLower(strings.TrimPrefix(dir, "SecurityGroup")) + " " + compact(rule)})
			}
		}
		return out
	}
	return nil
}

// subtract returns the statements of a that b lacks, counting repeats.
func subtract(a, b []Statement) []Statement {
	left := map[string]int{}
	for _, s := range b {
		left[s.JSON]++
	}
	var out []Statement
	for _, s := range a {
		if left[s.JSON] > 0 {
			left[s.JSON]--
			continue
		}
		out = append(out, s)
	}
	return out
}

// diffValue appends the differences between a and b at path: objects key by key, arrays of the
// same length element by element, anything else as one value.
func diffValue(path []string, a, b any, out *[]Change) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for _, k := range union(am, bm) {
			av, inA := am[k]
			bv, inB := bm[k]
			p := append(append([]string(nil), path...), k)
			switch {
			case !inA:
				*out = append(*out, Change{Path: strings.Join(p, "."), New: &bv})
			case !inB:
				*out = append(*out, Change{Path: strings.Join(p, "."), Old: &av})
			default:
				diffValue(p, av, bv, out)
			}
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffValue(append(append([]string(nil), path...), strconv.Itoa(i)), al[i], bl[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, Change{Path: strings.Join(path, "."), Old: &a, New: &b})
	}
}

func valueChange(key string, bt, ht template) *Change {
	b, inB := bt[key]
	h, inH := ht[key]
	if inB && inH && reflect.DeepEqual(b, h) {
		return nil
	}
	c := &Change{Path: key}
	if inB {
		c.Old = &b
	}
	if inH {
		c.New = &h
	}
	return c
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// compact is v as one line of JSON with sorted keys, <, > and & left as they are.
func compact(v any) string {
	return strings.TrimSuffix(encode(v, ""), "\n")
}

func encode(v any, indent string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return b.String()
}

func union(a, b map[string]any) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return sortedKeys(keys)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
