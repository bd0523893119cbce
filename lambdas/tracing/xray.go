//go:build !kpilake_notrace

package tracing

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/xray"
)

// Backend is the tracer the Lambda mains use: X-Ray.
type Backend = XRay

// XRay opens X-Ray subsegments of the current segment (Lambda's facade segment in a function).
type XRay struct{}

// Start opens a subsegment named name with the given annotations; without a segment in ctx (no
// tracing), it records nothing.
func (XRay) Start(ctx context.Context, name string, annotations map[string]string) (context.Context, EndFunc) {
	if xray.GetSegment(ctx) == nil {
		return ctx, noEnd
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
