package cdktest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const policyTemplate = `{"Resources": {
  "Role1": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [
    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:q"}]}}]}},
  "Role2": {"Type": "AWS::IAM::Role", "Properties": {}},
  "Policy1": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Role1"}], "PolicyDocument": {"Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": [{"Fn::GetAtt": ["B", "Arn"]}, "arn:x/*"]},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:x", "Condition": {"StringLike": {"s3:prefix": ["a/*"]}}}]}}},
  "Policy2": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Role2"}], "PolicyDocument": {"Statement": [
    {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}}}
}}`

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPermissions_ExplodesStatementsOfOneRole(t *testing.T) {
	got := Permissions(decode(t, policyTemplate), "Role1")
	want := []string{
		`Allow s3:GetObject "arn:x/*"`,
		`Allow s3:GetObject {"Fn::GetAtt":["B","Arn"]}`,
		`Allow s3:ListBucket "arn:x" if {"StringLike":{"s3:prefix":"a/*"}}`,
		`Allow s3:PutObject "arn:x/*"`,
		`Allow s3:PutObject {"Fn::GetAtt":["B","Arn"]}`,
		`Allow sqs:SendMessage "arn:q"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Permissions(Role1) (-want +got):\n%s", diff)
	}
}

func TestPermissions_FlagsStatementsItCannotExplode(t *testing.T) {
	got := Permissions(decode(t, policyTemplate), "Role2")
	want := []string{`UNEXPECTED {"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Permissions(Role2) (-want +got):\n%s", diff)
	}
}

func TestPermission_TreatsOneValueListAsValue(t *testing.T) {
	a := Permission("Allow", "s3:ListBucket", "arn:x", map[string]any{"StringLike": map[string]any{"s3:prefix": []string{"a/*"}}})
	b := Permission("Allow", "s3:ListBucket", "arn:x", map[string]any{"StringLike": map[string]any{"s3:prefix": "a/*"}})
	if a != b {
		t.Errorf("Permission differs for [\"a/*\"] and \"a/*\":\n%s\n%s", a, b)
	}
}

func TestRecover_ReturnsPanicAsError(t *testing.T) {
	if err := Recover(func() {}); err != nil {
		t.Errorf("Recover(no panic) = %v, want nil", err)
	}
	if err := Recover(func() { panic("boom") }); err == nil || err.Error() != "boom" {
		t.Errorf("Recover(panic(\"boom\")) = %v, want boom", err)
	}
}
