// Package tracing is the one place that knows the tracing backend. Code elsewhere depends on the
// small Tracer interfaces of its own packages (ctas.Tracer, extract.Tracer); the Lambda mains hand
// them a Backend and call InstrumentAWS once on their AWS SDK configuration.
//
// The default Backend is XRay (xray.go): AWS X-Ray subsegments, so that a filter expression such
// as annotation.kpi = "engagement_score" finds every run of a KPI and its slowest query. Built
// with the tag kpilake_notrace, Backend is None (none.go) and the X-Ray SDK is not linked at all:
// the cold-start benchmark builds both to measure what tracing costs. The X-Ray SDK reaches end of
// support on 2027-02-25: an OpenTelemetry backend is a third file of this package, nothing else.
package tracing

import "context"

// EndFunc closes a span with the annotations learnt while it ran, its metadata and its error (nil
// on success).
type EndFunc = func(annotations map[string]string, metadata map[string]any, err error)

// noEnd is the EndFunc of a span that records nothing.
func noEnd(map[string]string, map[string]any, error) {}

// None records nothing.
type None struct{}

// Start returns ctx unchanged and an EndFunc that does nothing.
func (None) Start(ctx context.Context, _ string, _ map[string]string) (context.Context, EndFunc) {
	return ctx, noEnd
}
