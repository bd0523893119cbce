// Package tracing is the one place that knows the tracing backend. Code elsewhere depends on the
// small Tracer interfaces of its own packages (ctas.Tracer, extract.Tracer); XRay implements them
// with AWS X-Ray subsegments, so that a filter expression such as annotation.kpi = "engagement_score" finds every
// run of a KPI and its slowest query. The X-Ray SDK reaches end of support on 2027-02-25: an
// OpenTelemetry implementation of the same interfaces replaces this file, nothing else.
package tracing

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/xray"
)

// XRay opens X-Ray subsegments of the current segment (Lambda's facade segment in a function).
type XRay struct{}

// Start opens a subsegment named name with the given annotations; without a segment in ctx (no
// tracing), it records nothing.
func (XRay) Start(ctx context.Context, name string, annotations map[string]string) (context.Context, func(map[string]string, map[string]any, error)) {
	if xray.GetSegment(ctx) == nil {
		return ctx, func(map[string]string, map[string]any, error) {}
	}
	ctx, seg := xray.BeginSubsegment(ctx, name)
	for k, v := range annotations {
		_ = seg.AddAnnotation(k, v)
	}
	return ctx, func(annotations map[string]string, metadata map[string]any, err error) {
		for k, v := range annotations {
			_ = seg.AddAnnotation(k, v)
		}
		for k, v := range metadata {
			_ = seg.AddMetadata(k, v)
		}
		seg.Close(err)
	}
}

// InstrumentAWS adds an X-Ray subsegment to every call made by clients built from cfg, so a trace
// shows each Athena, Glue and S3 request under the run that made it.
func InstrumentAWS(cfg *aws.Config) {
	awsv2.AWSV2Instrumentor(&cfg.APIOptions)
}
