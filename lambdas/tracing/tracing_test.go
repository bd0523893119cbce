//go:build !kpilake_notrace

package tracing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	atypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"

	"github.com/kpilake/kpilake/internal/ctassim"
	"github.com/kpilake/kpilake/internal/testsvc"
	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/lambdas/tracing"
	"github.com/kpilake/kpilake/layout"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// segments listens like the X-Ray daemon on a loopback UDP port and returns what it receives.
func segments(t *testing.T) (addr string, recv func() []map[string]any) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String(), func() []map[string]any {
		var out []map[string]any
		buf := make([]byte, 64<<10)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return out
			}
			// Each datagram is a header line, then the document.
			_, doc, _ := strings.Cut(string(buf[:n]), "\n")
			var m map[string]any
			if json.Unmarshal([]byte(doc), &m) == nil {
				out = append(out, m)
			}
		}
	}
}

// sampleAll traces every segment; the SDK's default samples one a second (and 5% more), which
// would drop a second test's segment.
type sampleAll struct{}

func (sampleAll) ShouldTrace(*sampling.Request) *sampling.Decision {
	return &sampling.Decision{Sample: true}
}

// configure sends every segment to the daemon address addr.
func configure(t *testing.T, addr string) {
	t.Helper()
	if err := xray.Configure(xray.Config{DaemonAddr: addr, ServiceVersion: "test", SamplingStrategy: sampleAll{}}); err != nil {
		t.Fatal(err)
	}
}

func TestXRay_SubsegmentCarriesAnnotationsAndMetadata(t *testing.T) {
	addr, recv := segments(t)
	configure(t, addr)
	ctx, root := xray.BeginSegment(context.Background(), "aggregate")
	_, end := tracing.XRay{}.Start(ctx, "ctas", map[string]string{"kpi": "engagement_score", "date": "2026-11-24"})
	end(map[string]string{"query_id": "q-123"}, map[string]any{"bytes_scanned": 2048, "engine_time_ms": 1500}, errors.New("boom"))
	root.Close(nil)

	var sub map[string]any
	for _, seg := range recv() {
		for _, s := range asList(seg["subsegments"]) {
			if m, ok := s.(map[string]any); ok && m["name"] == "ctas" {
				sub = m
			}
		}
		if seg["name"] == "ctas" {
			sub = seg
		}
	}
	if sub == nil {
		t.Fatal("no ctas subsegment reached the daemon address")
	}
	ann, _ := sub["annotations"].(map[string]any)
	for k, v := range map[string]string{"kpi": "engagement_score", "date": "2026-11-24", "query_id": "q-123"} {
		if ann[k] != v {
			t.Errorf("annotation %s = %v, want %s", k, ann[k], v)
		}
	}
	meta, _ := sub["metadata"].(map[string]any)
	def, _ := meta["default"].(map[string]any)
	if def["bytes_scanned"] != float64(2048) || def["engine_time_ms"] != float64(1500) {
		t.Errorf("metadata %v, want bytes_scanned and engine_time_ms", meta)
	}
	if sub["fault"] != true && sub["error"] != true {
		t.Errorf("subsegment does not record the error: %v", sub)
	}
}

func TestXRay_WithoutASegmentRecordsNothing(t *testing.T) {
	ctx, end := tracing.XRay{}.Start(context.Background(), "ctas", map[string]string{"kpi": "x"})
	end(nil, nil, nil)
	if xray.GetSegment(ctx) != nil {
		t.Error("a segment appeared without tracing")
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// node is one segment or subsegment received, with the id of its parent ("" for a segment).
type node struct {
	doc    map[string]any
	parent string
}

// tree indexes every segment and subsegment of docs by id, whether a subsegment came inside its
// parent or streamed on its own (with parent_id), as the SDK does past a few subsegments.
func tree(docs []map[string]any) map[string]node {
	nodes := map[string]node{}
	var walk func(doc map[string]any, parent string)
	walk = func(doc map[string]any, parent string) {
		id, _ := doc["id"].(string)
		nodes[id] = node{doc: doc, parent: parent}
		for _, s := range asList(doc["subsegments"]) {
			if m, ok := s.(map[string]any); ok {
				walk(m, id)
			}
		}
	}
	for _, doc := range docs {
		parent, _ := doc["parent_id"].(string)
		walk(doc, parent)
	}
	return nodes
}

// under reports whether the node id is a descendant of ancestor.
func under(nodes map[string]node, id, ancestor string) bool {
	for seen := 0; id != "" && seen < len(nodes); seen++ {
		id = nodes[id].parent
		if id == ancestor {
			return true
		}
	}
	return false
}

// lakeSeq names each run's database and bucket: the moto server outlives a test (-count).
var lakeSeq atomic.Int64

func TestXRay_TracesOneCTASRunWithItsAWSCalls(t *testing.T) {
	m := testsvc.MotoServer(t)
	addr, recv := segments(t)
	configure(t, addr)

	cfg := m.AWSConfig()
	clients := func(cfg aws.Config) (*athena.Client, *glue.Client, *s3.Client) {
		return athena.NewFromConfig(cfg), glue.NewFromConfig(cfg), s3.NewFromConfig(cfg, testsvc.S3PathStyle)
	}
	_, setupGlue, setupS3 := clients(cfg)
	tracing.InstrumentAWS(&cfg)
	athenaClient, glueClient, s3Client := clients(cfg)

	n := lakeSeq.Add(1)
	db, bucket, kpi := fmt.Sprintf("tracing_lake_%d", n), fmt.Sprintf("tracing-aggregated-%d", n), "engagement_score"
	ctx := context.Background()
	if _, err := setupGlue.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gtypes.DatabaseInput{Name: aws.String(db)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := setupS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(testsvc.Region)}}); err != nil {
		t.Fatal(err)
	}
	sim := &ctassim.Athena{Client: athenaClient, Glue: glueClient, S3: s3Client,
		Columns:    ctassim.Columns("department_id bigint", "engagement_score double"),
		Statistics: &atypes.QueryExecutionStatistics{DataScannedInBytes: aws.Int64(123456), EngineExecutionTimeInMillis: aws.Int64(789)}}
	runner, err := ctas.New(sim, glueClient, s3Client, ctas.Config{
		Database: db, Workgroup: "primary", AggregatedBucket: bucket,
		PollInitial: time.Millisecond, PollMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Tracer: tracing.XRay{},
	})
	if err != nil {
		t.Fatal(err)
	}
	day, _ := layout.ParseDay("2026-11-24")

	sctx, root := xray.BeginSegment(ctx, "aggregate")
	res, err := runner.Run(sctx, ctas.Request{KPI: kpi, Date: day, Select: "SELECT department_id, 1.5 AS engagement_score FROM t"})
	root.Close(err)
	if err != nil {
		t.Fatal(err)
	}

	nodes := tree(recv())
	var runID string
	for id, n := range nodes {
		if n.doc["name"] == "ctas "+kpi {
			if runID != "" {
				t.Fatalf("two %q subsegments", "ctas "+kpi)
			}
			runID = id
		}
	}
	if runID == "" {
		t.Fatalf("no %q subsegment reached the daemon address; got %d documents", "ctas "+kpi, len(nodes))
	}
	run := nodes[runID].doc
	if !under(nodes, runID, root.ID) {
		t.Errorf("the run's subsegment is not under the invocation's segment")
	}
	ann, _ := run["annotations"].(map[string]any)
	for k, v := range map[string]string{"kpi": kpi, "date": "2026-11-24", "query_id": res.QueryID} {
		if ann[k] != v {
			t.Errorf("annotation %s = %v, want %s", k, ann[k], v)
		}
	}
	def, _ := run["metadata"].(map[string]any)["default"].(map[string]any)
	if def["bytes_scanned"] != float64(123456) || def["engine_time_ms"] != float64(789) {
		t.Errorf("metadata %v, want bytes_scanned 123456 and engine_time_ms 789", run["metadata"])
	}
	if run["fault"] == true || run["error"] == true {
		t.Errorf("a successful run recorded an error: %v", run)
	}

	// Every AWS call of the run is a subsegment under it, named for the service, with its operation.
	calls := map[string]int{}
	for id, n := range nodes {
		if n.doc["namespace"] != "aws" {
			continue
		}
		op, _ := n.doc["aws"].(map[string]any)["operation"].(string)
		if !under(nodes, id, runID) {
			t.Errorf("AWS call %s %s is not under the run's subsegment", n.doc["name"], op)
			continue
		}
		calls[fmt.Sprintf("%s %s", n.doc["name"], op)]++
	}
	for _, want := range []string{"Athena StartQueryExecution", "Athena GetQueryExecution", "Glue GetTable",
		"Glue CreatePartition", "S3 ListObjectsV2"} {
		if calls[want] == 0 {
			t.Errorf("no %s subsegment under the run; AWS subsegments: %v", want, calls)
		}
	}
}
