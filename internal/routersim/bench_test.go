package routersim

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
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
//	go test -run '^$' -bench SimulatedRequest -benchmem ./internal/routersim/
func BenchmarkSimulatedRequest(b *testing.B) {
	o := testRunOptions(&testing.T{}, 1)
	o.Fleet.OutageRate, o.Fleet.ErrorRate = 1, 0.05
	cfg := otlpConfig{ServiceName: "bench", InstanceID: "bench-1", RetryFor: time.Second, MetricInterval: time.Hour, LBEvents: true}
	em, err := newOTLPEmitter(cfg, otlpExporters{spans: discardSpans{}, logs: discardLogs{}, metrics: &memoryMetrics{}})
	if err != nil {
		b.Fatal(err)
	}
	man, err := simmanifest.Create(b.TempDir() + "/m.gz")
	if err != nil {
		b.Fatal(err)
	}
	count := &simmanifest.Counters{}
	f := newFleet(o.Fleet, em, man, count)
	f.register(simmanifest.NewRecorder(man, count))
	w := newWorker(f, 1, 50)
	now := time.Now()
	for i := range w.sessions {
		w.sessions[i] = w.openSession(now)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.request(time.Now())
		w.rec.FlushIfFull()
	}
	b.StopTimer()
	w.rec.Flush()
	_ = em.shutdown(context.Background())
	man.Abort()
}

// BenchmarkSimulatedRequestEvents is BenchmarkSimulatedRequest in -mode
// events: the request's JSON events encoded, batched and posted to a server
// that reads and discards them.
//
//	go test -run '^$' -bench SimulatedRequestEvents -benchmem ./internal/routersim/
func BenchmarkSimulatedRequestEvents(b *testing.B) {
	o := testRunOptions(&testing.T{}, 1)
	o.Fleet.OutageRate, o.Fleet.ErrorRate = 1, 0.05
	em, err := newEventsEmitter(eventsConfig{Endpoint: "http://collector.invalid", ServiceName: "bench", InstanceID: "bench-1",
		RetryFor: time.Second, MetricInterval: time.Hour, Senders: 4, HTTPClient: &http.Client{Transport: discardTransport{}}})
	if err != nil {
		b.Fatal(err)
	}
	man, err := simmanifest.Create(b.TempDir() + "/m.gz")
	if err != nil {
		b.Fatal(err)
	}
	count := &simmanifest.Counters{}
	f := newFleet(o.Fleet, em, man, count)
	f.register(simmanifest.NewRecorder(man, count))
	w := newWorker(f, 1, 50)
	now := time.Now()
	for i := range w.sessions {
		w.sessions[i] = w.openSession(now)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.request(time.Now())
		w.rec.FlushIfFull()
	}
	b.StopTimer()
	w.rec.Flush()
	_ = em.shutdown(context.Background())
	man.Abort()
}

// discardTransport answers every request 200 without a network.
type discardTransport struct{}

func (discardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}
