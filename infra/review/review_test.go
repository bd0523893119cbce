package review

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// snapshot is the committed prod snapshot, the realistic input of every case.
func snapshot(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "test", "testdata", "KpiLake-prod.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// withSources is the prod snapshot with its sources' nested stacks' resources added, so that the
// cases find every kind of resource (the functions in a VPC are a source's) in one template.
func withSources(t *testing.T) []byte {
	t.Helper()
	var tmpl map[string]any
	if err := json.Unmarshal(snapshot(t), &tmpl); err != nil {
		t.Fatal(err)
	}
	nested, _ := filepath.Glob(filepath.Join("..", "..", "test", "testdata", "KpiLakeprodSource*.nested.template.json"))
	if len(nested) == 0 {
		t.Fatal("no nested source snapshot of prod")
	}
	res := tmpl["Resources"].(map[string]any)
	for _, f := range nested {
		var n struct{ Resources map[string]any }
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &n); err != nil {
			t.Fatal(err)
		}
		for id, r := range n.Resources {
			res[id] = r
		}
	}
	raw, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Normalize(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// edit returns withSources after f changed its resources.
func edit(t *testing.T, f func(res map[string]any)) []byte {
	t.Helper()
	var tmpl map[string]any
	if err := json.Unmarshal(withSources(t), &tmpl); err != nil {
		t.Fatal(err)
	}
	f(tmpl["Resources"].(map[string]any))
	raw, _ := json.Marshal(tmpl)
	out, err := Normalize(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// first returns the logical ID of the first resource of type typ, in ID order.
func first(res map[string]any, typ string) string {
	for _, id := range sortedKeys(res) {
		if res[id].(map[string]any)["Type"] == typ {
			return id
		}
	}
	panic("no " + typ)
}

func props(res map[string]any, id string) map[string]any {
	return res[id].(map[string]any)["Properties"].(map[string]any)
}

func TestNormalize_SnapshotIsItsOwnNormalForm(t *testing.T) {
	snap := snapshot(t)
	got, err := Normalize(snap)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(snap) {
		t.Error("Normalize changed a committed snapshot; the snapshots and make diff must share one form")
	}
}

// A template as `cdk synth` writes it (construct paths, asset metadata, real hashes, the version
// resource, a real account) normalizes to the snapshot.
func TestNormalize_CLIOutputEqualsTheSnapshot(t *testing.T) {
	var tmpl map[string]any
	if err := json.Unmarshal(snapshot(t), &tmpl); err != nil {
		t.Fatal(err)
	}
	res := tmpl["Resources"].(map[string]any)
	for id, r := range res {
		r := r.(map[string]any)
		md, _ := r["Metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
			r["Metadata"] = md
		}
		md["aws:cdk:path"] = "KpiLake-prod/" + id + "/Resource"
		if r["Type"] == "AWS::Lambda::Function" {
			md["aws:asset:path"] = "asset.0123"
			md["aws:asset:property"] = "Code"
		}
	}
	res["CDKMetadata"] = map[string]any{"Type": "AWS::CDK::Metadata", "Properties": map[string]any{"Analytics": "v2:deflate64:abc"}}
	raw, _ := json.Marshal(tmpl)
	cli := strings.ReplaceAll(string(raw), "ASSET_HASH", strings.Repeat("ab", 32))
	cli = strings.ReplaceAll(cli, Account, "210987654321")
	got, err := NormalizeAccount([]byte(cli), "210987654321")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Diff("KpiLake-prod", snapshot(t), got)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		var b strings.Builder
		_ = d.WriteText(&b)
		t.Errorf("CLI output differs from the snapshot after normalization:\n%s", b.String())
	}
}

func TestDiff_Kinds(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(res map[string]any)
		summary     string
		mark        string // a line the text must have
		replacement Replacement
		widens      bool
	}{
		{"in-place property", func(res map[string]any) {
			props(res, first(res, "AWS::Lambda::Function"))["Timeout"] = 61
		}, "0 added, 1 changed, 0 replaced, 0 removed; IAM: no change; security groups: no change",
			"    [~] Timeout: ", NoReplacement, false},
		{"create-only property", func(res map[string]any) {
			props(res, first(res, "AWS::Athena::WorkGroup"))["Name"] = "Other"
		}, "0 added, 0 changed, 1 replaced, 0 removed", `(requires replacement)`, Replaces, false},
		{"create-only property below", func(res map[string]any) {
			props(res, first(res, "AWS::SQS::Queue"))["FifoQueue"] = true
		}, "0 added, 0 changed, 1 replaced, 0 removed", `[+] FifoQueue: (absent) -> true (requires replacement)`, Replaces, false},
		{"removed resource", func(res map[string]any) {
			delete(res, first(res, "AWS::CloudWatch::Alarm"))
		}, "0 added, 0 changed, 0 replaced, 1 removed", "[-] AWS::CloudWatch::Alarm ", NoReplacement, false},
		{"added statement widens", func(res map[string]any) {
			doc := props(res, first(res, "AWS::IAM::Policy"))["PolicyDocument"].(map[string]any)
			doc["Statement"] = append(doc["Statement"].([]any), map[string]any{"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
		}, "0 added, 1 changed, 0 replaced, 0 removed; IAM: 1 statement added, 0 removed; security groups: no change; widens permissions",
			`[+] `, NoReplacement, true},
		{"removed statement narrows", func(res map[string]any) {
			doc := props(res, first(res, "AWS::IAM::Policy"))["PolicyDocument"].(map[string]any)
			doc["Statement"] = doc["Statement"].([]any)[1:]
		}, "IAM: 0 statements added, 1 removed; security groups: no change", `[-] `, NoReplacement, false},
		{"added ingress rule", func(res map[string]any) {
			res["Open"] = map[string]any{"Type": "AWS::EC2::SecurityGroupIngress", "Properties": map[string]any{
				"GroupId": "sg-0123456789abcdef0", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}}
		}, "1 added, 0 changed, 0 replaced, 0 removed; IAM: no change; security groups: 1 rule added, 0 removed; widens permissions",
			`[+] Open ingress {"CidrIp":"0.0.0.0/0"`, NoReplacement, true},
		{"function moved to another security group", func(res map[string]any) {
			for _, id := range sortedKeys(res) {
				p, _ := res[id].(map[string]any)["Properties"].(map[string]any)
				if vpc, ok := p["VpcConfig"].(map[string]any); ok {
					vpc["SecurityGroupIds"] = []any{"sg-0fedcba9876543210"}
					return
				}
			}
			panic("no function in a VPC")
		}, "0 added, 1 changed, 0 replaced, 0 removed", "[~] VpcConfig.SecurityGroupIds.0:", NoReplacement, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Diff("KpiLake-prod", withSources(t), edit(t, tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			if err := d.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(d.Summary(), tc.summary) {
				t.Errorf("summary %q lacks %q", d.Summary(), tc.summary)
			}
			if !strings.Contains(text.String(), tc.mark) {
				t.Errorf("text lacks %q:\n%s", tc.mark, text.String())
			}
			if len(d.Resources) != 1 {
				t.Fatalf("%d entries changed, want 1:\n%s", len(d.Resources), text.String())
			}
			if r := d.Resources[0]; r.Kind == Changed || r.Kind == Replaced {
				if got := r.Changes[0].Replacement; got != tc.replacement {
					t.Errorf("replacement = %d, want %d", got, tc.replacement)
				}
			}
			if d.Widens() != tc.widens {
				t.Errorf("Widens() = %v, want %v", d.Widens(), tc.widens)
			}
			if strings.Contains(tc.name, "security group") && !d.Resources[0].SecurityGroup {
				t.Error("a change of SecurityGroupIds is not marked as a security-group change")
			}
		})
	}
}

// Every resource type the stacks use has known replacement rules: a new type without them would
// print "may be replaced" until `go generate ./infra/review` runs.
func TestCreateOnly_KnowsEveryTypeOfTheSnapshots(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "test", "testdata", "*.template.json"))
	if len(files) == 0 {
		t.Fatal("no snapshots found")
	}
	for _, f := range files {
		var tmpl struct {
			Resources map[string]struct{ Type string }
		}
		data, _ := os.ReadFile(f)
		if err := json.Unmarshal(data, &tmpl); err != nil {
			t.Fatal(err)
		}
		for id, r := range tmpl.Resources {
			if !KnowsType(r.Type) {
				t.Errorf("%s: %s has type %s, unknown to createonly.json; run go generate ./infra/review", filepath.Base(f), id, r.Type)
			}
		}
	}
	if replacement("AWS::S3::Bucket", []string{"BucketName"}) != Replaces || replacement("AWS::S3::Bucket", []string{"Tags", "0"}) != NoReplacement {
		t.Error("S3 BucketName must replace the bucket and Tags must not")
	}
}

func TestWriteMarkdown_OneCommentWithTheMarkerAndEveryStack(t *testing.T) {
	same, err := Diff("KpiLake-dev", snapshot(t), snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := Diff("KpiLake-prod", withSources(t), edit(t, func(res map[string]any) {
		doc := props(res, first(res, "AWS::IAM::Policy"))["PolicyDocument"].(map[string]any)
		doc["Statement"] = append(doc["Statement"].([]any), map[string]any{"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
	}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, "base `main` against this pull request", []*StackDiff{same, changed}); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{CommentMarker + "\n", "| KpiLake-dev | 0 | 0 | 0 | 0 | no change | no change |",
		"| KpiLake-prod | 0 | 1 | 0 | 0 | **+1** / -0 (widens) | no change |", "**KpiLake-dev**: no differences.",
		"<details><summary>KpiLake-prod: 0 added, 1 changed"} {
		if !strings.Contains(md, want) {
			t.Errorf("comment lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(md, "```")%2 != 0 {
		t.Errorf("unbalanced code fences:\n%s", md)
	}
}

func TestWriteMarkdown_CutsALongDiffToWhatACommentHolds(t *testing.T) {
	d, err := Diff("KpiLake-prod", nil, snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	d.Resources = append(d.Resources, ResourceDiff{Section: "Resources", ID: "Big", Type: "AWS::SSM::Parameter", Kind: Changed,
		Changes: []Change{{Path: "Value", Old: ptr(any(strings.Repeat("a\n", 40000))), New: ptr(any("b"))}}})
	var b strings.Builder
	if err := WriteMarkdown(&b, "", []*StackDiff{d}); err != nil {
		t.Fatal(err)
	}
	if n := b.Len(); n > 65536 {
		t.Errorf("comment is %d characters; GitHub takes 65,536", n)
	}
	if !regexp.MustCompile("make diff. locally").MatchString(b.String()) || strings.Count(b.String(), "```")%2 != 0 {
		t.Errorf("a cut comment must close its fence and say where the rest is; ends:\n%s", b.String()[b.Len()-300:])
	}
}

func ptr(v any) *any { return &v }

// A CDK Pipelines publishing step names each asset's destination by a hash that changes with the
// asset's content, as the asset hash does: both normalize away, the account and region stay.
func TestNormalize_AssetDestinationsOfAPipeline(t *testing.T) {
	cmd := func(hash, dest string) []byte {
		return []byte(`{"Resources": {"P": {"Type": "AWS::CodeBuild::Project", "Properties": {"BuildSpec": "cdk-assets publish \"` +
			hash + `:123456789012-ap-northeast-1-` + dest + `\""}}}}`)
	}
	a, err := Normalize(cmd(strings.Repeat("ab", 32), "b8b4c1c0"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Normalize(cmd(strings.Repeat("cd", 32), "4f2f5b90"))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("two contents of one asset normalize apart:\n%s\n%s", a, b)
	}
	if want := "ASSET_HASH:123456789012-ap-northeast-1-DESTINATION"; !strings.Contains(string(a), want) {
		t.Errorf("normalized %s, want it to contain %s", a, want)
	}
}
