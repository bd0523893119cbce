package backfillsim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
)

// world is the simulated account: Athena's queries, the Glue database and the aggregated bucket,
// behind one lock, so that a query that ends is seen by every service from the same instant.
type world struct {
	sc      *Scenario
	retryer *retry.Standard
	latency time.Duration // wall

	mu     sync.Mutex
	rng    *rand.Rand
	db     string
	bucket string

	// Athena
	queries  map[string]*query
	tokens   map[string]*query    // ClientRequestToken -> query: a retried start is idempotent
	attempts map[string]time.Time // ClientRequestToken -> first StartQueryExecution call
	active   []*query             // QUEUED or RUNNING
	nextID   int
	stats    worldStats

	// Glue
	tables     map[string]*gtypes.Table
	partitions map[string]map[string]*gtypes.Partition // table -> dt value -> partition
	published  map[string]int                          // table + "/" + dt -> partition switches
	dependsOn  map[string][]string                     // KPI -> the KPIs it reads

	// S3: the aggregated bucket's keys, sorted.
	keys []string
}

// worldStats are the stand-in's counters; durations are wall time.
type worldStats struct {
	queries, quotaThrottles, injectedThrottles, maxActive, outOfOrder int
	queryTime, observeLag, throttleWait                               time.Duration
}

type query struct {
	id, token      string
	db, table      string // the temporary table the CTAS creates
	prefix, kpi    string
	day            string
	start, end     time.Time // end: when it succeeds, unless stopped first
	state          atypes.QueryExecutionState
	finished       time.Time
	observed       bool
	scannedBytes   int64
	engineDuration time.Duration // simulated
}

// ctasRE matches the CTAS the runner sends (ctas.Statement).
var ctasRE = regexp.MustCompile(`^CREATE TABLE "([a-z0-9_]+)"\."([a-z0-9_]+)"\nWITH \(.*external_location = 's3://([^/']+)/([^']+)'\)\nAS\n`)

// runPrefixRE splits a run prefix (layout.KPIRunPrefix) into KPI and day.
var runPrefixRE = regexp.MustCompile(`^([a-z][a-z0-9_]*)/` + layout.PartitionKey + `=([0-9]{4}-[0-9]{2}-[0-9]{2})/` + layout.RunKey + `=[^/]+/$`)

func newWorld(sc *Scenario, db, bucket string) *world {
	return &world{
		sc: sc,
		// As ctas.NewFromConfig builds it; only its delays are scaled.
		retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = ctas.SDKRetryAttempts
			o.MaxBackoff = SDKMaxBackoff
			o.RateLimiter = ratelimit.None
		}),
		latency:    sc.wall(sc.APILatency),
		rng:        rand.New(rand.NewPCG(sc.Seed, 0x5eed)),
		db:         db,
		bucket:     bucket,
		queries:    map[string]*query{},
		tokens:     map[string]*query{},
		attempts:   map[string]time.Time{},
		tables:     map[string]*gtypes.Table{},
		partitions: map[string]map[string]*gtypes.Partition{},
		published:  map[string]int{},
		dependsOn:  map[string][]string{},
	}
}

// BaseQueryTime is the first-run query time of a (KPI, day) in sc: lognormal with mean sc.MeanQuery,
// fixed by sc.Seed, the KPI and the day.
func BaseQueryTime(sc Scenario, kpi, day string) time.Duration {
	sc.withDefaults()
	h := fnv.New64a()
	h.Write([]byte(kpi + "/" + day))
	r := rand.New(rand.NewPCG(sc.Seed, h.Sum64()))
	return lognormal(sc.MeanQuery, sc.QuerySpread, r.NormFloat64())
}

// lognormal is mean × a lognormal factor of mean 1 whose logarithm has standard deviation sigma.
func lognormal(mean time.Duration, sigma, z float64) time.Duration {
	return time.Duration(float64(mean) * math.Exp(sigma*z-sigma*sigma/2))
}

// call runs effect as one AWS call of ctx's invocation: the request travels (APILatency), takes
// effect under the world's lock, and its answer is lost if the invocation dies meanwhile.
func (w *world) call(ctx context.Context, effect func(now time.Time) error) error {
	inv := invocationOf(ctx)
	n, err := inv.begin()
	if err != nil {
		return err
	}
	if err := sleep(ctx, w.latency); err != nil {
		return err
	}
	w.mu.Lock()
	now := time.Now()
	w.settle(now)
	err = effect(now)
	w.mu.Unlock()
	if cerr := inv.end(n); cerr != nil {
		return cerr
	}
	return err
}

// do is one API operation as the SDK client makes it: attempts through call, retried by the
// SDK's standard retryer (configured as ctas.NewFromConfig does) with its delays scaled.
func do[T any](ctx context.Context, w *world, f func(now time.Time) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		var out T
		err := w.call(ctx, func(now time.Time) error {
			var err error
			out, err = f(now)
			return err
		})
		if err == nil || errors.Is(err, errCrashed) || ctx.Err() != nil || !w.retryer.IsErrorRetryable(err) {
			return out, err
		}
		if attempt >= w.retryer.MaxAttempts() {
			return out, &retry.MaxAttemptsError{Attempt: attempt, Err: err}
		}
		d, derr := w.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return out, derr
		}
		if serr := sleep(ctx, w.sc.wall(d)); serr != nil {
			return out, &aws.RequestCanceledError{Err: serr}
		}
	}
}

// settle ends the queries whose time has come, in the order they end, with a CTAS's effects:
// the temporary table registered, the output written.
func (w *world) settle(now time.Time) {
	var done []*query
	w.active = slices.DeleteFunc(w.active, func(q *query) bool {
		if q.end.After(now) {
			return false
		}
		done = append(done, q)
		return true
	})
	slices.SortFunc(done, func(a, b *query) int { return a.end.Compare(b.end) })
	for _, q := range done {
		q.state, q.finished = atypes.QueryExecutionStateSucceeded, q.end
		w.stats.queryTime += q.end.Sub(q.start)
		if _, ok := w.tables[q.table]; !ok {
			w.tables[q.table] = &gtypes.Table{
				Name: aws.String(q.table), DatabaseName: aws.String(q.db), TableType: aws.String("EXTERNAL_TABLE"),
				StorageDescriptor: &gtypes.StorageDescriptor{
					Columns:  kpiColumns(),
					Location: aws.String("s3://" + w.bucket + "/" + q.prefix),
				},
			}
		}
		for i := range 2 {
			w.put(fmt.Sprintf("%s%s_%05d.parquet", q.prefix, q.id, i))
		}
	}
}

// kpiColumns is every KPI's output schema in the simulation: the same on every run, so the
// runner's schema check passes.
func kpiColumns() []gtypes.Column {
	return []gtypes.Column{
		{Name: aws.String("department"), Type: aws.String("string")},
		{Name: aws.String("value"), Type: aws.String("bigint")},
	}
}

func (w *world) startQuery(now time.Time, in *athena.StartQueryExecutionInput) (*athena.StartQueryExecutionOutput, error) {
	token := aws.ToString(in.ClientRequestToken)
	if q, ok := w.tokens[token]; ok && token != "" {
		return &athena.StartQueryExecutionOutput{QueryExecutionId: aws.String(q.id)}, nil
	}
	if _, ok := w.attempts[token]; !ok {
		w.attempts[token] = now
	}
	if w.sc.ThrottleRate > 0 && w.rng.Float64() < w.sc.ThrottleRate {
		w.stats.injectedThrottles++
		return nil, &atypes.TooManyRequestsException{Message: aws.String("Rate exceeded"),
			Reason: atypes.ThrottleReasonConcurrentQueryLimitExceeded}
	}
	if len(w.active) >= w.sc.Quota {
		w.stats.quotaThrottles++
		return nil, &atypes.TooManyRequestsException{Reason: atypes.ThrottleReasonConcurrentQueryLimitExceeded,
			Message: aws.String("You have exceeded the limit for the number of queries you can run concurrently. " +
				"Reduce the number of concurrent queries submitted by this account.")}
	}
	sql := aws.ToString(in.QueryString)
	m := ctasRE.FindStringSubmatch(sql)
	if m == nil {
		return nil, &atypes.InvalidRequestException{Message: aws.String("backfillsim: not a CTAS the runner would send:\n" + sql)}
	}
	db, table, bucket, prefix := m[1], m[2], m[3], m[4]
	p := runPrefixRE.FindStringSubmatch(prefix)
	if db != w.db || bucket != w.bucket || p == nil {
		return nil, &atypes.InvalidRequestException{Message: aws.String(fmt.Sprintf(
			"backfillsim: CTAS into %s.%s at s3://%s/%s; want database %s, bucket %s and a run prefix", db, table, bucket, prefix, w.db, w.bucket))}
	}
	for _, dep := range w.dependsOn[p[1]] {
		if w.partitions[layout.KPITableName(dep)][p[2]] == nil {
			w.stats.outOfOrder++
			break
		}
	}
	w.nextID++
	d := w.sc.wall(lognormal(BaseQueryTime(*w.sc, p[1], p[2]), w.sc.RerunSpread, w.rng.NormFloat64()))
	q := &query{
		id: fmt.Sprintf("%08d-sim0-4000-8000-%012d", w.nextID, w.nextID), token: token,
		db: db, table: table, prefix: prefix, kpi: p[1], day: p[2],
		start: now, end: now.Add(d), state: atypes.QueryExecutionStateRunning,
		scannedBytes: 1 << 30, engineDuration: w.sc.sim(d),
	}
	w.queries[q.id] = q
	if token != "" {
		w.tokens[token] = q
	}
	w.stats.throttleWait += now.Sub(w.attempts[token])
	delete(w.attempts, token)
	w.active = append(w.active, q)
	w.stats.queries++
	w.stats.maxActive = max(w.stats.maxActive, len(w.active))
	return &athena.StartQueryExecutionOutput{QueryExecutionId: aws.String(q.id)}, nil
}

func (w *world) getQuery(now time.Time, in *athena.GetQueryExecutionInput) (*athena.GetQueryExecutionOutput, error) {
	q, ok := w.queries[aws.ToString(in.QueryExecutionId)]
	if !ok {
		return nil, &atypes.InvalidRequestException{Message: aws.String("QueryExecution " + aws.ToString(in.QueryExecutionId) + " was not found")}
	}
	st := &atypes.QueryExecutionStatus{State: q.state, SubmissionDateTime: aws.Time(q.start)}
	qe := &atypes.QueryExecution{QueryExecutionId: aws.String(q.id), Status: st,
		Statistics: &atypes.QueryExecutionStatistics{}}
	if q.state == atypes.QueryExecutionStateSucceeded || q.state == atypes.QueryExecutionStateCancelled {
		st.CompletionDateTime = aws.Time(q.finished)
		if !q.observed {
			q.observed = true
			w.stats.observeLag += now.Sub(q.finished)
		}
	}
	if q.state == atypes.QueryExecutionStateSucceeded {
		qe.Statistics.DataScannedInBytes = aws.Int64(q.scannedBytes)
		qe.Statistics.EngineExecutionTimeInMillis = aws.Int64(q.engineDuration.Milliseconds())
	}
	if q.state == atypes.QueryExecutionStateCancelled {
		st.StateChangeReason = aws.String("Query cancelled by user")
	}
	return &athena.GetQueryExecutionOutput{QueryExecution: qe}, nil
}

func (w *world) stopQuery(now time.Time, in *athena.StopQueryExecutionInput) (*athena.StopQueryExecutionOutput, error) {
	q, ok := w.queries[aws.ToString(in.QueryExecutionId)]
	if !ok {
		return nil, &atypes.InvalidRequestException{Message: aws.String("QueryExecution " + aws.ToString(in.QueryExecutionId) + " was not found")}
	}
	if i := slices.Index(w.active, q); i >= 0 {
		w.active = slices.Delete(w.active, i, i+1)
		q.state, q.finished = atypes.QueryExecutionStateCancelled, now
		w.stats.queryTime += now.Sub(q.start)
		// A stopped CTAS may have written part of its output already.
		w.put(q.prefix + q.id + "_00000.parquet")
	}
	return &athena.StopQueryExecutionOutput{}, nil
}

func notFound(what string) error {
	return &gtypes.EntityNotFoundException{Message: aws.String(what + " not found.")}
}

// copyTable returns a copy the caller may change without touching the catalog.
func copyTable(t *gtypes.Table) *gtypes.Table {
	c := *t
	if t.StorageDescriptor != nil {
		sd := *t.StorageDescriptor
		c.StorageDescriptor = &sd
	}
	return &c
}

func (w *world) getTable(db, name string) (*gtypes.Table, error) {
	t, ok := w.tables[name]
	if db != w.db || !ok {
		return nil, notFound("Table " + name)
	}
	return copyTable(t), nil
}

func (w *world) createTable(now time.Time, in *glue.CreateTableInput) (*glue.CreateTableOutput, error) {
	ti := in.TableInput
	name := aws.ToString(ti.Name)
	if aws.ToString(in.DatabaseName) != w.db {
		return nil, notFound("Database " + aws.ToString(in.DatabaseName))
	}
	if _, ok := w.tables[name]; ok {
		return nil, &gtypes.AlreadyExistsException{Message: aws.String("Table already exists.")}
	}
	w.tables[name] = &gtypes.Table{
		Name: ti.Name, DatabaseName: in.DatabaseName, Description: ti.Description, TableType: ti.TableType,
		Parameters: ti.Parameters, PartitionKeys: ti.PartitionKeys, StorageDescriptor: ti.StorageDescriptor,
		CreateTime: aws.Time(now),
	}
	return &glue.CreateTableOutput{}, nil
}

// getTables lists the tables whose names match in's Expression, as Glue reads it: a regular
// expression in which * also stands for any characters.
func (w *world) getTables(in *glue.GetTablesInput) (*glue.GetTablesOutput, error) {
	if aws.ToString(in.DatabaseName) != w.db {
		return nil, notFound("Database " + aws.ToString(in.DatabaseName))
	}
	var match *regexp.Regexp
	if e := aws.ToString(in.Expression); e != "" {
		re, err := regexp.Compile("^(?:" + strings.ReplaceAll(strings.ReplaceAll(e, ".*", "*"), "*", ".*") + ")$")
		if err != nil {
			return nil, &gtypes.InvalidInputException{Message: aws.String(err.Error())}
		}
		match = re
	}
	out := &glue.GetTablesOutput{}
	for _, name := range slices.Sorted(maps.Keys(w.tables)) {
		if match == nil || match.MatchString(name) {
			out.TableList = append(out.TableList, *copyTable(w.tables[name]))
		}
	}
	return out, nil
}

func (w *world) deleteTable(in *glue.DeleteTableInput) (*glue.DeleteTableOutput, error) {
	name := aws.ToString(in.Name)
	if _, err := w.getTable(aws.ToString(in.DatabaseName), name); err != nil {
		return nil, err
	}
	delete(w.tables, name)
	delete(w.partitions, name)
	return &glue.DeleteTableOutput{}, nil
}

func (w *world) getPartition(in *glue.GetPartitionInput) (*glue.GetPartitionOutput, error) {
	table := aws.ToString(in.TableName)
	if _, err := w.getTable(aws.ToString(in.DatabaseName), table); err != nil {
		return nil, err
	}
	p, ok := w.partitions[table][strings.Join(in.PartitionValues, "/")]
	if !ok {
		return nil, notFound("Partition")
	}
	c := *p
	sd := *p.StorageDescriptor
	c.StorageDescriptor = &sd
	return &glue.GetPartitionOutput{Partition: &c}, nil
}

func (w *world) putPartition(db, table string, values []string, in *gtypes.PartitionInput, create bool) error {
	if _, err := w.getTable(db, table); err != nil {
		return err
	}
	key := strings.Join(values, "/")
	_, exists := w.partitions[table][key]
	switch {
	case create && exists:
		return &gtypes.AlreadyExistsException{Message: aws.String("Partition already exists.")}
	case !create && !exists:
		return notFound("Partition")
	case in == nil || in.StorageDescriptor == nil || strings.Join(in.Values, "/") != key:
		return &gtypes.InvalidInputException{Message: aws.String("backfillsim: partition input without storage descriptor or with other values")}
	}
	if w.partitions[table] == nil {
		w.partitions[table] = map[string]*gtypes.Partition{}
	}
	sd := *in.StorageDescriptor
	w.partitions[table][key] = &gtypes.Partition{DatabaseName: aws.String(db), TableName: aws.String(table),
		Values: in.Values, StorageDescriptor: &sd}
	w.published[table+"/"+key]++
	return nil
}

// put writes an object of the aggregated bucket.
func (w *world) put(key string) {
	if i, ok := slices.BinarySearch(w.keys, key); !ok {
		w.keys = slices.Insert(w.keys, i, key)
	}
}

func (w *world) list(in *s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
	if aws.ToString(in.Bucket) != w.bucket {
		return nil, &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")}
	}
	prefix := aws.ToString(in.Prefix)
	maxKeys := int(aws.ToInt32(in.MaxKeys))
	if maxKeys <= 0 || maxKeys > 1000 {
		maxKeys = 1000
	}
	i := sort.SearchStrings(w.keys, prefix)
	if after := max(aws.ToString(in.ContinuationToken), aws.ToString(in.StartAfter)); after != "" {
		i = max(i, sort.SearchStrings(w.keys, after+"\x00"))
	}
	out := &s3.ListObjectsV2Output{Name: in.Bucket, Prefix: in.Prefix, MaxKeys: aws.Int32(int32(maxKeys)), IsTruncated: aws.Bool(false)}
	for ; i < len(w.keys) && strings.HasPrefix(w.keys[i], prefix); i++ {
		if len(out.Contents) == maxKeys {
			out.IsTruncated = aws.Bool(true)
			out.NextContinuationToken = aws.String(w.keys[i-1])
			break
		}
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(w.keys[i]), Size: aws.Int64(1 << 20)})
	}
	out.KeyCount = aws.Int32(int32(len(out.Contents)))
	return out, nil
}

func (w *world) deleteObjects(in *s3.DeleteObjectsInput) (*s3.DeleteObjectsOutput, error) {
	if aws.ToString(in.Bucket) != w.bucket {
		return nil, &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")}
	}
	if in.Delete == nil || len(in.Delete.Objects) > 1000 {
		return nil, fmt.Errorf("backfillsim: DeleteObjects takes 1 to 1000 keys")
	}
	for _, o := range in.Delete.Objects {
		if i, ok := slices.BinarySearch(w.keys, aws.ToString(o.Key)); ok {
			w.keys = slices.Delete(w.keys, i, i+1)
		}
	}
	return &s3.DeleteObjectsOutput{}, nil
}

// The clients the runner gets, one per service, each call made as the SDK makes it (do).
type (
	athenaClient struct{ w *world }
	glueClient   struct{ w *world }
	s3Client     struct{ w *world }
)

func (c athenaClient) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, _ ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	return do(ctx, c.w, func(now time.Time) (*athena.StartQueryExecutionOutput, error) { return c.w.startQuery(now, in) })
}

func (c athenaClient) GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, _ ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	return do(ctx, c.w, func(now time.Time) (*athena.GetQueryExecutionOutput, error) { return c.w.getQuery(now, in) })
}

func (c athenaClient) StopQueryExecution(ctx context.Context, in *athena.StopQueryExecutionInput, _ ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error) {
	return do(ctx, c.w, func(now time.Time) (*athena.StopQueryExecutionOutput, error) { return c.w.stopQuery(now, in) })
}

func (c glueClient) GetTable(ctx context.Context, in *glue.GetTableInput, _ ...func(*glue.Options)) (*glue.GetTableOutput, error) {
	return do(ctx, c.w, func(time.Time) (*glue.GetTableOutput, error) {
		t, err := c.w.getTable(aws.ToString(in.DatabaseName), aws.ToString(in.Name))
		if err != nil {
			return nil, err
		}
		return &glue.GetTableOutput{Table: t}, nil
	})
}

func (c glueClient) CreateTable(ctx context.Context, in *glue.CreateTableInput, _ ...func(*glue.Options)) (*glue.CreateTableOutput, error) {
	return do(ctx, c.w, func(now time.Time) (*glue.CreateTableOutput, error) { return c.w.createTable(now, in) })
}

func (c glueClient) DeleteTable(ctx context.Context, in *glue.DeleteTableInput, _ ...func(*glue.Options)) (*glue.DeleteTableOutput, error) {
	return do(ctx, c.w, func(time.Time) (*glue.DeleteTableOutput, error) { return c.w.deleteTable(in) })
}

func (c glueClient) GetTables(ctx context.Context, in *glue.GetTablesInput, _ ...func(*glue.Options)) (*glue.GetTablesOutput, error) {
	return do(ctx, c.w, func(time.Time) (*glue.GetTablesOutput, error) { return c.w.getTables(in) })
}

func (c glueClient) GetPartition(ctx context.Context, in *glue.GetPartitionInput, _ ...func(*glue.Options)) (*glue.GetPartitionOutput, error) {
	return do(ctx, c.w, func(time.Time) (*glue.GetPartitionOutput, error) { return c.w.getPartition(in) })
}

func (c glueClient) CreatePartition(ctx context.Context, in *glue.CreatePartitionInput, _ ...func(*glue.Options)) (*glue.CreatePartitionOutput, error) {
	return do(ctx, c.w, func(time.Time) (*glue.CreatePartitionOutput, error) {
		var values []string
		if in.PartitionInput != nil {
			values = in.PartitionInput.Values
		}
		err := c.w.putPartition(aws.ToString(in.DatabaseName), aws.ToString(in.TableName), values, in.PartitionInput, true)
		if err != nil {
			return nil, err
		}
		return &glue.CreatePartitionOutput{}, nil
	})
}

func (c glueClient) UpdatePartition(ctx context.Context, in *glue.UpdatePartitionInput, _ ...func(*glue.Options)) (*glue.UpdatePartitionOutput, error) {
	return do(ctx, c.w, func(time.Time) (*glue.UpdatePartitionOutput, error) {
		err := c.w.putPartition(aws.ToString(in.DatabaseName), aws.ToString(in.TableName), in.PartitionValueList, in.PartitionInput, false)
		if err != nil {
			return nil, err
		}
		return &glue.UpdatePartitionOutput{}, nil
	})
}

func (c s3Client) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return do(ctx, c.w, func(time.Time) (*s3.ListObjectsV2Output, error) { return c.w.list(in) })
}

func (c s3Client) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return do(ctx, c.w, func(time.Time) (*s3.PutObjectOutput, error) {
		if aws.ToString(in.Bucket) != c.w.bucket {
			return nil, &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")}
		}
		c.w.put(aws.ToString(in.Key))
		return &s3.PutObjectOutput{}, nil
	})
}

func (c s3Client) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	return do(ctx, c.w, func(time.Time) (*s3.DeleteObjectsOutput, error) { return c.w.deleteObjects(in) })
}
