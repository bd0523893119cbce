package tracing_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/xray"

	"github.com/kpilake/kpilake/lambdas/tracing"
)

// segments listens like the X-Ray daemon on a loopback UDP port and returns what it receives.
func segments(t *testing.T) (addr string, recv func() []map[string]any) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String(), func() []map[string]any {
		var out []map[string]any
		buf := make([]byte, 64<<10)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return out
			}
			// Each datagram is a header line, then the document.
			_, doc, _ := strings.Cut(string(buf[:n]), "\n")
			var m map[string]any
			if json.Unmarshal([]byte(doc), &m) == nil {
				out = append(out, m)
			}
		}
	}
}

func TestXRay_SubsegmentCarriesAnnotationsAndMetadata(t *testing.T) {
	addr, recv := segments(t)
	if err := xray.Configure(xray.Config{DaemonAddr: addr, ServiceVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	ctx, root := xray.BeginSegment(context.Background(), "aggregate")
	_, end := tracing.XRay{}.Start(ctx, "ctas", map[string]string{"kpi": "engagement_score", "date": "2026-11-24"})
	end(map[string]string{"query_id": "q-123"}, map[string]any{"bytes_scanned": 2048, "engine_time_ms": 1500}, errors.New("boom"))
	root.Close(nil)

	var sub map[string]any
	for _, seg := range recv() {
		for _, s := range asList(seg["subsegments"]) {
			if m, ok := s.(map[string]any); ok && m["name"] == "ctas" {
				sub = m
			}
		}
		if seg["name"] == "ctas" {
			sub = seg
		}
	}
	if sub == nil {
		t.Fatal("no ctas subsegment reached the daemon address")
	}
	ann, _ := sub["annotations"].(map[string]any)
	for k, v := range map[string]string{"kpi": "engagement_score", "date": "2026-11-24", "query_id": "q-123"} {
		if ann[k] != v {
			t.Errorf("annotation %s = %v, want %s", k, ann[k], v)
		}
	}
	meta, _ := sub["metadata"].(map[string]any)
	def, _ := meta["default"].(map[string]any)
	if def["bytes_scanned"] != float64(2048) || def["engine_time_ms"] != float64(1500) {
		t.Errorf("metadata %v, want bytes_scanned and engine_time_ms", meta)
	}
	if sub["fault"] != true && sub["error"] != true {
		t.Errorf("subsegment does not record the error: %v", sub)
	}
}

func TestXRay_WithoutASegmentRecordsNothing(t *testing.T) {
	ctx, end := tracing.XRay{}.Start(context.Background(), "ctas", map[string]string{"kpi": "x"})
	end(nil, nil, nil)
	if xray.GetSegment(ctx) != nil {
		t.Error("a segment appeared without tracing")
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
