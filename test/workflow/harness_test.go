//go:build !unit

// Package workflow runs the synthesized state machines on moto's Step Functions interpreter,
// with the real Go handlers answering the Lambda tasks in-process and moto standing in for S3,
// Secrets Manager, Glue, SNS and SQS. The definitions come from `cdk synth` of the dev
// environment; only their CloudFormation references are replaced, by the ARNs and names of what
// the tests create in moto.
package workflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/go-sql-driver/mysql"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/review"
	"github.com/kpilake/kpilake/infra/stack"
	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/lambdas/plan"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/sample"
)

// root is the module root, relative to this package.
const root = "../.."

// The synthesized environment and its source; account and region are those of moto.
const (
	environment = "dev"
	sourceName  = "social"
	account     = "123456789012"
)

// parallel is how many tests run at once unless -test.parallel says otherwise. A test spends
// its time waiting for moto's interpreter (its executions poll, its Wait states and retries
// sleep), not on a core, so more of them than this machine has cores keep both it and moto busy.
const parallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("-short (make test-unit): these tests synthesize the app and run services; make test runs them")
		os.Exit(0)
	}
	testsvc.SetParallel(parallel)
	code := m.Run()
	if started.Load() {
		if svc, err := startServices(); err == nil {
			svc.proxy.close()
		}
	}
	testsvc.StopAll()
	jsii.Close()
	os.Exit(code)
}

// services are what the extraction and the aggregation tests share: one moto, and the Lambda
// proxy in front of it to which moto's interpreter sends its AWS calls. One server for both
// kinds of test, so that they can run at the same time: the proxy forwards to one server only.
type services struct {
	moto  *testsvc.Moto
	proxy *lambdaProxy
	api   *awsAPI
}

// started says whether startServices ran, so that TestMain does not start them to stop them.
var started atomic.Bool

// startServices starts moto behind the Lambda proxy, once.
var startServices = sync.OnceValues(func() (*services, error) {
	started.Store(true)
	p, err := newLambdaProxy()
	if err != nil {
		return nil, err
	}
	m, err := testsvc.StartMotoWithCallbackPort(p.port)
	if err != nil {
		return nil, err
	}
	if err := p.forwardTo(m.Endpoint); err != nil {
		return nil, err
	}
	if err := m.Post("/moto-api/config", `{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}`); err != nil {
		return nil, err
	}
	return &services{moto: m, proxy: p, api: newAWSAPI(m.Endpoint)}, nil
})

// synthMu lets one test at a time synthesize: the extraction and the aggregation worlds are
// built by whichever of their tests comes first, and jsii's Node process works one call at a time.
var synthMu sync.Mutex

// synthesized is the environment's stack as `cdk synth` writes it, with the logical IDs of what
// the source's extraction workflow refers to.
type synthesized struct {
	resources map[string]map[string]any
	// Logical IDs.
	stateMachine, schedule, extractFn, planFn, crawler, logsCrawler, topic, raw, salt string
	timeZone                                                                          string
}

// synthesize builds the app with cdk.json's context for one environment, as `cdk synth -c
// env=dev` does (cdk-nag included), and reads the template it wrote.
func synthesize() (s *synthesized, err error) {
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
	ctx := cdkJSON.Context
	ctx[app.EnvContextKey] = environment
	out, err := os.MkdirTemp("", "kpilake-workflow-synth-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	// Without the CDK's built-in CloudFormation validation: the module's test package synthesizes
	// the environments with it; here it would only cost time.
	a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out), BuiltinCloudFormationValidation: jsii.Bool(false)})
	stacks, err := app.Build(a, app.Options{DefaultAccount: account, Root: root})
	if err != nil {
		return nil, err
	}
	if len(stacks) != 1 {
		return nil, fmt.Errorf("app.Build made %d stacks for environment %s, want 1", len(stacks), environment)
	}
	st := stacks[0]
	x := st.Extractions[sourceName]
	if x == nil {
		return nil, fmt.Errorf("environment %s has no source %q; these tests extract the sample social network", environment, sourceName)
	}
	a.Synth(nil)

	s = &synthesized{timeZone: st.Env.TimeZone}
	// The source's resources sit in its nested stack; the tests read the flattened template
	// (review.Flatten), in which they carry the nested stack's prefix.
	src := st.Sources[sourceName]
	nestedID, _ := st.Stack.Resolve(st.Stack.GetLogicalId(src.NestedStackResource())).(string)
	prefix, _, _ := strings.Cut(nestedID, "NestedStack")
	for _, ref := range []struct {
		id     *string
		token  any
		nested bool
	}{
		{&s.stateMachine, x.StateMachine.StateMachineArn(), true},
		{&s.schedule, x.Schedule.ScheduleName(), true},
		{&s.extractFn, x.Function.Function.FunctionArn(), true},
		{&s.planFn, st.ExtractionPlan.Function.FunctionArn(), false},
		{&s.crawler, st.Crawlers[sourceName].Name(), true},
		{&s.logsCrawler, st.Crawlers[layout.AppLogsSource].Name(), false},
		{&s.topic, st.Alerts.Topic.TopicArn(), false},
		{&s.raw, st.Lake.Raw.BucketName(), false},
		{&s.salt, st.Salt.SecretArn(), false},
	} {
		in := st.Stack
		if ref.nested {
			in = src.NestedStack
		}
		if *ref.id, err = logicalID(in.Resolve(ref.token)); err != nil {
			return nil, err
		}
		if ref.nested {
			*ref.id = prefix + *ref.id
		}
	}
	files := map[string][]byte{}
	names, err := filepath.Glob(filepath.Join(out, "*.template.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range names {
		if files[filepath.Base(f)], err = os.ReadFile(f); err != nil {
			return nil, err
		}
	}
	data, err = review.Flatten(files, stack.Name(environment)+".template.json")
	if err != nil {
		return nil, err
	}
	var tmpl struct {
		Resources map[string]map[string]any
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		return nil, err
	}
	s.resources = tmpl.Resources
	return s, nil
}

// logicalID is the resource behind {"Ref": id} or {"Fn::GetAtt": [id, attr]}.
func logicalID(expr any) (string, error) {
	data, _ := json.Marshal(expr)
	var v struct {
		Ref    string `json:"Ref"`
		GetAtt []any  `json:"Fn::GetAtt"`
	}
	if err := json.Unmarshal(data, &v); err == nil {
		if v.Ref != "" {
			return v.Ref, nil
		}
		if len(v.GetAtt) == 2 {
			if id, ok := v.GetAtt[0].(string); ok {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("%s is neither a Ref nor a Fn::GetAtt", data)
}

func (s *synthesized) properties(id string) map[string]any {
	props, _ := s.resources[id]["Properties"].(map[string]any)
	return props
}

// refs maps a deployed resource's logical ID (for Ref) or logical ID and attribute ("Id.Arn", for
// Fn::GetAtt) to its name or ARN in moto.
type refs map[string]string

// resolve renders a CloudFormation string expression with refs; an unknown reference is an
// error, so that a construct that starts referring to something new fails here with its name.
func resolve(v any, r refs) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				s, err := resolve(p, r)
				if err != nil {
					return "", err
				}
				out[i] = s
			}
			return strings.Join(out, sep), nil
		}
		if ref, ok := x["Ref"].(string); ok {
			switch ref {
			case "AWS::Partition":
				return "aws", nil
			case "AWS::Region":
				return testsvc.Region, nil
			case "AWS::AccountId":
				return account, nil
			case "AWS::URLSuffix":
				return "amazonaws.com", nil
			}
			if v, ok := r[ref]; ok {
				return v, nil
			}
			return "", fmt.Errorf("Ref %s: the test deploys nothing in its place", ref)
		}
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(att) == 2 {
			key := fmt.Sprintf("%v.%v", att[0], att[1])
			if v, ok := r[key]; ok {
				return v, nil
			}
			return "", fmt.Errorf("Fn::GetAtt %s: the test deploys nothing in its place", key)
		}
	}
	data, _ := json.Marshal(v)
	return "", fmt.Errorf("cannot resolve %s", data)
}

// functionConfig is a function's timeout and environment, resolved with r.
func (s *synthesized) functionConfig(id string, r refs) (time.Duration, map[string]string, error) {
	props := s.properties(id)
	seconds, _ := props["Timeout"].(float64)
	if seconds <= 0 {
		return 0, nil, fmt.Errorf("function %s has no Timeout", id)
	}
	env := map[string]string{}
	e, _ := props["Environment"].(map[string]any)
	vars, _ := e["Variables"].(map[string]any)
	for k, v := range vars {
		s, err := resolve(v, r)
		if err != nil {
			return 0, nil, fmt.Errorf("function %s, variable %s: %w", id, k, err)
		}
		env[k] = s
	}
	return time.Duration(seconds) * time.Second, env, nil
}

// literalEnvironment is a function's environment variables that hold plain strings.
func (s *synthesized) literalEnvironment(id string) map[string]string {
	e, _ := s.properties(id)["Environment"].(map[string]any)
	vars, _ := e["Variables"].(map[string]any)
	env := map[string]string{}
	for k, v := range vars {
		if str, ok := v.(string); ok {
			env[k] = str
		}
	}
	return env
}

// world is what every test shares: moto behind the Lambda proxy, the sample database with its
// read-only user and secrets, and the synthesized app.
type world struct {
	app   *synthesized
	moto  *testsvc.Moto
	proxy *lambdaProxy
	api   *awsAPI
	s3    *s3.Client
	sm    *secretsmanager.Client
	// spec is the source as the extraction function's environment describes it.
	spec extract.SourceSpec
	ca   *x509.CertPool
	ds   *sample.Dataset
	// day is a working day of the sample, with rows changed in every incremental table.
	day      layout.Day
	saltARN  string
	database string // the Glue database of the crawlers
	seq      atomic.Int64
}

var (
	worldMu  sync.Mutex
	shared   *world
	worldErr error
)

// setup returns the shared world, building it on first use. It skips the test where moto or
// MariaDB cannot run (outside CI), as testsvc does.
func setup(t *testing.T) *world {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil && os.Getenv("CI") == "" {
		t.Skipf("moto_server is not installed (%v); `.ci/run` installs it", err)
	}
	db := testsvc.MariaDB(t)
	worldMu.Lock()
	defer worldMu.Unlock()
	if shared == nil && worldErr == nil {
		shared, worldErr = newWorld(db)
	}
	if worldErr != nil {
		t.Fatal(worldErr)
	}
	return shared
}

func newWorld(db *testsvc.Database) (*world, error) {
	ctx := context.Background()
	s, err := synthesize()
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	w := &world{app: s, database: "kpilake_" + environment}
	svc, err := startServices()
	if err != nil {
		return nil, err
	}
	w.moto, w.proxy, w.api = svc.moto, svc.proxy, svc.api
	cfg := w.moto.AWSConfig()
	w.s3 = s3.NewFromConfig(cfg, testsvc.S3PathStyle)
	w.sm = secretsmanager.NewFromConfig(cfg)

	// The source and its secret, as the function's environment names them.
	env := s.literalEnvironment(s.extractFn)
	if w.spec, err = extract.ParseSourceSpec([]byte(env[contract.EnvSource])); err != nil {
		return nil, fmt.Errorf("%s of the synthesized function: %w", contract.EnvSource, err)
	}
	if w.spec.Engine != extract.MySQL || w.spec.Database == "" {
		return nil, fmt.Errorf("source %s is %s database %q; these tests load the sample into MariaDB and need the database named",
			sourceName, w.spec.Engine, w.spec.Database)
	}
	w.ca = x509.NewCertPool()
	if !w.ca.AppendCertsFromPEM(db.TLS.CAPEM) {
		return nil, errors.New("testsvc CA PEM does not parse")
	}
	w.ds = sample.Generate(sample.Config{Users: 24, Departments: 5, Days: 3, PostsPerDay: 12})
	w.day = w.ds.Days()[0]
	for _, t := range w.spec.Tables {
		if t.Mode == extract.Incremental && w.ds.RowsChangedSince(w.day)[t.Name] == 0 {
			return nil, fmt.Errorf("sample day %s changes no row of incremental table %s; pick a busier day", w.day, t.Name)
		}
	}
	user, password, err := loadSample(ctx, db, w.spec.Database, w.ds)
	if err != nil {
		return nil, err
	}
	secret, _ := json.Marshal(map[string]any{
		"username": user, "password": password, "host": db.Host, "port": db.Port,
		"dbname": w.spec.Database, "engine": "mysql",
	})
	// moto finds a secret by a full ARN whose name part is the secret's name; naming the secret
	// after the configured ARN's last part lets the function read the very ARN cdk.json gives.
	_, name, ok := strings.Cut(env[contract.EnvSecretARN], ":secret:")
	if !ok {
		return nil, fmt.Errorf("%s = %q is not a secret ARN", contract.EnvSecretARN, env[contract.EnvSecretARN])
	}
	if _, err := w.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(secret))}); err != nil {
		return nil, err
	}
	salt, err := w.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("kpilake/" + environment + "/hash-salt"), SecretString: aws.String(randomHex(32)),
	})
	if err != nil {
		return nil, err
	}
	w.saltARN = *salt.ARN
	if err := w.api.call(ctx, "glue", "CreateDatabase", map[string]any{"DatabaseInput": map[string]any{"Name": w.database}}, nil); err != nil {
		return nil, err
	}
	return w, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadSample creates the database with the sample tables and a read-only user that must use
// TLS, as the source's real user does.
func loadSample(ctx context.Context, db *testsvc.Database, database string, ds *sample.Dataset) (user, password string, err error) {
	open := func(name string) (*sql.DB, error) {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Net, cfg.Addr, cfg.DBName = db.User, "tcp", net.JoinHostPort(db.Host, fmt.Sprint(db.Port)), name
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(conn), nil
	}
	admin, err := open("")
	if err != nil {
		return "", "", err
	}
	defer admin.Close()
	user, password = "kpilake_ro", randomHex(12)
	for _, stmt := range []string{
		"CREATE DATABASE " + database,
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s' REQUIRE SSL", user, password),
		fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'%%'", database, user),
	} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			return "", "", fmt.Errorf("%s: %w", stmt, err)
		}
	}
	conn, err := open(database)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	if err := sample.Load(ctx, conn, sample.MySQL, ds); err != nil {
		return "", "", err
	}
	return user, password, nil
}

// deployment is one test's copy of the workflow: its own state machine, functions, bucket,
// crawler, alert topic and a queue subscribed to the topic.
type deployment struct {
	w               *world
	id              string
	bucket          string
	crawler         string
	topicArn        string
	alertQueue      string
	stateMachineArn string
	plan, extract   *function
	executions      int
	logs            *syncBuffer
	// clock is the extraction function's clock as UnixNano: 0 is the daily run of the world's
	// sample day (01:30 the next morning in the business zone); a test may move it.
	clock atomic.Int64
}

// now is the instant the extraction function takes for its own (extract.Config.Now).
func (d *deployment) now() time.Time {
	if n := d.clock.Load(); n != 0 {
		return time.Unix(0, n)
	}
	loc, err := time.LoadLocation(d.w.app.timeZone)
	if err != nil {
		panic(err)
	}
	return d.w.day.AddDays(1).Start(loc).Add(90 * time.Minute)
}

// deploy creates the resources of one test and the state machine from the synthesized
// definition; edit, if given, changes the definition first (say so in the test).
func (w *world) deploy(t *testing.T, edit func(t *testing.T, def map[string]any)) *deployment {
	t.Helper()
	ctx := context.Background()
	d := &deployment{w: w, id: fmt.Sprintf("wf%d", w.seq.Add(1)), logs: &syncBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function logs:\n%s", d.logs.String())
		}
	})
	d.bucket = "kpilake-raw-" + d.id
	if _, err := w.s3.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String(d.bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(testsvc.Region)},
	}); err != nil {
		t.Fatal(err)
	}
	d.crawler = sourceName + "-" + d.id
	if err := w.api.createCrawler(ctx, d.crawler, w.database, "s3://"+d.bucket+"/"+layout.SourcePrefix(sourceName)); err != nil {
		t.Fatal(err)
	}
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
	planName, extractName := d.id+"-plan", d.id+"-extract"
	a := w.app
	r := refs{
		a.planFn + ".Arn":    fnArn(planName),
		a.extractFn + ".Arn": fnArn(extractName),
		a.crawler:            d.crawler,
		// The plan function knows every crawler of the stack; this one is never started here.
		a.logsCrawler: layout.AppLogsSource + "-" + d.id,
		a.topic:       d.topicArn,
		a.raw:         d.bucket,
		a.salt:        w.saltARN,
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
	if d.stateMachineArn, err = w.api.createStateMachine(ctx, "extraction-"+d.id, def); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewJSONHandler(d.logs, nil))
	timeout, env, err := a.functionConfig(a.planFn, r)
	if err != nil {
		t.Fatal(err)
	}
	d.plan = w.proxy.register(planName, timeout, planMain(env, log))
	if timeout, env, err = a.functionConfig(a.extractFn, r); err != nil {
		t.Fatal(err)
	}
	d.extract = w.proxy.register(extractName, timeout, w.extractMain(env, log, d.now))
	return d
}

// planMain starts the plan function as lambdas/cmd/plan does (plan.Setup). The extraction's
// schedule never reads the lake, so the lake's clients are left out.
func planMain(env map[string]string, log *slog.Logger) func(context.Context) (lambda.Handler, error) {
	return func(context.Context) (lambda.Handler, error) {
		h, err := plan.Setup(log, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil, nil, nil)
		if err != nil {
			return nil, err
		}
		return lambda.NewHandler(h.Handle), nil
	}
}

// extractMain starts the extraction function as lambdas/cmd/extract does, with the test
// database's CA in place of the RDS bundle, clients of moto and the deployment's clock.
func (w *world) extractMain(env map[string]string, log *slog.Logger, now func() time.Time) func(context.Context) (lambda.Handler, error) {
	return func(ctx context.Context) (lambda.Handler, error) {
		spec, err := extract.ParseSourceSpec([]byte(env[contract.EnvSource]))
		if err != nil {
			return nil, err
		}
		var salt []byte
		if id := env[contract.EnvSaltSecretARN]; id != "" {
			if salt, err = extract.FetchSalt(ctx, w.sm, id); err != nil {
				return nil, err
			}
		}
		x, err := extract.New(extract.Config{
			Source:   spec,
			Bucket:   env[contract.EnvRawBucket],
			SecretID: env[contract.EnvSecretARN],
			RootCAs:  w.ca,
			Salt:     salt,
			Logger:   log,
			Now:      now,
		}, w.sm, w.s3)
		if err != nil {
			return nil, err
		}
		return lambda.NewHandler(func(ctx context.Context, req extract.Request) (extract.Result, error) {
			res, err := x.Handle(ctx, req)
			var input *extract.InputError
			if errors.As(err, &input) {
				return res, input
			}
			return res, err
		}), nil
	}
}

// start starts an execution with input and returns its ARN.
func (d *deployment) start(t *testing.T, input any) string {
	t.Helper()
	data, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	d.executions++
	name := fmt.Sprintf("%s-run%d", d.id, d.executions)
	arn, err := d.w.api.startExecution(context.Background(), d.stateMachineArn, name, string(data))
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

// wait waits for an execution to end.
func (d *deployment) wait(t *testing.T, arn string) execution {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ex, err := d.w.api.describeExecution(context.Background(), arn)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Status != "RUNNING" {
			return ex
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still RUNNING after 60 s; history:\n%s", arn, d.history(t, arn))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run starts an execution and waits for it to end.
func (d *deployment) run(t *testing.T, input any) (string, execution) {
	t.Helper()
	arn := d.start(t, input)
	return arn, d.wait(t, arn)
}

func (d *deployment) history(t *testing.T, arn string) string {
	t.Helper()
	events, err := d.w.api.executionHistory(context.Background(), arn)
	if err != nil {
		return err.Error()
	}
	data, _ := json.MarshalIndent(events, "", "  ")
	return string(data)
}

// taskFailures lists the errors of the failed task attempts of an execution, in order.
func (d *deployment) taskFailures(t *testing.T, arn string) []string {
	t.Helper()
	events, err := d.w.api.executionHistory(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, e := range events {
		if details, ok := e["taskFailedEventDetails"].(map[string]any); ok {
			name, _ := details["error"].(string)
			errs = append(errs, name)
		}
	}
	return errs
}

// extractCalls lists the tables the extraction function was invoked for, in order.
func (d *deployment) extractCalls(t *testing.T) []string {
	t.Helper()
	var tables []string
	for _, p := range d.extract.invocations() {
		var req extract.Request
		if err := json.Unmarshal(p, &req); err != nil {
			t.Fatalf("extraction payload %s: %v", p, err)
		}
		tables = append(tables, req.Table)
	}
	return tables
}

// syncBuffer collects the functions' logs, which concurrent invocations write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// configuredTables are the source's tables in configuration order.
func (w *world) configuredTables() []string {
	var names []string
	for _, t := range w.spec.Tables {
		names = append(names, t.Name)
	}
	return names
}
