package cw

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

func TestWithStatistic(t *testing.T) {
	tests := []struct {
		name string
		opts *awscloudwatch.MetricOptions
		want string
	}{
		{"no options", nil, "Maximum"},
		{"no statistic", &awscloudwatch.MetricOptions{Label: jsii.String("x")}, "Maximum"},
		{"the caller's", &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum")}, "Sum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WithStatistic(tc.opts, "Maximum")
			if *got.Statistic != tc.want {
				t.Errorf("statistic %s, want %s", *got.Statistic, tc.want)
			}
			if tc.opts != nil && tc.opts.Statistic == nil && got == tc.opts {
				t.Error("WithStatistic changed the caller's options")
			}
		})
	}
}
