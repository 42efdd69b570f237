package main

import (
	"context"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

type discardLogs struct{}

func (discardLogs) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogs) Shutdown(context.Context) error                { return nil }
func (discardLogs) ForceFlush(context.Context) error              { return nil }

// BenchmarkSimulatedRequest is the generator's cost of one routed request
// (simulation, SDK spans and events, manifest lines) with exporters that
// discard: what bounds the simulator's rate when the collector keeps up.
//
//	go test -run '^$' -bench SimulatedRequest -benchmem ./cmd/mcprouter-sim/
func BenchmarkSimulatedRequest(b *testing.B) {
	o := testRunOptions(&testing.T{}, 1)
	o.fleet.OutageRate, o.fleet.ErrorRate = 1, 0.05
	cfg := otlpConfig{ServiceName: "bench", InstanceID: "bench-1", RetryFor: time.Second, MetricInterval: time.Hour, LBEvents: true}
	em, err := newOTLPEmitter(cfg, otlpExporters{spans: discardSpans{}, logs: discardLogs{}, metrics: &memoryMetrics{}})
	if err != nil {
		b.Fatal(err)
	}
	man, err := createManifest(b.TempDir() + "/m.gz")
	if err != nil {
		b.Fatal(err)
	}
	count := &counters{}
	f := newFleet(o.fleet, em, man, count)
	f.register(newRecorder(man, count))
	w := newWorker(f, 1, 50)
	now := time.Now()
	for i := range w.sessions {
		w.sessions[i] = w.openSession(now)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.request(time.Now())
		w.rec.flushIfFull()
	}
	b.StopTimer()
	w.rec.flush()
	_ = em.shutdown(context.Background())
	man.abort()
}
