package main

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

func testConfig(seed uint64, errorRate float64) PlanConfig {
	return PlanConfig{Requests: 3000, Servers: 5, ToolsPerServer: 4, ErrorRate: errorRate, Seed: seed, Window: time.Minute}
}

func TestNewPlanIsDeterministicForASeed(t *testing.T) {
	a, err := NewPlan(testConfig(42, 0.05))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPlan(testConfig(42, 0.05))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two plans from seed 42 differ")
	}
	c, err := NewPlan(testConfig(43, 0.05))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Requests, c.Requests) {
		t.Fatal("plans from seeds 42 and 43 are identical")
	}
}

func TestPlanExpectedCountsMatchThePlan(t *testing.T) {
	tests := []struct {
		name      string
		errorRate float64
	}{
		{"no failures", 0},
		{"default rate", 0.05},
		{"half", 0.5},
		{"every request fails", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(7, tt.errorRate)
			p, err := NewPlan(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Expected()

			want := Expected{Methods: map[string]int{}}
			for _, r := range p.Requests {
				want.RoutingSpans++
				want.Methods[r.Method]++
				if r.Failure != nil {
					want.FailedRequests++
					want.ErrorRows++ // span_status row of the SERVER span
				}
				if r.Method == methodToolsCall && len(r.Calls) != 1 {
					t.Fatalf("tools/call %s has %d upstream calls, want 1", r.RequestID, len(r.Calls))
				}
				for _, c := range r.Calls {
					want.ToolCallSpans++
					if c.Failure != nil {
						want.FailedToolCalls++
						want.ErrorRows++ // exception row of the CLIENT span
						if r.Failure == nil {
							t.Fatalf("request %s: failed tool call under a successful request", r.RequestID)
						}
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Expected() = %+v, want %+v", got, want)
			}

			// The failure count follows the rate (binomial, 5 sigma).
			n := float64(cfg.Requests)
			mean := n * tt.errorRate
			tolerance := 5*math.Sqrt(n*tt.errorRate*(1-tt.errorRate)) + 0.5
			if diff := float64(got.FailedRequests) - mean; diff > tolerance || diff < -tolerance {
				t.Fatalf("%d failed requests, want %v ± %v", got.FailedRequests, mean, tolerance)
			}
		})
	}
}

func TestPlanConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     PlanConfig
		wantErr bool
	}{
		{"valid", testConfig(1, 0.05), false},
		{"no requests", PlanConfig{Requests: 0, Servers: 1, ToolsPerServer: 1, Window: time.Minute}, true},
		{"no servers", PlanConfig{Requests: 1, Servers: 0, ToolsPerServer: 1, Window: time.Minute}, true},
		{"no tools", PlanConfig{Requests: 1, Servers: 1, ToolsPerServer: 0, Window: time.Minute}, true},
		{"rate above 1", PlanConfig{Requests: 1, Servers: 1, ToolsPerServer: 1, ErrorRate: 1.5, Window: time.Minute}, true},
		{"no window", PlanConfig{Requests: 1, Servers: 1, ToolsPerServer: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

// TestEmittedSpansYieldTheExpectedRows records the spans of a plan and counts
// the rows they map to with mcpconv's classification, as the exporter does.
func TestEmittedSpansYieldTheExpectedRows(t *testing.T) {
	p, err := NewPlan(PlanConfig{Requests: 500, Servers: 3, ToolsPerServer: 2, ErrorRate: 0.2, Seed: 11, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	end := time.Now()
	sent := emitPlan(context.Background(), tp.Tracer(scopeName), &p, end)
	if len(sent) != len(p.Requests) {
		t.Fatalf("sent %d requests, want %d", len(sent), len(p.Requests))
	}

	var got Expected
	got.Methods = map[string]int{}
	windowStart := end.Add(-p.End())
	for _, s := range rec.Ended() {
		if s.StartTime().Before(windowStart) || s.EndTime().After(end) || s.EndTime().Before(s.StartTime()) {
			t.Fatalf("span %q runs %v..%v, outside %v..%v", s.Name(), s.StartTime(), s.EndTime(), windowStart, end)
		}
		span := toPdata(s)
		switch mcpconv.ClassifySpan(span) {
		case mcpconv.KindRouting:
			got.RoutingSpans++
			method, _ := span.Attributes().Get(mcpconv.MethodName)
			got.Methods[method.Str()]++
			if mcpconv.IsFailedSpan(span) {
				got.FailedRequests++
			}
		case mcpconv.KindToolCall:
			got.ToolCallSpans++
			if mcpconv.IsFailedSpan(span) {
				got.FailedToolCalls++
			}
			if !s.Parent().IsValid() {
				t.Fatalf("tool call span %q has no parent", s.Name())
			}
		default:
			t.Fatalf("span %q (%v) is neither a routing span nor a tool call", s.Name(), s.SpanKind())
		}
		got.ErrorRows += errorRowsOf(span)
	}
	if want := p.Expected(); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows from the emitted spans = %+v, plan expects %+v", got, want)
	}
}

// errorRowsOf applies the rule of appendSpanErrors in exporter/mcppgexporter.
func errorRowsOf(span ptrace.Span) int {
	exceptions := 0
	for i := 0; i < span.Events().Len(); i++ {
		if span.Events().At(i).Name() == mcpconv.ExceptionEventName {
			exceptions++
		}
	}
	if exceptions > 0 {
		return exceptions
	}
	if mcpconv.IsFailedSpan(span) {
		return 1
	}
	return 0
}

// toPdata converts the parts of a recorded span the classification reads.
func toPdata(s sdktrace.ReadOnlySpan) ptrace.Span {
	span := ptrace.NewSpan()
	span.SetName(s.Name())
	switch s.SpanKind() {
	case trace.SpanKindServer:
		span.SetKind(ptrace.SpanKindServer)
	case trace.SpanKindClient:
		span.SetKind(ptrace.SpanKindClient)
	default:
		span.SetKind(ptrace.SpanKindInternal)
	}
	copyAttributes(s.Attributes(), span.Attributes())
	if s.Status().Code == codes.Error {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage(s.Status().Description)
	}
	for _, ev := range s.Events() {
		e := span.Events().AppendEmpty()
		e.SetName(ev.Name)
		copyAttributes(ev.Attributes, e.Attributes())
	}
	return span
}

func copyAttributes(from []attribute.KeyValue, to pcommon.Map) {
	for _, kv := range from {
		switch kv.Value.Type() {
		case attribute.INT64:
			to.PutInt(string(kv.Key), kv.Value.AsInt64())
		default:
			to.PutStr(string(kv.Key), kv.Value.Emit())
		}
	}
}
