package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// scrapeSum adds up the samples of metric on a collector's Prometheus
// endpoint whose label set contains every filter (`name="value"`).
func scrapeSum(t *testing.T, addr, metric string, filters ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		matches := true
		for _, f := range filters {
			matches = matches && strings.Contains(line, f)
		}
		if !matches {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		require.NoError(t, err, line)
		sum += v
	}
	require.NoError(t, sc.Err())
	return sum
}

// spanBatch is one OTLP request of n routed requests, numbered from first.
func spanBatch(first, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := first; i < first+n; i++ {
		s := spans.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{0x9a, 0x7e, byte(i >> 16), byte(i >> 8), byte(i)})
		s.SetSpanID(pcommon.SpanID{1, byte(i >> 16), byte(i >> 8), byte(i)})
		s.SetKind(ptrace.SpanKindServer)
		s.SetName("tools/list")
		s.SetStartTimestamp(ts(time.Duration(i) * time.Microsecond))
		s.SetEndTimestamp(ts(time.Duration(i)*time.Microsecond + time.Millisecond))
		s.Attributes().PutStr(mcpconv.MethodName, "tools/list")
	}
	return td
}

// TestTwoGatewaysOnOneDatabase runs two collectors on one schema, sends them
// 20,000 routed requests split between them with one in ten sent to both (as
// an agent retrying against the other gateway would), and checks that every
// request is stored exactly once and every partition was created once.
func TestTwoGatewaysOnOneDatabase(t *testing.T) {
	schemaName := freshSchema("e2e_gateways")
	metricsA, metricsB := freePort(t), freePort(t)
	a := startCollector(t, schemaName, "MCP_METRICS_PORT="+portOf(metricsA))
	b := startCollector(t, schemaName, "MCP_METRICS_PORT="+portOf(metricsB))
	clients := []ptraceotlp.GRPCClient{ptraceotlp.NewGRPCClient(a.dial(t)), ptraceotlp.NewGRPCClient(b.dial(t))}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const batches, perBatch = 200, 100
	var wg sync.WaitGroup
	errs := make(chan error, batches*2)
	for i := range batches {
		targets := []int{i % 2}
		if i%10 == 0 {
			targets = []int{0, 1}
		}
		for _, g := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := clients[g].Export(ctx, ptraceotlp.NewExportRequestFromTraces(spanBatch(i*perBatch, perBatch)))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	ctxDB := context.Background()
	conn, err := testDB.Connect(ctxDB)
	require.NoError(t, err)
	defer conn.Close(ctxDB)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var rows, distinct int
		require.NoError(t, conn.QueryRow(ctxDB, "SELECT count(*), count(DISTINCT trace_id) FROM "+schemaName+".routing_log").Scan(&rows, &distinct))
		if rows == batches*perBatch {
			assert.Equal(t, rows, distinct)
			break
		}
		require.LessOrEqual(t, rows, batches*perBatch, "more rows than requests sent: duplicates")
		require.True(t, time.Now().Before(deadline), "only %d of %d rows arrived", rows, batches*perBatch)
		time.Sleep(100 * time.Millisecond)
	}

	// Both gateways have finished their first maintenance runs (ok, or
	// skipped while the other held the lock); then every partition must
	// have been counted by exactly one of them.
	runs := func() float64 {
		return scrapeSum(t, metricsA, "otelcol_partitionmgr_runs") + scrapeSum(t, metricsB, "otelcol_partitionmgr_runs")
	}
	for runs() < 4 {
		require.True(t, time.Now().Before(deadline), "maintenance runs did not finish")
		time.Sleep(100 * time.Millisecond)
	}
	var partitions int
	require.NoError(t, conn.QueryRow(ctxDB, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname NOT LIKE '%\_default'`, schemaName).Scan(&partitions))
	created := scrapeSum(t, metricsA, "otelcol_partitionmgr_partitions_created") + scrapeSum(t, metricsB, "otelcol_partitionmgr_partitions_created")
	assert.Equal(t, float64(partitions), created, "each partition created by exactly one gateway")
	for _, addr := range []string{metricsA, metricsB} {
		assert.Zero(t, scrapeSum(t, addr, "otelcol_partitionmgr_runs", `result="failed"`), "no maintenance run failed")
	}
	duplicates := scrapeSum(t, metricsA, "otelcol_exporter_mcppg_rows_duplicate") + scrapeSum(t, metricsB, "otelcol_exporter_mcppg_rows_duplicate")
	assert.Equal(t, float64(batches/10*perBatch), duplicates, "the requests sent to both gateways were recognised once stored")
	a.stop(t)
	b.stop(t)
}
