package mcpnormalizer

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpnormalizer/internal/metadata"
)

// groundTruth is a fixture's operations.json: what the client did (the
// live emitters) or what the emitter's source says it records (the others).
type groundTruth struct {
	Emitter     string       `json:"emitter"`
	Operations  []operation  `json:"operations"`
	Transitions []transition `json:"transitions"`
}

type operation struct {
	Side      string  `json:"side"` // server, client or upstream (a router's call to a backend)
	Method    string  `json:"method"`
	Tool      *string `json:"tool"`
	RequestID *string `json:"request_id"`
	SessionID *string `json:"session_id"`
	Failed    bool    `json:"failed"`
	RPCCode   *text   `json:"rpc_code"`
	// Backend is the upstream a router's call went to (side upstream).
	Backend string `json:"backend"`
	// On a router's call to an upstream, request_id and session_id are the
	// inbound request's (as the conventions ask); these are the values of
	// the upstream hop itself, which some emitters record instead.
	UpstreamRequestID *text `json:"upstream_request_id"`
	UpstreamSessionID *text `json:"upstream_session_id"`
	// SpanID, when the fixture names it, is the span of the operation.
	SpanID string `json:"span_id"`
}

type transition struct {
	Kind    string `json:"kind"` // health or breaker
	Backend string `json:"backend"`
	Status  string `json:"status"`
	From    string `json:"from"`
	To      string `json:"to"`
	// Logged false marks a transition the emitter does not log.
	Logged *bool `json:"logged"`
}

// text is a JSON string or number, as text.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*t = text(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*t = text(n.String())
	return nil
}

// Fields an emitter may leave out of a span.
const (
	fieldSession   = "session"
	fieldRequestID = "request_id"
	fieldTool      = "tool"
)

// fixtureGaps lists, per fixture directory, how many of its operations
// have a field (session, request id, tool) that the emitter's span does not
// carry, so no row can have it: an operation whose span has the field must
// have the right value, and the count of those without it must be exactly
// this. Every fixture directory must have an entry
// (TestEveryFixtureIsChecked). A failure or JSON-RPC code that the span
// shows no trace of cannot be stored either, and is not expected
// (evidenceOf). docs/compatibility.md lists these gaps.
var fixtureGaps = map[string]map[string]int{
	"toolhive-vmcp":      {fieldSession: 1},
	"python-sdk":         {},
	"traceloop-js-stdio": {fieldRequestID: 8},
	"traceloop-js-http":  {fieldRequestID: 8, fieldSession: 8},
	"sentry-js-stdio":    {},
	"sentry-js-http":     {},
	"csharp-sdk":         {},
	"fastmcp":            {fieldRequestID: 10, fieldSession: 9, fieldTool: 1},
	"envoy-ai-gateway":   {fieldSession: 5},
	"agentgateway":       {fieldRequestID: 10, fieldSession: 6},
	"docker-mcp-gateway": {fieldRequestID: 5},
	"mcp-go":             {fieldRequestID: 10, fieldTool: 4},
	"contextforge":       {fieldRequestID: 11, fieldSession: 10},
}

func TestEveryFixtureIsChecked(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("testdata", "emitters"))
	require.NoError(t, err)
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		_, ok := fixtureGaps[d.Name()]
		assert.True(t, ok, "fixture %s has no entry in fixtureGaps", d.Name())
	}
}

// TestFixtures runs each recorded or source-built fixture through the
// processor (default configuration) and checks that every operation of its
// ground truth is one span the exporter stores on the right table, with
// method, tool, request id, session, failure and JSON-RPC code, and that no
// MCP span is left without a side.
func TestFixtures(t *testing.T) {
	for dir, wantGaps := range fixtureGaps {
		t.Run(dir, func(t *testing.T) {
			base := filepath.Join("testdata", "emitters", dir)
			var truth groundTruth
			doc, err := os.ReadFile(filepath.Join(base, "operations.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(doc, &truth))

			spans, raw := normalizedSpans(t, filepath.Join(base, "traces.jsonl"))
			used := make([]bool, len(spans))
			gaps := map[string]int{}
			for i, op := range truth.Operations {
				j := matchSpan(spans, used, op)
				if !assert.GreaterOrEqual(t, j, 0, "operation %d (%s %s %v) has no span", i, op.Side, op.Method, deref(op.Tool)) {
					continue
				}
				used[j] = true
				checkOperation(t, i, op, spans[j], evidenceOf(raw[spans[j].SpanID()]), gaps)
			}
			assert.Equal(t, wantGaps, gaps, "operations whose span lacks a field the client knew")
			for _, s := range spans {
				if v, ok := s.Attributes().Get(mcpconv.MethodName); ok && v.AsString() != "" {
					assert.NotEqual(t, mcpconv.KindOther, mcpconv.ClassifySpan(s), "span %q has a method but no side", s.Name())
				}
			}
			if len(truth.Transitions) > 0 {
				checkTransitions(t, filepath.Join(base, "vmcp.log"), truth.Transitions)
			}
		})
	}
}

// A second pass over normalized telemetry changes nothing: an agent and a
// gateway can both run the processor.
func TestNormalizingTwiceChangesNothing(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("testdata", "emitters"))
	require.NoError(t, err)
	tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	p := &tracesProcessor{n: newNormalizer(createDefaultConfig().(*Config)), counts: newRewriteCounts(tb.ProcessorMcpnormalizerRewritten, signalTraces)}
	for _, d := range dirs {
		path := filepath.Join("testdata", "emitters", d.Name(), "traces.jsonl")
		doc, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			for _, line := range strings.Split(strings.TrimSpace(string(doc)), "\n") {
				req := ptraceotlp.NewExportRequest()
				require.NoError(t, req.UnmarshalJSON([]byte(line)))
				once, err := p.processTraces(context.Background(), req.Traces())
				require.NoError(t, err)
				want := ptrace.NewTraces()
				once.CopyTo(want)
				twice, err := p.processTraces(context.Background(), once)
				require.NoError(t, err)
				var m ptrace.JSONMarshaler
				wantJSON, err := m.MarshalTraces(want)
				require.NoError(t, err)
				gotJSON, err := m.MarshalTraces(twice)
				require.NoError(t, err)
				assert.JSONEq(t, string(wantJSON), string(gotJSON))
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// normalizedSpans reads an OTLP/JSON traces file, one request per line,
// through the processor with its default configuration; it returns the
// normalized spans and, by span id, the spans as the emitter sent them.
func normalizedSpans(t *testing.T, path string) ([]ptrace.Span, map[pcommon.SpanID]ptrace.Span) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), settingsWith(componenttest.NewTelemetry()), createDefaultConfig(), sink)
	require.NoError(t, err)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	raw := map[pcommon.SpanID]ptrace.Span{}
	for sc.Scan() {
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalJSON(sc.Bytes()))
		original := ptrace.NewTraces()
		req.Traces().CopyTo(original)
		for _, s := range allSpans(original) {
			raw[s.SpanID()] = s
		}
		require.NoError(t, p.ConsumeTraces(context.Background(), req.Traces()))
	}
	require.NoError(t, sc.Err())
	var out []ptrace.Span
	for _, td := range sink.AllTraces() {
		out = append(out, allSpans(td)...)
	}
	return out, raw
}

func allSpans(td ptrace.Traces) []ptrace.Span {
	var out []ptrace.Span
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			for k := 0; k < sss.At(j).Spans().Len(); k++ {
				out = append(out, sss.At(j).Spans().At(k))
			}
		}
	}
	return out
}

// evidence is what an emitter's span shows of an operation's outcome.
type evidence struct {
	failure bool // any sign of failure: status, error.type, a code, isError, an exception
	code    bool // a JSON-RPC code somewhere: a status-code key, or a numeric error or exception type
}

func evidenceOf(raw ptrace.Span) evidence {
	var e evidence
	if raw == (ptrace.Span{}) {
		return e
	}
	numeric := func(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil && s != "0" }
	a := raw.Attributes()
	for _, k := range []string{mcpconv.RPCResponseStatusCode, "mcp.error.code"} {
		if v, ok := a.Get(k); ok && v.AsString() != "" {
			e.code, e.failure = true, true
		}
	}
	if t := strAttr(a, mcpconv.ErrorType); t != "" {
		e.failure = true
		e.code = e.code || numeric(t)
	}
	if raw.Status().Code() == ptrace.StatusCodeError || strAttr(a, mcpconv.ToolResultIsError) == "true" ||
		strAttr(a, "success") == "false" {
		e.failure = true
	}
	for i := 0; i < raw.Events().Len(); i++ {
		ev := raw.Events().At(i)
		if ev.Name() == mcpconv.ExceptionEventName {
			e.failure = true
			e.code = e.code || numeric(strAttr(ev.Attributes(), mcpconv.ExceptionType))
		}
	}
	return e
}

func sideOf(s ptrace.Span) string {
	switch mcpconv.ClassifySpan(s) {
	case mcpconv.KindRouting:
		return "server"
	case mcpconv.KindToolCall:
		return "client"
	}
	return ""
}

// wantTool is the stored tool name: a router's call to a backend names the
// backend's own tool, without the router's "<backend>_" prefix.
func wantTool(op operation) string {
	if op.Backend != "" {
		if bare, ok := strings.CutPrefix(deref(op.Tool), op.Backend+"_"); ok {
			return bare
		}
	}
	return deref(op.Tool)
}

func wantSide(op operation) string {
	if op.Side == "upstream" {
		return "client"
	}
	return op.Side
}

// matchSpan finds the first unused span of the operation's side, method and
// tool (and request id, where the emitter sends one).
func matchSpan(spans []ptrace.Span, used []bool, op operation) int {
	if op.SpanID != "" {
		for i, s := range spans {
			if !used[i] && s.SpanID().String() == op.SpanID {
				if sideOf(s) != wantSide(op) {
					return -1
				}
				return i
			}
		}
		return -1
	}
	for i, s := range spans {
		if used[i] || sideOf(s) != wantSide(op) {
			continue
		}
		a := s.Attributes()
		if strAttr(a, mcpconv.MethodName) != op.Method {
			continue
		}
		if tool := strAttr(a, mcpconv.ToolName); op.Tool != nil && tool != "" && tool != wantTool(op) {
			continue
		}
		if id := strAttr(a, mcpconv.JSONRPCRequestID); op.RequestID != nil && id != "" && id != *op.RequestID {
			continue
		}
		return i
	}
	return -1
}

func checkOperation(t *testing.T, i int, op operation, s ptrace.Span, ev evidence, gaps map[string]int) {
	t.Helper()
	a := s.Attributes()
	what := strings.TrimSpace(op.Side + " " + op.Method + " " + deref(op.Tool))
	assert.Equal(t, op.Method, strAttr(a, mcpconv.MethodName), "operation %d (%s): method", i, what)
	assert.Equal(t, op.Failed && ev.failure, mcpconv.IsFailedSpan(s), "operation %d (%s): failed", i, what)
	wantCode := ""
	if op.RPCCode != nil && ev.code {
		wantCode = string(*op.RPCCode)
	}
	assert.Equal(t, wantCode, strAttr(a, mcpconv.RPCResponseStatusCode), "operation %d (%s): rpc.response.status_code", i, what)
	if op.Backend != "" {
		assert.Equal(t, op.Backend, strAttr(a, mcpconv.ServerKey), "operation %d (%s): server key", i, what)
	}
	field := func(name, key string, want *string, upstream *text) {
		if want == nil {
			return
		}
		got := strAttr(a, key)
		if got == "" {
			gaps[name]++
			return
		}
		if upstream != nil && got == string(*upstream) {
			return
		}
		assert.Equal(t, *want, got, "operation %d (%s): %s", i, what, name)
	}
	tool := wantTool(op)
	if op.Tool == nil {
		tool = ""
	}
	field(fieldSession, mcpconv.SessionID, op.SessionID, op.UpstreamSessionID)
	field(fieldRequestID, mcpconv.JSONRPCRequestID, op.RequestID, op.UpstreamRequestID)
	if op.Tool != nil {
		field(fieldTool, mcpconv.ToolName, &tool, nil)
	}
	if op.Method == mcpconv.MethodToolsCall && strAttr(a, mcpconv.ToolName) != "" {
		assert.Equal(t, mcpconv.MethodToolsCall+" "+strAttr(a, mcpconv.ToolName), s.Name(), "operation %d (%s): span name", i, what)
	}
}

// logRecordsFromFile reads a JSON-lines log file the way the filelog
// receiver with a json_parser operator does (docs/compatibility.md): the
// line is the body, its fields the attributes.
func logRecordsFromFile(t *testing.T, path string) plog.Logs {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var fields map[string]any
		if json.Unmarshal(sc.Bytes(), &fields) != nil {
			continue // not JSON: filelog's json_parser would error and skip it
		}
		lr := records.AppendEmpty()
		lr.Body().SetStr(sc.Text())
		require.NoError(t, lr.Attributes().FromRaw(fields))
	}
	require.NoError(t, sc.Err())
	return ld
}

func checkTransitions(t *testing.T, path string, want []transition) {
	t.Helper()
	ld := logRecordsFromFile(t, path)
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), settingsWith(componenttest.NewTelemetry()), createDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	var got []transition
	for _, out := range sink.AllLogs() {
		records := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < records.Len(); i++ {
			lr := records.At(i)
			a := lr.Attributes()
			switch mcpconv.ClassifyLog(lr) {
			case mcpconv.KindHealthCheck:
				got = append(got, transition{Kind: "health", Backend: strAttr(a, mcpconv.ServerKey), Status: strAttr(a, mcpconv.HealthStatus)})
			case mcpconv.KindCircuitBreaker:
				got = append(got, transition{Kind: "breaker", Backend: strAttr(a, mcpconv.ServerKey),
					From: strAttr(a, mcpconv.BreakerFromState), To: strAttr(a, mcpconv.BreakerToState)})
			}
		}
	}
	for _, w := range want {
		if w.Logged != nil && !*w.Logged {
			continue
		}
		if w.Kind == "health" {
			w = transition{Kind: w.Kind, Backend: w.Backend, Status: w.Status}
		} else {
			w = transition{Kind: w.Kind, Backend: w.Backend, From: underscore(w.From), To: underscore(w.To)}
		}
		assert.Contains(t, got, w, "transition in %s", filepath.Base(path))
	}
}

// underscore spells a breaker state as the conventions do (half_open).
func underscore(state string) string { return strings.ReplaceAll(state, "-", "_") }
