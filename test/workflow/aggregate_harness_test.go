//go:build !unit

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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/aggregate"
	"github.com/kpilake/kpilake/infra/alerts"
	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/golambda"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/internal/testsvc"
	handler "github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/metrics"
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
	resources                                           map[string]map[string]any
	stateMachine, planFn, aggregateFn, topic, rawBucket string
	// crawlers are the crawlers' logical IDs, by source.
	crawlers       map[string]string
	maxConcurrency int
}

func (s *synthesizedAggregation) properties(id string) map[string]any {
	props, _ := s.resources[id]["Properties"].(map[string]any)
	return props
}

func synthesizeAggregation() (s *synthesizedAggregation, err error) {
	synthMu.Lock()
	defer synthMu.Unlock()
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
	// Without the CDK's built-in CloudFormation validation, as in the harness's synthesis.
	a := awscdk.NewApp(&awscdk.AppProps{Context: &cdkJSON.Context, Outdir: jsii.String(out), BuiltinCloudFormationValidation: jsii.Bool(false)})
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
		Environment: map[string]string{contract.EnvTimeZone: aggregateZone},
	})
	kpis, err := kpiCatalog()
	if err != nil {
		return nil, err
	}
	props := &aggregate.WorkflowProps{
		Catalog: cat, Lake: lk, Crawlers: crawlers, Alerts: al, Plan: planFn,
		KPIs: kpis.Names(), RawTables: kpis.Sources(), TimeZone: aggregateZone, Root: root,
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
		{&s.rawBucket, lk.Raw.BucketName()},
	} {
		if *ref.id, err = logicalID(stack.Resolve(ref.token)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// aggregationWorld is the synthesized aggregation and clients of the shared moto (services).
type aggregationWorld struct {
	app   *synthesizedAggregation
	proxy *lambdaProxy
	api   *awsAPI
	s3    *s3.Client
	glue  *glue.Client
	seq   atomic.Int64
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
	svc, err := startServices()
	if err != nil {
		return nil, err
	}
	w.proxy = svc.proxy
	w.setAPI(svc.api)
	return w, nil
}

// setAPI points the world's clients at moto: its own calls, and the S3 and Glue clients that the
// plan function and the scripted runner use.
func (w *aggregationWorld) setAPI(api *awsAPI) {
	w.api = api
	cfg := aws.Config{
		Region:       testsvc.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(testsvc.AccessKeyID, testsvc.SecretAccessKey, ""),
		BaseEndpoint: aws.String(api.endpoint),
	}
	w.s3 = s3.NewFromConfig(cfg, testsvc.S3PathStyle)
	w.glue = glue.NewFromConfig(cfg)
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
	runID := layout.NewRunID(call.Start)
	location := "s3://aggregated/" + layout.KPIRunPrefix(req.KPI, req.Date, runID)
	if err := r.d.publish(ctx, req.KPI, req.Date, location); err != nil {
		return ctas.Result{}, err
	}
	return ctas.Result{
		KPI: req.KPI, Date: req.Date.String(), QueryID: "q-" + req.KPI, BytesScanned: 1024, EngineTimeMs: 10,
		Location: location, RunID: runID,
	}, nil
}

// HasPartition answers from the deployment's Glue database in moto, as the runner does.
func (r scriptedRunner) HasPartition(ctx context.Context, table string, day layout.Day) (bool, error) {
	_, err := r.d.w.glue.GetPartition(ctx, &glue.GetPartitionInput{DatabaseName: aws.String(r.d.database), TableName: aws.String(table),
		PartitionValues: []string{day.String()}})
	var missing *gtypes.EntityNotFoundException
	if errors.As(err, &missing) {
		return false, nil
	}
	return err == nil, err
}

// Serving answers from the deployment's Glue database in moto, as the runner does: the start of
// the run that the partition's location names.
func (r scriptedRunner) Serving(ctx context.Context, table string, day layout.Day) (time.Time, bool, error) {
	out, err := r.d.w.glue.GetPartition(ctx, &glue.GetPartitionInput{DatabaseName: aws.String(r.d.database), TableName: aws.String(table),
		PartitionValues: []string{day.String()}})
	var missing *gtypes.EntityNotFoundException
	if errors.As(err, &missing) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	var start time.Time
	if out.Partition != nil && out.Partition.StorageDescriptor != nil {
		start, _ = layout.RunStart(layout.RunOf(aws.ToString(out.Partition.StorageDescriptor.Location)))
	}
	return start, true, nil
}

// Columns are those of an incremental table whose state a KPI reads (the crawler of the test
// creates no tables).
func (r scriptedRunner) Columns(context.Context, string) ([]string, error) {
	return []string{"id", "user_id", "deleted_at"}, nil
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
	// rawBucket and database are this deployment's raw zone and Glue database in moto: the plan
	// reads them, landRaw fills them, the scripted runner publishes into the database.
	rawBucket, database string
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
	d.rawBucket, d.database = "raw-"+d.id, "kpilake_"+d.id
	r[a.rawBucket] = d.rawBucket
	if err := d.createLake(ctx); err != nil {
		t.Fatal(err)
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
	if _, ok := env[contract.EnvCrawlers]; !ok {
		t.Fatalf("the plan function has no %s: %v", contract.EnvCrawlers, vars)
	}
	if env[contract.EnvRawBucket] != d.rawBucket || env[contract.EnvDatabase] == "" {
		t.Fatalf("the plan function reads the raw bucket %q and the database %q; want the lake's", env[contract.EnvRawBucket], env[contract.EnvDatabase])
	}
	env[contract.EnvDatabase] = d.database // the synthesized name, made unique per test
	d.plan = w.proxy.register(planName, time.Minute, func(context.Context) (lambda.Handler, error) {
		h, err := plan.Setup(log, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, w.s3, w.glue, metrics.New(d.logs, "test"))
		if err != nil {
			return nil, err
		}
		return lambda.NewHandler(h.Handle), nil
	})
	runner := scriptedRunner{d: d, busy: busy, script: script}
	d.aggregate = w.proxy.register(aggregateName, time.Minute, func(context.Context) (lambda.Handler, error) {
		raw, err := plan.NewRawZone(w.s3, d.rawBucket)
		if err != nil {
			return nil, err
		}
		keys := handler.StateKeys{}
		for _, t := range kpis.Sources() {
			keys[t] = queries.DefaultStateKey
		}
		return lambda.NewHandler(handler.NewHandler(kpis, "kpilake_test", loc, runner, log).WithState(keys, raw).Handle), nil
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
		st, err := nestedState(def, "AggregateDays", "AggregateWaves", "AggregateWave", "AggregateKPI")
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

// createLake creates the deployment's raw bucket and Glue database, with a table for every raw
// table and KPI of the catalog, partitioned by day, as the crawlers and the runner create them.
func (d *aggregation) createLake(ctx context.Context) error {
	if _, err := d.w.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(d.rawBucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(testsvc.Region)}}); err != nil {
		return fmt.Errorf("create bucket %s: %w", d.rawBucket, err)
	}
	if _, err := d.w.glue.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gtypes.DatabaseInput{Name: aws.String(d.database)}}); err != nil {
		return fmt.Errorf("create database %s: %w", d.database, err)
	}
	kpis, err := kpiCatalog()
	if err != nil {
		return err
	}
	var tables []string
	for _, src := range kpis.Sources() {
		tables = append(tables, src.CatalogName())
	}
	for _, k := range kpis.Names() {
		tables = append(tables, layout.KPITableName(k))
	}
	for _, table := range tables {
		_, err := d.w.glue.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(d.database), TableInput: &gtypes.TableInput{
			Name:              aws.String(table),
			PartitionKeys:     []gtypes.Column{{Name: aws.String(layout.PartitionKey), Type: aws.String("string")}},
			StorageDescriptor: &gtypes.StorageDescriptor{Columns: []gtypes.Column{{Name: aws.String("x"), Type: aws.String("bigint")}}},
		}})
		// The database is this deployment's and new, and nothing else writes to it yet: a table
		// that exists already is this call's own, created by an attempt whose answer the SDK did
		// not get before it retried (seen once on a loaded machine, with the tests one after
		// the other). It counts as created.
		var exists *gtypes.AlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("create table %s: %w", table, err)
		}
	}
	return nil
}

// putPartition points table's partition of day at location, creating it or replacing it.
func (d *aggregation) putPartition(ctx context.Context, table string, day layout.Day, location string) error {
	in := &gtypes.PartitionInput{Values: []string{day.String()}, StorageDescriptor: &gtypes.StorageDescriptor{Location: aws.String(location)}}
	_, err := d.w.glue.CreatePartition(ctx, &glue.CreatePartitionInput{DatabaseName: aws.String(d.database), TableName: aws.String(table), PartitionInput: in})
	var exists *gtypes.AlreadyExistsException
	if errors.As(err, &exists) {
		_, err = d.w.glue.UpdatePartition(ctx, &glue.UpdatePartitionInput{DatabaseName: aws.String(d.database), TableName: aws.String(table),
			PartitionValueList: []string{day.String()}, PartitionInput: in})
	}
	if err != nil {
		return fmt.Errorf("partition %s of %s: %w", day, table, err)
	}
	return nil
}

// publish is the scripted runner's switch: the KPI's partition of day points at its run.
func (d *aggregation) publish(ctx context.Context, kpi string, day layout.Day, location string) error {
	return d.putPartition(ctx, layout.KPITableName(kpi), day, location)
}

// landRaw is an extraction (or a re-extraction) of day for every raw table of source that a KPI
// reads, and the crawl that catalogues it: one object per table and day (replaced if there is
// one), and the table's partition of the day. It returns after the second of the objects' S3
// LastModified, which counts whole seconds, so that a run that starts later reads them for sure.
func (d *aggregation) landRaw(t *testing.T, source, day string) {
	t.Helper()
	d.land(t, source, day, true)
}

// land is landRaw; catalogue false leaves the partitions out of the catalog.
func (d *aggregation) land(t *testing.T, source, day string, catalogue bool) {
	t.Helper()
	ctx := context.Background()
	dd, err := layout.ParseDay(day)
	if err != nil {
		t.Fatal(err)
	}
	kpis, err := kpiCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range kpis.Sources() {
		if src.Source != source {
			continue
		}
		prefix := layout.TablePartitionPrefix(src.Source, src.Table, dd)
		if _, err := d.w.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(d.rawBucket), Key: aws.String(prefix + "part-0.parquet"),
			Body: strings.NewReader("rows of " + day)}); err != nil {
			t.Fatal(err)
		}
		if !catalogue {
			continue
		}
		if err := d.putPartition(ctx, src.CatalogName(), dd, "s3://"+d.rawBucket+"/"+prefix); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second + 100*time.Millisecond)
}
