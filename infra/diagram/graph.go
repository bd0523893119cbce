// Package diagram draws the architecture of a synthesized kpilake stack: the resources a reader
// cares about, grouped by the top-level construct that created them, and arrows for what
// triggers what and where data flows, as a Graphviz DOT graph (`make diagram` renders it to
// docs/architecture.svg).
//
// Everything is read from the CloudFormation template, not from the constructs' Go values, so the
// picture shows what would be deployed, and a construct added tomorrow appears without a change
// here:
//   - nodes are the template's resources, named by construct path (Metadata "aws:cdk:path"),
//     without plumbing: IAM, logs, KMS, resource policies, permissions, CDK metadata and
//     custom-resource providers;
//   - triggers come from EventBridge rule and Scheduler targets, event source mappings, alarm
//     actions and SNS subscriptions; calls from the state machines' definitions;
//   - data flow comes from the IAM policies of each resource's role (s3:GetObject on a bucket is
//     "reads", sqs:SendMessage "sends", ...), from a few properties (a crawler's targets, a
//     delivery stream's bucket, a workgroup's output location) and from the functions'
//     environment variables, matched by reference or by the literal names of the catalog and the
//     workgroup;
//   - two things outside the stack are drawn from what the stack tells them: a database source,
//     from its extraction function's source spec (contract.EnvSource), and the operator CLI, from
//     the stack outputs it reads (contract.OutputBackfillQueueURL, ...).
//
// The flow view (Graph.Flow) folds that inventory into the pipeline a reader follows from the
// sources to the aggregated zone; `make diagram` draws both (see Pictures).
package diagram

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/extract"
)

// EdgeKind is what an arrow means. Between two resources only the arrow of the strongest kind is
// drawn (Trigger is the strongest): a rule that starts a state machine through its role is a
// trigger, not also a call.
type EdgeKind int

const (
	// Ref is any other reference: a bucket's access logs, an alarm's metric.
	Ref EdgeKind = iota
	// Event is a resource emitting the events an EventBridge rule matches.
	Event
	// Data is data flow: reads, writes, sends, publishes, queries.
	Data
	// DeadLetter leads to the queue that keeps what could not be delivered or processed.
	DeadLetter
	// Call is a workflow or a role invoking or starting a resource.
	Call
	// Trigger is a rule, schedule, queue, alarm or topic setting its target off.
	Trigger
)

func (k EdgeKind) String() string {
	switch k {
	case Ref:
		return "ref"
	case Event:
		return "event"
	case Data:
		return "data"
	case DeadLetter:
		return "dead-letter"
	case Call:
		return "call"
	case Trigger:
		return "trigger"
	}
	return fmt.Sprintf("EdgeKind(%d)", int(k))
}

// Node is one resource in the picture.
type Node struct {
	// ID is the resource's construct path below the stack ("Lake/Raw", "Plan/Function"), or
	// "external:<service>:<name>" for a resource outside the stack that a policy names.
	ID string
	// Group is the top-level construct that created the resource, drawn as a cluster when it holds
	// more than one node; ExternalGroup for resources outside the stack.
	Group string
	// Name is the first line of the label: the construct id that tells the resource apart.
	Name string
	// Kind is the second line: "S3 bucket", "Lambda function", ...
	Kind string
	// Type is the CloudFormation type; for an external resource, the ARN's service, or
	// DatabaseType or CLIType; MonitoringType in the flow view.
	Type string
	// Folded are the IDs of the inventory's nodes that a node of the flow view stands for: a
	// monitoring node's alarms and dashboards, or the schedule that starts a node.
	Folded []string
	// Note ends the label, on lines of its own: the flow view puts a folded schedule there.
	Note string
	// schedule is a schedule's expression and, on a line of its own, its time zone; "" for other
	// nodes.
	schedule string
}

// Types of the nodes that are no resource of the stack and that no ARN names.
const (
	// DatabaseType is a database source, read by an extraction function.
	DatabaseType = "database"
	// CLIType is the operator CLI, cmd/kpilake.
	CLIType = "cli"
	// MonitoringType is a node of the flow view that stands for the alarms and dashboards of a
	// construct.
	MonitoringType = "monitoring"
)

// ExternalGroup is the group of resources outside the stack.
const ExternalGroup = "outside the stack"

// Edge is one arrow.
type Edge struct {
	From, To string
	Kind     EdgeKind
	Label    string
	// Both means the data flows both ways (the source reads and writes the target).
	Both bool
	// metadata means a data arrow's grants touch no data: they list, describe or locate.
	metadata bool
	// rank orders edges of one kind: a specific property beats an IAM policy, which beats an
	// environment variable.
	rank int
}

func (e *Edge) weight() int { return int(e.Kind)*10 + e.rank }

// Ranks of the edges of one kind, from the least to the most specific source.
const (
	fromLoose = iota // an environment variable, or a property with no meaning of its own
	fromPolicy
	fromProperty
)

// Graph is the architecture of one stack.
type Graph struct {
	// Stack is the stack's name.
	Stack string
	// Nodes sorted by ID, edges by From, To.
	Nodes []*Node
	Edges []*Edge
	// Plumbing counts the template's resources that no picture draws (IAM, logs, keys, resource
	// policies, ...), by kind ("IAM role": 16).
	Plumbing map[string]int
	// LeftOut counts the inventory's nodes that the flow view leaves out, by kind (see Flow).
	LeftOut map[string]int
	// view is how DOT draws the graph: fullView unless set (see Flow).
	view *view
	// ties are invisible arrows that place one part of the picture above another.
	ties [][2]string
}

// FromTemplate builds the graph of a synthesized template whose resources carry their construct
// paths (see Synthesize).
func FromTemplate(data []byte) (*Graph, error) {
	t, err := parseTemplate(data)
	if err != nil {
		return nil, err
	}
	b := &builder{t: t, nodes: map[string]*Node{}, edges: edgeSet{}, omitted: map[string]int{}}
	for _, id := range sortedKeys(t.Resources) {
		if r := t.Resources[id]; shown(r) {
			b.nodes[id] = &Node{ID: r.Path, Type: r.Type, Kind: kindOf(r)}
		} else {
			b.omitted[omittedKind(r)]++
		}
	}
	if err := b.uniquePaths(); err != nil {
		return nil, err
	}
	b.indexNames()
	for _, id := range sortedKeys(t.Resources) {
		b.properties(t.Resources[id])
	}
	b.policies()
	b.operator()
	if err := errors.Join(b.errs...); err != nil {
		return nil, fmt.Errorf("diagram: %w", err)
	}
	return b.graph(), nil
}

type builder struct {
	t *template
	// nodes of the shown resources by logical ID, and of external resources by node ID.
	nodes    map[string]*Node
	external map[string]*Node
	// names are the literal physical names of shown resources: name -> logical IDs.
	names map[string][]string
	edges edgeSet
	// omitted counts the resources that are not nodes, by kind.
	omitted map[string]int
	// errs are the problems found in the template's contracts with the code outside it.
	errs []error
}

// edgeSet holds the arrows by unordered pair of node IDs.
type edgeSet map[[2]string]*Edge

// add records an arrow; between two nodes only the strongest is kept.
func (s edgeSet) add(e *Edge) {
	if e.From == e.To || e.From == "" || e.To == "" {
		return
	}
	key := [2]string{e.From, e.To}
	if key[1] < key[0] {
		key[0], key[1] = key[1], key[0]
	}
	if old, ok := s[key]; ok && old.weight() >= e.weight() {
		return
	}
	s[key] = e
}

// sorted returns the arrows sorted by From, To.
func (s edgeSet) sorted() []*Edge {
	out := make([]*Edge, 0, len(s))
	for _, e := range s {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i], out[j]
		if a.From != c.From {
			return a.From < c.From
		}
		return a.To < c.To
	})
	return out
}

func (b *builder) uniquePaths() error {
	seen := map[string]string{}
	for _, id := range sortedKeys(b.nodes) {
		p := b.nodes[id].ID
		if other, dup := seen[p]; dup {
			return fmt.Errorf("diagram: resources %s and %s have the same construct path %s", other, id, p)
		}
		seen[p] = id
	}
	return nil
}

// hiddenServices and hiddenTypes are plumbing: a reader of the architecture does not need them,
// and they would connect to everything.
var (
	hiddenServices = []string{"AWS::IAM::", "AWS::Logs::", "AWS::KMS::", "AWS::EC2::", "AWS::CDK::", "Custom::"}
	hiddenTypes    = map[string]bool{
		"AWS::S3::BucketPolicy":               true,
		"AWS::SQS::QueuePolicy":               true,
		"AWS::SNS::TopicPolicy":               true,
		"AWS::SecretsManager::ResourcePolicy": true,
		"AWS::Lambda::Permission":             true,
		"AWS::Lambda::EventSourceMapping":     true, // drawn as the arrow from its source
		"AWS::Lambda::Version":                true,
		"AWS::Lambda::Alias":                  true,
		"AWS::Lambda::LayerVersion":           true,
		"AWS::Glue::SecurityConfiguration":    true,
		"AWS::CloudFormation::CustomResource": true,
		"AWS::CloudFormation::WaitCondition":  true,
	}
	// providerPrefixes start the ids of the singleton constructs CDK adds for custom resources.
	providerPrefixes = []string{
		"Custom::",
		"AWS679f53fac002430cb0da5b7982bd2287",           // AwsCustomResource
		"LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a",  // log retention
		"BucketNotificationsHandler050a0587b7544547bf3", // S3 notifications
		"CustomResourceProvider",
	}
	// endpointProtocols are the SNS subscriptions drawn as a node of their own: their endpoint is
	// not a resource of the stack.
	endpointProtocols = map[string]bool{"email": true, "email-json": true, "sms": true, "http": true, "https": true}
)

func shown(r *resource) bool {
	if hiddenTypes[r.Type] {
		return false
	}
	for _, s := range hiddenServices {
		if strings.HasPrefix(r.Type, s) {
			return false
		}
	}
	for _, seg := range strings.Split(r.Path, "/") {
		for _, p := range providerPrefixes {
			if strings.HasPrefix(seg, p) {
				return false
			}
		}
	}
	if r.Type == "AWS::SNS::Subscription" {
		protocol, _ := r.Props["Protocol"].(string)
		return endpointProtocols[protocol]
	}
	return true
}

// kinds are the readable names of the resource types; others are named after their type.
var kinds = map[string]string{
	"AWS::S3::Bucket":                      "S3 bucket",
	"AWS::Lambda::Function":                "Lambda function",
	"AWS::StepFunctions::StateMachine":     "Step Functions state machine",
	"AWS::SQS::Queue":                      "SQS queue",
	"AWS::SNS::Topic":                      "SNS topic",
	"AWS::Glue::Crawler":                   "Glue crawler",
	"AWS::Glue::Database":                  "Glue database",
	"AWS::Athena::WorkGroup":               "Athena workgroup",
	"AWS::KinesisFirehose::DeliveryStream": "Firehose delivery stream",
	"AWS::Events::Rule":                    "EventBridge rule",
	"AWS::Scheduler::Schedule":             "EventBridge Scheduler schedule",
	"AWS::CloudWatch::Alarm":               "CloudWatch alarm",
	"AWS::SecretsManager::Secret":          "Secrets Manager secret",
	"AWS::DynamoDB::Table":                 "DynamoDB table",
	"AWS::CloudWatch::Dashboard":           "CloudWatch dashboard",
	"AWS::IAM::Role":                       "IAM role",
	"AWS::IAM::Policy":                     "IAM policy",
	"AWS::IAM::ManagedPolicy":              "IAM policy",
	"AWS::Logs::LogGroup":                  "log group",
	"AWS::Logs::LogStream":                 "log stream",
	"AWS::KMS::Key":                        "KMS key",
	"AWS::S3::BucketPolicy":                "resource policy",
	"AWS::SQS::QueuePolicy":                "resource policy",
	"AWS::SNS::TopicPolicy":                "resource policy",
	"AWS::SecretsManager::ResourcePolicy":  "resource policy",
	"AWS::Lambda::Permission":              "Lambda permission",
	"AWS::Lambda::EventSourceMapping":      "event source mapping",
}

// omittedKind is the kind under which a resource that is not drawn is counted: custom resources
// and their providers count as one kind.
func omittedKind(r *resource) string {
	if strings.HasPrefix(r.Type, "Custom::") || r.Type == "AWS::CloudFormation::CustomResource" {
		return "custom resource"
	}
	for _, seg := range strings.Split(r.Path, "/") {
		for _, p := range providerPrefixes {
			if strings.HasPrefix(seg, p) {
				return "custom-resource provider part"
			}
		}
	}
	return kindOf(r)
}

func kindOf(r *resource) string {
	switch r.Type {
	case "AWS::Events::Rule":
		if _, ok := r.Props["ScheduleExpression"]; ok {
			return "EventBridge rule (schedule)"
		}
	case "AWS::SNS::Subscription":
		protocol, _ := r.Props["Protocol"].(string)
		return "SNS subscription (" + protocol + ")"
	}
	if k, ok := kinds[r.Type]; ok {
		return k
	}
	// "AWS::DocDB::DBCluster" -> "DocDB DBCluster"
	parts := strings.Split(r.Type, "::")
	return strings.Join(parts[1:], " ")
}

// service is the ARN service of a resource type: "AWS::StepFunctions::StateMachine" -> "states".
func service(typ string) string {
	parts := strings.Split(typ, "::")
	if len(parts) != 3 {
		return ""
	}
	switch parts[1] {
	case "StepFunctions":
		return "states"
	case "KinesisFirehose":
		return "firehose"
	}
	return strings.ToLower(parts[1])
}

// nameProperties hold the physical name of a resource that names itself.
var nameProperties = [][]string{
	{"Name"}, {"DatabaseInput", "Name"}, {"BucketName"}, {"QueueName"}, {"TopicName"},
	{"FunctionName"}, {"StateMachineName"}, {"DeliveryStreamName"}, {"TableName"},
}

func (b *builder) indexNames() {
	b.names = map[string][]string{}
	for _, id := range sortedKeys(b.nodes) {
		r := b.t.Resources[id]
		for _, keys := range nameProperties {
			if name, ok := lookup(r.Props, keys...).(string); ok && name != "" {
				b.names[name] = append(b.names[name], id)
			}
		}
	}
}

// targets returns the node IDs of the shown resources that v refers to: by reference, by literal
// name or by ARN. With external, an ARN of a resource outside the stack becomes an external node.
func (b *builder) targets(v any, external bool) []string {
	var out []string
	for _, id := range refs(v) {
		if n, ok := b.nodes[id]; ok {
			out = append(out, n.ID)
		}
	}
	for _, e := range list(v) {
		s, ok := flatten(e)
		if !ok || strings.Contains(s, "${") {
			continue
		}
		for _, id := range b.names[s] {
			out = append(out, b.nodes[id].ID)
		}
		out = append(out, b.arnTargets(s, external)...)
	}
	sort.Strings(out)
	return compact(out)
}

// arnTargets matches an ARN against the names of the shown resources of its service: the
// database of "arn:aws:glue:region:account:table/<database>/*" is a match.
func (b *builder) arnTargets(arn string, external bool) []string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return nil
	}
	svc, res := parts[2], parts[5]
	var out []string
	for _, seg := range strings.FieldsFunc(res, func(r rune) bool { return r == '/' || r == ':' }) {
		for _, id := range b.names[seg] {
			if service(b.t.Resources[id].Type) == svc {
				out = append(out, b.nodes[id].ID)
			}
		}
	}
	if len(out) > 0 || !external {
		return out
	}
	if n := externalNode(svc, res); n != nil {
		b.addExternal(n)
		out = append(out, n.ID)
	}
	return out
}

// externalKinds are the services whose resources outside the stack are drawn (when a policy
// names one), and how the resource part of their ARNs starts.
var externalKinds = map[string]struct{ kind, prefix string }{
	"secretsmanager": {"Secrets Manager secret", "secret:"},
	"s3":             {"S3 bucket", ""},
	"sqs":            {"SQS queue", ""},
	"sns":            {"SNS topic", ""},
	"lambda":         {"Lambda function", "function:"},
	"states":         {"Step Functions state machine", "stateMachine:"},
	"dynamodb":       {"DynamoDB table", "table/"},
	"kinesis":        {"Kinesis data stream", "stream/"},
	"firehose":       {"Firehose delivery stream", "deliverystream/"},
}

func externalNode(svc, res string) *Node {
	k, ok := externalKinds[svc]
	if !ok || !strings.HasPrefix(res, k.prefix) || strings.ContainsAny(res, "*?") {
		return nil
	}
	name := strings.TrimPrefix(res, k.prefix)
	if svc != "secretsmanager" {
		name, _, _ = strings.Cut(name, "/")
		name, _, _ = strings.Cut(name, ":")
	}
	if name == "" {
		return nil
	}
	return &Node{
		ID:    "external:" + svc + ":" + name,
		Group: ExternalGroup,
		Name:  name,
		Kind:  k.kind,
		Type:  svc,
	}
}

// add records an arrow; between two nodes only the strongest is kept.
func (b *builder) add(e *Edge) { b.edges.add(e) }

// node is the node ID of a logical ID ("" if the resource is not shown).
func (b *builder) node(logicalID string) string {
	if n, ok := b.nodes[logicalID]; ok {
		return n.ID
	}
	return ""
}

// connect adds an arrow of one kind from each of froms to each of tos.
func (b *builder) connect(froms, tos []string, kind EdgeKind, rank int, label string) {
	for _, f := range froms {
		for _, t := range tos {
			b.add(&Edge{From: f, To: t, Kind: kind, Label: label, rank: rank})
		}
	}
}

// properties adds the arrows that a resource's properties imply.
func (b *builder) properties(r *resource) {
	self := b.node(r.LogicalID)
	me := []string{self}
	handled := map[string]bool{}
	use := func(props ...string) {
		for _, p := range props {
			handled[p] = true
		}
	}
	p := r.Props
	switch r.Type {
	case "AWS::Events::Rule":
		use("Targets", "EventPattern")
		label := "on event"
		if s, ok := p["ScheduleExpression"].(string); ok {
			label = s
			if n := b.nodes[r.LogicalID]; n != nil {
				n.schedule = s
			}
		}
		for _, t := range list(p["Targets"]) {
			b.connect(me, b.targets(lookup(t, "Arn"), false), Trigger, fromProperty, label)
			b.connect(me, b.targets(lookup(t, "DeadLetterConfig", "Arn"), false), DeadLetter, fromProperty, "dead letters")
		}
		b.connect(b.targets(p["EventPattern"], false), me, Event, fromProperty, patternLabel(p["EventPattern"]))
	case "AWS::Scheduler::Schedule":
		use("Target")
		label, _ := p["ScheduleExpression"].(string)
		schedule := label
		if tz, ok := p["ScheduleExpressionTimezone"].(string); ok {
			label += " " + tz
			schedule += "\n" + tz
		}
		if n := b.nodes[r.LogicalID]; n != nil {
			n.schedule = schedule
		}
		b.connect(me, b.targets(lookup(p, "Target", "Arn"), false), Trigger, fromProperty, label)
		b.connect(me, b.targets(lookup(p, "Target", "DeadLetterConfig", "Arn"), false), DeadLetter, fromProperty, "dead letters")
	case "AWS::Lambda::EventSourceMapping":
		fns := b.targets(p["FunctionName"], false)
		b.connect(b.targets(p["EventSourceArn"], false), fns, Trigger, fromProperty, mappingLabel(p))
		b.connect(fns, b.targets(lookup(p, "DestinationConfig", "OnFailure", "Destination"), false), DeadLetter, fromProperty, "on failure")
	case "AWS::SQS::Queue":
		use("RedrivePolicy")
		label := "dead letters"
		if n, ok := lookup(p, "RedrivePolicy", "maxReceiveCount").(float64); ok {
			label = fmt.Sprintf("after %d receives", int(n))
		}
		b.connect(me, b.targets(lookup(p, "RedrivePolicy", "deadLetterTargetArn"), false), DeadLetter, fromProperty, label)
	case "AWS::CloudWatch::Alarm":
		use("AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions", "Metrics")
		b.connect(me, b.targets(p["AlarmActions"], false), Trigger, fromProperty, "in alarm")
		b.connect(me, b.targets(p["OKActions"], false), Trigger, fromProperty, "ok")
		b.connect(me, b.targets(p["InsufficientDataActions"], false), Trigger, fromProperty, "insufficient data")
		b.connect(b.targets([]any{p["Dimensions"], p["Metrics"]}, false), me, Ref, fromProperty, "metric")
	case "AWS::SNS::Subscription":
		use("TopicArn", "Endpoint")
		topics := b.targets(p["TopicArn"], false)
		if self != "" {
			b.connect(topics, me, Trigger, fromProperty, "notifies")
		} else {
			b.connect(topics, b.targets(p["Endpoint"], false), Trigger, fromProperty, "subscription")
		}
	case "AWS::StepFunctions::StateMachine":
		use("DefinitionString", "Definition", "DefinitionSubstitutions", "DefinitionS3Location")
		for _, t := range b.targets([]any{p["DefinitionString"], p["Definition"], p["DefinitionSubstitutions"]}, false) {
			b.add(&Edge{From: self, To: t, Kind: Call, Label: b.callLabel(t), rank: fromProperty})
		}
	case "AWS::Lambda::Function":
		use("Environment", "DeadLetterConfig")
		vars, _ := lookup(p, "Environment", "Variables").(map[string]any)
		for _, k := range sortedKeys(vars) {
			b.connect(me, b.targets(vars[k], true), Data, fromLoose, "uses")
		}
		if err := b.database(self, vars); err != nil {
			b.errs = append(b.errs, fmt.Errorf("function %s: %w", r.Path, err))
		}
		b.connect(me, b.targets(lookup(p, "DeadLetterConfig", "TargetArn"), false), DeadLetter, fromProperty, "failed events")
	case "AWS::Glue::Crawler":
		use("Targets", "DatabaseName")
		b.connect(b.targets(lookup(p, "Targets"), false), me, Data, fromProperty, "crawls")
		b.connect(me, b.targets(p["DatabaseName"], false), Data, fromProperty, "catalogs")
	case "AWS::KinesisFirehose::DeliveryStream":
		use("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration", "KinesisStreamSourceConfiguration")
		for _, dest := range []string{"ExtendedS3DestinationConfiguration", "S3DestinationConfiguration"} {
			b.connect(me, b.targets(lookup(p, dest, "BucketARN"), false), Data, fromProperty, "delivers")
		}
		b.connect(b.targets(lookup(p, "KinesisStreamSourceConfiguration", "KinesisStreamARN"), false), me, Data, fromProperty, "reads")
	case "AWS::Athena::WorkGroup":
		use("WorkGroupConfiguration")
		b.connect(me, b.targets(lookup(p, "WorkGroupConfiguration", "ResultConfiguration", "OutputLocation"), false), Data, fromProperty, "query results")
	case "AWS::S3::Bucket":
		use("LoggingConfiguration", "NotificationConfiguration")
		b.connect(me, b.targets(lookup(p, "LoggingConfiguration", "DestinationBucketName"), false), Ref, fromProperty, "access logs")
		b.connect(me, b.targets(p["NotificationConfiguration"], false), Trigger, fromProperty, "object events")
	}
	if self == "" {
		return
	}
	for _, k := range sortedKeys(p) {
		if !handled[k] {
			b.connect(me, b.targets(p[k], false), Ref, fromLoose, k)
		}
	}
}

// engineNames are the readable names of the source engines.
var engineNames = map[extract.Engine]string{extract.MySQL: "MySQL", extract.PostgreSQL: "PostgreSQL"}

// database adds the database source an extraction function reads, as its source spec
// (contract.EnvSource) describes it; a function without a spec reads none.
func (b *builder) database(fn string, vars map[string]any) error {
	raw, ok := vars[contract.EnvSource]
	if !ok || fn == "" {
		return nil
	}
	s, ok := raw.(string)
	if !ok {
		return fmt.Errorf("%s is not a literal string", contract.EnvSource)
	}
	spec, err := extract.ParseSourceSpec([]byte(s))
	if err != nil {
		return fmt.Errorf("%s: %w", contract.EnvSource, err)
	}
	engine, ok := engineNames[spec.Engine]
	if !ok {
		engine = string(spec.Engine)
	}
	n := &Node{
		ID:    "external:" + DatabaseType + ":" + spec.Name,
		Group: ExternalGroup,
		Name:  spec.Name,
		Kind:  engine + " database",
		Type:  DatabaseType,
	}
	b.addExternal(n)
	b.add(&Edge{From: n.ID, To: fn, Kind: Data, Label: plural(len(spec.Tables), "table"), rank: fromProperty})
	return nil
}

// operatorOutputs are the stack outputs through which the operator CLI finds the resources it
// works on, and what it does there.
var operatorOutputs = []struct {
	output, label string
	// both means the CLI reads and deletes (redrives) what it finds there.
	both bool
}{
	{contract.OutputBackfillQueueURL, "enqueues days", false},
	{contract.OutputBackfillDeadLetterQueueURL, "watches, redrives", true},
}

// operator adds the operator CLI (cmd/kpilake) and its arrows to the resources whose outputs it
// reads, when the stack has such outputs.
func (b *builder) operator() {
	cli := &Node{ID: "external:" + CLIType + ":kpilake", Group: ExternalGroup, Name: "kpilake", Kind: "operator CLI", Type: CLIType}
	for _, o := range operatorOutputs {
		for _, t := range b.targets(b.t.Outputs[o.output], false) {
			b.addExternal(cli)
			b.add(&Edge{From: cli.ID, To: t, Kind: Data, Label: o.label, Both: o.both, rank: fromProperty})
		}
	}
}

func (b *builder) addExternal(n *Node) {
	if b.external == nil {
		b.external = map[string]*Node{}
	}
	b.external[n.ID] = n
}

// plural is "1 table", "5 tables", "2 policies".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	switch {
	case len(noun) > 1 && strings.HasSuffix(noun, "y") && !strings.ContainsAny(noun[len(noun)-2:len(noun)-1], "aeiou"):
		noun = strings.TrimSuffix(noun, "y") + "ies"
	case strings.HasSuffix(noun, "s"):
		noun += "es"
	default:
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}

// callLabel names what calling a resource does.
func (b *builder) callLabel(nodeID string) string {
	switch b.typeOf(nodeID) {
	case "AWS::Lambda::Function", "lambda":
		return "invokes"
	case "AWS::StepFunctions::StateMachine", "AWS::Glue::Crawler", "states":
		return "starts"
	case "AWS::SNS::Topic", "sns":
		return "publishes"
	case "AWS::SQS::Queue", "sqs":
		return "sends"
	}
	return "calls"
}

// patternLabel summarizes an event pattern by the literal values its detail matches, such as
// "state: Succeeded".
func patternLabel(pattern any) string {
	detail, _ := lookup(pattern, "detail").(map[string]any)
	var parts []string
	for _, k := range sortedKeys(detail) {
		var values []string
		for _, v := range list(detail[k]) {
			s, ok := v.(string)
			if !ok {
				values = nil
				break
			}
			values = append(values, s)
		}
		if len(values) > 0 {
			parts = append(parts, k+": "+strings.Join(values, ", "))
		}
	}
	if len(parts) == 0 {
		return "events"
	}
	return strings.Join(parts, "; ")
}

// mappingLabel summarizes an event source mapping: its batch size and concurrency.
func mappingLabel(p map[string]any) string {
	var parts []string
	if n, ok := p["BatchSize"].(float64); ok {
		parts = append(parts, fmt.Sprintf("batch %d", int(n)))
	}
	if n, ok := lookup(p, "ScalingConfig", "MaximumConcurrency").(float64); ok {
		parts = append(parts, fmt.Sprintf("at most %d at once", int(n)))
	}
	if len(parts) == 0 {
		return "messages"
	}
	return strings.Join(parts, ", ")
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// graph names the nodes and returns the sorted graph.
func (b *builder) graph() *Graph {
	g := &Graph{Stack: b.t.Stack, Plumbing: b.omitted, Edges: b.edges.sorted()}
	for _, n := range b.nodes {
		g.Nodes = append(g.Nodes, n)
	}
	for _, n := range b.external {
		g.Nodes = append(g.Nodes, n)
	}
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	name(g.Nodes, b.t.Resources, b.nodes)
	return g
}

// name gives each stack node its group (top-level construct) and a short name: its construct
// path without the ids of wrappers that hold nothing else shown (golambda's "Extract/Function"
// is "Extract"), shortened to its last id unless that is ambiguous in the group.
func name(nodes []*Node, resources map[string]*resource, byLogicalID map[string]*Node) {
	under := map[string]int{} // construct path -> shown nodes at or below it
	for _, n := range nodes {
		if n.Group == ExternalGroup {
			continue
		}
		segs := strings.Split(n.ID, "/")
		for i := 1; i <= len(segs); i++ {
			under[strings.Join(segs[:i], "/")]++
		}
	}
	short := map[*Node][]string{}
	inGroup := map[string]map[string]int{}
	for _, n := range nodes {
		if n.Group == ExternalGroup {
			continue
		}
		segs := strings.Split(n.ID, "/")
		n.Group = segs[0]
		for len(segs) > 1 && under[strings.Join(segs[:len(segs)-1], "/")] == 1 {
			segs = segs[:len(segs)-1]
		}
		short[n] = segs
		if inGroup[n.Group] == nil {
			inGroup[n.Group] = map[string]int{}
		}
		inGroup[n.Group][segs[len(segs)-1]]++
	}
	for n, segs := range short {
		n.Name = segs[len(segs)-1]
		if inGroup[n.Group][n.Name] > 1 && len(segs) > 1 {
			n.Name = strings.Join(segs[1:], "/")
		}
	}
	// A subscription is named by its endpoint (the construct id is usually the same).
	for id, n := range byLogicalID {
		if r := resources[id]; r.Type == "AWS::SNS::Subscription" {
			if ep, ok := r.Props["Endpoint"].(string); ok {
				n.Name = ep
			}
		}
	}
}
