package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/internal/testsvc"
	handler "github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// The aggregation workflow is synthesized here from its construct, in a stack of its own (a
// lake, a catalog, a crawler, alerts, the plan function), until the stack wires it into the app;
// then it should come from synthesize() like the extraction's.

// aggregateZone is the business time zone of the synthesized aggregation.
const aggregateZone = "Asia/Tokyo"

// kpiCatalog is the project's KPI catalog: the plan orders its KPIs into waves and the aggregate
// handler renders their SQL, as in the Lambda functions.
var kpiCatalog = sync.OnceValues(queries.Load)

// idleSource is a source of the synthesized aggregation that no KPI reads: its crawler's
// success has nothing to aggregate.
const idleSource = "hr"

// aggregationSources are the sources whose crawlers start the synthesized aggregation: a
// database source, the log streams (the stack's two kinds), and a source no KPI reads.
var aggregationSources = []string{sourceName, layout.AppLogsSource, idleSource}

// synthesizedAggregation is the aggregation's template with the logical IDs the definition
// and the plan function's environment refer to.
type synthesizedAggregation struct {
	resources                                map[string]map[string]any
	stateMachine, planFn, aggregateFn, topic string
	// crawlers are the crawlers' logical IDs, by source.
	crawlers       map[string]string
	maxConcurrency int
}

func (s *synthesizedAggregation) properties(id string) map[string]any {
	props, _ := s.resources[id]["Properties"].(map[string]any)
	return props
}

func synthesizeAggregation() (s *synthesizedAggregation, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth panicked: %v", r)
		}
	}()
	data, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, err
	}
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &cdkJSON); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	out, err := os.MkdirTemp("", "kpilake-aggregate-synth-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	a := awscdk.NewApp(&awscdk.AppProps{Context: &cdkJSON.Context, Outdir: jsii.String(out)})
	stack := awscdk.NewStack(a, jsii.String("AggregateWorkflowTest"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(testsvc.Region)},
	})
	lk := lake.NewLake(stack, "Lake", nil)
	cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lk})
	var crawlers []*catalog.Crawler
	for _, src := range aggregationSources {
		crawlers = append(crawlers, catalog.NewCrawler(stack, "Crawler-"+src, &catalog.CrawlerProps{
			Catalog: cat, Prefixes: []string{layout.SourcePrefix(src)}, TablePrefix: layout.CrawlerTablePrefix(src),
		}))
	}
	al := alerts.NewAlerts(stack, "Alerts", nil)
	planFn := golambda.NewFunction(stack, "Plan", &golambda.FunctionProps{
		Entry:       filepath.Join(root, "lambdas", "cmd", "plan"),
		Environment: map[string]string{plan.EnvTimeZone: aggregateZone},
	})
	kpis, err := kpiCatalog()
	if err != nil {
		return nil, err
	}
	props := &aggregate.WorkflowProps{
		Catalog: cat, Lake: lk, Crawlers: crawlers, Alerts: al, Plan: planFn,
		KPIs: kpis.Names(), TimeZone: aggregateZone, Root: root,
	}
	// The handlers are scripted here; any Go main builds the asset until lambdas/cmd/aggregate lands.
	if _, err := os.Stat(filepath.Join(root, "lambdas", "cmd", "aggregate", "main.go")); err != nil {
		props.AggregateEntry = filepath.Join(root, "lambdas", "cmd", "plan")
	}
	w := aggregate.NewWorkflow(stack, "Aggregation", props)

	tmpl := assertions.Template_FromStack(stack, nil).ToJSON()
	data, err = json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	var decoded struct {
		Resources map[string]map[string]any
	}
	if err := json.Unmarshal(data, &decoded); err != nil {
		return nil, err
	}
	s = &synthesizedAggregation{resources: decoded.Resources, maxConcurrency: aggregate.DefaultMaxConcurrency, crawlers: map[string]string{}}
	for i, src := range aggregationSources {
		if s.crawlers[src], err = logicalID(stack.Resolve(crawlers[i].Name())); err != nil {
			return nil, err
		}
	}
	for _, ref := range []struct {
		id    *string
		token any
	}{
		{&s.stateMachine, w.StateMachine.StateMachineArn()},
		{&s.planFn, planFn.Function.FunctionArn()},
		{&s.aggregateFn, w.Function.Function.FunctionArn()},
		{&s.topic, al.Topic.TopicArn()},
	} {
		if *ref.id, err = logicalID(stack.Resolve(ref.token)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// aggregationWorld is moto behind the Lambda proxy and the synthesized aggregation. It shares
// the extraction tests' moto when that exists (the proxy forwards to one server only); otherwise
// it starts one, which the extraction world, started later, replaces as the proxy's target.
type aggregationWorld struct {
	app *synthesizedAggregation
	api *awsAPI
	seq atomic.Int64
}

var (
	aggregationOnce  sync.Mutex
	aggregationState *aggregationWorld
	aggregationErr   error
)

func setupAggregation(t *testing.T) *aggregationWorld {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil && os.Getenv("CI") == "" {
		t.Skipf("moto_server is not installed (%v); `.ci/run` installs it", err)
	}
	aggregationOnce.Lock()
	defer aggregationOnce.Unlock()
	if aggregationState == nil && aggregationErr == nil {
		aggregationState, aggregationErr = newAggregationWorld()
	}
	if aggregationErr != nil {
		t.Fatal(aggregationErr)
	}
	return aggregationState
}

func newAggregationWorld() (*aggregationWorld, error) {
	s, err := synthesizeAggregation()
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	w := &aggregationWorld{app: s}
	worldMu.Lock()
	ext := shared
	worldMu.Unlock()
	if ext != nil {
		w.api = ext.api
		return w, nil
	}
	if proxy == nil {
		if proxy, err = newLambdaProxy(); err != nil {
			return nil, err
		}
	}
	m, err := testsvc.StartMotoWithCallbackPort(proxy.port)
	if err != nil {
		return nil, err
	}
	if err := proxy.forwardTo(m.Endpoint); err != nil {
		return nil, err
	}
	if err := m.Post("/moto-api/config", `{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}`); err != nil {
		return nil, err
	}
	w.api = newAWSAPI(m.Endpoint)
	return w, nil
}

// kpiCall is one run of the scripted CTAS runner.
type kpiCall struct {
	KPI, Date  string
	Start, End time.Time
	Err        error
}

// runScript answers one CTAS run: nil for success, or the runner's error. attempt counts the
// KPI's runs, from 1.
type runScript func(kpi string, attempt int) error

// scriptedRunner stands in for ctas.Runner (Athena and Glue) behind the real aggregate handler.
type scriptedRunner struct {
	d      *aggregation
	busy   time.Duration
	script runScript
}

func (r scriptedRunner) Run(ctx context.Context, req ctas.Request) (ctas.Result, error) {
	call := kpiCall{KPI: req.KPI, Date: req.Date.String(), Start: time.Now()}
	r.d.mu.Lock()
	r.d.attempts[req.KPI]++
	n := r.d.attempts[req.KPI]
	r.d.mu.Unlock()
	time.Sleep(r.busy)
	if req.Select == "" {
		call.Err = errors.New("the handler passed no rendered SELECT")
	} else {
		call.Err = r.script(req.KPI, n)
	}
	call.End = time.Now()
	r.d.mu.Lock()
	r.d.calls = append(r.d.calls, call)
	r.d.mu.Unlock()
	if call.Err != nil {
		return ctas.Result{}, call.Err
	}
	if c := r.d.catalog; c != nil {
		c.publish(req.KPI)
	}
	return ctas.Result{
		KPI: req.KPI, Date: req.Date.String(), QueryID: "q-" + req.KPI, BytesScanned: 1024, EngineTimeMs: 10,
		Location: "s3://aggregated/" + layout.KPIRunPrefix(req.KPI, req.Date, "r1"), RunID: "r1",
	}, nil
}

// HasPartition answers from the deployment's dayCatalog; without one, every table has the day.
func (r scriptedRunner) HasPartition(_ context.Context, table string, _ layout.Day) (bool, error) {
	if r.d.catalog == nil {
		return true, nil
	}
	return r.d.catalog.has(table), nil
}

// dayCatalog stands in for the Glue catalog's partitions of the one day a test aggregates: the
// raw tables of the sources whose crawl has run, and the KPIs that the scripted runner published.
type dayCatalog struct {
	mu      sync.Mutex
	sources []string
	kpis    map[string]bool
}

func (c *dayCatalog) crawled(source string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources = append(c.sources, source)
}

func (c *dayCatalog) publish(kpi string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kpis[kpi] = true
}

func (c *dayCatalog) has(table string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for kpi := range c.kpis {
		if table == layout.KPITableName(kpi) {
			return true
		}
	}
	return slices.ContainsFunc(c.sources, func(s string) bool { return strings.HasPrefix(table, layout.CrawlerTablePrefix(s)) })
}

// aggregation is one test's copy of the workflow: its state machine, functions, topic and a
// queue subscribed to the topic.
type aggregation struct {
	w               *aggregationWorld
	id              string
	topicArn        string
	alertQueue      string
	stateMachineArn string
	plan, aggregate *function
	// crawlers are the crawlers' names in this deployment, by source.
	crawlers   map[string]string
	executions int
	logs       *syncBuffer

	mu       sync.Mutex
	calls    []kpiCall
	attempts map[string]int
	// catalog, when set, is what the handler's input checks see; nil: every input is there.
	catalog *dayCatalog
}

// deploy creates the resources of one test and the state machine from the synthesized
// definition; edit, if given, changes the definition first (say so in the test). Both functions
// run their real handlers with the project's KPI catalog; only the CTAS runner behind the
// aggregate handler is scripted: each run takes busy, then answers as script says.
func (w *aggregationWorld) deploy(t *testing.T, busy time.Duration, script runScript, edit func(*testing.T, map[string]any)) *aggregation {
	t.Helper()
	ctx := context.Background()
	d := &aggregation{w: w, id: fmt.Sprintf("agg%d", w.seq.Add(1)), logs: &syncBuffer{}, attempts: map[string]int{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function logs:\n%s", d.logs.String())
		}
	})
	var err error
	if d.topicArn, err = w.api.createTopic(ctx, "alerts-"+d.id); err != nil {
		t.Fatal(err)
	}
	var queueArn string
	if d.alertQueue, queueArn, err = w.api.createQueue(ctx, "alerts-"+d.id); err != nil {
		t.Fatal(err)
	}
	if err := w.api.subscribeQueue(ctx, d.topicArn, queueArn); err != nil {
		t.Fatal(err)
	}
	fnArn := func(name string) string {
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", testsvc.Region, account, name)
	}
	planName, aggregateName := d.id+"-plan", d.id+"-aggregate"
	a := w.app
	r := refs{a.planFn + ".Arn": fnArn(planName), a.aggregateFn + ".Arn": fnArn(aggregateName), a.topic: d.topicArn}
	d.crawlers = map[string]string{}
	for src, id := range a.crawlers {
		d.crawlers[src] = src + "-crawler-" + d.id
		r[id] = d.crawlers[src]
	}
	def, err := resolve(a.properties(a.stateMachine)["DefinitionString"], r)
	if err != nil {
		t.Fatalf("definition of %s: %v", a.stateMachine, err)
	}
	if edit != nil {
		var m map[string]any
		if err := json.Unmarshal([]byte(def), &m); err != nil {
			t.Fatalf("definition is not JSON: %v\n%s", err, def)
		}
		edit(t, m)
		data, _ := json.Marshal(m)
		def = string(data)
	}
	if d.stateMachineArn, err = w.api.createStateMachine(ctx, "aggregation-"+d.id, def); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewJSONHandler(d.logs, nil))
	loc, err := time.LoadLocation(aggregateZone)
	if err != nil {
		t.Fatal(err)
	}
	kpis, err := kpiCatalog()
	if err != nil {
		t.Fatal(err)
	}
	// The plan function starts from its synthesized environment: the crawlers' prefixes come
	// from the workflow construct.
	env := map[string]string{}
	planEnv, _ := a.properties(a.planFn)["Environment"].(map[string]any)
	vars, _ := planEnv["Variables"].(map[string]any)
	for k, v := range vars {
		if env[k], err = resolve(v, r); err != nil {
			t.Fatalf("plan function, variable %s: %v", k, err)
		}
	}
	if _, ok := env[plan.EnvCrawlers]; !ok {
		t.Fatalf("the plan function has no %s: %v", plan.EnvCrawlers, vars)
	}
	d.plan = proxy.register(planName, time.Minute, planMain(env, log))
	runner := scriptedRunner{d: d, busy: busy, script: script}
	d.aggregate = proxy.register(aggregateName, time.Minute, func(context.Context) (lambda.Handler, error) {
		return lambda.NewHandler(handler.NewHandler(kpis, "kpilake_test", loc, runner, log).Handle), nil
	})
	return d
}

// kpiCalls returns the runner's runs, in the order they ended.
func (d *aggregation) kpiCalls() []kpiCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]kpiCall(nil), d.calls...)
}

func (d *aggregation) run(t *testing.T, input any) (string, execution) {
	t.Helper()
	data, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	d.executions++
	arn, err := d.w.api.startExecution(context.Background(), d.stateMachineArn, fmt.Sprintf("%s-run%d", d.id, d.executions), string(data))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ex, err := d.w.api.describeExecution(context.Background(), arn)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Status != "RUNNING" {
			return arn, ex
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still RUNNING after 90 s; history:\n%s", arn, d.history(arn))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *aggregation) history(arn string) string {
	events, err := d.w.api.executionHistory(context.Background(), arn)
	if err != nil {
		return err.Error()
	}
	data, _ := json.MarshalIndent(events, "", "  ")
	return string(data)
}

// alerts waits up to wait for messages on the alert queue and returns their SNS envelopes.
func (d *aggregation) alerts(t *testing.T, wait time.Duration) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(wait)
	var msgs []map[string]string
	for {
		bodies, err := d.w.api.receiveMessages(context.Background(), d.alertQueue)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bodies {
			var envelope map[string]any
			if err := json.Unmarshal([]byte(b), &envelope); err != nil {
				t.Fatalf("SNS delivered %q, not an SNS notification: %v", b, err)
			}
			msg := map[string]string{}
			for k, v := range envelope {
				if s, ok := v.(string); ok {
					msg[k] = s
				}
			}
			msgs = append(msgs, msg)
		}
		if time.Now().After(deadline) {
			return msgs
		}
	}
}

// setRetryInterval sets IntervalSeconds of the retrier for errorName on the KPI task.
func setRetryInterval(errorName string, seconds int) func(*testing.T, map[string]any) {
	return func(t *testing.T, def map[string]any) {
		t.Helper()
		st, err := nestedState(def, "AggregateWaves", "AggregateWave", "AggregateKPI")
		if err != nil {
			t.Fatal(err)
		}
		retry, _ := st["Retry"].([]any)
		for _, r := range retry {
			r, _ := r.(map[string]any)
			errs, _ := r["ErrorEquals"].([]any)
			for _, e := range errs {
				if e == errorName {
					r["IntervalSeconds"] = seconds
					return
				}
			}
		}
		t.Fatalf("AggregateKPI has no retrier for %s: %v", errorName, st["Retry"])
	}
}

func nestedState(def map[string]any, path ...string) (map[string]any, error) {
	states, _ := def["States"].(map[string]any)
	var st map[string]any
	for _, name := range path {
		st, _ = states[name].(map[string]any)
		if st == nil {
			return nil, errors.New("definition has no state " + name)
		}
		proc, _ := st["ItemProcessor"].(map[string]any)
		states, _ = proc["States"].(map[string]any)
	}
	return st, nil
}
