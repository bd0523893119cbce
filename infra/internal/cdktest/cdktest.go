// Package cdktest helps construct tests: an App with the project's feature flags, a stack in a
// fixed environment, a synthesized template that can be asserted on both through the CDK
// assertions library and as plain Go values, and helpers that turn jsii panics into test errors.
package cdktest

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The environment of every test stack.
const (
	Account = "123456789012"
	Region  = "ap-northeast-1"
)

// projectContextKey is the app configuration in cdk.json; constructs never read it, so tests leave it out.
const projectContextKey = "kpilake"

var outRoot string

// Main runs a package's tests with the cloud assemblies in a temporary directory, removes it and
// stops jsii's Node process. Use it as `func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }`.
func Main(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("cdktest: -short (make test-unit): these tests synthesize with the CDK (jsii, Node); make test runs them")
		return 0
	}
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Fprintln(os.Stderr, "cdktest: jsii needs Node on PATH; run `export PATH=$PWD/node_modules/.bin:$PATH` in the module root:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "cdktest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cdktest:", err)
		return 1
	}
	outRoot = dir
	code := m.Run()
	jsii.Close()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "cdktest:", err)
	}
	return code
}

// ModuleRoot is the directory of the go.mod above the working directory.
func ModuleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("cdktest: no go.mod above the working directory")
		}
		d = parent
	}
}

// Context is the "context" of the project's cdk.json without the app configuration: the feature
// flags that production synth runs with.
var Context = sync.OnceValues(func() (map[string]any, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, fmt.Errorf("cdktest: %w", err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("cdktest: cdk.json: %w", err)
	}
	if len(file.Context) == 0 {
		return nil, errors.New("cdktest: cdk.json has no context")
	}
	delete(file.Context, projectContextKey)
	return file.Context, nil
})

// NewStack returns a stack, alone in a new App with the feature flags of cdk.json, in account
// Account and region Region. It panics if cdk.json cannot be read.
//
// The App skips the CDK's built-in CloudFormation validation (a WebAssembly engine that takes
// about 2.5 CPU-s to start in each test process, then validates every synthesis): a construct
// test asserts its resources and cdk-nag's findings; the environments as deployed are
// synthesized with that validation on, and linted with cfn-lint, in the module's test package.
func NewStack(id string) awscdk.Stack {
	ctx, err := Context()
	if err != nil {
		panic(err)
	}
	props := &awscdk.AppProps{Context: &ctx, BuiltinCloudFormationValidation: jsii.Bool(false)}
	if outRoot != "" {
		dir, err := os.MkdirTemp(outRoot, "cdk.out-")
		if err != nil {
			panic(err)
		}
		props.Outdir = jsii.String(dir)
	}
	app := awscdk.NewApp(props)
	return awscdk.NewStack(app, jsii.String(id), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(Account), Region: jsii.String(Region)},
	})
}

// TestStack is NewStack("Test") for a test: a failure (no Node, no cdk.json) fails t instead of
// panicking.
func TestStack(t testing.TB) awscdk.Stack {
	t.Helper()
	var stack awscdk.Stack
	if err := Recover(func() { stack = NewStack("Test") }); err != nil {
		t.Fatal(err)
	}
	return stack
}

// Recover runs fn and returns what it panicked with as an error, or nil if it returned.
func Recover(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	fn()
	return nil
}

// WantError fails the test unless err is an error whose message mentions each of want; what
// names the call that should have failed.
func WantError(t testing.TB, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want an error mentioning %q", what, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// Check runs an assertion and reports its panic (how jsii reports a failed match) as an error of
// t, so that one failed assertion neither stops the test binary nor hides the others.
func Check(t testing.TB, what string, fn func()) {
	t.Helper()
	if err := Recover(fn); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// Setup runs code that prepares a test, such as constructs the test needs but does not test, and
// stops the test if it panics.
func Setup(t testing.TB, fn func()) {
	t.Helper()
	if err := Recover(fn); err != nil {
		t.Fatalf("setup: %v", err)
	}
}

// Template is a synthesized stack.
type Template struct {
	Stack awscdk.Stack
	// Assert is the CDK assertions view of the template.
	Assert assertions.Template
	// JSON is the template decoded into maps, slices, strings, float64 and bool.
	JSON map[string]any
}

// Synth synthesizes stack; a synthesis error is returned, not panicked.
func Synth(stack awscdk.Stack) (*Template, error) {
	tp := &Template{Stack: stack}
	err := Recover(func() {
		tp.Assert = assertions.Template_FromStack(stack, nil)
		tp.JSON = plain(tp.Assert.ToJSON()).(map[string]any)
	})
	if err != nil {
		return nil, fmt.Errorf("synthesizing %s: %w", *stack.StackName(), err)
	}
	return tp, nil
}

// plain turns a value returned by jsii into the maps, slices and float64 of encoding/json, so
// that it compares equal to the same value decoded from a template.
func plain(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("cdktest: %w", err))
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		panic(fmt.Errorf("cdktest: %w", err))
	}
	return out
}

// Resolve is the CloudFormation expression of v (a token, or a value that holds tokens) as it
// appears in the template, such as {"Fn::GetAtt": ["LakeRaw1234", "Arn"]}.
func (tp *Template) Resolve(v any) any {
	return plain(tp.Stack.Resolve(v))
}

// LogicalID is the logical ID behind a {"Ref": id} token, such as bucket.BucketName(). It panics
// if ref resolves to anything else: the test is wrong, not the construct.
func (tp *Template) LogicalID(ref *string) string {
	r, ok := tp.Resolve(ref).(map[string]any)
	id, _ := r["Ref"].(string)
	if !ok || len(r) != 1 || id == "" {
		panic(fmt.Errorf("cdktest: %v does not resolve to a Ref", tp.Resolve(ref)))
	}
	return id
}

// Resources returns the resources of type typ, by logical ID.
func (tp *Template) Resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	all, _ := tp.JSON["Resources"].(map[string]any)
	for id, r := range all {
		if res, ok := r.(map[string]any); ok && res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// Resource returns the resource logicalID, or reports an error of t and returns nil.
func (tp *Template) Resource(t testing.TB, logicalID string) map[string]any {
	t.Helper()
	all, _ := tp.JSON["Resources"].(map[string]any)
	res, ok := all[logicalID].(map[string]any)
	if !ok {
		t.Errorf("template has no resource %q", logicalID)
		return nil
	}
	return res
}

// Properties returns the Properties of resource logicalID (nil and an error of t if it is missing).
func (tp *Template) Properties(t testing.TB, logicalID string) map[string]any {
	t.Helper()
	res := tp.Resource(t, logicalID)
	props, _ := res["Properties"].(map[string]any)
	return props
}

// HasResource asserts that resource logicalID matches pattern, as assertions.Template.HasResource
// matches it (an object-like match on the whole resource: Type, Properties, DeletionPolicy, ...).
func (tp *Template) HasResource(t testing.TB, logicalID string, pattern map[string]any) {
	t.Helper()
	res := tp.Resource(t, logicalID)
	if res == nil {
		return
	}
	typ, _ := res["Type"].(string)
	Check(t, logicalID, func() {
		one := assertions.Template_FromJSON(&map[string]any{"Resources": map[string]any{logicalID: res}},
			&assertions.TemplateParsingOptions{SkipCyclicalDependenciesCheck: jsii.Bool(true)})
		one.HasResource(jsii.String(typ), pattern)
	})
}

// HasProperties asserts that the Properties of resource logicalID match props (an object-like
// match unless props is a Matcher).
func (tp *Template) HasProperties(t testing.TB, logicalID string, props any) {
	t.Helper()
	tp.HasResource(t, logicalID, map[string]any{"Properties": props})
}

// Permissions lists what the IAM policies attached to role roleLogicalID allow or deny, one line
// per (effect, action, resource, condition), sorted. Statements that CDK merged or split render
// the same lines, so a test can compare them with the exact permissions it expects.
func (tp *Template) Permissions(roleLogicalID string) []string {
	return Permissions(tp.JSON, roleLogicalID)
}

// Permission renders one line of Permissions; resource is a CloudFormation value (a string or an
// intrinsic function) and condition is nil or an IAM condition block.
func Permission(effect, action string, resource any, condition any) string {
	line := effect + " " + action + " " + canonical(resource)
	if condition != nil {
		line += " if " + canonical(normalizeCondition(plain(condition)))
	}
	return line
}

// Permissions is Template.Permissions on a decoded template.
func Permissions(template map[string]any, roleLogicalID string) []string {
	var docs []any
	resources, _ := template["Resources"].(map[string]any)
	for _, r := range resources {
		res, _ := r.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		if res["Type"] == "AWS::IAM::Policy" || res["Type"] == "AWS::IAM::ManagedPolicy" {
			for _, ref := range list(props["Roles"]) {
				if m, ok := ref.(map[string]any); ok && m["Ref"] == roleLogicalID {
					docs = append(docs, props["PolicyDocument"])
				}
			}
		}
	}
	role, _ := resources[roleLogicalID].(map[string]any)
	roleProps, _ := role["Properties"].(map[string]any)
	for _, p := range list(roleProps["Policies"]) {
		if pm, ok := p.(map[string]any); ok {
			docs = append(docs, pm["PolicyDocument"])
		}
	}
	var lines []string
	for _, doc := range docs {
		d, _ := doc.(map[string]any)
		for _, s := range list(d["Statement"]) {
			st, _ := s.(map[string]any)
			if st["NotAction"] != nil || st["NotResource"] != nil || st["Principal"] != nil || st["NotPrincipal"] != nil {
				// Not a shape a role policy should have; make any exact comparison fail on it.
				lines = append(lines, "UNEXPECTED "+canonical(st))
				continue
			}
			effect, _ := st["Effect"].(string)
			for _, a := range list(st["Action"]) {
				action, _ := a.(string)
				for _, r := range list(st["Resource"]) {
					lines = append(lines, Permission(effect, action, r, st["Condition"]))
				}
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// list reads an IAM field that is either one value or a list of values.
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

// normalizeCondition writes a one-element list of condition values as the value itself; IAM
// treats both the same.
func normalizeCondition(v any) any {
	ops, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for op, keys := range ops {
		km, ok := keys.(map[string]any)
		if !ok {
			out[op] = keys
			continue
		}
		nk := map[string]any{}
		for k, val := range km {
			if l, ok := val.([]any); ok && len(l) == 1 {
				val = l[0]
			}
			nk[k] = val
		}
		out[op] = nk
	}
	return out
}

// canonical is v as compact JSON with sorted keys.
func canonical(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSpace(string(data))
}
