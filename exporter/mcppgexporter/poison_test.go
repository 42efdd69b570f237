package mcppgexporter

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// freshSchema names a schema no earlier run of the test used (-count=N).
func freshSchema(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// routingSpans builds n routed requests (SERVER spans, no failures) that
// started at start, one microsecond apart; edit, when set, changes span i.
func routingSpans(n int, start time.Time, edit func(i int, span ptrace.Span)) ptrace.Traces {
	td, spans := newTestTraces()
	spans.EnsureCapacity(n)
	for i := range n {
		span := spans.AppendEmpty()
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], uint64(start.UnixNano()))
		binary.BigEndian.PutUint64(tid[8:], uint64(i))
		putRoutingSpan(span, tid, pcommon.SpanID{1, 2, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)},
			start.Add(time.Duration(i)*time.Microsecond))
		if edit != nil {
			edit(i, span)
		}
	}
	return td
}

// tableCounts counts the rows of the named tables of schemaName by SQL.
func tableCounts(t *testing.T, schemaName string, names ...string) map[string]int {
	t.Helper()
	pool := testPool(t)
	out := map[string]int{}
	for _, n := range names {
		out[n] = countRows(context.Background(), t, pool, schemaName, n)
	}
	return out
}

// TestPoisonBatchCommitsInBoundedTime is the poison batch of issue #13: one
// request of 5,000 spans, every other one with a NUL byte in its tool name.
// The good half commits and the bad half is recorded in rejected_event
// within a 10 s deadline (the exporter's default timeout is 30 s), and a
// second delivery of the same request changes nothing.
func TestPoisonBatchCommitsInBoundedTime(t *testing.T) {
	const n = 5000
	s := freshSchema("poison")
	e := startDirect(t, s)
	td := routingSpans(n, time.Now().Add(-time.Minute), func(i int, span ptrace.Span) {
		if i%2 == 1 {
			span.Attributes().PutStr(mcpconv.ToolName, "get\x00weather")
		}
	})

	for _, delivery := range []string{"first", "again"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		began := time.Now()
		err := e.pushTraces(ctx, td)
		took := time.Since(began)
		cancel()
		require.NoError(t, err, "%s delivery", delivery)
		t.Logf("%s delivery of %d spans (half with a NUL tool name): %v", delivery, n, took)
		assert.Equal(t, map[string]int{"routing_log": n / 2, "rejected_event": n / 2},
			tableCounts(t, s, "routing_log", "rejected_event"), "%s delivery", delivery)
	}
	var bad int
	require.NoError(t, testPool(t).QueryRow(context.Background(), `SELECT count(*) FROM `+s+`.routing_log WHERE tool_name IS DISTINCT FROM 'get_weather'`).Scan(&bad))
	assert.Zero(t, bad)
}

// TestRowsTheDatabaseRefusesAreIsolatedInBoundedTime spreads rows that
// only PostgreSQL can refuse over a batch: every other span of 2,000 has an
// incompressible 3,000-byte session id, too large for the btree index
// routing_log_request_id_idx (54000). Isolating them takes one pass, not
// one round trip per bad row and level of a bisection.
func TestRowsTheDatabaseRefusesAreIsolatedInBoundedTime(t *testing.T) {
	const n = 2000
	s := freshSchema("refused_spread")
	e := startDirect(t, s)
	big := incompressible(3000)
	td := routingSpans(n, time.Now().Add(-time.Minute), func(i int, span ptrace.Span) {
		if i%2 == 1 {
			span.Attributes().PutStr(mcpconv.SessionID, big)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	require.NoError(t, e.pushTraces(ctx, td))
	t.Logf("%d spans, %d refused by the database: %v", n, n/2, time.Since(began))
	assert.Equal(t, map[string]int{"routing_log": n / 2, "rejected_event": n / 2},
		tableCounts(t, s, "routing_log", "rejected_event"))
	var states []string
	rows, err := testPool(t).Query(context.Background(), `SELECT DISTINCT sqlstate FROM `+s+`.rejected_event`)
	require.NoError(t, err)
	for rows.Next() {
		var st string
		require.NoError(t, rows.Scan(&st))
		states = append(states, st)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"54000"}, states)
}

// TestIsolationGoesOnWhereTheLastAttemptStopped gives the isolate path a
// budget of one chunk per attempt (as a deadline would, on a slow server):
// each attempt commits what it isolated and answers a retryable error, and
// the next one starts after it instead of from the beginning, until the
// batch is done. 3,500 spans, every third one refused by the database.
func TestIsolationGoesOnWhereTheLastAttemptStopped(t *testing.T) {
	const n = 3500
	s := freshSchema("isolate_resume")
	e := startDirect(t, s)
	e.writer.budget = func(context.Context) isolationBudget {
		return func(slowRows int) bool { return slowRows > 0 }
	}
	big := incompressible(3000)
	td := routingSpans(n, testStart, func(i int, span ptrace.Span) {
		if i%3 == 0 {
			span.Attributes().PutStr(mcpconv.SessionID, big)
		}
	})
	bad := (n + 2) / 3
	ctx := context.Background()
	stored := tableCounts(t, s, "routing_log", "rejected_event")
	attempts := 0
	for {
		attempts++
		require.LessOrEqual(t, attempts, n/isolateChunk+2, "the batch is done within one attempt per chunk, and one")
		err := classifyError(e.pushTraces(ctx, td))
		now := tableCounts(t, s, "routing_log", "rejected_event")
		if err == nil {
			break
		}
		require.ErrorIs(t, err, errIsolationIncomplete)
		require.False(t, consumererror.IsPermanent(err), "retried, not dropped")
		assert.Greater(t, now["routing_log"]+now["rejected_event"], stored["routing_log"]+stored["rejected_event"],
			"attempt %d made progress", attempts)
		stored = now
	}
	t.Logf("%d attempts", attempts)
	assert.Greater(t, attempts, 2)
	assert.Equal(t, map[string]int{"routing_log": n - bad, "rejected_event": bad}, tableCounts(t, s, "routing_log", "rejected_event"))
}

// TestPoisonBatchFromDiskAfterRestart queues the poison batch on disk while
// the database is down, restarts the collector side, and brings the
// database back: the batch read back from disk commits its good half and
// records the bad half, instead of stalling again.
func TestPoisonBatchFromDiskAfterRestart(t *testing.T) {
	ctx := context.Background()
	proxy, dsn := pgtest.ProxyFor(t, testDB.DSN, false)
	s := freshSchema("poison_disk")
	cfg := testConfig(dsn, s)
	dir := t.TempDir()

	storage := startFileStorage(t, dir)
	exp := startExporter(t, cfg, storage)
	const n = 5000
	require.NoError(t, exp.ConsumeTraces(ctx, routingSpans(n, testStart, func(i int, span ptrace.Span) {
		if i%2 == 1 {
			span.Attributes().PutStr(mcpconv.ToolName, "get\x00weather")
		}
	})))
	require.NoError(t, exp.Shutdown(ctx))
	require.NoError(t, storage.Shutdown(ctx))

	storage = startFileStorage(t, dir)
	defer func() { require.NoError(t, storage.Shutdown(ctx)) }()
	exp = startExporter(t, cfg, storage)
	defer func() { require.NoError(t, exp.Shutdown(ctx)) }()
	proxy.SetUp(true)
	waitForRows(t, testPool(t), s, map[string]int{"routing_log": n / 2, "rejected_event": n / 2})
}
