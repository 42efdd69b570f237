package mcpeventsreceiver

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

// routingNDJSON is n routing events as a router would post them: ids,
// trace context, the usual attributes.
func routingNDJSON(n int) []byte {
	var b bytes.Buffer
	base := time.Date(2025, 6, 18, 12, 0, 0, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(&b, `{"type":"routing","id":"req-%08d","time":"%s","duration_ms":%d.%03d,`+
			`"trace_id":"4bf92f3577b34da6a3ce929d%08x","span_id":"00f067aa%08x","method":"tools/call",`+
			`"tool":"get_weather","session_id":"sess-%d","request_id":%d,"server_key":"weather-%d",`+
			`"strategy":"round_robin","attempt":1,"protocol_version":"2025-06-18","transport":"tcp",`+
			`"client_address":"10.0.0.%d","service_name":"mcp-router"}`+"\n",
			i, base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), 10+i%90, i%1000,
			i, i+1, i%50, i, i%4, i%250)
	}
	return b.Bytes()
}

// BenchmarkDecodeNDJSONRouting measures a request of 1,000 routing events
// from body bytes to pdata ready for the pipeline (decode, validation,
// mapping); events/s is per benchmark goroutine, i.e. per core with -cpu 1.
func BenchmarkDecodeNDJSONRouting(b *testing.B) {
	const events = 1000
	body := routingNDJSON(events)
	d := newDecoder(createDefaultConfig().(*Config).limits(), [numSignals]bool{true, true, true})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d.decode(body, formatNDJSON, time.Now())
		if d.invalidEvents > 0 || d.out.spans != events {
			b.Fatalf("decode: %d invalid, %d spans: %+v", d.invalidEvents, d.out.spans, d.problems)
		}
	}
	b.ReportMetric(float64(b.N)*events/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeJSONArrayMixed measures a JSON array of 1,000 events of
// every type (spans, log events, pool gauges).
func BenchmarkDecodeJSONArrayMixed(b *testing.B) {
	lines := strings.Split(strings.TrimSpace(allTypesNDJSON), "\n")
	events := make([]string, 0, 1000)
	for i := 0; len(events) < 1000; i++ {
		events = append(events, strings.Replace(lines[i%len(lines)], `"id":"`, fmt.Sprintf(`"id":"%d-`, i), 1))
	}
	body := []byte("[" + strings.Join(events, ",\n") + "]")
	d := newDecoder(createDefaultConfig().(*Config).limits(), [numSignals]bool{true, true, true})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d.decode(body, formatJSON, time.Now())
		if d.invalidEvents > 0 {
			b.Fatalf("invalid: %+v", d.problems)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(events))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkServeNDJSONRouting measures the whole handler: admission, body
// read, decode, hand-off to a pipeline that accepts everything, obsreport,
// answer.
func BenchmarkServeNDJSONRouting(b *testing.B) {
	const events = 1000
	body := routingNDJSON(events)
	r, err := newEventsReceiver(createDefaultConfig().(*Config), receivertest.NewNopSettings(metadata.Type))
	require.NoError(b, err)
	r.nextTraces, r.nextLogs, r.nextMetrics = consumertest.NewNop(), consumertest.NewNop(), consumertest.NewNop()
	h := r.admit(http.HandlerFunc(r.serveEvents))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, EventsPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-ndjson")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)*events/b.Elapsed().Seconds(), "events/s")
}

// allTypesNDJSON holds one event of each type.
const allTypesNDJSON = `{"type":"routing","id":"r","time":"2025-06-18T12:00:00.5Z","method":"tools/call","tool":"search","duration_ms":12,"server_key":"w1","session_id":"s1","request_id":7}
{"type":"tool_call","id":"t","time":"2025-06-18T12:00:00.5Z","tool":"search","duration_ms":11,"server_key":"w1","arguments":{"q":"x"}}
{"type":"health_check","id":"h","time":"2025-06-18T12:00:00.5Z","server_key":"w1","health_status":"healthy","latency_ms":3}
{"type":"server_registered","id":"sr","time":"2025-06-18T12:00:00.5Z","server_key":"w1","name":"W","tools":["a","b"]}
{"type":"server_deregistered","id":"sd","time":"2025-06-18T12:00:00.5Z","server_key":"w1"}
{"type":"server_health_changed","id":"sh","time":"2025-06-18T12:00:00.5Z","server_key":"w1","health_status":"unhealthy"}
{"type":"session_start","id":"ss","time":"2025-06-18T12:00:00.5Z","session_id":"s1","transport":"sse"}
{"type":"session_stats","id":"st","time":"2025-06-18T12:00:00.5Z","session_id":"s1","request_count":3}
{"type":"session_end","id":"se","time":"2025-06-18T12:00:00.5Z","session_id":"s1","close_reason":"done"}
{"type":"lb_decision","id":"lb","time":"2025-06-18T12:00:00.5Z","server_key":"w1","candidates":["w1","w2"]}
{"type":"circuit_breaker_state_change","id":"cb","time":"2025-06-18T12:00:00.5Z","server_key":"w1","to_state":"open"}
{"type":"error","id":"e","time":"2025-06-18T12:00:00.5Z","message":"boom","error_type":"x"}
{"type":"pool_stats","id":"p","time":"2025-06-18T12:00:00.5Z","server_key":"w1","active":1,"idle":2}
`
