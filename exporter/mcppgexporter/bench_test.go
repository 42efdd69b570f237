package mcppgexporter

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// benchBatchSize is the rows per committed batch the targets are stated for.
const benchBatchSize = 1000

// benchTraces builds benchBatchSize routing spans with realistic attributes;
// seq makes their ids unique across batches, so every batch takes the fast path.
func benchTraces(seq uint64) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
	rs.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, "router-1")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.EnsureCapacity(benchBatchSize)
	now := time.Now()
	for i := range benchBatchSize {
		span := spans.AppendEmpty()
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], seq)
		binary.BigEndian.PutUint64(tid[8:], uint64(i))
		span.SetTraceID(tid)
		span.SetSpanID(pcommon.SpanID{1, 2, 3, 4, byte(i >> 8), byte(i)})
		span.SetKind(ptrace.SpanKindServer)
		span.SetName("tools/call get_weather")
		start := now.Add(time.Duration(i) * time.Microsecond)
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(42 * time.Millisecond)))
		a := span.Attributes()
		a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		a.PutStr(mcpconv.ToolName, "get_weather")
		a.PutStr(mcpconv.SessionID, "0f8e2a9c-3b1d-4c5e-9f7a-1234567890ab")
		a.PutStr(mcpconv.JSONRPCRequestID, fmt.Sprint(i))
		a.PutStr(mcpconv.ServerKey, "weather-1")
		a.PutStr(mcpconv.Strategy, "round_robin")
		a.PutInt(mcpconv.Attempt, 1)
		a.PutStr(mcpconv.ProtocolVersion, "2025-06-18")
		a.PutStr(mcpconv.NetworkTransport, "tcp")
		a.PutStr(mcpconv.ClientAddress, "10.0.0.7")
		a.PutStr("tenant", "acme")
	}
	return td
}

// percentileMs is the q-quantile of the per-batch times, in milliseconds.
func percentileMs(took []time.Duration, q float64) float64 {
	sorted := append([]time.Duration(nil), took...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return float64(sorted[int(q*float64(len(sorted)-1))].Microseconds()) / 1000
}

// BenchmarkRoutingLogCommit commits, per iteration, one batch of 1,000
// routing spans twice: through the exporter from pdata (mapping, COPY,
// commit) and as a raw pgx CopyFrom of the same, already-mapped rows in one
// transaction into an identical schema, the ceiling the exporter is compared
// with. Interleaving the two exposes both to the same database state and
// machine noise. Reported: rows/s of each, their ratio, and the commit time
// p50/p99 per batch of 1,000 rows of each.
func BenchmarkRoutingLogCommit(b *testing.B) {
	ctx := context.Background()
	seq := uint64(time.Now().UnixNano())

	e, err := newPGExporter(testConfig(testDB.DSN, "bench_exporter"), exportertest.NewNopSettings(metadata.Type))
	require.NoError(b, err)
	require.NoError(b, e.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(b, e.Shutdown(ctx)) }()
	require.NoError(b, e.pushTraces(ctx, benchTraces(seq))) // schema applied, connection warm
	seq++

	conn, err := pgx.Connect(ctx, testDB.DSN)
	require.NoError(b, err)
	defer conn.Close(ctx)
	_, err = schema.Apply(ctx, conn, "bench_raw")
	require.NoError(b, err)
	target := pgx.Identifier{"bench_raw", "routing_log"}
	columns := tables[routingLog].columns
	copyRaw := func(rows [][]any) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, target, columns, pgx.CopyFromRows(rows))
			return err
		})
	}
	var warm rowBatch
	appendTraces(&warm, benchTraces(seq), &payloadOptions{})
	require.NoError(b, copyRaw(warm.rows[routingLog]))

	exporterTook := make([]time.Duration, 0, b.N)
	rawTook := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		seq++
		td := benchTraces(seq)
		var mapped rowBatch
		appendTraces(&mapped, td, &payloadOptions{})
		b.StartTimer()

		t0 := time.Now()
		if err := e.pushTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := copyRaw(mapped.rows[routingLog]); err != nil {
			b.Fatal(err)
		}
		exporterTook = append(exporterTook, t1.Sub(t0))
		rawTook = append(rawTook, time.Since(t1))
	}
	b.StopTimer()
	var exporterTotal, rawTotal time.Duration
	for i := range exporterTook {
		exporterTotal += exporterTook[i]
		rawTotal += rawTook[i]
	}
	rows := float64(b.N * benchBatchSize)
	b.ReportMetric(rows/exporterTotal.Seconds(), "exporter-rows/s")
	b.ReportMetric(rows/rawTotal.Seconds(), "raw-rows/s")
	b.ReportMetric(rawTotal.Seconds()/exporterTotal.Seconds(), "ratio")
	b.ReportMetric(percentileMs(exporterTook, 0.50), "exporter-p50-ms")
	b.ReportMetric(percentileMs(exporterTook, 0.99), "exporter-p99-ms")
	b.ReportMetric(percentileMs(rawTook, 0.50), "raw-p50-ms")
	b.ReportMetric(percentileMs(rawTook, 0.99), "raw-p99-ms")
}

// BenchmarkMapTraces measures the mapping alone (pdata to row values).
func BenchmarkMapTraces(b *testing.B) {
	td := benchTraces(1)
	opts := &payloadOptions{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var batch rowBatch
		appendTraces(&batch, td, opts)
	}
	b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkScreen measures the check of every mapped row for what
// PostgreSQL would refuse and for the event-time window (screen), which
// runs on every batch before COPY; compare with BenchmarkMapTraces.
func BenchmarkScreen(b *testing.B) {
	var mapped rowBatch
	appendTraces(&mapped, benchTraces(1), &payloadOptions{})
	window := createDefaultConfig().(*Config).EventTime
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		batch := rowBatch{rows: mapped.rows}
		batch.rows[routingLog] = append([][]any(nil), mapped.rows[routingLog]...)
		batch.screen(window, now)
		if len(batch.rejected) > 0 {
			b.Fatal(batch.rejected[0].reason)
		}
	}
	b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "rows/s")
}
