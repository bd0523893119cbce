package review_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/review"
)

// nestedFiles is a parent with one nested stack whose function takes the parent's bucket as a
// parameter, and whose role the parent's policy names through an output.
func nestedFiles(t *testing.T) map[string][]byte {
	t.Helper()
	nested := `{"Parameters":{"referencetoBucketArn":{"Type":"String"}},
	 "Resources":{
	  "Role1":{"Type":"AWS::IAM::Role","Properties":{}},
	  "Fn1":{"Type":"AWS::Lambda::Function","DependsOn":["Role1"],"Properties":{"Role":{"Fn::GetAtt":["Role1","Arn"]},
	    "Environment":{"Variables":{"BUCKET":{"Ref":"referencetoBucketArn"},"REGION":{"Ref":"AWS::Region"},"SELF":{"Ref":"Role1"}}}}}},
	 "Outputs":{"RoleArnOut":{"Value":{"Fn::GetAtt":["Role1","Arn"]}}}}`
	sum := sha256.Sum256([]byte(nested))
	parent := `{"Resources":{
	  "Bucket":{"Type":"AWS::S3::Bucket"},
	  "SrcNestedStackSrcNestedStackResourceABCD1234":{"Type":"AWS::CloudFormation::Stack","Properties":{
	    "TemplateURL":{"Fn::Join":["",["https://s3.",{"Ref":"AWS::URLSuffix"},"/assets/` + hex.EncodeToString(sum[:]) + `.json"]]},
	    "Parameters":{"referencetoBucketArn":{"Fn::GetAtt":["Bucket","Arn"]}}}},
	  "Policy":{"Type":"AWS::S3::BucketPolicy","DependsOn":["SrcNestedStackSrcNestedStackResourceABCD1234","Bucket"],"Properties":{
	    "Principal":{"Fn::GetAtt":["SrcNestedStackSrcNestedStackResourceABCD1234","Outputs.RoleArnOut"]}}}}}`
	return map[string][]byte{"P.template.json": []byte(parent), "PSrc1234.nested.template.json": []byte(nested)}
}

func TestFlatten_InlinesNestedStacksWithTheirParametersAndOutputsResolved(t *testing.T) {
	out, err := review.Flatten(nestedFiles(t), "P.template.json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Resources": map[string]any{
		"Bucket":   map[string]any{"Type": "AWS::S3::Bucket"},
		"SrcRole1": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{}},
		"SrcFn1": map[string]any{"Type": "AWS::Lambda::Function", "DependsOn": []any{"SrcRole1"}, "Properties": map[string]any{
			"Role": map[string]any{"Fn::GetAtt": []any{"SrcRole1", "Arn"}},
			"Environment": map[string]any{"Variables": map[string]any{
				"BUCKET": map[string]any{"Fn::GetAtt": []any{"Bucket", "Arn"}},
				"REGION": map[string]any{"Ref": "AWS::Region"},
				"SELF":   map[string]any{"Ref": "SrcRole1"},
			}}}},
		"Policy": map[string]any{"Type": "AWS::S3::BucketPolicy", "DependsOn": []any{"Bucket"}, "Properties": map[string]any{
			"Principal": map[string]any{"Fn::GetAtt": []any{"SrcRole1", "Arn"}}}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flattened (-want +got):\n%s", diff)
	}
}

func TestFlatten_FailsWhenANestedTemplateIsMissing(t *testing.T) {
	files := nestedFiles(t)
	delete(files, "PSrc1234.nested.template.json")
	_, err := review.Flatten(files, "P.template.json")
	if err == nil || !strings.Contains(err.Error(), "SrcNestedStackSrcNestedStackResourceABCD1234") {
		t.Errorf("Flatten = %v, want an error naming the nested stack", err)
	}
}
