package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.yaml.in/yaml/v3"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
)

// alertRules is the part of a Prometheus rule file this test reads.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var metricName = regexp.MustCompile(`\botelcol_[a-z0-9_]+`)

// ruleMetrics returns every otelcol_* metric the alert rules use, histogram
// series suffixes folded onto the histogram's name.
func ruleMetrics(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "prometheus", "otelcol-mcp-alerts.yaml"))
	require.NoError(t, err)
	var rules alertRules
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	used := map[string][]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "rule without alert name in %s", g.Name)
			names := metricName.FindAllString(r.Expr, -1)
			require.NotEmpty(t, names, "alert %s uses no otelcol metric", r.Alert)
			for _, n := range names {
				used[n] = append(used[n], r.Alert) // histograms are used as name_bucket and exposed so
			}
		}
	}
	return used
}

// scrapeNames returns the metric names a collector exposes on its
// Prometheus endpoint.
func scrapeNames(t *testing.T, addr string) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	require.NoError(t, sc.Err())
	return names
}

// TestAlertRulesUseRealMetrics runs the distribution through the situations
// the alerts are about (the database out of reach, then back; a rejected
// event) and checks that every metric the rules in deploy/prometheus use is
// exposed by the collector.
func TestAlertRulesUseRealMetrics(t *testing.T) {
	used := ruleMetrics(t)
	proxy, dsn := pgtest.ProxyFor(t, testDB.DSN, false)
	metricsAddr := freePort(t)
	schemaName := freshSchema("e2e_alerts")
	c := startCollector(t, schemaName, append(keepEverySampledEvent, "MCP_PG_DSN="+dsn, "MCP_METRICS_PORT="+portOf(metricsAddr))...)
	conn := c.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Traces wait while the database is down; the partition manager retries
	// its schema. Then the database comes back, and a bad event is refused.
	_, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(routedRequests(5)))
	require.NoError(t, err)
	proxy.SetUp(true)
	waitForCounts(t, schemaName, map[string]int{
		"routing_log": 5, "tool_call_record": 5, "tool_call_payload": 0, "error_log": 2, "health_check_record": 0,
		"mcp_server": 0, "session_record": 0, "lb_decision": 0, "circuit_breaker_event": 0, "metric_point": 0,
		"rejected_event": 0, "schema_migrations": migrationCount(t),
	})
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(routerEvents(t)))
	require.NoError(t, err)
	// An MCP operation of no side: no row, counted as unmapped.
	noSide := routedRequests(1)
	noSide.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetKind(ptrace.SpanKindInternal)
	_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(noSide))
	require.NoError(t, err)

	var missing []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		exposed := scrapeNames(t, metricsAddr)
		missing = missing[:0]
		for name, alerts := range used {
			if !exposed[name] && !exposed[name+"_bucket"] {
				missing = append(missing, name+" (used by "+strings.Join(alerts, ", ")+")")
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	sort.Strings(missing)
	require.Empty(t, missing, "alert rules use metrics the collector does not expose")
	c.stop(t)
}
