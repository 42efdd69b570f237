package e2e

import (
	"bufio"
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// keepEverySampledEvent sets the rates the default config samples at to
// 100%, for tests that count rows of events sent in small numbers.
var keepEverySampledEvent = []string{"MCP_SAMPLE_HEALTH_CHECK_PERCENT=100", "MCP_SAMPLE_LB_DECISION_PERCENT=100"}

// sampledHealthChecks are the health checks TestHealthCheckSampling sends.
// With 40,000 healthy checks at 10% the estimate SUM(adjusted_count) has a
// standard deviation of sqrt(40,000 * 0.9 / 0.1) = 600, 1.2% of the total:
// the 5% tolerance is over 4 standard deviations (with 2,000 checks it would
// be under one).
const (
	sampledHealthChecks = 50_000
	sampledBatch        = 5_000
	failedShare         = 0.2
)

// TestHealthCheckSampling sends health checks through the distribution with
// the default config: 20% of them failed, half with a trace id (decided by
// its randomness), half without (decided by a hash of event.id). Every
// failed check is stored, about 10% of the healthy ones are, and
// SUM(adjusted_count) estimates the number sent within 5%.
func TestHealthCheckSampling(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	metricsAddr := freePort(t)
	schemaName := freshSchema("e2e_sampling")
	c := startCollector(t, schemaName, "MCP_METRICS_PORT="+portOf(metricsAddr))
	client := plogotlp.NewGRPCClient(c.dial(t))

	rng := rand.New(rand.NewPCG(2026, 12))
	failedIDs := map[string]bool{}
	for b := range sampledHealthChecks / sampledBatch {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(mcpconv.ServiceName, "e2e-router")
		records := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i := b * sampledBatch; i < (b+1)*sampledBatch; i++ {
			id := "hc-" + strconv.Itoa(i)
			lr := records.AppendEmpty()
			lr.SetEventName(mcpconv.EventHealthCheck)
			lr.SetTimestamp(ts(time.Duration(i) * time.Millisecond))
			a := lr.Attributes()
			a.PutStr(mcpconv.EventID, id)
			a.PutStr(mcpconv.ServerKey, "weather-"+strconv.Itoa(i%4))
			a.PutStr(mcpconv.HealthCheck, "ping")
			a.PutDouble(mcpconv.HealthLatency, 0.01)
			if rng.Float64() < failedShare {
				failedIDs[id] = true
				a.PutStr(mcpconv.HealthStatus, mcpconv.HealthUnhealthy)
				a.PutStr(mcpconv.ErrorType, "timeout")
				lr.SetSeverityNumber(plog.SeverityNumberWarn)
			} else {
				a.PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
				lr.SetSeverityNumber(plog.SeverityNumberInfo)
			}
			if i%2 == 0 {
				var tid pcommon.TraceID
				for j := range tid {
					tid[j] = byte(rng.Uint32())
				}
				lr.SetTraceID(tid)
			}
		}
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
		require.NoError(t, err)
	}
	healthy := sampledHealthChecks - len(failedIDs)

	// Every Export returned, so the sampler has decided every record; what
	// it kept is what the table must end up holding.
	decided := sampledItems(t, metricsAddr, "logs")
	require.Equal(t, map[string]int{
		"failure/kept": len(failedIDs), "health_check/kept": decided["health_check/kept"],
		"health_check/dropped": healthy - decided["health_check/kept"],
	}, decided, "otelcol_processor_mcpsampler_items for logs (is mcpsampler in the logs pipeline?)")
	waitForRows(t, schemaName, "health_check_record", len(failedIDs)+decided["health_check/kept"])

	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	table := pgx.Identifier{schemaName, "health_check_record"}.Sanitize()
	rows, err := conn.Query(ctx, "SELECT event_id FROM "+table+" WHERE NOT healthy")
	require.NoError(t, err)
	storedFailed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	stored := map[string]bool{}
	for _, id := range storedFailed {
		stored[id] = true
	}
	assert.Equal(t, failedIDs, stored, "every failed check is stored")

	var keptHealthy int
	var minWeight, maxWeight, failedWeight, total float64
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE healthy),
		min(adjusted_count) FILTER (WHERE healthy), max(adjusted_count) FILTER (WHERE healthy),
		sum(adjusted_count) FILTER (WHERE NOT healthy), sum(adjusted_count) FROM `+table).
		Scan(&keptHealthy, &minWeight, &maxWeight, &failedWeight, &total))
	sd := math.Sqrt(float64(healthy) * 0.1 * 0.9)
	t.Logf("sent %d (%d failed, %d healthy); stored %d failed, %d healthy (%.2f%%); SUM(adjusted_count) = %.1f (%+.2f%%)",
		sampledHealthChecks, len(failedIDs), healthy, len(stored), keptHealthy,
		100*float64(keptHealthy)/float64(healthy), total, 100*(total-sampledHealthChecks)/sampledHealthChecks)
	assert.InDelta(t, 0.1*float64(healthy), float64(keptHealthy), 5*sd, "healthy checks stored: binomial(%d, 0.1), 5 sigma", healthy)
	assert.InDelta(t, 10, minWeight, 1e-9, "a healthy check stands for 10")
	assert.InDelta(t, 10, maxWeight, 1e-9, "a healthy check stands for 10")
	assert.Equal(t, float64(len(failedIDs)), failedWeight, "a failed check stands for itself")
	assert.InEpsilon(t, sampledHealthChecks, total, 0.05, "SUM(adjusted_count) estimates the checks sent")
	c.stop(t)
}

// sampledItems scrapes otelcol_processor_mcpsampler_items of one signal,
// as "rule/decision" -> count.
func sampledItems(t *testing.T, addr, signal string) map[string]int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "otelcol_processor_mcpsampler_items") {
			continue
		}
		labels, value, _ := strings.Cut(line, "} ")
		if label(labels, "signal") != signal {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, line)
		counts[label(labels, "rule")+"/"+label(labels, "decision")] += int(n)
	}
	require.NoError(t, sc.Err())
	return counts
}

// label returns the value of a Prometheus label in a series' label set
// (`name{a="x",b="y"`).
func label(labels, name string) string {
	for _, sep := range []string{"{", ","} {
		if _, after, ok := strings.Cut(labels, sep+name+`="`); ok {
			value, _, _ := strings.Cut(after, `"`)
			return value
		}
	}
	return ""
}

// waitForRows polls until table holds want rows, and fails if it does not
// within a minute or holds more.
func waitForRows(t *testing.T, schemaName, table string, want int) {
	t.Helper()
	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schemaName, table}.Sanitize()).Scan(&got)
		if err == nil && got == want {
			return
		}
		require.False(t, err == nil && got > want, "%s holds %d rows, more than the %d the sampler kept", table, got, want)
		require.True(t, time.Now().Before(deadline), "%s: %d rows of %d in time (last error: %v)", table, got, want, err)
		time.Sleep(100 * time.Millisecond)
	}
}
