package mcpsampler

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// BenchmarkSpan is the cost of deciding one span (ns/op = ns per span),
// on one reused span; the tracestate is reset before each decision.
func BenchmarkSpan(b *testing.B) {
	keptAt10 := traceIDWithRandomness(1<<56 - 1)
	droppedAt10 := traceIDWithRandomness(0)
	tests := []struct {
		name       string
		rates      map[string]float64
		traceID    pcommon.TraceID
		traceState string
		failed     bool
	}{
		{name: "kept unchanged: routing at 100%", traceID: keptAt10},
		{name: "kept unchanged: failure", rates: map[string]float64{"routing": 10}, traceID: droppedAt10, failed: true},
		{name: "dropped: routing at 10%", rates: map[string]float64{"routing": 10}, traceID: droppedAt10},
		{name: "kept at 10%: tracestate written", rates: map[string]float64{"routing": 10}, traceID: keptAt10},
		{name: "kept at 10%: upstream tracestate rewritten", rates: map[string]float64{"routing": 10},
			traceID: keptAt10, traceState: "congo=t61rcWkgMzE,ot=th:8"},
		{name: "kept at 10%: stricter upstream unchanged", rates: map[string]float64{"routing": 10},
			traceID: keptAt10, traceState: "ot=th:fd70a3d70a3d71"},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			s := newSampler(testConfig(b, tt.rates))
			_, resource, spans := newSpans()
			span := routingSpan(spans, tt.traceID)
			if tt.failed {
				span.Status().SetCode(ptrace.StatusCodeError)
			}
			ts := span.TraceState()
			b.ReportAllocs()
			for b.Loop() {
				ts.FromRaw(tt.traceState)
				s.sampleSpan(span, resource)
			}
		})
	}
}

// BenchmarkLog is BenchmarkSpan for log records (ns/op = ns per record):
// healthy health checks at the default 10%, decided by each source of
// randomness; the record's event.id or timestamp is chosen so that it is
// kept or dropped as the case says.
func BenchmarkLog(b *testing.B) {
	tests := []struct {
		name   string
		source string
		keep   bool
		failed bool
	}{
		{name: "kept unchanged: failed health check", source: "event.id", keep: true, failed: true},
		{name: "kept at 10%: by trace id", source: "trace id", keep: true},
		{name: "dropped: by trace id", source: "trace id"},
		{name: "kept at 10%: by event.id", source: "event.id", keep: true},
		{name: "dropped: by event.id", source: "event.id"},
		{name: "kept at 10%: by content hash", source: "content", keep: true},
		{name: "dropped: by content hash", source: "content"},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			s := newSampler(testConfig(b, nil))
			_, resource, records := newRecords()
			status := mcpconv.HealthHealthy
			if tt.failed {
				status = mcpconv.HealthUnhealthy
			}
			lr := healthCheck(records, status)
			attrs := lr.Attributes()
			for i := 0; ; i++ {
				switch tt.source {
				case "trace id":
					lr.SetTraceID(traceIDWithRandomness(uint64(i) << 52))
				case "event.id":
					attrs.PutStr(mcpconv.EventID, "hc-"+strconv.Itoa(i))
				case "content":
					lr.SetTimestamp(pcommon.Timestamp(1795651200000000000 + i))
				}
				attrs.Remove(mcpconv.SamplingThreshold)
				if _, keep := s.sampleLog(lr, resource); keep == tt.keep {
					break
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				attrs.Remove(mcpconv.SamplingThreshold)
				s.sampleLog(lr, resource)
			}
		})
	}
}

const benchBatch = 1000

// BenchmarkProcessTraces runs batches of 1,000 spans with random trace ids
// through the processor (processorhelper included) and reports ns per span.
// At the default rates every routing span is kept unchanged, so the batch is
// reused; at 10% each batch is a fresh copy, made with the timer stopped.
func BenchmarkProcessTraces(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	template, _, spans := newSpans()
	for range benchBatch {
		routingSpan(spans, randomTraceID(rng))
	}
	for _, pct := range []float64{100, 10} {
		b.Run("routing at "+strconv.FormatFloat(pct, 'g', -1, 64)+"%", func(b *testing.B) {
			p := startTraces(b, testConfig(b, map[string]float64{"routing": pct}), nopSettings(), consumertest.NewNop())
			ctx := context.Background()
			td := ptrace.NewTraces()
			template.CopyTo(td)
			b.ReportAllocs()
			for b.Loop() {
				if pct < 100 {
					b.StopTimer()
					template.CopyTo(td)
					b.StartTimer()
				}
				if err := p.ConsumeTraces(ctx, td); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchBatch, "ns/span")
		})
	}
}

// BenchmarkProcessLogs is BenchmarkProcessTraces for 1,000 healthy health
// checks, decided by event.id at the default 10%.
func BenchmarkProcessLogs(b *testing.B) {
	template, _, records := newRecords()
	for i := range benchBatch {
		healthCheck(records, mcpconv.HealthHealthy).Attributes().PutStr(mcpconv.EventID, "hc-"+strconv.Itoa(i))
	}
	p := startLogs(b, testConfig(b, nil), nopSettings(), consumertest.NewNop())
	ctx := context.Background()
	ld := plog.NewLogs()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		template.CopyTo(ld)
		b.StartTimer()
		if err := p.ConsumeLogs(ctx, ld); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchBatch, "ns/record")
}
