//go:build !unit

package constructs

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
)

// planDir is the project's real handler, as an absolute path so that no test depends on the
// working directory.
func planDir() (string, error) {
	root, err := cdktest.ModuleRoot()
	return filepath.Join(root, "lambdas", "cmd", "plan"), err
}

func planEntry(t *testing.T) string {
	t.Helper()
	dir, err := planDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBuildHandler_BuildsStaticArm64Bootstrap(t *testing.T) {
	for name, entry := range map[string]string{
		"project handler":   planEntry(t),
		"throwaway handler": module(t, handlerModule(nil)),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := golambda.BuildHandler(entry)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(b.Hash) {
				t.Errorf("Hash %q is not a hex SHA-256", b.Hash)
			}
			checkBootstrap(t, b.Dir)
			again, err := golambda.BuildHandler(entry)
			if err != nil {
				t.Fatal(err)
			}
			if again != b {
				t.Errorf("second BuildHandler = %+v, first = %+v", again, b)
			}
		})
	}
}

// checkBootstrap checks that dir holds only bootstrap, a static linux/arm64 executable.
func checkBootstrap(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"bootstrap"}, names); diff != "" {
		t.Fatalf("%s holds (-want +got):\n%s", dir, diff)
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	st, err := os.Stat(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o111 == 0 {
		t.Errorf("bootstrap mode is %v, want executable", st.Mode())
	}
	f, err := elf.Open(bootstrap)
	if err != nil {
		t.Fatalf("bootstrap is not an ELF file: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("bootstrap is %v %v, want EM_AARCH64 ELFCLASS64", f.Machine, f.Class)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap type is %v, want ET_EXEC", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("bootstrap asks for a dynamic loader; provided.al2023 needs a static binary (CGO_ENABLED=0)")
		}
	}
}

// module writes a throwaway Go module into a new temporary directory and returns the directory
// of its main package, cmd/h. files maps a slash path inside the module to its content.
func module(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(root, "cmd", "h")
}

const (
	goMod   = "module example.com/h\n\ngo 1.26\n"
	mainGo  = "package main\n\nimport \"example.com/h/greet\"\n\nfunc main() { println(greet.Hello()) }\n"
	greetGo = "package greet\n\nfunc Hello() string { return \"hello\" }\n"
)

// handlerModule is a module whose main package imports one of the module's own packages.
func handlerModule(change func(files map[string]string)) map[string]string {
	files := map[string]string{"go.mod": goMod, "cmd/h/main.go": mainGo, "greet/greet.go": greetGo}
	if change != nil {
		change(files)
	}
	return files
}

func build(t *testing.T, files map[string]string) golambda.Build {
	t.Helper()
	b, err := golambda.BuildHandler(module(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildHandler_SameSourcesGiveSameHash(t *testing.T) {
	// BuildHandler caches by directory, so each build needs its own module copy.
	a, b := build(t, handlerModule(nil)), build(t, handlerModule(nil))
	if a.Hash != b.Hash {
		t.Errorf("two copies of one module hash to %s and %s", a.Hash, b.Hash)
	}
	if a.Dir == b.Dir {
		t.Errorf("two modules share the build directory %s; each module builds under its own root", a.Dir)
	}
}

func TestBuildHandler_HashChangesWithSourcesOfTheBinary(t *testing.T) {
	base := build(t, handlerModule(nil))
	for name, change := range map[string]func(map[string]string){
		"main package file": func(f map[string]string) {
			f["cmd/h/main.go"] = strings.Replace(mainGo, "println(greet.Hello())", "println(greet.Hello(), 1)", 1)
		},
		"imported package file": func(f map[string]string) { f["greet/greet.go"] = strings.Replace(greetGo, "hello", "hi", 1) },
		"new file in imported package": func(f map[string]string) {
			f["greet/extra.go"] = "package greet\n\nvar Extra = 1\n"
		},
		"go.mod": func(f map[string]string) { f["go.mod"] = strings.Replace(goMod, "go 1.26", "go 1.26.0", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			if got := build(t, handlerModule(change)); got.Hash == base.Hash {
				t.Errorf("hash %s did not change", got.Hash)
			}
		})
	}
}

func TestBuildHandler_HashIgnoresFilesOutsideTheBinary(t *testing.T) {
	base := build(t, handlerModule(nil))
	other := build(t, handlerModule(func(f map[string]string) {
		f["README.md"] = "# h\n"
		f["greet/greet_test.go"] = "package greet\n\nimport \"testing\"\n\nfunc TestHello(t *testing.T) {}\n"
		f["unused/unused.go"] = "package unused\n"
	}))
	if other.Hash != base.Hash {
		t.Errorf("a README, a test file and an unimported package changed the hash from %s to %s", base.Hash, other.Hash)
	}
}

func TestBuildHandler_FailsOnEntryThatIsNotADirectory(t *testing.T) {
	dir := module(t, handlerModule(nil))
	for name, entry := range map[string]string{
		"missing": filepath.Join(dir, "nope"),
		"file":    filepath.Join(dir, "main.go"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := golambda.BuildHandler(entry)
			cdktest.WantError(t, "BuildHandler("+entry+")", err, entry, "is not a directory", "lambdas/cmd/plan")
		})
	}
}

func TestBuildHandler_FailsOutsideAModule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := golambda.BuildHandler(dir)
	if err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Errorf("BuildHandler outside a module: got %v, want an error about the missing go.mod", err)
	}
}

func TestBuildHandler_ReportsCompilerErrors(t *testing.T) {
	dir := module(t, handlerModule(func(f map[string]string) { f["cmd/h/main.go"] = "package main\n\nfunc main() { undefined() }\n" }))
	_, err := golambda.BuildHandler(dir)
	if err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("BuildHandler of a broken handler: got %v, want the compiler's message", err)
	}
}

// functionStack holds a function with the defaults and one with every option set.
type functionStack struct {
	tmpl              *cdktest.Template
	defaults, options *golambda.Function
	// Logical IDs of the function with the defaults,
	fn, role, logs string
	// of the function with every option,
	optFn, optRole, optLogs string
	// and of the key of its log group.
	logKey string
}

func synthFunctions(entry string) (*functionStack, error) {
	var s *functionStack
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		def := golambda.NewFunction(stack, "Default", &golambda.FunctionProps{Entry: entry})
		key := awskms.NewKey(stack, jsii.String("LogKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
		custom := golambda.NewFunction(stack, "Custom", &golambda.FunctionProps{
			Entry:         entry,
			Description:   "custom handler",
			Environment:   map[string]string{"BUSINESS_TIME_ZONE": "Asia/Tokyo"},
			Timeout:       awscdk.Duration_Seconds(jsii.Number(10)),
			MemoryMB:      512,
			LogRetention:  awslogs.RetentionDays_ONE_MONTH,
			LogKey:        key,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		tmpl, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s = &functionStack{
			tmpl:     tmpl,
			defaults: def,
			options:  custom,
			fn:       tmpl.LogicalID(def.Function.FunctionName()),
			role:     tmpl.LogicalID(def.Role.RoleName()),
			logs:     tmpl.LogicalID(def.LogGroup.LogGroupName()),
			optFn:    tmpl.LogicalID(custom.Function.FunctionName()),
			optRole:  tmpl.LogicalID(custom.Role.RoleName()),
			optLogs:  tmpl.LogicalID(custom.LogGroup.LogGroupName()),
			logKey:   tmpl.LogicalID(key.KeyId()),
		}
	})
	return s, err
}

// A function built under an environment's name (in a construct below the stack too) records its
// metrics with that Environment dimension; one built elsewhere has no such variable.
func TestNewFunction_TakesTheMetricsEnvironmentFromItsScope(t *testing.T) {
	entry := planEntry(t)
	vars := func(under string) map[string]any {
		var got map[string]any
		if err := cdktest.Recover(func() {
			stack := cdktest.NewStack("Test")
			if under != "" {
				golambda.SetMetricsEnvironment(stack, under)
			}
			fn := golambda.NewFunction(constructs.NewConstruct(stack, jsii.String("Inner")), "Fn", &golambda.FunctionProps{Entry: entry,
				Environment: map[string]string{"OTHER": "x"}})
			tmpl, err := cdktest.Synth(stack)
			if err != nil {
				panic(err)
			}
			got, _ = tmpl.Properties(t, tmpl.LogicalID(fn.Function.FunctionName()))["Environment"].(map[string]any)["Variables"].(map[string]any)
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := vars("prod"); got[contract.EnvEnvironment] != "prod" || got["OTHER"] != "x" {
		t.Errorf("under prod: variables %v, want %s=prod and OTHER=x", got, contract.EnvEnvironment)
	}
	if got := vars(""); got[contract.EnvEnvironment] != nil {
		t.Errorf("under no environment: %s = %v, want none", contract.EnvEnvironment, got[contract.EnvEnvironment])
	}
}

// functions is synthesized once for the tests that only read it.
var functions = sync.OnceValues(func() (*functionStack, error) {
	entry, err := planDir()
	if err != nil {
		return nil, err
	}
	return synthFunctions(entry)
})

func mustFunctions(t *testing.T) *functionStack {
	t.Helper()
	s, err := functions()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewFunction_RunsBootstrapOnArm64AL2023WithTracingAndJSONLogs(t *testing.T) {
	s := mustFunctions(t)
	s.tmpl.HasProperties(t, s.fn, map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"TracingConfig": map[string]any{"Mode": "Active"},
		"Timeout":       60,
		"MemorySize":    256,
		"Role":          getAtt(s.role, "Arn"),
		"LoggingConfig": assertions.Match_ObjectEquals(&map[string]any{
			"LogFormat":           "JSON",
			"LogGroup":            map[string]any{"Ref": s.logs},
			"ApplicationLogLevel": "INFO",
			"SystemLogLevel":      "WARN",
		}),
		"Environment": assertions.Match_Absent(),
		"Description": assertions.Match_Absent(),
	})
}

func TestNewFunction_HonoursOptions(t *testing.T) {
	s := mustFunctions(t)
	s.tmpl.HasProperties(t, s.optFn, map[string]any{
		"Runtime":     "provided.al2023",
		"Timeout":     10,
		"MemorySize":  512,
		"Description": "custom handler",
		"Environment": assertions.Match_ObjectEquals(&map[string]any{
			"Variables": map[string]any{"BUSINESS_TIME_ZONE": "Asia/Tokyo"},
		}),
		"LoggingConfig": map[string]any{"LogGroup": map[string]any{"Ref": s.optLogs}},
	})
}

func TestNewFunction_LogGroupHasRetentionAndRemovalPolicy(t *testing.T) {
	s := mustFunctions(t)
	s.tmpl.HasResource(t, s.logs, map[string]any{
		"DeletionPolicy": "Retain",
		"Properties":     map[string]any{"RetentionInDays": 90, "KmsKeyId": assertions.Match_Absent()},
	})
	s.tmpl.HasResource(t, s.optLogs, map[string]any{
		"DeletionPolicy": "Delete",
		"Properties":     map[string]any{"RetentionInDays": 30, "KmsKeyId": getAtt(s.logKey, "Arn")},
	})
}

func TestNewFunction_RoleHasNoManagedPoliciesAndWritesOnlyItsLogGroup(t *testing.T) {
	s := mustFunctions(t)
	for _, tc := range []struct{ role, logs string }{{s.role, s.logs}, {s.optRole, s.optLogs}} {
		s.tmpl.HasProperties(t, tc.role, map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Action":    "sts:AssumeRole",
				"Principal": assertions.Match_ObjectEquals(&map[string]any{"Service": "lambda.amazonaws.com"}),
			}}},
			"ManagedPolicyArns": assertions.Match_Absent(),
		})
		allow := func(action string, resource any) string { return cdktest.Permission("Allow", action, resource, nil) }
		want := []string{
			allow("logs:CreateLogStream", getAtt(tc.logs, "Arn")),
			allow("logs:PutLogEvents", getAtt(tc.logs, "Arn")),
			// X-Ray's trace APIs have no resource-level permissions.
			allow("xray:PutTelemetryRecords", "*"),
			allow("xray:PutTraceSegments", "*"),
		}
		if diff := cmp.Diff(want, s.tmpl.Permissions(tc.role)); diff != "" {
			t.Errorf("%s permissions (-want +got):\n%s", tc.role, diff)
		}
	}
}

func s3Key(t *testing.T, tmpl *cdktest.Template, fn string) string {
	t.Helper()
	code, _ := tmpl.Properties(t, fn)["Code"].(map[string]any)
	key, ok := code["S3Key"].(string)
	if !ok {
		t.Fatalf("%s Code.S3Key is %v, want a string", fn, code["S3Key"])
	}
	return key
}

func TestNewFunction_AssetKeyComesFromTheSourceHash(t *testing.T) {
	s := mustFunctions(t)
	b, err := golambda.BuildHandler(planEntry(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.defaults.AssetHash != b.Hash || s.options.AssetHash != b.Hash {
		t.Errorf("AssetHash is %q and %q, want the build's %q", s.defaults.AssetHash, s.options.AssetHash, b.Hash)
	}
	// CDK hashes a custom asset hash once more to name the object.
	sum := sha256.Sum256([]byte(b.Hash))
	want := hex.EncodeToString(sum[:]) + ".zip"
	for _, fn := range []string{s.fn, s.optFn} {
		if got := s3Key(t, s.tmpl, fn); got != want {
			t.Errorf("%s S3Key is %q, want %q (from the source hash %s)", fn, got, want, b.Hash)
		}
	}

	again, err := synthFunctions(planEntry(t))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s3Key(t, s.tmpl, s.fn), s3Key(t, again.tmpl, again.fn); a != b {
		t.Errorf("S3Key changed between two syntheses: %s, then %s", a, b)
	}
}

func TestNewFunction_FailsIf(t *testing.T) {
	entry := planEntry(t)
	for _, tc := range []struct {
		name  string
		props *golambda.FunctionProps
		want  []string
	}{
		{"nil props", nil, []string{"Entry is required", "lambdas/cmd/plan"}},
		{"no entry", &golambda.FunctionProps{}, []string{"Entry is required", "lambdas/cmd/plan"}},
		{"memory below 128 MB", &golambda.FunctionProps{Entry: entry, MemoryMB: 64}, []string{"MemoryMB is 64", "128 to 10240"}},
		{"memory above 10240 MB", &golambda.FunctionProps{Entry: entry, MemoryMB: 10241}, []string{"MemoryMB is 10241", "128 to 10240"}},
		{"both, all reported", &golambda.FunctionProps{MemoryMB: 64}, []string{"Entry is required", "MemoryMB is 64"}},
		{"entry is not a directory", &golambda.FunctionProps{Entry: filepath.Join(entry, "main.go")}, []string{"main.go", "is not a directory"}},
		{"entry is a library", &golambda.FunctionProps{Entry: filepath.Join(entry, "..", "..", "plan")}, []string{"is package plan, not a main package"}},
		{"snapshot removal policy", &golambda.FunctionProps{Entry: entry, RemovalPolicy: awscdk.RemovalPolicy_SNAPSHOT}, []string{`RemovalPolicy "SNAPSHOT" is not supported`}},
		{"subnets without security groups", &golambda.FunctionProps{Entry: entry, SubnetIDs: []string{"subnet-0123456789abcdef0"}}, []string{"SubnetIDs and SecurityGroupIDs: give both"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			err := cdktest.Recover(func() { golambda.NewFunction(stack, "Fn", tc.props) })
			cdktest.WantError(t, fmt.Sprintf("NewFunction(%+v)", tc.props), err, append([]string{`golambda.NewFunction "Fn"`}, tc.want...)...)
		})
	}
}

func TestNewFunction_AcceptsTheMemoryLimits(t *testing.T) {
	entry := planEntry(t)
	for _, mb := range []int{128, 10240} {
		stack := cdktest.TestStack(t)
		err := cdktest.Recover(func() {
			golambda.NewFunction(stack, "Fn", &golambda.FunctionProps{Entry: entry, MemoryMB: mb})
		})
		if err != nil {
			t.Errorf("MemoryMB %d: %v", mb, err)
		}
	}
}

// cloudWatchRetentions are the retentions CloudWatch Logs accepts, in days, with the CDK value
// each must map to; the config package accepts exactly these days.
var cloudWatchRetentions = []struct {
	days int
	want awslogs.RetentionDays
}{
	{1, awslogs.RetentionDays_ONE_DAY},
	{3, awslogs.RetentionDays_THREE_DAYS},
	{5, awslogs.RetentionDays_FIVE_DAYS},
	{7, awslogs.RetentionDays_ONE_WEEK},
	{14, awslogs.RetentionDays_TWO_WEEKS},
	{30, awslogs.RetentionDays_ONE_MONTH},
	{60, awslogs.RetentionDays_TWO_MONTHS},
	{90, awslogs.RetentionDays_THREE_MONTHS},
	{120, awslogs.RetentionDays_FOUR_MONTHS},
	{150, awslogs.RetentionDays_FIVE_MONTHS},
	{180, awslogs.RetentionDays_SIX_MONTHS},
	{365, awslogs.RetentionDays_ONE_YEAR},
	{400, awslogs.RetentionDays_THIRTEEN_MONTHS},
	{545, awslogs.RetentionDays_EIGHTEEN_MONTHS},
	{731, awslogs.RetentionDays_TWO_YEARS},
	{1096, awslogs.RetentionDays_THREE_YEARS},
	{1827, awslogs.RetentionDays_FIVE_YEARS},
	{2192, awslogs.RetentionDays_SIX_YEARS},
	{2557, awslogs.RetentionDays_SEVEN_YEARS},
	{2922, awslogs.RetentionDays_EIGHT_YEARS},
	{3288, awslogs.RetentionDays_NINE_YEARS},
	{3653, awslogs.RetentionDays_TEN_YEARS},
}

func TestRetentionDays_MapsEveryCloudWatchRetention(t *testing.T) {
	if len(cloudWatchRetentions) != 22 {
		t.Fatalf("the test lists %d retentions; CloudWatch Logs has 22", len(cloudWatchRetentions))
	}
	for _, tc := range cloudWatchRetentions {
		got, ok := golambda.RetentionDays(tc.days)
		if !ok || got != tc.want {
			t.Errorf("RetentionDays(%d) = %q, %v; want %q, true", tc.days, got, ok, tc.want)
		}
	}
}

func TestRetentionDays_RejectsOtherValues(t *testing.T) {
	for _, days := range []int{-30, 0, 2, 10, 31, 364, 366, 3652, 3654} {
		if got, ok := golambda.RetentionDays(days); ok {
			t.Errorf("RetentionDays(%d) = %q, true; want false", days, got)
		}
	}
}

// TestRetentionDays_KeepsLogsThatManyDays checks the mapping where it matters: the
// RetentionInDays CloudFormation receives.
func TestRetentionDays_KeepsLogsThatManyDays(t *testing.T) {
	stack := cdktest.TestStack(t)
	ids := map[int]*string{}
	for _, tc := range cloudWatchRetentions {
		r, ok := golambda.RetentionDays(tc.days)
		if !ok {
			t.Errorf("RetentionDays(%d) not ok", tc.days)
			continue
		}
		cdktest.Setup(t, func() {
			lg := awslogs.NewLogGroup(stack, jsii.String(fmt.Sprintf("Logs%d", tc.days)), &awslogs.LogGroupProps{Retention: r})
			ids[tc.days] = lg.LogGroupName()
		})
	}
	tmpl, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	for days, name := range ids {
		cdktest.Check(t, fmt.Sprintf("log group of %d days", days), func() {
			if got := tmpl.Properties(t, tmpl.LogicalID(name))["RetentionInDays"]; got != float64(days) {
				t.Errorf("RetentionDays(%d) keeps logs %v days", days, got)
			}
		})
	}
}

func TestNewFunction_RunsInTheGivenSubnets(t *testing.T) {
	stack := cdktest.TestStack(t)
	var f *golambda.Function
	cdktest.Setup(t, func() {
		f = golambda.NewFunction(stack, "Fn", &golambda.FunctionProps{
			Entry:            planEntry(t),
			SubnetIDs:        []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
			SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		})
	})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	fn := tp.LogicalID(f.Function.FunctionName())
	tp.HasProperties(t, fn, map[string]any{"VpcConfig": map[string]any{
		"SubnetIds":        []any{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
		"SecurityGroupIds": []any{"sg-0123456789abcdef0"},
	}})
	deps, _ := tp.Resource(t, fn)["DependsOn"].([]any)
	var policy string
	for id := range tp.Resources("AWS::IAM::Policy") {
		if strings.Contains(id, "VpcAccess") {
			policy = id
		}
	}
	if policy == "" || !slices.Contains(deps, any(policy)) {
		t.Errorf("function does not depend on its VPC access policy %q (DependsOn %v)", policy, deps)
	}
	var want []string
	for _, a := range golambda.VPCActions {
		want = append(want, cdktest.Permission("Allow", a, "*", nil))
	}
	got := tp.Permissions(tp.LogicalID(f.Role.RoleName()))
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("role lacks %s; has:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

func TestNewFunction_LetsCloudWatchLogsUseTheLogKey(t *testing.T) {
	stack := cdktest.TestStack(t)
	key := awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
	cdktest.Setup(t, func() {
		golambda.NewFunction(stack, "Fn", &golambda.FunctionProps{Entry: planEntry(t), LogKey: key})
	})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	cdktest.Check(t, "key policy", func() {
		tp.Assert.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
			"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Principal": map[string]any{"Service": "logs.ap-northeast-1.amazonaws.com"},
				"Condition": map[string]any{"ArnLike": map[string]any{
					"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:ap-northeast-1:123456789012:log-group:*",
				}},
			})})},
		})
	})
}

func TestBuildArgs_AreTheFunctionBuildForAnotherArchitecture(t *testing.T) {
	cases := []struct {
		goarch   string
		tags     []string
		wantEnv  []string
		wantTags string
	}{
		{"arm64", nil, []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}, "-tags=lambda.norpc,grpcnotrace"},
		{"amd64", []string{"kpilake_notrace"}, []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0"}, "-tags=lambda.norpc,grpcnotrace,kpilake_notrace"},
	}
	for _, c := range cases {
		env, flags := golambda.BuildArgs(c.goarch, c.tags...)
		if !slices.Equal(env, c.wantEnv) {
			t.Errorf("BuildArgs(%s, %v) env = %v, want %v", c.goarch, c.tags, env, c.wantEnv)
		}
		want := []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w", c.wantTags}
		if !slices.Equal(flags, want) {
			t.Errorf("BuildArgs(%s, %v) flags = %q, want %q", c.goarch, c.tags, flags, want)
		}
	}
}

// Each function records why the cdk-nag rules that do not fit it are met otherwise, by how it is
// invoked and whether it runs in a VPC; a function invoked asynchronously (the default) gets no
// dead-letter exemption, and one in a VPC none for the VPC rule.
func TestNewFunction_SuppressesByInvocationAndVPC(t *testing.T) {
	stack := cdktest.TestStack(t)
	fns := map[string]*golambda.Function{}
	cdktest.Setup(t, func() {
		fns["sync"] = golambda.NewFunction(stack, "Sync", &golambda.FunctionProps{Entry: planEntry(t), Invocation: golambda.Synchronous})
		fns["sqs"] = golambda.NewFunction(stack, "Sqs", &golambda.FunctionProps{Entry: planEntry(t), Invocation: golambda.SQSEventSource})
		fns["async-vpc"] = golambda.NewFunction(stack, "AsyncVpc", &golambda.FunctionProps{
			Entry:     planEntry(t), // Asynchronous by default
			SubnetIDs: []string{"subnet-0123456789abcdef0"}, SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		})
	})
	tp, err := cdktest.Synth(stack)
	if err != nil {
		t.Fatal(err)
	}
	dlq := []string{"NIST.800.53.R5-LambdaDLQ", "HIPAA.Security-LambdaDLQ", "Serverless-LambdaDLQ"}
	vpc := []string{"NIST.800.53.R5-LambdaInsideVPC", "HIPAA.Security-LambdaInsideVPC"}
	concurrency := []string{"NIST.800.53.R5-LambdaConcurrency", "HIPAA.Security-LambdaConcurrency"}
	want := map[string][]string{
		"sync":      slices.Concat(dlq, vpc, concurrency),
		"sqs":       slices.Concat(dlq, vpc, concurrency),
		"async-vpc": concurrency,
	}
	for name, f := range fns {
		id := tp.LogicalID(f.Function.FunctionName())
		meta, _ := tp.Resource(t, id)["Metadata"].(map[string]any)
		nag, _ := meta["cdk_nag"].(map[string]any)
		var got []string
		for _, r := range list(nag["rules_to_suppress"]) {
			rule, _ := r.(map[string]any)
			if reason, _ := rule["reason"].(string); len(reason) < 40 {
				t.Errorf("%s: suppression %v has no reason a reviewer can check", name, rule)
			}
			got = append(got, fmt.Sprint(rule["id"]))
		}
		slices.Sort(got)
		w := slices.Clone(want[name])
		slices.Sort(w)
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%s: suppressed rules (-want +got):\n%s", name, diff)
		}
	}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
