package mcppgexporter

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// telemetryOfEveryTable builds traces, logs and metrics that give every
// table rows with every column type; bad adds to each table one row only
// the database can refuse (an index entry too large, a JSON number beyond
// numeric), which takes the whole batch through the isolate path.
func telemetryOfEveryTable(bad bool) (ptrace.Traces, plog.Logs, pmetric.Metrics) {
	huge := incompressible(20000)
	td := routerTraces(0, 40)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := range spans.Len() {
		if span := spans.At(i); span.Kind() == ptrace.SpanKindClient {
			span.Attributes().PutStr(mcpconv.ToolArguments, `{"city":"Paris","password":"x","n":[1,2.5,{"k":null}]}`)
			span.Attributes().PutStr(mcpconv.ToolResult, "not JSON: "+strconv.Itoa(i))
		}
	}
	// Extra spans whose rows are refused exist only in the bad batch;
	// the one with a refused payload in both (its call row is good).
	extra := func(kind ptrace.SpanKind, id byte, always bool, edit func(pcommon.Map)) {
		if !bad && !always {
			return
		}
		span := spans.AppendEmpty()
		span.SetTraceID(pcommon.TraceID{0xee, id, 15: 1})
		span.SetSpanID(pcommon.SpanID{0xee, id})
		span.SetKind(kind)
		span.SetName("extra")
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Millisecond)))
		span.Attributes().PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		if bad {
			edit(span.Attributes())
		}
	}
	extra(ptrace.SpanKindServer, 1, false, func(a pcommon.Map) { a.PutStr(mcpconv.ServerKey, huge) })
	extra(ptrace.SpanKindClient, 2, false, func(a pcommon.Map) { a.PutStr(mcpconv.ToolName, huge) })
	extra(ptrace.SpanKindClient, 3, true, func(a pcommon.Map) { a.PutStr(mcpconv.ToolArguments, `{"n":1e1000000}`) })
	extra(ptrace.SpanKindInternal, 4, false, func(a pcommon.Map) { a.PutStr(mcpconv.ErrorType, huge) })

	ld, records := newTestLogs()
	at := func(i int) time.Time { return testStart.Add(time.Duration(i) * time.Second) }
	for i := range 20 {
		id := strconv.Itoa(i)
		hc := putEvent(records, mcpconv.EventHealthCheck, "hc-"+id, at(i))
		hc.Attributes().PutStr(mcpconv.ServerKey, "weather-"+strconv.Itoa(i%3))
		hc.Attributes().PutStr(mcpconv.HealthStatus, []string{mcpconv.HealthHealthy, "unhealthy"}[i%2])
		hc.Attributes().PutDouble(mcpconv.HealthLatency, float64(i)/1000)
		lb := putEvent(records, mcpconv.EventLBDecision, "lb-"+id, at(i))
		lb.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		switch i % 3 {
		case 0:
			_ = lb.Attributes().PutEmptySlice(mcpconv.LBCandidates).FromRaw([]any{"weather-1", "weather-2"}) // strings only: cannot fail
		case 1:
			lb.Attributes().PutEmptySlice(mcpconv.LBCandidates) // an empty text[]
		}
		br := putEvent(records, mcpconv.EventBreakerStateChange, "br-"+id, at(i))
		br.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		br.Attributes().PutStr(mcpconv.BreakerToState, "open")
		br.Attributes().PutInt(mcpconv.BreakerFailureCount, int64(i))
		reg := putEvent(records, []string{mcpconv.EventServerRegistered, mcpconv.EventServerHealthChanged,
			mcpconv.EventServerDeregistered}[i%3], "", at(i))
		reg.Attributes().PutStr(mcpconv.ServerKey, "weather-"+strconv.Itoa(i%4))
		reg.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
		_ = reg.Attributes().PutEmptySlice(mcpconv.ServerTools).FromRaw([]any{"get_weather", "tool " + id}) // strings only: cannot fail
		sess := putEvent(records, []string{mcpconv.EventSessionStart, mcpconv.EventSessionStats, mcpconv.EventSessionEnd}[i%3], "", at(i))
		sess.Attributes().PutStr(mcpconv.SessionID, "sess-"+strconv.Itoa(i%5))
		sess.Attributes().PutInt(mcpconv.SessionRequestCount, int64(i))
		errRec := putEvent(records, mcpconv.EventError, "err-"+id, at(i))
		errRec.SetSeverityNumber(plog.SeverityNumberError)
		errRec.Body().SetStr("failure " + id)
	}
	if bad {
		for _, ev := range []struct{ name, key string }{
			{mcpconv.EventHealthCheck, mcpconv.ServerKey}, {mcpconv.EventLBDecision, mcpconv.ServerKey},
			{mcpconv.EventBreakerStateChange, mcpconv.ServerKey}, {mcpconv.EventServerRegistered, mcpconv.ServerKey},
			{mcpconv.EventSessionStart, mcpconv.SessionID}, {mcpconv.EventError, mcpconv.ServerKey},
		} {
			lr := putEvent(records, ev.name, "bad", at(30))
			lr.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
			lr.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
			lr.Attributes().PutStr(mcpconv.BreakerToState, "open")
			lr.Attributes().PutStr(mcpconv.SessionID, "sess-1")
			lr.Attributes().PutStr(ev.key, huge)
		}
	}

	md, ms := newTestMetrics()
	for i := range 20 {
		putHistogram(ms, mcpconv.MetricClientOperationDuration, pmetric.AggregationTemporalityCumulative,
			testStart, at(i), []uint64{uint64(i), 2, 0, 1}, float64(i), map[string]string{mcpconv.ServerKey: "weather-1"})
	}
	if bad {
		putHistogram(ms, huge, pmetric.AggregationTemporalityDelta, testStart, at(30), []uint64{1}, 1, nil)
	}
	return td, ld, md
}

// tableContents is every row of every table but rejected_event, as JSON text, sorted.
func tableContents(t *testing.T, schemaName string) map[string][]string {
	t.Helper()
	pool := testPool(t)
	out := map[string][]string{}
	for _, tbl := range tables {
		rows, err := pool.Query(context.Background(), `SELECT to_jsonb(t)::text FROM `+schemaName+`.`+tbl.name+` t ORDER BY 1`)
		require.NoError(t, err)
		for rows.Next() {
			var js string
			require.NoError(t, rows.Scan(&js))
			out[tbl.name] = append(out[tbl.name], js)
		}
		require.NoError(t, rows.Err())
	}
	return out
}

// TestIsolatePathWritesWhatTheFastPathWrites writes the same telemetry once
// without bad rows (every table by the fast path) and once with one bad row
// per table (every table by the isolate path): the stored rows are equal
// column by column, text arrays, jsonb and the upserts' merge included, and
// each bad row is in rejected_event with the database's reason.
func TestIsolatePathWritesWhatTheFastPathWrites(t *testing.T) {
	ctx := context.Background()
	contents := map[bool]map[string][]string{}
	for _, bad := range []bool{false, true} {
		s := freshSchema("isolate_equal")
		e := startDirect(t, s)
		e.payloads = newPayloadOptions(ToolPayloadsConfig{Enabled: true, RedactKeys: []string{"password"}})
		td, ld, md := telemetryOfEveryTable(bad)
		require.NoError(t, e.pushTraces(ctx, td))
		require.NoError(t, e.pushLogs(ctx, ld))
		require.NoError(t, e.pushMetrics(ctx, md))
		contents[bad] = tableContents(t, s)
		if !bad {
			assert.Zero(t, tableCounts(t, s, "rejected_event")["rejected_event"])
			continue
		}
		var got []refusal
		for _, r := range rejectedReasons(t, s) {
			r.Reason = r.Reason[:min(len(r.Reason), 18)] // the sizes differ by index
			got = append(got, r)
		}
		assert.ElementsMatch(t, []refusal{
			{Table: "routing_log", SQLState: "54000", Reason: "index row requires"},
			{Table: "tool_call_record", SQLState: "54000", Reason: "index row requires"},
			{Table: "tool_call_payload", SQLState: "22003", Reason: "value overflows nu"},
			{Table: "error_log", SQLState: "54000", Reason: "index row requires"},
			{Table: "health_check_record", SQLState: "54000", Reason: "index row requires"},
			{Table: "lb_decision", SQLState: "54000", Reason: "index row requires"},
			{Table: "circuit_breaker_event", SQLState: "54000", Reason: "index row requires"},
			{Table: "mcp_server", SQLState: "54000", Reason: "index row requires"},
			{Table: "session_record", SQLState: "54000", Reason: "index row requires"},
			{Table: "error_log", SQLState: "54000", Reason: "index row requires"},
			{Table: "metric_point", SQLState: "54000", Reason: "index row requires"},
		}, got)
	}
	for _, tbl := range tables {
		assert.NotEmpty(t, contents[false][tbl.name], tbl.name)
		assert.Equal(t, contents[false][tbl.name], contents[true][tbl.name], tbl.name)
	}
}
