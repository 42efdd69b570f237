package mcpsampler

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type spanOutcome struct {
	Kept       bool
	TraceState string
}

// TestSpanThresholds covers how a span's tracestate is read and written at
// a 10% routing rate: the threshold recorded, an upstream threshold that is
// stricter (kept as it is) or looser (raised), explicit randomness, other
// vendors' entries, and tracestates that cannot be parsed.
func TestSpanThresholds(t *testing.T) {
	t10, t1 := thresholdOf(10), thresholdOf(1)
	const th10 = "th:e6666666666666"
	require.Equal(t, "e6666666666666", tvalueOf(10))
	require.Equal(t, "fd70a3d70a3d71", tvalueOf(1))

	vendors := make([]string, 31)
	for i := range vendors {
		vendors[i] = fmt.Sprintf("v%d=x", i)
	}
	long := make([]string, 4)
	for i := range long {
		long[i] = fmt.Sprintf("l%d=%s", i, strings.Repeat("a", 250))
	}

	tests := []struct {
		name       string
		traceState string
		randomness uint64
		failed     bool
		want       spanOutcome
	}{
		{name: "no tracestate, passes", randomness: t10, want: spanOutcome{true, "ot=" + th10}},
		{name: "no tracestate, below", randomness: t10 - 1, want: spanOutcome{false, ""}},
		{name: "other vendors keep their place after ot",
			traceState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", randomness: 1<<56 - 1,
			want: spanOutcome{true, "ot=" + th10 + ",congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}},
		{name: "looser upstream threshold is raised",
			traceState: "ot=th:8", randomness: t10, want: spanOutcome{true, "ot=" + th10}},
		{name: "100% upstream threshold is raised",
			traceState: "ot=th:0", randomness: t10, want: spanOutcome{true, "ot=" + th10}},
		{name: "stricter upstream threshold is kept as it is",
			traceState: "ot=th:fd70a3d70a3d71", randomness: t1,
			want: spanOutcome{true, "ot=th:fd70a3d70a3d71"}},
		{name: "stricter upstream threshold is respected, not loosened",
			traceState: "ot=th:fd70a3d70a3d71", randomness: t1 - 1, want: spanOutcome{false, ""}},
		{name: "explicit rv wins over the trace id",
			traceState: "ot=rv:fffffffffffff0", randomness: 0,
			want: spanOutcome{true, "ot=rv:fffffffffffff0;" + th10}},
		{name: "explicit rv below the threshold",
			traceState: "ot=rv:00000000000001", randomness: 1<<56 - 1, want: spanOutcome{false, ""}},
		{name: "ot extras and vendors are kept",
			traceState: "ot=th:8;xx:yy,congo=t61rcWkgMzE", randomness: t10,
			want: spanOutcome{true, "ot=" + th10 + ";xx:yy,congo=t61rcWkgMzE"}},
		{name: "unreadable threshold counts as absent",
			traceState: "ot=th:zz", randomness: t10, want: spanOutcome{true, "ot=" + th10}},
		{name: "unreadable tracestate is replaced",
			traceState: "not a tracestate", randomness: t10, want: spanOutcome{true, "ot=" + th10}},
		{name: "32 members: the rightmost vendor leaves",
			traceState: strings.Join(vendors, ","), randomness: t10,
			want: spanOutcome{true, "ot=" + th10 + "," + strings.Join(vendors[:30], ",")}},
		{name: "over 1024 characters: the rightmost vendor leaves",
			traceState: strings.Join(long, ","), randomness: t10,
			want: spanOutcome{true, "ot=" + th10 + "," + strings.Join(long[:3], ",")}},
		{name: "failure is kept unchanged whatever upstream said",
			traceState: "ot=th:fd70a3d70a3d71", randomness: 0, failed: true,
			want: spanOutcome{true, "ot=th:fd70a3d70a3d71"}},
	}
	s := newSampler(testConfig(t, map[string]float64{"routing": 10}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resource, spans := newSpans()
			span := routingSpan(spans, traceIDWithRandomness(tt.randomness))
			span.TraceState().FromRaw(tt.traceState)
			if tt.failed {
				span.Status().SetCode(ptrace.StatusCodeError)
			}
			_, keep := s.sampleSpan(span, resource)
			got := spanOutcome{Kept: keep}
			if keep {
				got.TraceState = span.TraceState().AsRaw()
				_, err := sampling.NewW3CTraceState(got.TraceState)
				require.NoError(t, err, "the exporter can read it back")
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestEmptyTraceStateShortcut checks that the tracestate written without
// the API, into an empty tracestate, is what the API writes.
func TestEmptyTraceStateShortcut(t *testing.T) {
	for _, pct := range []float64{0.001, 1, 10, 25, 33.3, 50, 99.9} {
		p := newPolicy("p", pct)
		var empty sampling.W3CTraceState
		assert.Equal(t, traceStateWith(&empty, p.threshold), p.traceState, "%g%%", pct)
	}
}

// TestAllDroppedGoesNoFurther: a batch of which nothing is kept does not
// reach the next consumer, and is no error.
func TestAllDroppedGoesNoFurther(t *testing.T) {
	sink := new(consumertest.TracesSink)
	p := startTraces(t, testConfig(t, map[string]float64{"routing": 0}), nopSettings(), sink)
	td, _, spans := newSpans()
	for range 10 {
		routingSpan(spans, traceIDWithRandomness(1<<56-1))
	}
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	assert.Empty(t, sink.AllTraces())
}
