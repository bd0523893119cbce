package ctas

import "context"

// Tracer opens a span (an X-Ray subsegment, an OpenTelemetry span) around one run. The runner
// annotates kpi and date at Start, adds query_id when it ends, and records bytes_scanned and
// engine_time_ms as metadata. lambdas/tracing implements it with X-Ray.
type Tracer interface {
	Start(ctx context.Context, name string, annotations map[string]string) (context.Context, EndFunc)
}

// EndFunc closes a span with the annotations learnt while it ran, its metadata and its error (nil on
// success). It is an alias, so one tracer implementation serves every package's Tracer interface.
type EndFunc = func(annotations map[string]string, metadata map[string]any, err error)

// NopTracer records nothing.
type NopTracer struct{}

// Start returns ctx and an EndFunc that does nothing.
func (NopTracer) Start(ctx context.Context, _ string, _ map[string]string) (context.Context, EndFunc) {
	return ctx, func(map[string]string, map[string]any, error) {}
}
