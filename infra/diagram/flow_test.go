//go:build !unit

package diagram

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/contract"
)

// The flow view of the dev stack must show the pipeline end to end: each path is a chain of
// arrows, in this order (a two-way arrow reads both ways).
func TestFlow_DrawsThePipelineOfTheDevStackInOrder(t *testing.T) {
	f := devGraph(t).Flow()
	tests := []struct {
		name string
		path []string
	}{
		{"from the database source to the aggregated zone", []string{
			"external:database:social",
			"Source-social/Extraction/Extract/Function",
			"Lake/Raw",
			"Source-social/Crawler/Crawler",
			"Aggregation/CrawlerSucceeded",
			"Aggregation/Workflow",
			"Aggregation/Aggregate/Function",
			"Catalog/Aggregation/Workgroup",
			"Lake/Aggregated",
		}},
		{"the extraction workflow extracts, then crawls", []string{
			"Source-social/Extraction/Workflow", "Source-social/Extraction/Extract/Function",
		}},
		{"the extraction workflow starts its crawler", []string{
			"Source-social/Extraction/Workflow", "Source-social/Crawler/Crawler",
		}},
		{"from the log stream to the aggregation workflow", []string{
			"LogStream-web_access/DeliveryStream",
			"Lake/Raw",
			"Crawler-app_logs/Crawler",
			"Aggregation/CrawlerSucceeded",
		}},
		{"the crawlers fill the catalog that Athena reads", []string{
			"Source-social/Crawler/Crawler", "Catalog/Database", "Catalog/Aggregation/Workgroup",
		}},
		{"Athena reads the raw zone", []string{"Lake/Raw", "Catalog/Aggregation/Workgroup"}},
		{"the backfill, beside it", []string{
			"external:cli:kpilake",
			"Backfill/Queue",
			"Backfill/Worker/Function",
			"Catalog/Aggregation/Workgroup",
			"Lake/Aggregated",
		}},
		{"the backfill's dead letters, which the CLI redrives", []string{
			"Backfill/Queue", "Backfill/DeadLetterQueue", "external:cli:kpilake",
		}},
		{"alarms notify the alert topic", []string{
			"folded:Observe:monitoring", "Alerts/Topic", "Alerts/Topic/data-alerts-dev@example.com",
		}},
	}
	arrows := map[[2]string]bool{}
	for _, e := range f.Edges {
		arrows[[2]string{e.From, e.To}] = true
		if e.Both {
			arrows[[2]string{e.To, e.From}] = true
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := 1; i < len(tc.path); i++ {
				if from, to := tc.path[i-1], tc.path[i]; !arrows[[2]string{from, to}] {
					t.Errorf("no arrow %s -> %s (step %d of the path)", from, to, i)
				}
			}
		})
	}
}

// Alarms and dashboards must not crowd the flow view: one node per construct stands for them.
func TestFlow_FoldsTheAlarmsAndDashboardsOfTheDevStackIntoOneNodePerConstruct(t *testing.T) {
	g := devGraph(t)
	want := map[string][]string{} // construct -> its alarms and dashboards
	for _, n := range g.Nodes {
		if _, ok := monitoringTypes[n.Type]; ok {
			want[n.Group] = append(want[n.Group], n.ID)
		}
	}
	if len(want) < 2 {
		t.Fatalf("the dev stack has alarms or dashboards in %d constructs; the test needs several", len(want))
	}
	got := map[string][]string{}
	for _, n := range g.Flow().Nodes {
		if _, ok := monitoringTypes[n.Type]; ok {
			t.Errorf("%s (%s) is drawn on its own; alarms and dashboards are folded", n.ID, n.Kind)
		}
		if n.Type != MonitoringType {
			continue
		}
		if _, dup := got[n.Group]; dup {
			t.Errorf("construct %s has more than one monitoring node", n.Group)
		}
		got[n.Group] = n.Folded
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alarms and dashboards by construct (-inventory +folded):\n%s", diff)
	}
}

// drawnNodes renders a graph's nodes as "id = group / name (kind) [note] <folded>" lines.
func drawnNodes(g *Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		line := n.ID + " = " + n.Group + " / " + n.Name + " (" + n.Kind + ")"
		if n.Note != "" {
			line += " [" + strings.ReplaceAll(n.Note, "\n", " ") + "]"
		}
		if len(n.Folded) > 0 {
			line += " <" + strings.Join(n.Folded, ", ") + ">"
		}
		out = append(out, line)
	}
	return out
}

// lambdaWith adds a function at path with its role and the role's policy.
func lambdaWith(resources map[string]any, id, path string, env map[string]any, statements ...map[string]any) {
	resources[id] = resourceJSON("AWS::Lambda::Function", path+"/Resource", map[string]any{
		"Role":        arnOf(id + "Role"),
		"Environment": map[string]any{"Variables": env},
	})
	resources[id+"Role"] = resourceJSON("AWS::IAM::Role", path+"/ServiceRole/Resource", map[string]any{})
	resources[id+"Policy"] = resourceJSON("AWS::IAM::Policy", path+"/ServiceRole/DefaultPolicy/Resource", policy(id+"Role", statements...))
}

func bucket(path string) map[string]any {
	return resourceJSON("AWS::S3::Bucket", path+"/Resource", map[string]any{})
}

// Each rule of the flow view, on a small template: what it draws, what it folds and what it
// leaves out.
func TestFlow_FoldsAndLeavesOut(t *testing.T) {
	tests := []struct {
		name      string
		build     func(r map[string]any)
		outputs   map[string]any
		edges     []string
		nodes     []string
		leftOut   map[string]int
		unchanged bool // the inventory has the same arrows
	}{{
		name: "the alarms and dashboards of a construct are one node, drawn with the topic they notify",
		build: func(r map[string]any) {
			r["Data"] = bucket("App/Data")
			lambdaWith(r, "Fn", "App/Fn", nil, allow([]string{"s3:GetObject"}, arnOf("Data")))
			for _, id := range []string{"Errors", "Throttles"} {
				r[id] = resourceJSON("AWS::CloudWatch::Alarm", "Mon/"+id+"/Resource", map[string]any{
					"AlarmActions": []any{ref("Topic")},
					"Dimensions":   []any{map[string]any{"Name": "FunctionName", "Value": ref("Fn")}},
				})
			}
			r["Board"] = resourceJSON("AWS::CloudWatch::Dashboard", "Mon/Board/Resource", map[string]any{
				"DashboardBody": map[string]any{"Fn::Join": []any{"", []any{`{"fn":"`, ref("Fn"), `"}`}}},
			})
			r["Topic"] = resourceJSON("AWS::SNS::Topic", "Alerts/Topic/Resource", map[string]any{})
			r["Mail"] = resourceJSON("AWS::SNS::Subscription", "Alerts/Topic/ops@example.com/Resource", map[string]any{
				"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": ref("Topic"),
			})
		},
		edges: []string{
			"Alerts/Topic -trigger-> Alerts/Topic/ops@example.com: notifies",
			"App/Data -data-> App/Fn: reads",
			"folded:Mon:monitoring -trigger-> Alerts/Topic: in alarm",
		},
		nodes: []string{
			"Alerts/Topic = Alerts / Topic (SNS topic)",
			"Alerts/Topic/ops@example.com = Alerts / email (ops@example.com)",
			"App/Data = App / Data (S3 bucket)",
			"App/Fn = App / Fn (Lambda)",
			"folded:Mon:monitoring = Mon / Mon (2 alarms, 1 dashboard) <Mon/Board, Mon/Errors, Mon/Throttles>",
		},
	}, {
		name: "a function's reads and writes through Athena start and end at its workgroup, without its query results",
		build: func(r map[string]any) {
			r["Raw"], r["Agg"], r["Results"] = bucket("Lake/Raw"), bucket("Lake/Agg"), bucket("Lake/Results")
			r["Wg"] = resourceJSON("AWS::Athena::WorkGroup", "Catalog/Wg", map[string]any{
				"Name": "wg",
				"WorkGroupConfiguration": map[string]any{"ResultConfiguration": map[string]any{
					"OutputLocation": map[string]any{"Fn::Join": []any{"", []any{"s3://", ref("Results"), "/athena/"}}},
				}},
			})
			lambdaWith(r, "Fn", "Aggregate/Fn", nil,
				allow([]string{"athena:StartQueryExecution"}, "arn:aws:athena:ap-northeast-1:123456789012:workgroup/wg"),
				allow([]string{"s3:GetObject"}, arnOf("Raw")),
				allow([]string{"s3:PutObject"}, arnOf("Agg")),
				allow([]string{"s3:GetObject", "s3:PutObject"}, arnOf("Results")))
		},
		edges: []string{
			"Aggregate/Fn -data-> Catalog/Wg: queries",
			"Catalog/Wg -data-> Lake/Agg: writes",
			"Lake/Raw -data-> Catalog/Wg: reads",
		},
		nodes: []string{
			"Aggregate/Fn = Aggregate / Aggregate (Lambda)",
			"Catalog/Wg = Catalog / Catalog (Athena workgroup)",
			"Lake/Agg = Lake / Agg (S3 bucket)",
			"Lake/Raw = Lake / Raw (S3 bucket)",
		},
		leftOut: map[string]int{"S3 bucket": 1},
	}, {
		name: "a schedule is a line of the node it starts, and its dead letters are left out",
		build: func(r map[string]any) {
			r["Data"] = bucket("App/Data")
			lambdaWith(r, "Fn", "App/Fn", nil, allow([]string{"s3:PutObject"}, arnOf("Data")))
			r["Dlq"] = resourceJSON("AWS::SQS::Queue", "App/Dlq/Resource", map[string]any{})
			r["Hourly"] = resourceJSON("AWS::Scheduler::Schedule", "App/Hourly", map[string]any{
				"ScheduleExpression":         "rate(1 hour)",
				"ScheduleExpressionTimezone": "Etc/UTC",
				"Target":                     map[string]any{"Arn": arnOf("Fn"), "DeadLetterConfig": map[string]any{"Arn": arnOf("Dlq")}},
			})
		},
		edges: []string{"App/Fn -data-> App/Data: writes"},
		nodes: []string{
			"App/Data = App / Data (S3 bucket)",
			"App/Fn = App / Fn (Lambda) [rate(1 hour) Etc/UTC] <App/Hourly>",
		},
		leftOut: map[string]int{"SQS queue": 1},
	}, {
		name: "secrets, environment variables and grants that only list are left out",
		build: func(r map[string]any) {
			r["Data"], r["Other"] = bucket("App/Data"), bucket("App/Other")
			r["Salt"] = resourceJSON("AWS::SecretsManager::Secret", "Salt/Resource", map[string]any{})
			lambdaWith(r, "Fn", "App/Fn", map[string]any{"OTHER": ref("Other")},
				allow([]string{"s3:GetObject"}, arnOf("Data")),
				allow([]string{"s3:ListBucket"}, arnOf("Other")),
				allow([]string{"secretsmanager:GetSecretValue"}, ref("Salt")))
		},
		edges: []string{"App/Data -data-> App/Fn: reads"},
		nodes: []string{
			"App/Data = App / Data (S3 bucket)",
			"App/Fn = App / Fn (Lambda)",
		},
		leftOut: map[string]int{"S3 bucket": 1, "Secrets Manager secret": 1},
	}, {
		name: "the database source and the operator CLI come from the extraction's spec and the stack outputs",
		build: func(r map[string]any) {
			r["Raw"] = bucket("Lake/Raw")
			lambdaWith(r, "Extract", "Src/Extract", map[string]any{
				contract.EnvSource: `{"name":"shop","engine":"postgresql","tables":[{"name":"orders"},{"name":"items"}],"timeZone":"UTC"}`,
			}, allow([]string{"s3:PutObject"}, arnOf("Raw")))
			r["Dlq"] = resourceJSON("AWS::SQS::Queue", "Backfill/Dlq/Resource", map[string]any{})
			r["Queue"] = resourceJSON("AWS::SQS::Queue", "Backfill/Queue/Resource", map[string]any{
				"RedrivePolicy": map[string]any{"deadLetterTargetArn": arnOf("Dlq"), "maxReceiveCount": 3},
			})
		},
		outputs: map[string]any{contract.OutputBackfillQueueURL: ref("Queue"), contract.OutputBackfillDeadLetterQueueURL: ref("Dlq")},
		edges: []string{
			"Backfill/Queue -dead-letter-> Backfill/Dlq: after 3 receives",
			"Src/Extract -data-> Lake/Raw: writes",
			"external:cli:kpilake -data-> Backfill/Dlq: watches, redrives (both ways)",
			"external:cli:kpilake -data-> Backfill/Queue: enqueues days",
			"external:database:shop -data-> Src/Extract: 2 tables",
		},
		nodes: []string{
			"Backfill/Dlq = Backfill / Dlq (SQS queue)",
			"Backfill/Queue = Backfill / Queue (SQS queue)",
			"Lake/Raw = Lake / Lake (S3 bucket)",
			"Src/Extract = Src / Src (Lambda)",
			"external:cli:kpilake = outside the stack / kpilake (operator CLI)",
			"external:database:shop = outside the stack / shop (PostgreSQL database)",
		},
		unchanged: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resources := map[string]any{}
			tc.build(resources)
			g := fromTemplate(t, resources, tc.outputs)
			f := g.Flow()
			if diff := cmp.Diff(tc.edges, edges(f)); diff != "" {
				t.Errorf("flow edges (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.nodes, drawnNodes(f)); diff != "" {
				t.Errorf("flow nodes (-want +got):\n%s", diff)
			}
			want := maps.Clone(tc.leftOut)
			if want == nil {
				want = map[string]int{}
			}
			if diff := cmp.Diff(want, f.LeftOut); diff != "" {
				t.Errorf("left out (-want +got):\n%s", diff)
			}
			if tc.unchanged {
				if diff := cmp.Diff(edges(g), edges(f)); diff != "" {
					t.Errorf("the flow view changed the inventory's arrows (-inventory +flow):\n%s", diff)
				}
			}
		})
	}
}

// fromTemplate builds the graph of a template of resources and outputs.
func fromTemplate(t *testing.T, resources, outputs map[string]any) *Graph {
	t.Helper()
	out := map[string]any{}
	for name, v := range outputs {
		out[name] = map[string]any{"Value": v}
	}
	data, err := json.Marshal(map[string]any{"Resources": resources, "Outputs": out})
	if err != nil {
		t.Fatal(err)
	}
	g, err := FromTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestFromTemplate_FailsOnAnExtractionWithoutASourceSpec(t *testing.T) {
	resources := map[string]any{}
	lambdaWith(resources, "Extract", "Src/Extract", map[string]any{contract.EnvSource: "{not json"})
	data, err := json.Marshal(map[string]any{"Resources": resources})
	if err != nil {
		t.Fatal(err)
	}
	_, err = FromTemplate(data)
	if err == nil || !strings.Contains(err.Error(), "Src/Extract") || !strings.Contains(err.Error(), contract.EnvSource) {
		t.Errorf("err = %v, want one that names the function and %s", err, contract.EnvSource)
	}
}

// The flow view's DOT draws no clusters and no alarm one by one, and the legend says what it
// leaves out.
func TestFlowDOT_IsFlatAndSaysWhatItLeavesOut(t *testing.T) {
	resources := map[string]any{"Data": bucket("App/Data"), "Other": bucket("App/Other")}
	lambdaWith(resources, "Fn", "App/Fn", nil, allow([]string{"s3:GetObject"}, arnOf("Data")))
	resources["Errors"] = resourceJSON("AWS::CloudWatch::Alarm", "App/Errors/Resource", map[string]any{})
	dot := string(fromTemplate(t, resources, nil).Flow().DOT())
	for _, want := range []string{
		`"folded:App:monitoring" [label=<<b>App</b><br/><font point-size="14">1 alarm</font>>`,
		"Only in architecture-full.svg: 1 S3 bucket",
		"In neither picture: 1 IAM policy, 1 IAM role",
		"docs/architecture.svg is drawn from this file",
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("flow DOT lacks %s:\n%s", want, dot)
		}
	}
	for _, unwanted := range []string{"subgraph", `"App/Errors"`} {
		if strings.Contains(dot, unwanted) {
			t.Errorf("flow DOT has %s:\n%s", unwanted, dot)
		}
	}
}

func TestPlural(t *testing.T) {
	tests := []struct {
		n          int
		noun, want string
	}{
		{1, "table", "1 table"},
		{5, "table", "5 tables"},
		{16, "policy", "16 policies"},
		{5, "key", "5 keys"},
		{2, "day", "2 days"},
		{2, "status", "2 statuses"},
	}
	for _, tc := range tests {
		if got := plural(tc.n, tc.noun); got != tc.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}

// Monitoring nodes stand monitoringPerRow side by side, each above the one a row after it; other
// nodes are not tied.
func TestMonitoringRows_StackTheMonitoringNodes(t *testing.T) {
	nodes := map[string]*Node{"topic": {ID: "topic", Type: "AWS::SNS::Topic"}}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		nodes[id] = &Node{ID: id, Type: MonitoringType}
	}
	want := [][2]string{{"a", "c"}, {"b", "d"}, {"c", "e"}}
	if diff := cmp.Diff(want, monitoringRows(nodes)); diff != "" {
		t.Errorf("ties (-want +got):\n%s", diff)
	}
	delete(nodes, "c")
	delete(nodes, "d")
	delete(nodes, "e")
	if got := monitoringRows(nodes); len(got) != 0 {
		t.Errorf("two monitoring nodes got ties %v, want none", got)
	}
}
