// Package cw holds what the constructs' Metric methods share.
package cw

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// WithStatistic is a copy of opts (nil: none) with stat as its statistic unless it names one: a
// construct's Metric method gives its metric's natural statistic, and the caller may override it.
func WithStatistic(opts *awscloudwatch.MetricOptions, stat string) *awscloudwatch.MetricOptions {
	out := awscloudwatch.MetricOptions{}
	if opts != nil {
		out = *opts
	}
	if out.Statistic == nil {
		out.Statistic = jsii.String(stat)
	}
	return &out
}
