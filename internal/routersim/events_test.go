package routersim

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/instrumentation/eventsclient"
	"github.com/mcp-bridge/otelcol-mcp/internal/reconcile"
	"github.com/mcp-bridge/otelcol-mcp/internal/reconcile/reconciletest"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler"
	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver"
)

// TestEventsModeThroughTheReceiver sends a run as NDJSON to the real
// mcpeventsreceiver, stores what it hands on with the mcppg exporter and
// reconciles the manifest against the tables: every event must be valid
// for the receiver and land under the ids the manifest lists.
func TestEventsModeThroughTheReceiver(t *testing.T) {
	ctx := context.Background()
	f := mcpeventsreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*mcpeventsreceiver.Config)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cfg.NetAddr.Endpoint = addr
	traces, logs, metrics := new(consumertest.TracesSink), new(consumertest.LogsSink), new(consumertest.MetricsSink)
	set := receivertest.NewNopSettings(f.Type())
	tr, err := f.CreateTraces(ctx, set, cfg, traces)
	require.NoError(t, err)
	lr, err := f.CreateLogs(ctx, set, cfg, logs)
	require.NoError(t, err)
	mr, err := f.CreateMetrics(ctx, set, cfg, metrics)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.NoError(t, tr.Start(ctx, host))
	require.NoError(t, lr.Start(ctx, host))
	require.NoError(t, mr.Start(ctx, host))
	t.Cleanup(func() {
		assert.NoError(t, tr.Shutdown(ctx))
		assert.NoError(t, lr.Shutdown(ctx))
		assert.NoError(t, mr.Shutdown(ctx))
	})
	waitForHTTP(t, "http://"+addr+eventsclient.EventsPath)

	o := testRunOptions(t, 6000)
	o.Fleet.Rate = 6000
	o.Mode, o.Protocol, o.Endpoint = "events", "", "http://"+addr
	em, err := newEventsEmitter(eventsConfig{Endpoint: o.Endpoint, ServiceName: o.ServiceName, InstanceID: o.InstanceID,
		RetryFor: 10 * time.Second, MetricInterval: time.Hour, Senders: 2})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, simulate(ctx, o, em, &out, io.Discard), out.String())
	t.Log(out.String())
	d := em.delivery()
	assert.Zero(t, d.EventsFailed, d.Errors)

	h, _ := manifestRecords(t, o.Manifest)
	spans := 0
	for _, td := range traces.AllTraces() {
		spans += td.SpanCount()
	}
	assert.Equal(t, h.Kinds["routing"].Sent+h.Kinds["tool_call"].Sent, int64(spans))

	// Store what the receiver produced and reconcile: as received, and
	// after the mcpsampler processor with its default rates.
	received := reconciletest.Run{Manifest: o.Manifest, Traces: mergeTraces(traces.AllTraces()), Logs: mergeLogs(logs.AllLogs()),
		Metrics: mergeMetrics(metrics.AllMetrics())}
	sampled := reconciletest.Run{Manifest: o.Manifest, Traces: ptrace.NewTraces(), Logs: plog.NewLogs(), Metrics: pmetric.NewMetrics()}
	received.Traces.CopyTo(sampled.Traces)
	received.Logs.CopyTo(sampled.Logs)
	received.Metrics.CopyTo(sampled.Metrics)
	sampled.Traces, sampled.Logs = sample(t, sampled.Traces, sampled.Logs)
	for _, tc := range []struct {
		schema string
		run    reconciletest.Run
	}{{"events_mode", received}, {"events_mode_sampled", sampled}} {
		tc.run.Store(t, testDB.DSN, tc.schema)
		sampledKinds, err := reconcile.ParseKindSet(reconcile.DefaultSampled)
		require.NoError(t, err)
		rep, err := reconcile.Run(ctx, reconcile.Options{Manifest: o.Manifest, DSN: testDB.DSN, Schema: tc.schema, Sampled: sampledKinds}, io.Discard)
		require.NoError(t, err)
		var report bytes.Buffer
		rep.Print(&report)
		t.Log("\n" + report.String())
		assert.True(t, rep.OK(), tc.schema)
	}
}

// sample passes the telemetry through an mcpsampler with its defaults.
func sample(t *testing.T, td ptrace.Traces, ld plog.Logs) (ptrace.Traces, plog.Logs) {
	t.Helper()
	ctx := context.Background()
	f := mcpsampler.NewFactory()
	set := processortest.NewNopSettings(f.Type())
	traces, logs := new(consumertest.TracesSink), new(consumertest.LogsSink)
	tp, err := f.CreateTraces(ctx, set, f.CreateDefaultConfig(), traces)
	require.NoError(t, err)
	lp, err := f.CreateLogs(ctx, set, f.CreateDefaultConfig(), logs)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.NoError(t, tp.Start(ctx, host))
	require.NoError(t, lp.Start(ctx, host))
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	require.NoError(t, lp.ConsumeLogs(ctx, ld))
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	return mergeTraces(traces.AllTraces()), mergeLogs(logs.AllLogs())
}

func waitForHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		require.True(t, time.Now().Before(deadline), "receiver not listening: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

func mergeTraces(all []ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	for _, td := range all {
		td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
	return out
}

func mergeLogs(all []plog.Logs) plog.Logs {
	out := plog.NewLogs()
	for _, ld := range all {
		ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	return out
}

func mergeMetrics(all []pmetric.Metrics) pmetric.Metrics {
	out := pmetric.NewMetrics()
	for _, md := range all {
		md.ResourceMetrics().MoveAndAppendTo(out.ResourceMetrics())
	}
	return out
}

// TestEventsShutdownHonoursTheFlushDeadline: a receiver that never answers
// holds the run's last batches only until the flush deadline; they count as
// not delivered and shutdown returns then, not after -flush-timeout's retries.
func TestEventsShutdownHonoursTheFlushDeadline(t *testing.T) {
	stuck := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stuck)
	em, err := newEventsEmitter(eventsConfig{Endpoint: srv.URL, ServiceName: "s", InstanceID: "i",
		RetryFor: time.Hour, MetricInterval: time.Hour, Senders: 1})
	require.NoError(t, err)
	em.healthCheck(instrumentation.HealthCheck{ServerKey: "k", Healthy: true})
	em.sessionStart(instrumentation.Session{SessionID: "s1"})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	assert.ErrorIs(t, em.shutdown(ctx), context.DeadlineExceeded)
	assert.Less(t, time.Since(began), 10*time.Second)
	d := em.delivery()
	assert.Equal(t, int64(2), d.EventsFailed)
	assert.Zero(t, d.EventsPosted)
	assert.Equal(t, int64(2), d.Failed())
}
