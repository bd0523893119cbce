package diagram

import (
	"fmt"
	"sort"
	"strings"
)

// flowView draws the flow view, docs/architecture.svg: top to bottom, without clusters (each
// node names its construct), in type that stays legible when the picture is scaled down to a
// README column of 900 px.
var flowView = &view{
	file:      "docs/" + FlowPicture + ".svg",
	title:     "data flow (every resource: architecture-full.svg)",
	layout:    "rankdir=TB, newrank=true, nodesep=0.15, ranksep=0.25",
	margin:    "0.08,0.04",
	titleSize: 19, nameSize: 17, kindSize: 14, edgeSize: 14, legendSize: 14,
	legendColumns: 3,
	flat:          true,
}

// monitoringTypes are folded into one node per top-level construct ("5 alarms, 1 dashboard"),
// by the noun that counts them.
var monitoringTypes = map[string]string{
	"AWS::CloudWatch::Alarm":     "alarm",
	"AWS::CloudWatch::Dashboard": "dashboard",
}

// flowHiddenTypes are configuration that the functions read, not data of the pipeline.
var flowHiddenTypes = map[string]bool{"AWS::SecretsManager::Secret": true, "secretsmanager": true}

// deliveryTypes are the triggers whose dead letters are undelivered events, not data of the
// pipeline.
var deliveryTypes = map[string]bool{"AWS::Events::Rule": true, "AWS::Scheduler::Schedule": true}

// athenaData are the resources that Athena reads and writes for the caller of a query.
var athenaData = map[string]bool{"AWS::S3::Bucket": true, "AWS::Glue::Database": true}

// shortKinds name the kinds in the flow view, where the construct shares the line.
var shortKinds = map[string]string{
	"Lambda function":              "Lambda",
	"Step Functions state machine": "state machine",
	"Firehose delivery stream":     "Firehose stream",
	"SNS subscription (email)":     "email",
	"EventBridge rule":             "rule",
}

// Flow returns the flow view of g: what moves data from the sources to the aggregated zone and
// what sets it going, small enough to read at README width. It differs from g in that
//   - the alarms and dashboards of each top-level construct are one node ("5 alarms, 1
//     dashboard"), drawn with the topics they notify and those topics' subscriptions;
//   - a function that queries one Athena workgroup has its reads and writes of buckets and of
//     the catalog drawn through the workgroup, since Athena does them for it, and the bucket of
//     the workgroups' query results is left out;
//   - a node is drawn only if data flows in or out of it, or it triggers, starts or emits the
//     events of a node that is drawn; a schedule becomes a line of the node it starts;
//   - references, environment variables, grants that only list or describe, secrets, the dead
//     letters of schedules and rules, and the failure notifications are left out.
//
// LeftOut counts the inventory's nodes that are neither drawn nor folded, by kind.
func (g *Graph) Flow() *Graph {
	byID := map[string]*Node{}
	for _, n := range g.Nodes {
		byID[n.ID] = n
	}
	folds, foldOf := monitoringFolds(g.Nodes)
	for _, f := range folds {
		byID[f.ID] = f
	}
	via := athenaCallers(g.Edges, byID)

	edges := edgeSet{}
	for _, e := range g.Edges {
		if !inFlow(e, byID) {
			continue
		}
		c := *e
		if f := foldOf[c.From]; f != nil {
			c.From = f.ID
		}
		if f := foldOf[c.To]; f != nil {
			c.To = f.ID
		}
		if c.Kind == Data {
			if wg, ok := via[c.From]; ok && athenaData[byID[c.To].Type] {
				c.From = wg
			} else if wg, ok := via[c.To]; ok && athenaData[byID[c.From].Type] {
				c.To = wg
			}
		}
		edges.add(&c)
	}
	dropQueryResults(edges, byID)
	orientBoth(edges, byID)

	keep := flowNodes(edges, byID)
	kept := edgeSet{}
	for k, e := range edges {
		to := byID[e.To]
		// A topic is drawn for the alarms that notify it: which runs publish their failures
		// too is in the inventory.
		notification := to.Type == "AWS::SNS::Topic" && e.Kind != Data && !strings.HasPrefix(e.From, foldPrefix)
		if keep[e.From] && keep[e.To] && !notification {
			kept[k] = e
		}
	}

	nodes := map[string]*Node{}
	for id := range keep {
		c := *byID[id]
		nodes[id] = &c
	}
	foldSchedules(kept, nodes)

	f := &Graph{Stack: g.Stack, Plumbing: g.Plumbing, LeftOut: map[string]int{}, Edges: kept.sorted(), view: flowView}
	for _, n := range g.Nodes {
		if nodes[n.ID] == nil && foldOf[n.ID] == nil && !folded(nodes, n.ID) {
			f.LeftOut[n.Kind]++
		}
	}
	f.ties = append(monitoringRows(nodes), alertTies(nodes)...)
	for _, id := range sortedKeys(nodes) {
		n := nodes[id]
		switch {
		case n.Type == "AWS::SNS::Subscription":
			// The endpoint, the longer, goes in the smaller type.
			n.Name, n.Kind = flowKind(n), n.Name
		case n.Type != MonitoringType:
			n.Kind = flowKind(n)
		}
		f.Nodes = append(f.Nodes, n)
	}
	return f
}

// foldPrefix starts the IDs of the flow view's monitoring nodes.
const foldPrefix = "folded:"

// monitoringFolds makes one node of the alarms and dashboards of each top-level construct, and
// maps each of them to its fold.
func monitoringFolds(nodes []*Node) (map[string]*Node, map[string]*Node) {
	folds := map[string]*Node{} // by group
	foldOf := map[string]*Node{}
	count := map[string]map[string]int{}
	for _, n := range nodes {
		noun, ok := monitoringTypes[n.Type]
		if !ok || n.Group == ExternalGroup {
			continue
		}
		f := folds[n.Group]
		if f == nil {
			f = &Node{ID: foldPrefix + n.Group + ":monitoring", Group: n.Group, Name: n.Group, Type: MonitoringType}
			folds[n.Group] = f
			count[n.Group] = map[string]int{}
		}
		f.Folded = append(f.Folded, n.ID)
		count[n.Group][noun]++
		foldOf[n.ID] = f
	}
	for group, f := range folds {
		var parts []string
		for _, noun := range sortedKeys(count[group]) {
			parts = append(parts, plural(count[group][noun], noun))
		}
		f.Kind = strings.Join(parts, ", ")
	}
	return folds, foldOf
}

// inFlow says whether the flow view keeps an arrow of the inventory.
func inFlow(e *Edge, byID map[string]*Node) bool {
	from, to := byID[e.From], byID[e.To]
	switch {
	case from == nil || to == nil:
		return false
	case e.Kind == Ref || e.rank == fromLoose || e.metadata:
		return false
	case e.Kind == DeadLetter && deliveryTypes[from.Type]:
		return false
	case flowHiddenTypes[from.Type] || flowHiddenTypes[to.Type]:
		return false
	}
	return true
}

// athenaCallers maps each function that queries exactly one Athena workgroup to the workgroup.
func athenaCallers(edges []*Edge, byID map[string]*Node) map[string]string {
	out := map[string]string{}
	count := map[string]int{}
	for _, e := range edges {
		from, to := byID[e.From], byID[e.To]
		if e.Kind == Data && from != nil && to != nil &&
			from.Type == "AWS::Lambda::Function" && to.Type == "AWS::Athena::WorkGroup" {
			out[e.From] = e.To
			count[e.From]++
		}
	}
	for fn, n := range count {
		if n > 1 {
			delete(out, fn)
		}
	}
	return out
}

// dropQueryResults removes the arrows of the buckets where Athena workgroups keep their query
// results (their output location), unless something else than a workgroup uses them: a detail
// of Athena.
func dropQueryResults(edges edgeSet, byID map[string]*Node) {
	results := map[string]bool{}
	other := map[string]bool{} // buckets with an arrow from or to something else than a workgroup
	for _, e := range edges {
		from, to := byID[e.From], byID[e.To]
		if from.Type == "AWS::Athena::WorkGroup" && to.Type == "AWS::S3::Bucket" && e.rank == fromProperty {
			results[e.To] = true
		}
		if from.Type != "AWS::Athena::WorkGroup" && to.Type == "AWS::S3::Bucket" {
			other[e.To] = true
		}
		if to.Type != "AWS::Athena::WorkGroup" && from.Type == "AWS::S3::Bucket" {
			other[e.From] = true
		}
	}
	for k, e := range edges {
		if results[e.To] && !other[e.To] {
			delete(edges, k)
		}
	}
}

// orientBoth points a two-way arrow between a store and its user from the store when something
// else writes to the store, so that the picture reads in one direction: the catalog that the
// crawlers write comes before the workgroup that reads and writes it.
func orientBoth(edges edgeSet, byID map[string]*Node) {
	fed := map[string]bool{}
	for _, e := range edges {
		if e.Kind == Data && !e.Both {
			fed[e.To] = true
		}
	}
	for _, e := range edges {
		if e.Kind == Data && e.Both && athenaData[byID[e.To].Type] && !athenaData[byID[e.From].Type] && fed[e.To] {
			e.From, e.To = e.To, e.From
		}
	}
}

// flowNodes are the nodes data flows in or out of, and those that trigger, start or emit the
// events of one of them, then the monitoring nodes, the topics they notify and the topics'
// subscriptions.
func flowNodes(edges edgeSet, byID map[string]*Node) map[string]bool {
	keep := map[string]bool{}
	for _, e := range edges {
		if e.Kind == Data {
			keep[e.From], keep[e.To] = true, true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, e := range edges {
			if (e.Kind == Trigger || e.Kind == Call || e.Kind == Event) && keep[e.To] && !keep[e.From] &&
				!strings.HasPrefix(e.From, foldPrefix) {
				keep[e.From], changed = true, true
			}
		}
	}
	for _, e := range edges {
		if strings.HasPrefix(e.From, foldPrefix) {
			keep[e.From], keep[e.To] = true, true
		}
	}
	for _, e := range edges {
		if keep[e.From] && byID[e.From].Type == "AWS::SNS::Topic" && byID[e.To].Type == "AWS::SNS::Subscription" {
			keep[e.To] = true
		}
	}
	for id := range byID {
		if strings.HasPrefix(id, foldPrefix) {
			keep[id] = true // even without an arrow: it is where the alarms went
		}
	}
	return keep
}

// foldSchedules makes each schedule that only starts one node a line of that node's label.
func foldSchedules(edges edgeSet, nodes map[string]*Node) {
	out := map[string][]*Edge{}
	in := map[string]int{}
	for _, e := range edges {
		out[e.From] = append(out[e.From], e)
		in[e.To]++
	}
	for _, id := range sortedKeys(nodes) {
		n := nodes[id]
		if n.schedule == "" || in[id] > 0 || len(out[id]) != 1 || out[id][0].Kind != Trigger && out[id][0].Kind != Call {
			continue
		}
		e := out[id][0]
		target := nodes[e.To]
		if target.Note != "" {
			continue
		}
		target.Note = n.schedule
		target.Folded = append(target.Folded, id)
		delete(nodes, id)
		for k, x := range edges {
			if x == e {
				delete(edges, k)
			}
		}
	}
}

// monitoringPerRow is how many monitoring nodes stand side by side: more would widen the picture
// past the pipeline beside them.
const monitoringPerRow = 2

// monitoringRows stack the monitoring nodes in rows of monitoringPerRow, each node above the one
// monitoringPerRow after it.
func monitoringRows(nodes map[string]*Node) [][2]string {
	var ids []string
	for _, id := range sortedKeys(nodes) {
		if nodes[id].Type == MonitoringType {
			ids = append(ids, id)
		}
	}
	var ties [][2]string
	for i := monitoringPerRow; i < len(ids); i++ {
		ties = append(ties, [2]string{ids[i-monitoringPerRow], ids[i]})
	}
	return ties
}

// alertTies place the alerts (the monitoring nodes, their topics and subscriptions) above the
// operator CLI: they reach the operator, who acts with it. Nothing else connects them to the
// pipeline, and on their own they would stand beside it and widen the picture.
func alertTies(nodes map[string]*Node) [][2]string {
	var last, clis []string
	for _, typ := range []string{"AWS::SNS::Subscription", "AWS::SNS::Topic", MonitoringType} {
		for _, id := range sortedKeys(nodes) {
			if nodes[id].Type == typ {
				last = append(last, id)
			}
		}
		if len(last) > 0 {
			break
		}
	}
	for _, id := range sortedKeys(nodes) {
		if nodes[id].Type == CLIType {
			clis = append(clis, id)
		}
	}
	var ties [][2]string
	for _, from := range last {
		for _, to := range clis {
			ties = append(ties, [2]string{from, to})
		}
	}
	return ties
}

// folded says whether a node of the inventory is folded into one of nodes.
func folded(nodes map[string]*Node, id string) bool {
	for _, n := range nodes {
		for _, f := range n.Folded {
			if f == id {
				return true
			}
		}
	}
	return false
}

// flowKind is the short name of a node's kind: in the flow view the construct shares the label.
func flowKind(n *Node) string {
	if k, ok := shortKinds[n.Kind]; ok {
		return k
	}
	return n.Kind
}

// notes are the legend's lines on what the picture leaves out, most first.
func (g *Graph) notes() []string {
	var out []string
	if s := countList(g.LeftOut, 0); s != "" {
		out = append(out, "Only in architecture-full.svg: "+s)
	}
	if s := countList(g.Plumbing, 5); s != "" {
		out = append(out, "In neither picture: "+s)
	}
	return out
}

// countList renders counts by kind, most first ("16 IAM roles, 11 log groups"), the first limit
// of them (all if limit is 0) and how many resources the rest are.
func countList(counts map[string]int, limit int) string {
	kinds := sortedKeys(counts)
	sort.SliceStable(kinds, func(i, j int) bool { return counts[kinds[i]] > counts[kinds[j]] })
	var parts []string
	rest := 0
	for i, k := range kinds {
		if limit > 0 && i >= limit {
			rest += counts[k]
			continue
		}
		parts = append(parts, pluralKind(counts[k], k))
	}
	if rest > 0 {
		parts = append(parts, fmt.Sprintf("%d more", rest))
	}
	return strings.Join(parts, ", ")
}

// pluralKind counts a kind whose noun may be followed by a parenthesis: "2 EventBridge rules
// (schedule)".
func pluralKind(n int, kind string) string {
	noun, rest, ok := strings.Cut(kind, " (")
	if ok {
		rest = " (" + rest
	}
	return plural(n, noun) + rest
}
