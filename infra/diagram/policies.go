package diagram

import (
	"strings"
)

// access is what a policy lets a principal do to a resource.
type access uint8

const (
	read access = 1 << iota
	write
	use
	invoke
)

// ignoredServices are actions on plumbing (keys, logs, tracing, networking) or on no resource.
var ignoredServices = map[string]bool{
	"kms": true, "logs": true, "xray": true, "ec2": true, "iam": true, "sts": true, "cloudwatch": true,
}

var (
	invokeActions = map[string]bool{
		"invokefunction": true, "startexecution": true, "startsyncexecution": true,
		"startcrawler": true, "startjobrun": true,
	}
	metadataPrefixes = []string{"list", "describe", "getbucket", "getqueueattributes", "getqueueurl", "getsecuritycon"}
	readPrefixes     = []string{"batchget", "get", "receive", "select", "query", "scan", "head"}
	writePrefixes    = []string{"put", "send", "publish", "delete", "create", "update", "batch", "abort", "restore", "write", "upload", "copy"}
)

// classify says what an IAM action (such as "s3:GetObject" or "s3:Get*") does.
func classify(action string) access {
	if action == "*" {
		return read | write
	}
	svc, verb, ok := strings.Cut(strings.ToLower(action), ":")
	if !ok || ignoredServices[svc] {
		return 0
	}
	if verb == "*" {
		return read | write
	}
	if invokeActions[verb] {
		return invoke
	}
	// Listing, describing and locating touch no data: s3:ListBucket comes with every write.
	for _, p := range metadataPrefixes {
		if strings.HasPrefix(verb, p) {
			return use
		}
	}
	for _, p := range readPrefixes {
		if strings.HasPrefix(verb, p) {
			return read
		}
	}
	for _, p := range writePrefixes {
		if strings.HasPrefix(verb, p) {
			return write
		}
	}
	return use
}

// policies adds the arrows that the IAM policies of each resource's role imply: a call for
// invoke and start actions, data flow for the others.
func (b *builder) policies() {
	// A role's principals are the shown resources that refer to it (a function's Role, a rule
	// target's RoleArn). A role shared by several is left out: its grants belong to none alone.
	principals := map[string][]string{}
	for _, id := range sortedKeys(b.nodes) {
		for _, ref := range refs(b.t.Resources[id].Props) {
			if r, ok := b.t.Resources[ref]; ok && r.Type == "AWS::IAM::Role" {
				principals[ref] = append(principals[ref], b.nodes[id].ID)
			}
		}
	}
	grants := map[[2]string]access{}
	var pairs [][2]string
	grant := func(roles []string, doc any) {
		for _, st := range list(lookup(doc, "Statement")) {
			s, _ := st.(map[string]any)
			if s == nil || s["Effect"] == "Deny" || s["NotAction"] != nil || s["NotResource"] != nil {
				continue
			}
			var acc access
			for _, a := range list(s["Action"]) {
				if name, ok := a.(string); ok {
					acc |= classify(name)
				}
			}
			if acc == 0 {
				continue
			}
			for _, res := range list(s["Resource"]) {
				for _, target := range b.targets(res, true) {
					for _, role := range roles {
						if len(principals[role]) != 1 {
							continue
						}
						key := [2]string{principals[role][0], target}
						if _, ok := grants[key]; !ok {
							pairs = append(pairs, key)
						}
						grants[key] |= acc
					}
				}
			}
		}
	}
	managed := map[string][]string{} // managed policy -> the roles that list it
	for _, id := range sortedKeys(b.t.Resources) {
		r := b.t.Resources[id]
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		for _, p := range list(r.Props["Policies"]) {
			grant([]string{id}, lookup(p, "PolicyDocument"))
		}
		for _, m := range refs(r.Props["ManagedPolicyArns"]) {
			managed[m] = append(managed[m], id)
		}
	}
	for _, id := range sortedKeys(b.t.Resources) {
		r := b.t.Resources[id]
		if r.Type == "AWS::IAM::Policy" || r.Type == "AWS::IAM::ManagedPolicy" {
			grant(append(refs(r.Props["Roles"]), managed[id]...), r.Props["PolicyDocument"])
		}
	}
	for _, key := range pairs {
		b.grantEdges(key[0], key[1], grants[key])
	}
}

func (b *builder) grantEdges(principal, target string, acc access) {
	if principal == target {
		return
	}
	if acc&invoke != 0 {
		b.add(&Edge{From: principal, To: target, Kind: Call, Label: b.callLabel(target), rank: fromPolicy})
	}
	acc &^= invoke
	if acc == 0 {
		return
	}
	// Without reads or writes the grant only lists, describes or locates (s3:ListBucket).
	e := &Edge{From: principal, To: target, Kind: Data, rank: fromPolicy, metadata: acc&(read|write) == 0}
	typ := b.typeOf(target)
	switch {
	case acc&(read|write) == read|write:
		e.Label, e.Both = "reads, writes", true
	case acc&write != 0:
		e.Label = "writes"
	case acc&read != 0:
		e.Label = "reads"
		e.From, e.To = target, principal
	default:
		e.Label = "uses"
	}
	switch typ {
	case "AWS::SQS::Queue", "sqs":
		e.Label = map[string]string{"writes": "sends", "reads": "receives", "reads, writes": "sends, receives"}[e.Label]
	case "AWS::SNS::Topic", "sns":
		if acc&write != 0 {
			e.Label, e.Both, e.From, e.To = "publishes", false, principal, target
		}
	case "AWS::Athena::WorkGroup":
		e.Label, e.Both, e.From, e.To, e.metadata = "queries", false, principal, target, false
	case "AWS::KinesisFirehose::DeliveryStream", "firehose":
		if acc&write != 0 {
			e.Label, e.Both, e.From, e.To = "puts records", false, principal, target
		}
	}
	if e.Label == "" {
		e.Label = "uses"
	}
	b.add(e)
}

// typeOf is the CloudFormation type of a node (for an external node, its ARN's service).
func (b *builder) typeOf(nodeID string) string {
	for _, n := range b.nodes {
		if n.ID == nodeID {
			return n.Type
		}
	}
	if n, ok := b.external[nodeID]; ok {
		return n.Type
	}
	return ""
}
