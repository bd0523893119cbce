//go:build !unit

package diagram

import (
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/internal/cdktest"
)

func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }

// synthStack builds a stack with build, synthesized with construct paths, and returns its graph.
func synthStack(t *testing.T, build func(stack awscdk.Stack)) *Graph {
	t.Helper()
	flags, err := cdktest.Context()
	if err != nil {
		t.Fatal(err)
	}
	ctx := maps.Clone(flags)
	ctx[pathMetadataContext] = true
	var data []byte
	cdktest.Setup(t, func() {
		// Without the CDK's built-in CloudFormation validation, as cdktest's stacks.
		a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir()), BuiltinCloudFormationValidation: jsii.Bool(false)})
		stack := awscdk.NewStack(a, jsii.String("Small"), &awscdk.StackProps{
			Env: &awscdk.Environment{Account: jsii.String(cdktest.Account), Region: jsii.String(cdktest.Region)},
		})
		build(stack)
		data, err = json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
		if err != nil {
			panic(err)
		}
	})
	g, err := FromTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func function(scope constructs.Construct, id string, env map[string]*string) awslambda.Function {
	return awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		Runtime:     awslambda.Runtime_NODEJS_22_X(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String("exports.handler = async () => {};")),
		Environment: &env,
	})
}

// edges renders a graph's arrows as "from -kind-> to: label" lines, for comparison.
func edges(g *Graph) []string {
	var out []string
	for _, e := range g.Edges {
		line := e.From + " -" + e.Kind.String() + "-> " + e.To + ": " + e.Label
		if e.Both {
			line += " (both ways)"
		}
		out = append(out, line)
	}
	return out
}

func nodes(g *Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.ID+" = "+n.Group+" / "+n.Name+" ("+n.Kind+")")
	}
	return out
}

// A small app with each kind of trigger and data flow the extractor must see: a rule on a
// schedule targeting a function, a queue feeding a function, a function whose environment names a
// bucket (without a grant), a function granted reads, a dead-letter queue and a state machine
// invoking a function.
func smallApp(stack awscdk.Stack) {
	app := constructs.NewConstruct(stack, jsii.String("App"))
	bucket := awss3.NewBucket(app, jsii.String("Data"), nil)
	dlq := awssqs.NewQueue(app, jsii.String("DeadLetters"), nil)
	queue := awssqs.NewQueue(app, jsii.String("Jobs"), &awssqs.QueueProps{
		DeadLetterQueue: &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(3)},
	})
	worker := function(app, "Worker", map[string]*string{"DATA_BUCKET": bucket.BucketName()})
	worker.AddEventSource(awslambdaeventsources.NewSqsEventSource(queue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize: jsii.Number(1),
	}))
	reader := function(app, "Reader", map[string]*string{"DATA_BUCKET": bucket.BucketName()})
	bucket.GrantRead(reader, nil)
	awsevents.NewRule(app, jsii.String("Hourly"), &awsevents.RuleProps{
		Schedule: awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1))),
		Targets:  &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(reader, nil)},
	})
	awsstepfunctions.NewStateMachine(stack, jsii.String("Flow"), &awsstepfunctions.StateMachineProps{
		DefinitionBody: awsstepfunctions.DefinitionBody_FromChainable(awsstepfunctionstasks.NewLambdaInvoke(stack, jsii.String("Invoke"),
			&awsstepfunctionstasks.LambdaInvokeProps{LambdaFunction: worker})),
	})
}

func TestFromTemplate_DrawsTriggersCallsAndDataFlowOfASmallApp(t *testing.T) {
	g := synthStack(t, smallApp)
	if g.Stack != "Small" {
		t.Errorf("stack %q, want Small", g.Stack)
	}
	wantEdges := []string{
		"App/Data -data-> App/Reader: reads",
		"App/Hourly -trigger-> App/Reader: rate(1 hour)",
		"App/Jobs -dead-letter-> App/DeadLetters: after 3 receives",
		"App/Jobs -trigger-> App/Worker: batch 1",
		"App/Worker -data-> App/Data: uses",
		"Flow -call-> App/Worker: invokes",
	}
	if diff := cmp.Diff(wantEdges, edges(g)); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	// No roles, policies, permissions, event source mappings or bucket policies: only what a
	// reader needs, named by construct path.
	wantNodes := []string{
		"App/Data = App / Data (S3 bucket)",
		"App/DeadLetters = App / DeadLetters (SQS queue)",
		"App/Hourly = App / Hourly (EventBridge rule (schedule))",
		"App/Jobs = App / Jobs (SQS queue)",
		"App/Reader = App / Reader (Lambda function)",
		"App/Worker = App / Worker (Lambda function)",
		"Flow = Flow / Flow (Step Functions state machine)",
	}
	if diff := cmp.Diff(wantNodes, nodes(g)); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
}

// resourceJSON is a template resource at a construct path.
func resourceJSON(typ, path string, props map[string]any) map[string]any {
	return map[string]any{"Type": typ, "Properties": props, "Metadata": map[string]any{pathMetadataKey: "S/" + path}}
}

func fromResources(t *testing.T, resources map[string]any) *Graph {
	t.Helper()
	data, err := json.Marshal(map[string]any{"Resources": resources})
	if err != nil {
		t.Fatal(err)
	}
	g, err := FromTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ref(id string) map[string]any   { return map[string]any{"Ref": id} }
func arnOf(id string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }
func policy(role string, statements ...map[string]any) map[string]any {
	return map[string]any{"Roles": []any{ref(role)}, "PolicyDocument": map[string]any{"Statement": statements}}
}
func allow(actions []string, resources ...any) map[string]any {
	acts := make([]any, len(actions))
	for i, a := range actions {
		acts[i] = a
	}
	return map[string]any{"Effect": "Allow", "Action": acts, "Resource": resources}
}

// The kpilake patterns: a crawler's events trigger a rule, a state machine starts the crawler by
// its name, policies name the catalog by its literal name, and a function reads a secret of
// another stack by ARN.
func TestFromTemplate_FollowsNamesArnsEventPatternsAndDefinitions(t *testing.T) {
	g := fromResources(t, map[string]any{
		"Raw": resourceJSON("AWS::S3::Bucket", "Lake/Raw/Resource", map[string]any{}),
		"Db": resourceJSON("AWS::Glue::Database", "Catalog/Database", map[string]any{
			"DatabaseInput": map[string]any{"Name": "lake_db"},
		}),
		"CrawlerRole": resourceJSON("AWS::IAM::Role", "Crawler/Role/Resource", map[string]any{}),
		"Crawler": resourceJSON("AWS::Glue::Crawler", "Crawler/Crawler", map[string]any{
			"Role":         arnOf("CrawlerRole"),
			"DatabaseName": "lake_db",
			"Targets": map[string]any{"S3Targets": []any{map[string]any{
				"Path": map[string]any{"Fn::Join": []any{"", []any{"s3://", ref("Raw"), "/src/"}}},
			}}},
		}),
		"CrawlerPolicy": resourceJSON("AWS::IAM::Policy", "Crawler/Role/DefaultPolicy/Resource", policy("CrawlerRole",
			allow([]string{"s3:GetObject", "s3:ListBucket"}, arnOf("Raw")))),
		"Done": resourceJSON("AWS::Events::Rule", "Flow/Done/Resource", map[string]any{
			"EventPattern": map[string]any{
				"source": []any{"aws.glue"},
				"detail": map[string]any{"crawlerName": []any{ref("Crawler")}, "state": []any{"Succeeded"}},
			},
			"Targets": []any{map[string]any{"Arn": ref("Flow"), "Id": "Target0"}},
		}),
		"Flow": resourceJSON("AWS::StepFunctions::StateMachine", "Flow/Workflow/Resource", map[string]any{
			"DefinitionString": map[string]any{"Fn::Join": []any{"", []any{
				`{"StartAt":"Crawl","States":{"Crawl":{"Type":"Task","Parameters":{"Name":"`, ref("Crawler"),
				`"},"Resource":"arn:`, ref("AWS::Partition"), `:states:::aws-sdk:glue:startCrawler","End":true}}}`,
			}}},
		}),
		"FnRole": resourceJSON("AWS::IAM::Role", "Flow/Fn/Role/Resource", map[string]any{}),
		"Fn": resourceJSON("AWS::Lambda::Function", "Flow/Fn/Function/Resource", map[string]any{
			"Role": arnOf("FnRole"),
			"Environment": map[string]any{"Variables": map[string]any{
				"DATABASE": "lake_db",
				"SECRET":   "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:source/readonly-AbCdEf",
			}},
		}),
		"FnPolicy": resourceJSON("AWS::IAM::Policy", "Flow/Fn/Role/DefaultPolicy/Resource", policy("FnRole",
			allow([]string{"glue:GetTable", "glue:UpdatePartition"}, "arn:aws:glue:ap-northeast-1:123456789012:table/lake_db/*"),
			allow([]string{"secretsmanager:GetSecretValue"}, "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:source/readonly-AbCdEf"),
			allow([]string{"kms:Decrypt"}, "*"),
		)),
	})
	want := []string{
		"Crawler/Crawler -data-> Catalog/Database: catalogs",
		"Crawler/Crawler -event-> Flow/Done: state: Succeeded",
		"Flow/Done -trigger-> Flow/Workflow: on event",
		"Flow/Fn/Function -data-> Catalog/Database: reads, writes (both ways)",
		"Flow/Workflow -call-> Crawler/Crawler: starts",
		"Lake/Raw -data-> Crawler/Crawler: crawls",
		"external:secretsmanager:source/readonly-AbCdEf -data-> Flow/Fn/Function: reads",
	}
	got := edges(g)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	// A construct with one resource in the picture lends it its name (Catalog, Lake), as Plan does
	// in the real stack; an external resource is named after its ARN.
	wantNodes := []string{
		"Catalog/Database = Catalog / Catalog (Glue database)",
		"Crawler/Crawler = Crawler / Crawler (Glue crawler)",
		"Flow/Done = Flow / Done (EventBridge rule)",
		"Flow/Fn/Function = Flow / Fn (Lambda function)",
		"Flow/Workflow = Flow / Workflow (Step Functions state machine)",
		"Lake/Raw = Lake / Lake (S3 bucket)",
		"external:secretsmanager:source/readonly-AbCdEf = outside the stack / source/readonly-AbCdEf (Secrets Manager secret)",
	}
	if diff := cmp.Diff(wantNodes, nodes(g)); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
}

// Between two resources only the strongest arrow is drawn: the rule's role may start the state
// machine, but the arrow is the trigger, and the schedule's role may send to the dead-letter
// queue, but the arrow is the dead letter.
func TestFromTemplate_KeepsTheStrongestArrowBetweenTwoResources(t *testing.T) {
	g := fromResources(t, map[string]any{
		"Role": resourceJSON("AWS::IAM::Role", "Role/Resource", map[string]any{}),
		"Policy": resourceJSON("AWS::IAM::Policy", "Role/DefaultPolicy/Resource", policy("Role",
			allow([]string{"states:StartExecution"}, ref("Flow")),
			allow([]string{"sqs:SendMessage"}, arnOf("Dlq")))),
		"Daily": resourceJSON("AWS::Scheduler::Schedule", "X/Daily/Resource", map[string]any{
			"ScheduleExpression":         "cron(30 1 * * ? *)",
			"ScheduleExpressionTimezone": "Asia/Tokyo",
			"Target": map[string]any{
				"Arn": ref("Flow"), "RoleArn": arnOf("Role"), "DeadLetterConfig": map[string]any{"Arn": arnOf("Dlq")},
			},
		}),
		"Dlq":  resourceJSON("AWS::SQS::Queue", "X/Dlq/Resource", map[string]any{}),
		"Flow": resourceJSON("AWS::StepFunctions::StateMachine", "X/Flow/Resource", map[string]any{"DefinitionString": "{}"}),
	})
	want := []string{
		"X/Daily -dead-letter-> X/Dlq: dead letters",
		"X/Daily -trigger-> X/Flow: cron(30 1 * * ? *) Asia/Tokyo",
	}
	if diff := cmp.Diff(want, edges(g)); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

func TestFromTemplate_FailsWithoutConstructPaths(t *testing.T) {
	_, err := FromTemplate([]byte(`{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}`))
	if err == nil || !strings.Contains(err.Error(), pathMetadataContext) {
		t.Errorf("err = %v, want one that names the context %s", err, pathMetadataContext)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		action string
		want   access
	}{
		{"s3:GetObject", read},
		{"s3:Get*", read},
		{"s3:PutObject", write},
		{"s3:AbortMultipartUpload", write},
		{"s3:ListBucket", use},
		{"s3:GetBucketLocation", use},
		{"glue:BatchGetPartition", read},
		{"glue:BatchCreatePartition", write},
		{"sqs:ReceiveMessage", read},
		{"sqs:SendMessage", write},
		{"sqs:GetQueueAttributes", use},
		{"sns:Publish", write},
		{"lambda:InvokeFunction", invoke},
		{"states:StartExecution", invoke},
		{"glue:startCrawler", invoke},
		{"athena:StartQueryExecution", use},
		{"s3:*", read | write},
		{"kms:Decrypt", 0},
		{"logs:PutLogEvents", 0},
		{"xray:PutTraceSegments", 0},
	}
	for _, tc := range tests {
		if got := classify(tc.action); got != tc.want {
			t.Errorf("classify(%q) = %b, want %b", tc.action, got, tc.want)
		}
	}
}

func TestDOT_IsDeterministic(t *testing.T) {
	g := synthStack(t, smallApp)
	first := string(g.DOT())
	for range 3 {
		g := synthStack(t, smallApp)
		if got := string(g.DOT()); got != first {
			t.Fatalf("DOT changed between two syntheses of the same app:\n%s", cmp.Diff(first, got))
		}
	}
	for _, want := range []string{
		`subgraph "cluster_App" {`,
		`"App/Data" [label=<<b>Data</b><br/><font point-size="8">S3 bucket</font>>, shape=cylinder`,
		`"App/Hourly" -> "App/Reader" [label=" rate(1 hour) "`,
		`subgraph "cluster_legend" {`,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("DOT lacks %s:\n%s", want, first)
		}
	}
	// A construct with a single resource is a node, not a cluster.
	if strings.Contains(first, `"cluster_Flow"`) {
		t.Errorf("Flow has one resource and should not be a cluster:\n%s", first)
	}
}
