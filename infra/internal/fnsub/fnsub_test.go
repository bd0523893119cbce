package fnsub

import "testing"

func TestFromJoin(t *testing.T) {
	partition := map[string]any{"Ref": "AWS::Partition"}
	tests := []struct {
		name string
		in   any
		want string
		ok   bool
	}{
		{"a role ARN", map[string]any{"Fn::Join": []any{"", []any{"arn:", partition, ":iam::123456789012:role/cdk-x"}}},
			"arn:${AWS::Partition}:iam::123456789012:role/cdk-x", true},
		{"a string", "arn:aws:iam::123456789012:role/x", "", false},
		{"absent", nil, "", false},
		{"a delimiter", map[string]any{"Fn::Join": []any{":", []any{"a", "b"}}}, "", false},
		{"a GetAtt", map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Fn::GetAtt": []any{"R", "Arn"}}}}}, "", false},
		{"a literal ${", map[string]any{"Fn::Join": []any{"", []any{"${x}", partition}}}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := FromJoin(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("FromJoin = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
