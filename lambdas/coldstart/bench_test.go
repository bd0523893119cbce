//go:build !unit

package coldstart

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kpilake/kpilake/infra/golambda"
)

// Goals of the issue: per function, as deployed (tracing on).
const (
	goalZipBytes = 8_000_000
	goalInit     = 60 * time.Millisecond
)

// notrace is the build tag that compiles tracing out (lambdas/tracing/none.go).
const notrace = "kpilake_notrace"

// function is one measured Lambda.
type function struct {
	name string
	// pkg is the main package, relative to the module root.
	pkg string
	// resource is the logical ID of the function in the dev snapshot without its hash suffix;
	// its environment variables are the function's own. Empty for the baseline.
	resource string
	// request is an invocation the handler answers without calling AWS, and want a part of the
	// answer that proves the handler (not a start-up failure) answered.
	request, want string
}

var functions = []function{
	{name: "minimal", pkg: "lambdas/coldstart/testdata/minimal", request: `{}`, want: `{}`},
	{name: "plan", pkg: "lambdas/cmd/plan", resource: "PlanFunction",
		request: `{"date":"2026-11-24"}`, want: `"waves"`},
	{name: "extract", pkg: "lambdas/cmd/extract", resource: "ExtractionsocialExtractFunction",
		request: `{"source":"social","table":"users","date":"2026-02-30"}`, want: `"InputError"`},
	{name: "aggregate", pkg: "lambdas/cmd/aggregate", resource: "AggregationAggregateFunction",
		request: `{"kpi":"engagement_score","date":"2026-02-30"}`, want: `"InputError"`},
	{name: "backfill", pkg: "lambdas/cmd/backfill", resource: "BackfillWorkerFunction",
		request: `{"Records":[]}`, want: `"batchItemFailures"`},
	{name: "sweep", pkg: "lambdas/cmd/sweep", resource: "SweepSweeperFunction",
		request: `{"kpis":["no_such_kpi"]}`, want: `unknown KPI`},
}

// saltSecretEnv names the secret the extract function reads at init (one Secrets Manager call);
// the benchmark answers it from a local stand-in, so init runs its real code with next to no
// network time.
const saltSecretEnv = "KPILAKE_HASH_SALT_SECRET_ARN"

// result is one build of one function, measured.
type result struct {
	fn       function
	traced   bool
	binBytes int64
	zipBytes int64
	init     time.Duration // median of the emulator's INIT REPORT
	first    time.Duration // median latency of the first invocation (init + invoke)
	warm     time.Duration // median latency of a warm invocation
}

// BenchmarkColdStart builds every function for arm64 (zipped size) and for this machine (cold
// start under aws-lambda-rie), with and without tracing, and reports each against the minimal Go
// function of the same run. Run it with -benchtime 1x: one pass measures every function
// KPILAKE_COLDSTARTS times (default 15).
func BenchmarkColdStart(b *testing.B) {
	rie := findRIE(b)
	root := moduleRoot(b)
	checkEveryFunctionIsMeasured(b, root)
	envs := snapshotEnvironments(b, root)
	runs := 15
	if v := os.Getenv("KPILAKE_COLDSTARTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("KPILAKE_COLDSTARTS=%q: give a positive number of cold starts", v)
		}
		runs = n
	}
	work := b.TempDir()
	secrets := secretsStandIn(b)

	var results []result
	for range b.N {
		// Build every variant first, then start them in turns, so that whatever else the machine
		// does weighs on each alike.
		results = results[:0]
		var hosts []string
		for _, fn := range functions {
			variants := []bool{true, false}
			if fn.resource == "" {
				variants = []bool{false}
			}
			for _, traced := range variants {
				var tags []string
				if !traced {
					tags = []string{notrace}
				}
				dir := filepath.Join(work, fmt.Sprintf("%s-%t", fn.name, traced))
				r := result{fn: fn, traced: traced}
				r.binBytes, r.zipBytes = zipSize(b, build(b, root, fn.pkg, filepath.Join(dir, "arm64"), "arm64", tags))
				results = append(results, r)
				hosts = append(hosts, build(b, root, fn.pkg, filepath.Join(dir, runtime.GOARCH), runtime.GOARCH, tags))
			}
		}
		samples := make([][]sample, len(results))
		for range runs {
			for i, r := range results {
				env := append(lambdaEnv(secrets), envs[r.fn.resource]...)
				samples[i] = append(samples[i], coldStart(b, rie, hosts[i], env, r.fn))
			}
		}
		for i := range results {
			var inits, firsts, warms []time.Duration
			for _, s := range samples[i] {
				inits, firsts, warms = append(inits, s.init), append(firsts, s.first), append(warms, s.warm)
			}
			results[i].init, results[i].first, results[i].warm = median(inits), median(firsts), median(warms)
		}
	}
	report(b, results, runs)
}

func report(b *testing.B, results []result, runs int) {
	base := results[0]
	untraced := map[string]result{}
	for _, r := range results {
		if !r.traced {
			untraced[r.fn.name] = r
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nLambda bundles: zipped arm64 size; cold start under aws-lambda-rie on this machine (%s/%s, %d cores), median of %d\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runs)
	fmt.Fprintf(&out, "%-10s %-8s %9s %9s %9s %10s %9s %9s   %s\n", "function", "tracing", "bin MB", "zip MB", "init ms", "x minimal", "1st ms", "warm ms", "tracing adds")
	for _, r := range results {
		tracing, adds := "off", ""
		if r.traced {
			tracing = "X-Ray"
			u := untraced[r.fn.name]
			adds = fmt.Sprintf("zip %+.2f MB (x%.2f), init %+.1f ms (x%.2f)",
				mb(r.zipBytes-u.zipBytes), float64(r.zipBytes)/float64(u.zipBytes), ms(r.init-u.init), ratio(r.init, u.init))
		}
		if r.fn.resource == "" {
			tracing = "-"
		}
		fmt.Fprintf(&out, "%-10s %-8s %9.2f %9.2f %9.1f %10.2f %9.1f %9.2f   %s\n", r.fn.name, tracing,
			mb(r.binBytes), mb(r.zipBytes), ms(r.init), ratio(r.init, base.init), ms(r.first), ms(r.warm), adds)
		if r.traced {
			b.ReportMetric(mb(r.zipBytes), r.fn.name+"-zip-MB")
			b.ReportMetric(ms(r.init), r.fn.name+"-init-ms")
		}
	}
	fmt.Fprintf(&out, "goals (tracing on): zip <= %.0f MB, init < %.0f ms\n", mb(goalZipBytes), ms(goalInit))
	fmt.Print(out.String())
	for _, r := range results {
		if !r.traced {
			continue
		}
		if r.zipBytes > goalZipBytes {
			b.Errorf("%s: zipped bundle %.2f MB, goal %.0f MB", r.fn.name, mb(r.zipBytes), mb(goalZipBytes))
		}
		if r.init >= goalInit {
			b.Errorf("%s: init %.1f ms, goal under %.0f ms", r.fn.name, ms(r.init), ms(goalInit))
		}
	}
}

// sample is one cold start.
type sample struct{ init, first, warm time.Duration }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// coldStart starts the emulator with the bootstrap in dir, invokes it once cold and five times
// warm, and reads the init duration from the emulator's INIT REPORT line.
func coldStart(b *testing.B, rie, dir string, env []string, fn function) sample {
	b.Helper()
	addr := freeAddr(b)
	var log lockedBuffer
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, filepath.Join(dir, "bootstrap"))
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the emulator starts bootstrap as its child
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", rie, err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	waitListening(b, addr, &log)

	client := &http.Client{Timeout: 30 * time.Second}
	invoke := func() time.Duration {
		start := time.Now()
		resp, err := client.Post("http://"+addr+"/2015-03-31/functions/function/invocations", "application/json", strings.NewReader(fn.request))
		if err != nil {
			b.Fatalf("%s: invoke: %v\n%s", fn.name, err, log.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if !strings.Contains(string(body), fn.want) {
			b.Fatalf("%s: answered %s (status %d), want a body with %s\n%s", fn.name, body, resp.StatusCode, fn.want, log.String())
		}
		return took
	}
	s := sample{first: invoke()}
	warm := make([]time.Duration, 5)
	for i := range warm {
		warm[i] = invoke()
	}
	s.warm = median(warm)
	m := initReport.FindStringSubmatch(log.String())
	if m == nil {
		b.Fatalf("%s: no INIT REPORT in the emulator's log:\n%s", fn.name, log.String())
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	s.init = time.Duration(v * float64(time.Millisecond))
	return s
}

// lambdaEnv is what Lambda sets for every function, with static credentials, and Secrets
// Manager at the stand-in's URL.
func lambdaEnv(secretsURL string) []string {
	return []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + secretsURL,
		"PATH=/usr/bin:/bin", "TZ=:UTC", "LANG=en_US.UTF-8",
		"AWS_REGION=ap-northeast-1", "AWS_DEFAULT_REGION=ap-northeast-1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=test",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
		"AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000", "_X_AMZN_TRACE_ID=Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
	}
}

// snapshotEnvironments reads each function's environment variables from the dev stack's
// snapshot, so that init runs with the configuration it has when deployed; references (bucket
// names, queue URLs) become placeholders.
func snapshotEnvironments(b *testing.B, root string) map[string][]string {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "test", "testdata", "KpiLake-dev.template.json"))
	if err != nil {
		b.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Environment struct{ Variables map[string]any }
			}
		}
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		b.Fatalf("dev snapshot: %v", err)
	}
	suffix := regexp.MustCompile(`^[0-9A-F]{8}$`)
	out := map[string][]string{}
	for _, fn := range functions {
		if fn.resource == "" {
			continue
		}
		for id, res := range tmpl.Resources {
			if res.Type != "AWS::Lambda::Function" || !strings.HasPrefix(id, fn.resource) || !suffix.MatchString(strings.TrimPrefix(id, fn.resource)) {
				continue
			}
			for k, v := range res.Properties.Environment.Variables {
				out[fn.resource] = append(out[fn.resource], k+"="+resolve(k, v))
			}
		}
		if out[fn.resource] == nil {
			b.Fatalf("no function %s<hash> with environment variables in the dev snapshot: update the list in bench_test.go", fn.resource)
		}
	}
	return out
}

// secretsStandIn answers every Secrets Manager call with a 32-byte secret string and returns
// its URL.
func secretsStandIn(b *testing.B) string {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"ARN":"arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:salt-AbCdEf","Name":"salt","SecretString":"0123456789abcdef0123456789abcdef","VersionId":"v1"}`)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// resolve turns the template value of the environment variable key into a string: references
// become placeholders of the right shape, joins are joined.
func resolve(key string, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if join, ok := v["Fn::Join"].([]any); ok && len(join) == 2 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]any)
			var out []string
			for _, p := range parts {
				out = append(out, resolve("", p))
			}
			return strings.Join(out, sep)
		}
	}
	switch {
	case key == saltSecretEnv:
		return "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:salt-AbCdEf"
	case strings.Contains(key, "KMS"):
		return "arn:aws:kms:ap-northeast-1:123456789012:key/00000000-0000-4000-8000-000000000000"
	case strings.HasSuffix(key, "_URL"):
		return "https://sqs.ap-northeast-1.amazonaws.com/123456789012/placeholder"
	default: // a bucket or crawler name
		b, _ := json.Marshal(v)
		return "placeholder-" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(string(b), ""))
	}
}

// checkEveryFunctionIsMeasured fails when lambdas/cmd has a function this benchmark leaves out.
func checkEveryFunctionIsMeasured(b testing.TB, root string) {
	b.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "lambdas", "cmd"))
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.ContainsFunc(functions, func(f function) bool { return f.pkg == "lambdas/cmd/"+e.Name() }) {
			b.Errorf("lambdas/cmd/%s is not measured: add it to functions in bench_test.go", e.Name())
		}
	}
}

// build compiles pkg as golambda does, for goarch and with extra tags, into out/bootstrap.
func build(b *testing.B, root, pkg, out, goarch string, tags []string) string {
	b.Helper()
	env, flags := golambda.BuildArgs(goarch, tags...)
	args := append([]string{"build"}, flags...)
	cmd := exec.Command("go", append(args, "-o", filepath.Join(out, "bootstrap"), "./"+pkg)...)
	cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s (%s): %v\n%s", pkg, goarch, err, msg)
	}
	return out
}

// zipSize returns the size of dir/bootstrap and of the zip that carries it (deflate at best
// compression, executable bit kept, as a Lambda asset).
func zipSize(b *testing.B, dir string) (bin, zipped int64) {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestCompression) })
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return int64(len(data)), int64(buf.Len())
}

// findRIE locates aws-lambda-rie: $KPILAKE_RIE, .build/bin (where make bench-coldstart installs
// it), or PATH.
func findRIE(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("KPILAKE_RIE"); p != "" {
		return p
	}
	if p := filepath.Join(moduleRoot(b), ".build", "bin", "aws-lambda-rie"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("aws-lambda-rie")
	if err != nil {
		b.Skip("aws-lambda-rie is not installed: `make bench-coldstart` installs it into .build/bin")
	}
	return p
}

func moduleRoot(b testing.TB) string {
	b.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		b.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(b *testing.B, addr string, log *lockedBuffer) {
	b.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	b.Fatalf("aws-lambda-rie did not listen on %s:\n%s", addr, log.String())
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func mb(n int64) float64               { return float64(n) / 1e6 }
func ms(d time.Duration) float64       { return float64(d) / float64(time.Millisecond) }
func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lockedBuffer collects the emulator's output, written from its pipes' goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
