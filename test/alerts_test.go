//go:build !unit

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/app"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/infra/stack"
)

// Principals of the services that publish alerts.
const (
	cloudWatchPrincipal = "service:cloudwatch.amazonaws.com"
	eventsPrincipal     = "service:events.amazonaws.com"
)

// A foreign account for the probes that a policy must refuse.
const foreignAccount = "999999999999"

// foreignRegion is a region other than the stack's, for the probes that a policy must refuse.
func (tp *cfnTemplate) foreignRegion() string {
	if tp.Region == "eu-north-1" {
		return "us-west-2"
	}
	return "eu-north-1"
}

// publisher is something in the template that publishes to a topic, derived from the resource
// that names the topic: an alarm's actions, a rule's target, a state machine's sns:publish task.
type publisher struct {
	// What publishes, for messages: "alarm X", "rule X", "state machine X".
	What string
	// Principal the request is made as: a service ("service:NAME") or a role ("aws:ARN").
	Principal string
	// Role is the logical ID of the publishing role, for a state machine.
	Role string
	// SourceArn is the ARN of the alarm or rule on whose behalf a service publishes.
	SourceArn string
}

// alertTopic is the ARN of the topic the stack names in its AlertTopicArn output.
func alertTopic(t *testing.T, tp *cfnTemplate) string {
	t.Helper()
	out, ok := tp.Outputs[stack.OutputAlertTopicArn]
	if !ok {
		t.Fatalf("the template has no %s output", stack.OutputAlertTopicArn)
	}
	arn := tp.render(out.Value)
	if !strings.HasPrefix(arn, "arn:aws:sns:") {
		t.Fatalf("output %s is %v, not a topic of the stack", stack.OutputAlertTopicArn, out.Value)
	}
	return arn
}

// publishers derives every publisher of topic from the template.
func publishers(t *testing.T, tp *cfnTemplate, topic string) []publisher {
	t.Helper()
	var pubs []publisher
	for _, id := range tp.ofType("AWS::CloudWatch::Alarm") {
		if alarmActions(tp, id)[topic] {
			pubs = append(pubs, publisher{What: "alarm " + id, Principal: cloudWatchPrincipal, SourceArn: tp.arn(id)})
		}
	}
	for _, id := range tp.ofType("AWS::Events::Rule") {
		for _, target := range list(tp.Resources[id].Properties["Targets"]) {
			tg, _ := target.(map[string]any)
			if tp.render(tg["Arn"]) == topic {
				pubs = append(pubs, publisher{What: "rule " + id, Principal: eventsPrincipal, SourceArn: tp.arn(id)})
			}
		}
	}
	for _, id := range tp.ofType("AWS::StepFunctions::StateMachine") {
		props := tp.Resources[id].Properties
		var def map[string]any
		if err := json.Unmarshal([]byte(tp.render(props["DefinitionString"])), &def); err != nil {
			t.Fatalf("state machine %s: definition: %v", id, err)
		}
		if publishesTo(def, topic) {
			role, _ := list(props["RoleArn"])[0].(map[string]any)["Fn::GetAtt"].([]any)
			if len(role) != 2 {
				t.Fatalf("state machine %s: RoleArn %v is not a role of the stack", id, props["RoleArn"])
			}
			roleID := role[0].(string)
			pubs = append(pubs, publisher{What: "state machine " + id, Principal: "aws:" + tp.arn(roleID), Role: roleID})
		}
	}
	return pubs
}

// alarmActions is the set of ARNs an alarm notifies, in any state.
func alarmActions(tp *cfnTemplate, id string) map[string]bool {
	out := map[string]bool{}
	for _, key := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
		for _, a := range list(tp.Resources[id].Properties[key]) {
			out[tp.render(a)] = true
		}
	}
	return out
}

// publishesTo reports whether a state machine definition (or any state nested in it) has an
// sns:publish task on topic.
func publishesTo(def map[string]any, topic string) bool {
	states, _ := def["States"].(map[string]any)
	for _, s := range states {
		st, _ := s.(map[string]any)
		res, _ := st["Resource"].(string)
		params, _ := st["Parameters"].(map[string]any)
		if strings.HasPrefix(res, "arn:aws:states:::sns:publish") && params["TopicArn"] == topic {
			return true
		}
		for _, key := range []string{"ItemProcessor", "Iterator"} {
			if sub, ok := st[key].(map[string]any); ok && publishesTo(sub, topic) {
				return true
			}
		}
		for _, b := range list(st["Branches"]) {
			if sub, ok := b.(map[string]any); ok && publishesTo(sub, topic) {
				return true
			}
		}
	}
	return false
}

// topicPolicy is every statement of the topic policies that apply to topic.
func topicPolicy(tp *cfnTemplate, topic string) []statement {
	var out []statement
	for _, id := range tp.ofType("AWS::SNS::TopicPolicy") {
		props := tp.Resources[id].Properties
		for _, tpc := range list(props["Topics"]) {
			if tp.render(tpc) == topic {
				out = append(out, tp.statements(props["PolicyDocument"])...)
			}
		}
	}
	return out
}

// topicKey is the logical ID of the key that encrypts topic, or "" if it is not KMS-encrypted
// with a key of the stack.
func topicKey(t *testing.T, tp *cfnTemplate, topic string) string {
	t.Helper()
	for _, id := range tp.ofType("AWS::SNS::Topic") {
		if tp.arn(id) != topic {
			continue
		}
		key, ok := tp.Resources[id].Properties["KmsMasterKeyId"]
		if !ok {
			return ""
		}
		arn := tp.render(key)
		for _, k := range tp.ofType("AWS::KMS::Key") {
			if tp.arn(k) == arn {
				return k
			}
		}
		t.Fatalf("topic %s is encrypted with %v, which is not a key of the stack; the check cannot see its policy", id, key)
	}
	t.Fatalf("no topic %s in the template", topic)
	return ""
}

// identityPolicy is every statement of the IAM policies attached to role roleID.
func identityPolicy(tp *cfnTemplate, roleID string) []statement {
	var out []statement
	for _, id := range tp.ofType("AWS::IAM::Policy") {
		props := tp.Resources[id].Properties
		for _, r := range list(props["Roles"]) {
			if m, ok := r.(map[string]any); ok && m["Ref"] == roleID {
				out = append(out, tp.statements(props["PolicyDocument"])...)
			}
		}
	}
	for _, p := range list(tp.Resources[roleID].Properties["Policies"]) {
		pm, _ := p.(map[string]any)
		out = append(out, tp.statements(pm["PolicyDocument"])...)
	}
	return out
}

// sourceContext is the request context a service sends when it publishes for source (an alarm or
// rule ARN) in account.
func sourceContext(account, source string) map[string]string {
	return map[string]string{"aws:sourceaccount": account, "aws:sourcearn": source, "aws:securetransport": "true"}
}

// kmsContext is the context of the KMS request made when principal publishes for source to an
// encrypted topic. SNS passes CloudWatch's source account and alarm on to KMS; for EventBridge it
// passes neither (the SNS developer guide, "Key management": adding aws:SourceAccount and
// aws:SourceArn to a KMS policy is not supported for EventBridge-to-encrypted topics), so a key
// policy that requires them for EventBridge drops every rule's alert.
func kmsContext(principal, account, source string) map[string]string {
	if principal == eventsPrincipal {
		return map[string]string{"aws:securetransport": "true"}
	}
	return sourceContext(account, source)
}

// Actions a publisher needs on the topic and on its key.
var (
	publishActions = []string{"sns:Publish"}
	keyActions     = []string{"kms:Decrypt", "kms:GenerateDataKey"}
	// keyActionPatterns are what a key policy statement for a service publisher may name.
	keyActionPatterns = map[string]bool{"kms:Decrypt": true, "kms:GenerateDataKey*": true, "kms:GenerateDataKey": true}
)

// foreignSources are sources that the policy must refuse for publisher p: the same kind of
// source in another account and in another region, and for a rule (whose ARN is known at synth)
// a rule of the account that does not target the topic.
func foreignSources(tp *cfnTemplate, p publisher) []request {
	swap := func(arn, from, to string) string { return strings.Replace(arn, from, to, 1) }
	reqs := []request{
		{Principal: p.Principal, Context: sourceContext(foreignAccount, swap(p.SourceArn, ":"+tp.Account+":", ":"+foreignAccount+":"))},
		{Principal: p.Principal, Context: sourceContext(tp.Account, swap(p.SourceArn, ":"+tp.Region+":", ":"+tp.foreignRegion()+":"))},
		// A confused deputy: the account's source ARN, but on behalf of another account.
		{Principal: p.Principal, Context: sourceContext(foreignAccount, p.SourceArn)},
	}
	if p.Principal == eventsPrincipal {
		reqs = append(reqs, request{Principal: p.Principal, Context: sourceContext(tp.Account,
			fmt.Sprintf("arn:aws:events:%s:%s:rule/SomeoneElsesRule", tp.Region, tp.Account))})
	}
	return reqs
}

// publishProblems walks every publisher of topic to the topic and its key, and lists what a
// publisher is missing and what the policies allow that no publisher needs.
func publishProblems(t *testing.T, tp *cfnTemplate, topic string) []string {
	t.Helper()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	pubs := publishers(t, tp, topic)
	policy := topicPolicy(tp, topic)
	key := topicKey(t, tp, topic)
	var keyPolicy []statement
	if key != "" {
		keyPolicy = tp.statements(tp.Resources[key].Properties["KeyPolicy"])
	}
	keyArn := tp.arn(key)
	root := "aws:arn:aws:iam::" + tp.Account + ":root"

	needed := map[string]bool{} // service principals that publish
	roles := map[string]bool{}  // roles that publish
	for _, p := range pubs {
		if p.Role != "" {
			roles[p.Role] = true
			// Same account: the role's own policy grants, and the resource policies must not deny.
			for _, action := range publishActions {
				req := request{Principal: p.Principal, Action: action, Resource: topic, Context: map[string]string{"aws:securetransport": "true"}}
				if !allows(identityPolicy(tp, p.Role), req) {
					report("%s: its role %s may not %s to the topic", p.What, p.Role, action)
				}
				if denies(policy, req) {
					report("%s: the topic policy denies its role %s", p.What, action)
				}
			}
			if key == "" {
				continue
			}
			for _, action := range keyActions {
				req := request{Principal: p.Principal, Action: action, Resource: keyArn}
				if !allows(identityPolicy(tp, p.Role), req) {
					report("%s: its role %s may not %s with the topic's key", p.What, p.Role, action)
				}
				// An IAM grant on a key counts only where the key policy delegates to the account.
				if !allows(keyPolicy, request{Principal: root, Action: action, Resource: keyArn}) {
					report("%s: the key policy does not let the account's IAM policies grant %s, so its role's grant is void", p.What, action)
				}
			}
			continue
		}
		needed[p.Principal] = true
		for _, action := range publishActions {
			if !allows(policy, request{Principal: p.Principal, Action: action, Resource: topic, Context: sourceContext(tp.Account, p.SourceArn)}) {
				report("%s: the topic policy does not let %s %s for it (aws:SourceAccount %s, aws:SourceArn %s)",
					p.What, p.Principal, action, tp.Account, p.SourceArn)
			}
			for _, probe := range foreignSources(tp, p) {
				probe.Action, probe.Resource = action, topic
				if allows(policy, probe) {
					report("%s: the topic policy also lets %s %s for %v, which is not this environment's", p.What, p.Principal, action, probe.Context)
				}
			}
		}
		if key == "" {
			continue
		}
		for _, action := range keyActions {
			ctx := kmsContext(p.Principal, tp.Account, p.SourceArn)
			if !allows(keyPolicy, request{Principal: p.Principal, Action: action, Resource: keyArn, Context: ctx}) {
				report("%s: the key policy does not let %s %s with the context it sends %v", p.What, p.Principal, action, ctx)
			}
			if p.Principal == eventsPrincipal {
				continue // EventBridge sends no source to KMS: nothing to tell apart
			}
			for _, probe := range foreignSources(tp, p) {
				probe.Action, probe.Resource = action, keyArn
				if allows(keyPolicy, probe) {
					report("%s: the key policy also lets %s %s for %v, which is not this environment's", p.What, p.Principal, action, probe.Context)
				}
			}
		}
	}

	// Nothing else: every Allow names only principals that publish, and only what they need.
	for _, s := range policy {
		if s.Effect != "Allow" {
			if s.Effect != "Deny" {
				report("topic policy statement %s: unsupported form", s.Raw)
			}
			continue
		}
		for _, pr := range s.Principals {
			if !needed[pr] {
				report("topic policy allows %s, which publishes nothing to the topic: %s", pr, s.Raw)
			}
		}
		for _, a := range s.Actions {
			if a != "sns:Publish" {
				report("topic policy allows %s to publishers, who need sns:Publish only: %s", a, s.Raw)
			}
		}
	}
	for _, s := range keyPolicy {
		if s.Effect != "Allow" {
			continue
		}
		for _, pr := range s.Principals {
			switch {
			case pr == root:
				// The key's administrators: the account's IAM policies (also how roles publish).
			case needed[pr]:
				for _, a := range s.Actions {
					if !keyActionPatterns[a] {
						report("key policy allows %s to %s, which needs kms:Decrypt and kms:GenerateDataKey* only: %s", a, pr, s.Raw)
					}
				}
			default:
				report("key policy allows %s, which publishes nothing to the topic: %s", pr, s.Raw)
			}
		}
	}
	// No role may publish that the template does not show publishing.
	for _, id := range tp.ofType("AWS::IAM::Role") {
		req := request{Principal: "aws:" + tp.arn(id), Action: "sns:Publish", Resource: topic}
		if !roles[id] && allows(identityPolicy(tp, id), req) {
			report("role %s may publish to the topic, but nothing it runs does", id)
		}
	}
	return problems
}

// denies reports whether an explicit Deny of the statements matches req.
func denies(stmts []statement, req request) bool {
	for _, s := range stmts {
		if s.Effect == "Deny" && s.matches(req) {
			return true
		}
	}
	return false
}

// The alert topic's policy and key policy let exactly the alert publishers publish: every alarm
// (CloudWatch), every rule that targets the topic (EventBridge) and every workflow's role, each
// with the conditions that tie it to this environment, and nobody else.
func TestAlerts_EveryPublisherMayPublishAndNobodyElse(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		t.Run(name, func(t *testing.T) {
			tp := loadTemplate(t, a, name)
			topic := alertTopic(t, tp)
			pubs := publishers(t, tp, topic)
			kinds := map[string]int{}
			for _, p := range pubs {
				kinds[strings.Fields(p.What)[0]]++
			}
			// The derivation must find each kind, or it checks nothing.
			for _, kind := range []string{"alarm", "rule", "state"} {
				if kinds[kind] == 0 {
					t.Errorf("no %s publishes to the alert topic; the derivation is broken (found %v)", kind, kinds)
				}
			}
			for _, p := range publishProblems(t, tp, topic) {
				t.Error(p)
			}
		})
	}
}

// A new alarm must alarm somewhere: every alarm of the stack notifies the alert topic (and is
// then a publisher that the policy check above covers).
func TestAlerts_EveryAlarmNotifiesTheTopic(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		t.Run(name, func(t *testing.T) {
			tp := loadTemplate(t, a, name)
			for _, p := range unnotifiedAlarms(tp, alertTopic(t, tp)) {
				t.Error(p)
			}
		})
	}
}

func unnotifiedAlarms(tp *cfnTemplate, topic string) []string {
	var problems []string
	for _, id := range tp.ofType("AWS::CloudWatch::Alarm") {
		if props := tp.Resources[id].Properties; props["ActionsEnabled"] == false || !alarmActions(tp, id)[topic] {
			problems = append(problems, fmt.Sprintf("alarm %s does not notify the alert topic (actions %v)", id, sortedKeys(alarmActions(tp, id))))
		}
	}
	return problems
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Bounds of an alert rule's delivery: EventBridge retries at most 185 times and keeps an event
// at most 24 hours; a dead-letter queue keeps it 14 days, SQS's maximum.
const (
	maxEventAgeSeconds   = 24 * 60 * 60
	deadLetterRetention  = 14 * 24 * 60 * 60
	queueDepthMetricName = "ApproximateNumberOfMessagesVisible"
)

// snsPrincipal is SNS, which keeps what a subscription could not deliver in its dead-letter queue.
const snsPrincipal = "service:sns.amazonaws.com"

// alertRuleProblems checks every rule that targets topic: the target retries, gives up after a
// bounded age and then sends the event to an encrypted, TLS-only dead-letter queue that keeps it
// 14 days, that only the rules whose dead letters it holds may send to, and whose depth alarms.
func alertRuleProblems(tp *cfnTemplate, topic string) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	queueOf := map[string]string{} // queue ARN -> logical ID
	for _, id := range tp.ofType("AWS::SQS::Queue") {
		queueOf[tp.arn(id)] = id
	}
	senders := map[string]map[string]bool{} // queue ID -> rule ARNs that send their dead letters to it
	for _, id := range tp.ofType("AWS::Events::Rule") {
		for _, target := range list(tp.Resources[id].Properties["Targets"]) {
			tg, _ := target.(map[string]any)
			if q, ok := tg["DeadLetterConfig"].(map[string]any); ok {
				if qid := queueOf[tp.render(q["Arn"])]; qid != "" {
					if senders[qid] == nil {
						senders[qid] = map[string]bool{}
					}
					senders[qid][tp.arn(id)] = true
				}
			}
		}
	}
	alertQueues := map[string]bool{}
	for _, id := range tp.ofType("AWS::Events::Rule") {
		for _, target := range list(tp.Resources[id].Properties["Targets"]) {
			tg, _ := target.(map[string]any)
			if tp.render(tg["Arn"]) != topic {
				continue
			}
			retry, _ := tg["RetryPolicy"].(map[string]any)
			attempts, _ := retry["MaximumRetryAttempts"].(float64)
			age, _ := retry["MaximumEventAgeInSeconds"].(float64)
			if attempts < 1 || age < 60 || age > maxEventAgeSeconds {
				report("rule %s: its alert target retries %v times for %v s; give it retry attempts and a maximum event age (60 s to 24 h)", id, retry["MaximumRetryAttempts"], retry["MaximumEventAgeInSeconds"])
			}
			dlq, _ := tg["DeadLetterConfig"].(map[string]any)
			qid := queueOf[tp.render(dlq["Arn"])]
			if qid == "" {
				report("rule %s: its alert target has no dead-letter queue of the stack (DeadLetterConfig %v)", id, tg["DeadLetterConfig"])
				continue
			}
			alertQueues[qid] = true
			if !senders[qid][tp.arn(id)] {
				report("rule %s: not recorded as a sender of %s", id, qid)
			}
		}
	}
	for _, qid := range sortedKeys(alertQueues) {
		props := tp.Resources[qid].Properties
		if props["SqsManagedSseEnabled"] != true && props["KmsMasterKeyId"] == nil {
			report("dead-letter queue %s is not encrypted", qid)
		}
		if props["MessageRetentionPeriod"] != float64(deadLetterRetention) {
			report("dead-letter queue %s keeps messages %v s, want %d (14 days)", qid, props["MessageRetentionPeriod"], deadLetterRetention)
		}
		var policy []statement
		for _, pid := range tp.ofType("AWS::SQS::QueuePolicy") {
			pp := tp.Resources[pid].Properties
			for _, q := range list(pp["Queues"]) {
				if tp.render(q) == "ref:"+qid {
					policy = append(policy, tp.statements(pp["PolicyDocument"])...)
				}
			}
		}
		queue := tp.arn(qid)
		tls := map[string]string{"aws:securetransport": "false", "aws:sourceaccount": tp.Account}
		if !denies(policy, request{Principal: "aws:arn:aws:iam::" + tp.Account + ":root", Action: "sqs:SendMessage", Resource: queue, Context: tls}) {
			report("dead-letter queue %s does not refuse requests without TLS", qid)
		}
		for _, rule := range tp.ofType("AWS::Events::Rule") {
			ruleArn := tp.arn(rule)
			got := allows(policy, request{Principal: eventsPrincipal, Action: "sqs:SendMessage", Resource: queue, Context: sourceContext(tp.Account, ruleArn)})
			if want := senders[qid][ruleArn]; got != want {
				report("dead-letter queue %s: rule %s may send = %v, want %v (only the rules whose dead letters it holds)", qid, rule, got, want)
			}
		}
		for _, s := range policy {
			if s.Effect != "Allow" {
				continue
			}
			for _, pr := range s.Principals {
				switch {
				case pr == eventsPrincipal:
				case pr == snsPrincipal:
					// The alert topic keeps there what it could not deliver to a subscription.
					other := strings.Replace(topic, ":"+tp.Account+":", ":"+foreignAccount+":", 1)
					if !allows(policy, request{Principal: pr, Action: "sqs:SendMessage", Resource: queue, Context: sourceContext(tp.Account, topic)}) ||
						allows(policy, request{Principal: pr, Action: "sqs:SendMessage", Resource: queue, Context: sourceContext(foreignAccount, other)}) {
						report("dead-letter queue %s lets SNS in for topics other than the alert topic: %s", qid, s.Raw)
					}
				default:
					report("dead-letter queue %s lets %s in: %s", qid, pr, s.Raw)
				}
			}
			for _, a := range s.Actions {
				if a != "sqs:SendMessage" {
					report("dead-letter queue %s allows %s: %s", qid, a, s.Raw)
				}
			}
		}
		alarmed := false
		for _, id := range tp.ofType("AWS::CloudWatch::Alarm") {
			ap := tp.Resources[id].Properties
			dims := list(ap["Dimensions"])
			if ap["Namespace"] != "AWS/SQS" || ap["MetricName"] != queueDepthMetricName || len(dims) != 1 {
				continue
			}
			dim, _ := dims[0].(map[string]any)
			if dim["Name"] == "QueueName" && tp.render(dim["Value"]) == "getatt:"+qid+".QueueName" &&
				ap["Threshold"] == float64(1) && ap["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" && alarmActions(tp, id)[topic] {
				alarmed = true
			}
		}
		if !alarmed {
			report("dead-letter queue %s: no alarm notifies the topic when it holds a message", qid)
		}
	}
	return problems
}

// Every rule that sends an alert (crawler failed, execution ended, of every workflow) retries,
// and what it cannot deliver is kept and alarms.
func TestAlerts_RulesKeepWhatTheyCannotDeliver(t *testing.T) {
	a := synthAll(t)
	for _, name := range a.stacks {
		t.Run(name, func(t *testing.T) {
			tp := loadTemplate(t, a, name)
			topic := alertTopic(t, tp)
			rules := 0
			for _, p := range publishers(t, tp, topic) {
				if p.Principal == eventsPrincipal {
					rules++
				}
			}
			if rules == 0 {
				t.Fatal("no rule targets the alert topic; the derivation is broken")
			}
			for _, p := range alertRuleProblems(tp, topic) {
				t.Error(p)
			}
		})
	}
}

// The checks must bite: in a copy of the dev stack, an alarm that notifies nobody, a rule that
// alerts through CDK's plain SnsTopic target (unconditioned, no dead letters) and a workflow
// that publishes without the key are each reported.
func TestAlerts_ChecksReportWhatIsNotWired(t *testing.T) {
	ctx := cdkContext(t)
	ctx[app.EnvContextKey] = "dev"
	dir := t.TempDir()
	a := variantApp(ctx, dir)
	stacks, err := app.Build(a, app.Options{DefaultAccount: snapshotAccount, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	s := stacks[0]
	alarm := awscloudwatch.NewAlarm(s.Stack, jsii.String("UnwiredAlarm"), &awscloudwatch.AlarmProps{
		Metric:            awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("Test"), MetricName: jsii.String("Errors")}),
		Threshold:         jsii.Number(1),
		EvaluationPeriods: jsii.Number(1),
	})
	rule := awsevents.NewRule(s.Stack, jsii.String("PlainAlertRule"), &awsevents.RuleProps{
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings("aws.glue")},
		Targets:      &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(s.Alerts.Topic, nil)},
	})
	sm := awsstepfunctions.NewStateMachine(s.Stack, jsii.String("UngrantedWorkflow"), &awsstepfunctions.StateMachineProps{
		DefinitionBody: awsstepfunctions.DefinitionBody_FromChainable(awsstepfunctionstasks.NewSnsPublish(s.Stack, jsii.String("Publish"), &awsstepfunctionstasks.SnsPublishProps{
			Topic:   s.Alerts.Topic,
			Message: awsstepfunctions.TaskInput_FromText(jsii.String("failed")),
		})),
	})
	fixture := "A test fixture: only its publish permissions are checked."
	nag.Suppress(sm, fixture, "AwsSolutions-SF1", "AwsSolutions-SF2", "Serverless-StepFunctionStateMachineXray")
	nag.Suppress(alarm, fixture, nag.Rule("CloudWatchAlarmAction", nag.NIST, nag.HIPAA)...)
	nag.Suppress(rule, fixture, nag.Rule("EventBusDLQ", nag.Serverless)...)
	a.Synth(nil)
	name := *s.StackName()
	raw, err := os.ReadFile(filepath.Join(dir, name+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	tp := decodeTemplate(t, dir, name, raw)
	topic := alertTopic(t, tp)
	got := strings.Join(slices.Concat(unnotifiedAlarms(tp, topic), publishProblems(t, tp, topic), alertRuleProblems(tp, topic)), "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`alarm UnwiredAlarm\w+ does not notify the alert topic`),
		regexp.MustCompile(`rule PlainAlertRule\w+: the topic policy also lets service:events.amazonaws.com sns:Publish for .*999999999999`),
		regexp.MustCompile(`rule PlainAlertRule\w+: its alert target retries`),
		regexp.MustCompile(`rule PlainAlertRule\w+: its alert target has no dead-letter queue`),
		regexp.MustCompile(`state machine UngrantedWorkflow\w+: its role \w+ may not kms:GenerateDataKey with the topic's key`),
	} {
		if !want.MatchString(got) {
			t.Errorf("no problem matches %s; reported:\n%s", want, got)
		}
	}
}
