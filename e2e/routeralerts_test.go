package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// RequirePrometheusEnv, when set, turns the skip of
// TestRouterAlertsInPrometheus (no prometheus binary, and
// scripts/prometheus-up.sh could not install one) into a failure.
const RequirePrometheusEnv = "MCP_REQUIRE_PROMETHEUS"

// alertTimeScale divides every range, offset and for: duration of
// deploy/prometheus/mcp-router-alerts.yaml in the copy the test's Prometheus
// loads: 5m windows and for: 5m become 10s, so that an alert fires and
// clears within seconds instead of minutes. The expressions and thresholds
// are the file's own.
const alertTimeScale = 30

// TestRouterAlertsInPrometheus runs the distribution with the router-alerts
// overlay and a real Prometheus (Debian's package) scraping its prometheus
// exporter every second and evaluating the router alert rules (time-scaled
// copy). Two upstream servers take routed requests; one starts failing
// (error spans, an unhealthy health check, its breaker opens): the error
// rate, unhealthy and breaker alerts fire for it and not for the other; it
// recovers (successes, healthy, breaker closed): they clear. A third server
// known from the router's own histogram only shows in the request-rate
// recording rule.
func TestRouterAlertsInPrometheus(t *testing.T) {
	promBin := prometheusBinary(t)
	exporterAddr := freePort(t)
	schemaName := freshSchema("e2e_router_alerts")
	c := startCollectorConfigs(t, []string{configPath, filepath.Join(repoRoot, "deploy", "router-alerts.yaml")}, schemaName,
		"MCP_ROUTER_METRICS_ENDPOINT="+exporterAddr, "MCP_ROUTER_METRICS_FLUSH_INTERVAL=1s")
	prom := startPrometheus(t, promBin, exporterAddr, scaledRules(t, filepath.Join(repoRoot, "deploy", "prometheus", "mcp-router-alerts.yaml")))
	began := time.Now()

	traffic := startRouterTraffic(t, c.dial(t))
	const failing, healthy, metricsOnly = "github-1", "weather-1", "search-1"

	// The collector exposes what the rules read.
	waitFor(t, 30*time.Second, "router metrics on the collector's prometheus exporter", func() (bool, string) {
		missing := []string{}
		for _, m := range []struct{ name, filter string }{
			{"traces_span_metrics_calls_total", `mcp_router_server_key="` + healthy + `"`},
			{"traces_span_metrics_duration_seconds_bucket", `mcp_router_server_key="` + healthy + `"`},
			{"mcp_server_operation_duration_seconds_count", `mcp_router_server_key="` + metricsOnly + `"`},
			{"mcp_router_server_healthy", `mcp_router_server_key="` + healthy + `"`},
			{"mcp_router_session_starts_total", `job="e2e-router"`},
		} {
			if scrapeSum(t, exporterAddr, m.name, m.filter) == 0 {
				missing = append(missing, m.name+"{"+m.filter+"}")
			}
		}
		return len(missing) == 0, fmt.Sprint("missing: ", missing)
	})
	// Prometheus scrapes it and the recording rules see all three servers,
	// the metrics-only one through the histogram fallback.
	waitFor(t, 30*time.Second, "request rates of all servers in Prometheus", func() (bool, string) {
		got := prom.queryLabels(t, "mcp_router_server:requests:rate5m > 0", "mcp_router_server_key")
		return fmt.Sprint(got) == fmt.Sprint([]string{failing, metricsOnly, healthy}), fmt.Sprint(got)
	})
	// Latency buckets are in seconds from both sources: the spans last 40 ms
	// (bucket 0.02-0.05 s), the histogram's requests 15 ms (0.01-0.02 s).
	waitFor(t, 30*time.Second, "p99 latency per server and tool in seconds", func() (bool, string) {
		got := prom.queryValues(t, "histogram_quantile(0.99, mcp_router_server_tool:duration_seconds_bucket:rate5m)",
			"mcp_router_server_key", "gen_ai_tool_name")
		ok := len(got) == 3 &&
			got[healthy+"/lookup"] > 0.02 && got[healthy+"/lookup"] <= 0.05 &&
			got[failing+"/lookup"] > 0.02 && got[failing+"/lookup"] <= 0.05 &&
			got[metricsOnly+"/search"] > 0.01 && got[metricsOnly+"/search"] <= 0.02
		return ok, fmt.Sprint(got)
	})
	// The router's service.name reaches Prometheus as exported_job, which
	// McpSessionSurge groups by.
	waitFor(t, 30*time.Second, "the session counter in Prometheus", func() (bool, string) {
		got := prom.queryLabels(t, "mcp_router_session_starts_total > 0", "exported_job")
		return fmt.Sprint(got) == "[e2e-router]", fmt.Sprint(got)
	})
	require.Empty(t, prom.alerts(t, "firing"), "no alert before the failure")

	// The upstream fails.
	failedAt := time.Now()
	traffic.setFailing(failing, true)
	want := []string{"McpCircuitBreakerOpen/" + failing, "McpServerErrorRate/" + failing, "McpServerUnhealthy/" + failing}
	waitFor(t, 90*time.Second, "alerts firing for "+failing, func() (bool, string) {
		firing := prom.alerts(t, "firing")
		for _, a := range prom.alerts(t, "") {
			require.NotContains(t, a, "/"+healthy, "an alert for the healthy server")
		}
		return fmt.Sprint(firing) == fmt.Sprint(want), fmt.Sprint("firing: ", firing)
	})
	t.Logf("alerts fired %.1fs after the upstream started failing", time.Since(failedAt).Seconds())

	// It recovers.
	recoveredAt := time.Now()
	traffic.setFailing(failing, false)
	waitFor(t, 90*time.Second, "alerts clearing for "+failing, func() (bool, string) {
		all := prom.alerts(t, "")
		return len(all) == 0, fmt.Sprint("still active: ", all)
	})
	t.Logf("alerts cleared %.1fs after the upstream recovered; whole test %.1fs",
		time.Since(recoveredAt).Seconds(), time.Since(began).Seconds())
	traffic.stop()
	c.stop(t)
}

// prometheusBinary finds prometheus, installing Debian's package through
// scripts/prometheus-up.sh when it is missing; it skips the test when that
// fails, unless RequirePrometheusEnv is set.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	out, err := exec.Command("bash", filepath.Join(repoRoot, "scripts", "prometheus-up.sh")).CombinedOutput()
	if err == nil {
		if p, err := exec.LookPath("prometheus"); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("prometheus not found and scripts/prometheus-up.sh could not install it (%v):\n%s", err, out)
	if os.Getenv(RequirePrometheusEnv) != "" {
		t.Fatalf("%s\n(%s is set: failing instead of skipping)", msg, RequirePrometheusEnv)
	}
	t.Skipf("%s\nset %s=1 to make this a failure", msg, RequirePrometheusEnv)
	return ""
}

var (
	ruleRange  = regexp.MustCompile(`\[(\d+)([smhd])\]`)
	ruleOffset = regexp.MustCompile(`\boffset (\d+)([smhd])\b`)
	ruleFor    = regexp.MustCompile(`(?m)^(\s*for: )(\d+)([smhd])\s*$`)
)

// scaledRules returns the rule file at path with every range and offset
// divided by alertTimeScale (at least 5s: the rates need a few 1s scrapes)
// and every for: duration too (at least 1s).
func scaledRules(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	scale := func(n, unit string, floor time.Duration) string {
		v, err := strconv.Atoi(n)
		require.NoError(t, err)
		d := time.Duration(v) * map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
		d = max(d/alertTimeScale, floor).Round(time.Second)
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	text := ruleRange.ReplaceAllStringFunc(string(raw), func(m string) string {
		g := ruleRange.FindStringSubmatch(m)
		return "[" + scale(g[1], g[2], 5*time.Second) + "]"
	})
	text = ruleOffset.ReplaceAllStringFunc(text, func(m string) string {
		g := ruleOffset.FindStringSubmatch(m)
		return "offset " + scale(g[1], g[2], 5*time.Second)
	})
	text = ruleFor.ReplaceAllStringFunc(text, func(m string) string {
		g := ruleFor.FindStringSubmatch(m)
		return g[1] + scale(g[2], g[3], time.Second)
	})
	require.NotEqual(t, string(raw), text, "nothing to scale in %s", path)
	return text
}

type prometheus struct {
	addr string
}

// startPrometheus runs prometheus with a temporary configuration: the
// collector's prometheus exporter scraped every second (honor_labels false,
// as docs/alerts.md asks), rules evaluated every second.
func startPrometheus(t *testing.T, bin, target, rules string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o644))
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [rules.yaml]
scrape_configs:
  - job_name: otelcol-mcp-routers
    honor_labels: false
    static_configs:
      - targets: [%q]
`, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644))
	p := &prometheus{addr: freePort(t)}
	log := &lockedBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	waitFor(t, 30*time.Second, "prometheus ready", func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", log.String())
		default:
		}
		resp, err := http.Get("http://" + p.addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

func (p *prometheus) get(t *testing.T, path string, into any) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
}

// alerts returns alertname/server key of the alerts in state ("" = any:
// pending or firing), sorted.
func (p *prometheus) alerts(t *testing.T, state string) []string {
	t.Helper()
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/alerts", &body)
	var out []string
	for _, a := range body.Data.Alerts {
		if state == "" || a.State == state {
			out = append(out, a.Labels["alertname"]+"/"+a.Labels["mcp_router_server_key"])
		}
	}
	sort.Strings(out)
	return out
}

// queryLabels evaluates an instant query and returns the values of label in
// its result, sorted.
func (p *prometheus) queryLabels(t *testing.T, query, label string) []string {
	t.Helper()
	var body struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(query), &body)
	var out []string
	for _, r := range body.Data.Result {
		out = append(out, r.Metric[label])
	}
	sort.Strings(out)
	return out
}

// queryValues evaluates an instant query and returns its values by the
// values of labels joined with "/".
func (p *prometheus) queryValues(t *testing.T, query string, labels ...string) map[string]float64 {
	t.Helper()
	var body struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(query), &body)
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		var key []string
		for _, l := range labels {
			key = append(key, r.Metric[l])
		}
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, "value of %v", r.Metric)
		out[strings.Join(key, "/")] = v
	}
	return out
}

// waitFor polls cond every 200 ms until it holds or the deadline passes,
// logging each new detail cond reports on the way (-v).
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	began := time.Now()
	deadline := began.Add(within)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if detail != last {
			t.Logf("%s: %.1fs: %s", what, time.Since(began).Seconds(), detail)
			last = detail
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%s)", what, within, detail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// routerTraffic is a simulated router: every 100 ms a routed request to
// each of two servers (SERVER spans; the failing ones with status Error and
// error.type), health checks of both and a session start; every 500 ms the
// cumulative histogram of a third server that it reports through metrics
// only. Turning a server's failure on or off also sends its breaker
// transitions (closed -> open; open -> half_open -> closed).
type routerTraffic struct {
	t       *testing.T
	conn    *grpc.ClientConn
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	failing sync.Map // server key -> *atomic.Bool
	seq     atomic.Int64
}

var trafficResource = map[string]any{mcpconv.ServiceName: "e2e-router", "service.instance.id": "router-1"}

func startRouterTraffic(t *testing.T, conn *grpc.ClientConn) *routerTraffic {
	ctx, cancel := context.WithCancel(context.Background())
	r := &routerTraffic{t: t, conn: conn, cancel: cancel}
	for _, key := range []string{"weather-1", "github-1"} {
		r.failing.Store(key, &atomic.Bool{})
	}
	// Both breakers start closed.
	r.sendLogs(ctx, r.breakerEvent("weather-1", mcpconv.BreakerOpen, mcpconv.BreakerClosed), r.breakerEvent("github-1", mcpconv.BreakerOpen, mcpconv.BreakerClosed))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ticker := time.NewTicker(100 * time.Millisecond)
		defer ticker.Stop()
		var histCount uint64
		for tick := 0; ; tick++ {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			_ = rs.Resource().Attributes().FromRaw(trafficResource)
			spans := rs.ScopeSpans().AppendEmpty().Spans()
			var events []func(plog.LogRecord)
			for _, key := range []string{"weather-1", "github-1"} {
				fail := r.isFailing(key)
				r.routedSpan(spans.AppendEmpty(), key, fail)
				status := mcpconv.HealthHealthy
				if fail {
					status = mcpconv.HealthUnhealthy
				}
				events = append(events, r.healthEvent(key, status))
			}
			events = append(events, r.sessionStart())
			_, err := ptraceotlp.NewGRPCClient(r.conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				t.Errorf("export spans: %v", err)
				return
			}
			r.sendLogs(ctx, events...)
			if tick%5 == 0 {
				histCount += 10
				_, err = pmetricotlp.NewGRPCClient(r.conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(histogram("search-1", histCount)))
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					t.Errorf("export metrics: %v", err)
					return
				}
			}
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *routerTraffic) stop() {
	r.cancel()
	r.wg.Wait()
}

func (r *routerTraffic) isFailing(key string) bool {
	v, _ := r.failing.Load(key)
	return v.(*atomic.Bool).Load()
}

func (r *routerTraffic) setFailing(key string, fail bool) {
	v, _ := r.failing.Load(key)
	v.(*atomic.Bool).Store(fail)
	ctx := context.Background()
	if fail {
		r.sendLogs(ctx, r.breakerEvent(key, mcpconv.BreakerClosed, mcpconv.BreakerOpen))
		return
	}
	r.sendLogs(ctx, r.breakerEvent(key, mcpconv.BreakerOpen, mcpconv.BreakerHalfOpen))
	r.sendLogs(ctx, r.breakerEvent(key, mcpconv.BreakerHalfOpen, mcpconv.BreakerClosed))
}

func (r *routerTraffic) routedSpan(s ptrace.Span, key string, fail bool) {
	n := r.seq.Add(1)
	now := time.Now()
	s.SetTraceID(pcommon.TraceID{0x7a, 0x1e, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	s.SetSpanID(pcommon.SpanID{0x7a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	s.SetKind(ptrace.SpanKindServer)
	s.SetName("tools/call lookup")
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-40 * time.Millisecond)))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	a := s.Attributes()
	a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	a.PutStr(mcpconv.ToolName, "lookup")
	a.PutStr(mcpconv.ServerKey, key)
	a.PutStr(mcpconv.JSONRPCRequestID, strconv.FormatInt(n, 10))
	if fail {
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage("upstream unavailable")
		a.PutStr(mcpconv.ErrorType, "upstream_unavailable")
	}
}

func (r *routerTraffic) healthEvent(key, status string) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName(mcpconv.EventHealthCheck)
		_ = lr.Attributes().FromRaw(map[string]any{mcpconv.ServerKey: key, mcpconv.HealthStatus: status, mcpconv.HealthLatency: 0.002})
	}
}

func (r *routerTraffic) breakerEvent(key, from, to string) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName(mcpconv.EventBreakerStateChange)
		_ = lr.Attributes().FromRaw(map[string]any{mcpconv.ServerKey: key, mcpconv.BreakerFromState: from, mcpconv.BreakerToState: to})
	}
}

func (r *routerTraffic) sessionStart() func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName(mcpconv.EventSessionStart)
		_ = lr.Attributes().FromRaw(map[string]any{mcpconv.SessionID: fmt.Sprintf("sess-%d", r.seq.Add(1))})
	}
}

// sendLogs sends one OTLP request of events, each stamped now (a
// nanosecond apart, in order) and with an event.id of its own.
func (r *routerTraffic) sendLogs(ctx context.Context, events ...func(plog.LogRecord)) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	_ = rl.Resource().Attributes().FromRaw(trafficResource)
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	now := time.Now()
	for i, ev := range events {
		lr := records.AppendEmpty()
		ev(lr)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i))))
		lr.Attributes().PutStr("event.id", fmt.Sprintf("e2e-alerts-%d", r.seq.Add(1)))
	}
	_, err := plogotlp.NewGRPCClient(r.conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	if err != nil && ctx.Err() == nil {
		r.t.Errorf("export events: %v", err) // also called from the traffic goroutine: no FailNow
	}
}

// histogram is the router's cumulative mcp.server.operation.duration for
// server key: count requests of 15 ms each, since the test began.
func histogram(key string, count uint64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	_ = rm.Resource().Attributes().FromRaw(trafficResource)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(mcpconv.MetricServerOperationDuration)
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	p := h.DataPoints().AppendEmpty()
	p.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	p.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	p.ExplicitBounds().FromRaw(mcpconv.DurationBucketsSeconds)
	counts := make([]uint64, len(mcpconv.DurationBucketsSeconds)+1)
	counts[1] = count // (0.01, 0.02]
	p.BucketCounts().FromRaw(counts)
	p.SetCount(count)
	p.SetSum(0.015 * float64(count))
	a := p.Attributes()
	a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	a.PutStr(mcpconv.ToolName, "search")
	a.PutStr(mcpconv.ServerKey, key)
	return md
}
