package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/cmd/kpilake/internal/queue"
	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { testsvc.Main(m) }

const testConfig = "testdata/cdk.json"

// now is the tests' clock: 2026-11-25 15:00 in Tokyo.
var now = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

type result struct {
	code     int
	out, err string
}

// run runs the CLI with args; clients builds the AWS clients (nil: a test that must not call AWS).
func run(t *testing.T, clients func() *Clients, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := New(&out, &errb)
	a.Terminal = func(io.Writer) bool { return false }
	a.Now = func() time.Time { return now }
	a.NewRequestID = func(time.Time) string { return "bf-test" }
	a.Dir = t.TempDir()
	a.Retry = queue.Retry{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
	a.AWS = func(_ context.Context, region string) (*Clients, error) {
		if clients == nil {
			t.Errorf("kpilake %s called AWS (region %q)", strings.Join(args, " "), region)
			return nil, fmt.Errorf("no AWS in this test")
		}
		if region != testsvc.Region {
			t.Errorf("clients for region %q, want the environment's %q", region, testsvc.Region)
		}
		return clients(), nil
	}
	code := a.Run(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

func TestHelp_Golden(t *testing.T) {
	for name, args := range map[string][]string{
		"help-root":     {"--help"},
		"help-backfill": {"backfill", "--help"},
		"help-watch":    {"backfill", "watch", "--help"},
		"help-redrive":  {"backfill", "redrive", "--help"},
		"help-kpi":      {"kpi", "--help"},
		"help-kpi-test": {"kpi", "test", "--help"},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, nil, args...)
			if r.code != ExitOK || r.err != "" {
				t.Fatalf("exit %d, stderr %s", r.code, r.err)
			}
			golden(t, filepath.Join("testdata", name+".golden"), r.out)
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./cmd/kpilake/internal/cli -update` to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s changed (-want +got); run `go test ./cmd/kpilake/internal/cli -update` if intended:\n%s", path, diff)
	}
}

func TestBackfill_UsageErrorsExitTwoAndCallNoAWS(t *testing.T) {
	dev := []string{"backfill", "--config", testConfig, "--env", "dev"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"nothing given", []string{"backfill", "--config", testConfig},
			[]string{"3 problems:", "--env is required", "--from is required", "--to is required"}},
		{"not a date", append(dev, "--from", "2026-11-31", "--to", "2026-11-30"),
			[]string{`--from: date "2026-11-31" is not a day in the form YYYY-MM-DD`}},
		{"from after to", append(dev, "--from", "2026-11-20", "--to", "2026-11-10"),
			[]string{"--from 2026-11-20 is after --to 2026-11-10; swap them"}},
		{"more days than backfill.maxDays", append(dev, "--from", "2026-10-01", "--to", "2026-11-05"),
			[]string{"spans 36 days; environment dev allows at most 31 per request (backfill.maxDays in cdk.json)"}},
		{"after today in the environment's zone", append(dev, "--from", "2026-11-20", "--to", "2026-11-26"),
			[]string{"--to 2026-11-26 is after today (2026-11-25 in Asia/Tokyo)"}},
		{"unknown KPIs", append(dev, "--from", "2026-11-01", "--to", "2026-11-02", "--kpi", "dau,active_users_by_department"),
			[]string{`--kpi: unknown KPI "dau"; the catalog has ` + strings.Join(catalogNames(t), ", ")}},
		{"empty KPI list", append(dev, "--from", "2026-11-01", "--to", "2026-11-02", "--kpi", ""),
			[]string{"--kpi is empty; leave it out to rebuild every KPI"}},
		{"unknown environment", []string{"backfill", "--config", testConfig, "--env", "qa", "--from", "2026-11-01", "--to", "2026-11-02"},
			[]string{`--env: environment "qa" is not configured; choose one of dev, prod`}},
		{"watch without yes", append(dev, "--from", "2026-11-01", "--to", "2026-11-02", "--watch"),
			[]string{"--watch watches the jobs this run sends: add --yes"}},
		{"request id the worker would reject", append(dev, "--from", "2026-11-01", "--to", "2026-11-02", "--request-id", "my request", "--yes"),
			[]string{`--request-id: field "request_id" "my request" may hold only letters, digits`}},
		{"negative price", append(dev, "--from", "2026-11-01", "--to", "2026-11-02", "--price-per-tb", "-1"),
			[]string{"--price-per-tb -1 is negative"}},
		{"misspelt flag", append(dev, "--form", "2026-11-01"), []string{"unknown flag: --form"}},
		{"unknown subcommand", []string{"backfill", "wacth"}, []string{`unknown command "wacth" for "kpilake backfill"`}},
		{"watch without env", []string{"backfill", "watch", "--config", testConfig}, []string{"--env is required"}},
		{"missing cdk.json", []string{"backfill", "--config", "testdata/nope.json", "--env", "dev", "--from", "2026-11-01", "--to", "2026-11-01"},
			[]string{"--config: open testdata/nope.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d", r.code, ExitUsage)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr\n%s\ndoes not say\n%s", r.err, w)
				}
			}
			if !strings.Contains(r.err, "--help' for usage.") {
				t.Errorf("stderr does not point to --help:\n%s", r.err)
			}
			if r.out != "" {
				t.Errorf("stdout %q, want nothing", r.out)
			}
		})
	}
}

func catalogNames(t *testing.T) []string {
	t.Helper()
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat.Names()
}

func TestBackfill_PlanWithoutYesSendsNothingAndSaysHowTo(t *testing.T) {
	r := run(t, nil, "backfill", "--config", testConfig, "--env", "dev", "--from", "2026-11-01", "--to", "2026-11-05",
		"--kpi", "department_activity", "--no-estimate")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	for _, w := range []string{
		"Backfill plan for environment dev (stack KpiLake-dev in ap-northeast-1)",
		"2026-11-01 to 2026-11-05 (5 days)",
		"KPIs     2: department_activity; dependents added: engagement_score",
		"Nothing sent. To send the 5 jobs, run:\n  kpilake backfill --env dev --config testdata/cdk.json --from 2026-11-01 --to 2026-11-05 --kpi department_activity --no-estimate --yes\n",
	} {
		if !strings.Contains(r.out, w) {
			t.Errorf("stdout\n%s\ndoes not say\n%s", r.out, w)
		}
	}
}

// TestBackfill_WithoutCdkJSONRefusesUnlessLimitsAreGiven: outside the project no environment's
// backfill.maxDays or time zone is known, so the CLI does not guess them.
func TestBackfill_WithoutCdkJSONRefusesUnlessLimitsAreGiven(t *testing.T) {
	r := run(t, nil, "backfill", "--env", "dev", "--from", "2026-10-01", "--to", "2026-10-05", "--no-estimate")
	if r.code != ExitUsage {
		t.Errorf("exit %d, want %d (usage): nothing may be planned without the environment's limits", r.code, ExitUsage)
	}
	for _, w := range []string{"no cdk.json here or in a parent directory", "--config", "--max-days", "--time-zone"} {
		if !strings.Contains(r.err, w) {
			t.Errorf("stderr %q does not say %q", r.err, w)
		}
	}
	limits := []string{"--max-days", "30", "--time-zone", "Asia/Tokyo"}
	r = run(t, nil, append([]string{"backfill", "--env", "dev", "--from", "2026-10-01", "--to", "2026-10-31", "--no-estimate"}, limits...)...)
	if r.code != ExitUsage || !strings.Contains(r.err, "spans 31 days; environment dev allows at most 30") {
		t.Errorf("exit %d, stderr %s; want the --max-days limit of 30 days", r.code, r.err)
	}
	r = run(t, nil, append([]string{"backfill", "--env", "dev", "--from", "2026-10-01", "--to", "2026-10-30", "--no-estimate"}, limits...)...)
	if r.code != ExitOK || !strings.Contains(r.out, "(stack KpiLake-dev in the default region)") {
		t.Errorf("exit %d, stdout %s, stderr %s", r.code, r.out, r.err)
	}
	r = run(t, nil, "backfill", "--env", "dev", "--config", testConfig, "--max-days", "5000", "--from", "2026-10-01", "--to", "2026-10-02", "--no-estimate")
	if r.code != ExitUsage || !strings.Contains(r.err, "--max-days") || !strings.Contains(r.err, "cdk.json") {
		t.Errorf("exit %d, stderr %s; want a usage error: with a cdk.json its limits apply", r.code, r.err)
	}
	r = run(t, nil, "backfill", "--env", "dev", "--from", "2026-10-01", "--to", "2026-10-02", "--no-estimate", "--max-days", "30", "--time-zone", "Tokyo")
	if r.code != ExitUsage || !strings.Contains(r.err, `--time-zone: "Tokyo" is not an IANA time zone`) {
		t.Errorf("exit %d, stderr %s; want the bad zone named", r.code, r.err)
	}
}

func TestCompletion_OffersEnvironmentsAndKPIs(t *testing.T) {
	r := run(t, nil, "__complete", "backfill", "--config", testConfig, "--env", "")
	if !strings.HasPrefix(r.out, "dev\nprod\n:") {
		t.Errorf("--env completions:\n%s", r.out)
	}
	r = run(t, nil, "__complete", "backfill", "--kpi", "")
	if !strings.HasPrefix(r.out, strings.Join(catalogNames(t), "\n")+"\n:") {
		t.Errorf("--kpi completions:\n%s", r.out)
	}
}

// moto is the test binary's moto server, with clients on it.
type moto struct {
	cfn *cloudformation.Client
	sqs *sqs.Client
	s3  *s3.Client
}

func newMoto(t *testing.T) *moto {
	t.Helper()
	cfg := testsvc.MotoServer(t).AWSConfig()
	return &moto{
		cfn: cloudformation.NewFromConfig(cfg),
		sqs: sqs.NewFromConfig(cfg),
		s3:  s3.NewFromConfig(cfg, testsvc.S3PathStyle),
	}
}

func (m *moto) clients() *Clients {
	return &Clients{Region: testsvc.Region, CloudFormation: m.cfn, SQS: m.sqs, S3: m.s3}
}

// deploy creates a stack with the backfill queues and a raw bucket, and returns its outputs.
func (m *moto) deploy(t *testing.T, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	tmpl, err := os.ReadFile("testdata/stack.template.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(string(tmpl))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := m.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
			t.Errorf("delete stack %s: %v", name, err)
		}
	})
	out, err := m.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for _, k := range []string{contract.OutputBackfillQueueURL, contract.OutputBackfillDeadLetterQueueURL, contract.OutputRawBucketName} {
		if outputs[k] == "" {
			t.Fatalf("moto's stack has no output %s: %v", k, outputs)
		}
	}
	return outputs
}

// worker stands in for the backfill Lambda: it receives jobs from the queue, records them, and
// deletes them, except that it moves the first job of each day in fail to the dead-letter queue.
type worker struct {
	mu     sync.Mutex
	bodies []string
	failed map[string]bool
}

func startWorker(t *testing.T, m *moto, queueURL, dlqURL string, fail ...string) *worker {
	w := &worker{failed: map[string]bool{}}
	for _, d := range fail {
		w.failed[d] = false
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			out, err := m.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				continue
			}
			for _, msg := range out.Messages {
				w.work(ctx, t, m, msg, dlqURL)
				_, _ = m.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: msg.ReceiptHandle})
			}
		}
	}()
	return w
}

func (w *worker) work(ctx context.Context, t *testing.T, m *moto, msg sqstypes.Message, dlqURL string) {
	body := aws.ToString(msg.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bodies = append(w.bodies, body)
	for d, failed := range w.failed {
		if !failed && strings.Contains(body, `"date":"`+d+`"`) {
			w.failed[d] = true
			if _, err := m.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlqURL), MessageBody: msg.Body}); err != nil {
				t.Errorf("worker: %v", err)
			}
		}
	}
}

func (w *worker) received() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.bodies)
}

var seq atomic.Int64

func TestBackfill_OnMoto_PlanSendWatchRedrive(t *testing.T) {
	m := newMoto(t)
	outputs := m.deploy(t, "KpiLake-dev")
	ctx := context.Background()
	raw := outputs[contract.OutputRawBucketName]
	for _, d := range []string{"2026-11-01", "2026-11-02", "2026-11-03"} {
		day, _ := layout.ParseDay(d)
		key := layout.TablePartitionPrefix(layout.AppLogsSource, "web_access", day) + "part-0.gz"
		if _, err := m.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(raw), Key: aws.String(key), Body: bytes.NewReader(make([]byte, 12_345))}); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"backfill", "--config", testConfig, "--env", "dev"}
	rangeArgs := append(slices.Clone(base), "--from", "2026-11-01", "--to", "2026-11-05", "--kpi", "active_users_by_department")

	// The plan: the estimate reads the bucket named by the stack.
	r := run(t, m.clients, rangeArgs...)
	if r.code != ExitOK {
		t.Fatalf("plan: exit %d: %s", r.code, r.err)
	}
	for _, w := range []string{
		"from s3://" + raw + "/",
		"  active_users_by_department        5  1 day   37.0 kB   50.0 MB",
		"no raw data: app_logs.web_access on 2 of 5 days (2026-11-04, 2026-11-05)",
		"Nothing sent.",
	} {
		if !strings.Contains(r.out, w) {
			t.Errorf("plan\n%s\ndoes not say\n%s", r.out, w)
		}
	}

	// Send and watch; the worker fails one day: the watch ends in failure.
	wk := startWorker(t, m, outputs[contract.OutputBackfillQueueURL], outputs[contract.OutputBackfillDeadLetterQueueURL], "2026-11-03")
	r = run(t, m.clients, append(rangeArgs, "--yes", "--watch", "--interval", "20ms", "--settle", "0s")...)
	if r.code != ExitFailure {
		t.Fatalf("send and watch: exit %d, want %d; stdout:\n%s\nstderr:\n%s", r.code, ExitFailure, r.out, r.err)
	}
	for _, w := range []string{"request  bf-test", "Sending 5 jobs of request bf-test to " + outputs[contract.OutputBackfillQueueURL], "Sent 5 jobs.",
		"done 4/5 (80%), in flight 0, queued 0, failed 1"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("stdout\n%s\ndoes not say\n%s", r.out, w)
		}
	}
	if w := "1 of 5 jobs failed: they are in the dead-letter queue " + outputs[contract.OutputBackfillDeadLetterQueueURL]; !strings.Contains(r.err, w) ||
		!strings.Contains(r.err, "\n  kpilake backfill redrive --env dev\n") {
		t.Errorf("stderr\n%s\ndoes not say\n%s\nand how to redrive", r.err, w)
	}
	cat, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for _, b := range wk.received() {
		j, _, waves, err := backfill.ParseJob([]byte(b), cat)
		if err != nil {
			t.Fatalf("the worker rejects %s: %v", b, err)
		}
		if j.RequestID != "bf-test" || len(waves) != 2 {
			t.Errorf("job %s: want request bf-test and two waves", b)
		}
		dates = append(dates, j.Date)
	}
	slices.Sort(dates)
	if diff := cmp.Diff([]string{"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"}, dates); diff != "" {
		t.Errorf("jobs worked (-want +got):\n%s", diff)
	}

	// Redrive moves the failed job back; the worker now succeeds; a watch ends well.
	r = run(t, m.clients, append(base, "redrive")...)
	if r.code != ExitOK || !strings.Contains(r.out, "Moved 1 job back to the backfill queue.") {
		t.Fatalf("redrive: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	r = run(t, m.clients, append(base, "watch", "--interval", "20ms", "--settle", "0s", "--total", "1")...)
	if r.code != ExitOK || !strings.Contains(r.out, "The queue is empty: 1 job done") {
		t.Fatalf("watch: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	if got := len(wk.received()); got != 6 {
		t.Errorf("the worker got %d jobs, want 6 (5 and the redriven one)", got)
	}
	r = run(t, m.clients, append(base, "redrive")...)
	if r.code != ExitOK || !strings.Contains(r.out, "The dead-letter queue is empty: nothing to redrive.") {
		t.Errorf("second redrive: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
}

func TestBackfill_OnMoto_MissingStackIsAnAWSError(t *testing.T) {
	m := newMoto(t)
	r := run(t, m.clients, "backfill", "--config", testConfig, "--env", "dev", "--stack", "NoSuchStack",
		"--from", "2026-11-01", "--to", "2026-11-02")
	if r.code != ExitAWS {
		t.Errorf("exit %d, want %d", r.code, ExitAWS)
	}
	if w := "read the outputs of stack NoSuchStack in ap-northeast-1 (deploy it with `make deploy ENV=dev`, or give --raw-bucket (or --no-estimate))"; !strings.Contains(r.err, w) {
		t.Errorf("stderr\n%s\ndoes not say\n%s", r.err, w)
	}
}

// stuckSQS fails every batch entry of one day on SQS's side.
type stuckSQS struct {
	*sqs.Client
	day string
}

func (s *stuckSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	pass := *in
	pass.Entries = nil
	var failed []sqstypes.BatchResultErrorEntry
	for _, e := range in.Entries {
		if aws.ToString(e.Id) == s.day {
			failed = append(failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("injected")})
			continue
		}
		pass.Entries = append(pass.Entries, e)
	}
	out := &sqs.SendMessageBatchOutput{}
	if len(pass.Entries) > 0 {
		var err error
		if out, err = s.Client.SendMessageBatch(ctx, &pass, opts...); err != nil {
			return nil, err
		}
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

func TestBackfill_OnMoto_PartialSendPrintsTheCommandToResume(t *testing.T) {
	m := newMoto(t)
	q, err := m.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("stuck-%d", seq.Add(1)))})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(q.QueueUrl)
	clients := func() *Clients {
		c := m.clients()
		c.SQS = &stuckSQS{Client: m.sqs, day: "2026-11-13"}
		return c
	}
	r := run(t, clients, "backfill", "--config", testConfig, "--env", "dev", "--queue-url", url, "--no-estimate",
		"--from", "2026-11-01", "--to", "2026-11-20", "--yes")
	if r.code != ExitAWS {
		t.Errorf("exit %d, want %d", r.code, ExitAWS)
	}
	for _, w := range []string{
		"Sent 19 jobs before the error. To send the rest of the request (from 2026-11-13 on; a job sent twice is harmless), run:\n  kpilake backfill --env dev --config testdata/cdk.json --queue-url " + url +
			" --from 2026-11-13 --to 2026-11-20 --request-id bf-test --no-estimate --yes\n",
		"request bf-test: 19 jobs sent, but not all from 2026-11-13 on: 1 of the batch's messages not sent after 2 attempts: 2026-11-13: injected (InternalError)",
	} {
		if !strings.Contains(r.err, w) {
			t.Errorf("stderr\n%s\ndoes not say\n%s", r.err, w)
		}
	}
	n, err := m.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Attributes["ApproximateNumberOfMessages"]; got != "19" {
		t.Errorf("%s messages on the queue, want 19 (all but 2026-11-13)", got)
	}
}
