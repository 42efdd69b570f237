package mcpsampler

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// accuracyItems is the number of synthetic items drawn per rule.
const accuracyItems = 1_000_000

// TestRateAccuracy draws a million items per rule, with each source of
// randomness, and checks the share kept (within 0.5 percentage points, as
// the issue asks; the binomial standard deviation is at most 0.05 points)
// and that the weights read back the way the exporter reads them add up to
// the number of items (within 5 standard deviations of the estimator).
func TestRateAccuracy(t *testing.T) {
	tenantRule := RuleConfig{Name: "tenant_acme", Match: map[string]string{"tenant": "acme"}, Percent: percent(25)}
	tests := []struct {
		name    string
		cfg     *Config
		rule    string
		percent float64
		// draw prepares the reused item for draw i and samples it.
		draw func(s *sampler, rng *rand.Rand, i int) (rate int, keep bool, weight float64)
	}{
		{
			name: "healthy health_check by trace id", cfg: testConfig(t, nil), rule: "health_check", percent: 10,
			draw: logDraw(func(records plog.LogRecordSlice) func(plog.LogRecord, *rand.Rand, int) {
				healthCheck(records, mcpconv.HealthHealthy)
				return func(lr plog.LogRecord, rng *rand.Rand, _ int) { lr.SetTraceID(randomTraceID(rng)) }
			}),
		},
		{
			name: "healthy health_check by event.id", cfg: testConfig(t, nil), rule: "health_check", percent: 10,
			draw: logDraw(func(records plog.LogRecordSlice) func(plog.LogRecord, *rand.Rand, int) {
				healthCheck(records, mcpconv.HealthHealthy)
				return func(lr plog.LogRecord, _ *rand.Rand, i int) {
					lr.Attributes().PutStr(mcpconv.EventID, "hc-"+strconv.Itoa(i))
				}
			}),
		},
		{
			name: "healthy health_check by content", cfg: testConfig(t, nil), rule: "health_check", percent: 10,
			draw: logDraw(func(records plog.LogRecordSlice) func(plog.LogRecord, *rand.Rand, int) {
				healthCheck(records, mcpconv.HealthHealthy)
				return func(lr plog.LogRecord, _ *rand.Rand, i int) {
					lr.SetTimestamp(1795651200000000000 + pcommon.Timestamp(i)*1000)
				}
			}),
		},
		{
			name: "lb_decision by trace id", cfg: testConfig(t, nil), rule: "lb_decision", percent: 1,
			draw: logDraw(func(records plog.LogRecordSlice) func(plog.LogRecord, *rand.Rand, int) {
				lbDecision(records, pcommon.TraceID{})
				return func(lr plog.LogRecord, rng *rand.Rand, _ int) { lr.SetTraceID(randomTraceID(rng)) }
			}),
		},
		{
			name: "lb_decision by content", cfg: testConfig(t, nil), rule: "lb_decision", percent: 1,
			draw: logDraw(func(records plog.LogRecordSlice) func(plog.LogRecord, *rand.Rand, int) {
				lbDecision(records, pcommon.TraceID{})
				return func(lr plog.LogRecord, _ *rand.Rand, i int) {
					lr.Attributes().PutStr(mcpconv.JSONRPCRequestID, strconv.Itoa(i))
				}
			}),
		},
		{
			name: "routing spans at a configured rate", cfg: testConfig(t, map[string]float64{"routing": 37.5}),
			rule: "routing", percent: 37.5,
			draw: spanDraw(func(spans ptrace.SpanSlice) func(ptrace.Span, *rand.Rand, int) {
				routingSpan(spans, pcommon.TraceID{})
				return func(span ptrace.Span, rng *rand.Rand, _ int) { span.SetTraceID(randomTraceID(rng)) }
			}),
		},
		{
			name: "spans of a rule", cfg: testConfig(t, nil, tenantRule), rule: "tenant_acme", percent: 25,
			draw: spanDraw(func(spans ptrace.SpanSlice) func(ptrace.Span, *rand.Rand, int) {
				routingSpan(spans, pcommon.TraceID{}).Attributes().PutStr("tenant", "acme")
				return func(span ptrace.Span, rng *rand.Rand, _ int) { span.SetTraceID(randomTraceID(rng)) }
			}),
		},
		{
			name: "failed health_check", cfg: testConfig(t, map[string]float64{"health_check": 0}), rule: "failure", percent: 100,
			draw: logDraw(func(records plog.LogRecordSlice) func(plog.LogRecord, *rand.Rand, int) {
				healthCheck(records, mcpconv.HealthUnhealthy)
				return func(lr plog.LogRecord, rng *rand.Rand, _ int) { lr.SetTraceID(randomTraceID(rng)) }
			}),
		},
		{
			name: "other dropped at 0", cfg: testConfig(t, map[string]float64{"other": 0}), rule: "other", percent: 0,
			draw: spanDraw(func(spans ptrace.SpanSlice) func(ptrace.Span, *rand.Rand, int) {
				spans.AppendEmpty().SetName("cache lookup")
				return func(span ptrace.Span, rng *rand.Rand, _ int) { span.SetTraceID(randomTraceID(rng)) }
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSampler(tt.cfg)
			rng := rand.New(rand.NewPCG(1, uint64(len(tt.name))))
			wantWeight := 0.0
			if tt.percent > 0 {
				wantWeight = 100 / tt.percent
			}
			kept, weights := 0, 0.0
			for i := range accuracyItems {
				rate, keep, weight := tt.draw(s, rng, i)
				if got := s.policies[rate].name; got != tt.rule {
					t.Fatalf("draw %d decided by %s, want %s", i, got, tt.rule)
				}
				if keep {
					kept++
					weights += weight
					if math.Abs(weight-wantWeight) > 1e-12*wantWeight {
						t.Fatalf("draw %d weighs %v, want %v: the inverse of the rate applied", i, weight, wantWeight)
					}
				}
			}
			share := 100 * float64(kept) / accuracyItems
			t.Logf("%s (rule %s at %g%%): kept %d of %d (%.4f%%), sum of weights %.1f",
				tt.name, tt.rule, tt.percent, kept, accuracyItems, share, weights)
			assert.InDelta(t, tt.percent, share, 0.5, "share kept, in percentage points")
			if tt.percent > 0 {
				p := tt.percent / 100
				sd := math.Sqrt(accuracyItems * (1 - p) / p) // of the Horvitz-Thompson estimate
				assert.InDelta(t, float64(accuracyItems), weights, math.Max(5*sd, 1e-6), "sum of weights estimates the total")
			}
		})
	}
}

// logDraw reuses one log record: setup appends it and returns how to vary it
// per draw; the sampling attribute a previous draw wrote is removed.
func logDraw(setup func(plog.LogRecordSlice) func(plog.LogRecord, *rand.Rand, int)) func(*sampler, *rand.Rand, int) (int, bool, float64) {
	_, resource, records := newRecords()
	vary := setup(records)
	lr := records.At(0)
	return func(s *sampler, rng *rand.Rand, i int) (int, bool, float64) {
		lr.Attributes().Remove(mcpconv.SamplingThreshold)
		vary(lr, rng, i)
		rate, keep := s.sampleLog(lr, resource)
		return rate, keep, logWeight(lr)
	}
}

// spanDraw is logDraw for spans.
func spanDraw(setup func(ptrace.SpanSlice) func(ptrace.Span, *rand.Rand, int)) func(*sampler, *rand.Rand, int) (int, bool, float64) {
	_, resource, spans := newSpans()
	vary := setup(spans)
	span := spans.At(0)
	return func(s *sampler, rng *rand.Rand, i int) (int, bool, float64) {
		span.TraceState().FromRaw("")
		vary(span, rng, i)
		rate, keep := s.sampleSpan(span, resource)
		return rate, keep, spanWeight(span)
	}
}

// TestHealthChecksThroughTheProcessor sends 200,000 health checks, 20% of
// them failed, through the processor with the default config: every failed
// check reaches the next consumer unchanged, about 10% of the healthy ones
// do, and the weights they carry add up to the number sent.
func TestHealthChecksThroughTheProcessor(t *testing.T) {
	const batches, perBatch = 20, 10_000
	sink := new(consumertest.LogsSink)
	p := startLogs(t, testConfig(t, nil), nopSettings(), sink)
	rng := rand.New(rand.NewPCG(7, 7))
	healthy := 0
	for b := range batches {
		ld, _, records := newRecords()
		for i := range perBatch {
			status := mcpconv.HealthHealthy
			if rng.IntN(5) == 0 {
				status = mcpconv.HealthUnhealthy
			} else {
				healthy++
			}
			lr := healthCheck(records, status)
			lr.Attributes().PutStr(mcpconv.EventID, "hc-"+strconv.Itoa(b*perBatch+i))
			if i%2 == 0 { // half of them decided by trace id, half by event.id
				lr.SetTraceID(randomTraceID(rng))
			}
		}
		require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	}
	failed := batches*perBatch - healthy

	keptHealthy, keptFailed, weights := 0, 0, 0.0
	for _, ld := range sink.AllLogs() {
		records := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < records.Len(); i++ {
			lr := records.At(i)
			weights += logWeight(lr)
			if v, _ := lr.Attributes().Get(mcpconv.HealthStatus); v.Str() == mcpconv.HealthHealthy {
				keptHealthy++
				continue
			}
			keptFailed++
			_, marked := lr.Attributes().Get(mcpconv.SamplingThreshold)
			require.False(t, marked, "a failure is kept unchanged")
		}
	}
	sd := math.Sqrt(float64(healthy) * 0.1 * 0.9)
	t.Logf("healthy %d kept %d (%.3f%%), failed %d kept %d, sum of weights %.1f of %d",
		healthy, keptHealthy, 100*float64(keptHealthy)/float64(healthy), failed, keptFailed, weights, batches*perBatch)
	assert.Equal(t, failed, keptFailed, "every failure is kept")
	assert.InDelta(t, 0.1*float64(healthy), float64(keptHealthy), 5*sd, "healthy checks kept, binomial, 5 sigma")
	assert.InDelta(t, float64(batches*perBatch), weights, 5*math.Sqrt(float64(healthy)*0.9/0.1))
}

// TestConsistentAcrossRates checks the consistency property: an item kept at
// a lower rate is kept at every higher rate, for each source of randomness;
// a span and a record of the same trace are decided alike at every rate.
func TestConsistentAcrossRates(t *testing.T) {
	const items = 100_000
	rates := []float64{1, 10, 50}
	samplers := make([]*sampler, len(rates))
	for i, r := range rates {
		samplers[i] = newSampler(testConfig(t, map[string]float64{"lb_decision": r, "routing": r}))
	}
	_, spanResource, spans := newSpans()
	span := routingSpan(spans, pcommon.TraceID{})
	_, logResource, records := newRecords()
	lr := lbDecision(records, pcommon.TraceID{})
	// Each source prepares draw i; withSpan says whether the span is part of it.
	sources := map[string]func(rng *rand.Rand, i int) (withSpan bool){
		"trace id": func(rng *rand.Rand, _ int) bool {
			tid := randomTraceID(rng)
			span.SetTraceID(tid)
			lr.SetTraceID(tid)
			return true
		},
		"event.id": func(_ *rand.Rand, i int) bool {
			lr.Attributes().PutStr(mcpconv.EventID, "lb-"+strconv.Itoa(i))
			return false
		},
		"content": func(_ *rand.Rand, i int) bool {
			lr.SetTimestamp(pcommon.Timestamp(1795651200000000000 + i))
			return false
		},
	}
	for _, name := range []string{"trace id", "event.id", "content"} {
		t.Run(name, func(t *testing.T) {
			lr.SetTraceID(pcommon.TraceID{})
			lr.Attributes().Remove(mcpconv.EventID)
			rng := rand.New(rand.NewPCG(3, 3))
			keptAt := make([]int, len(rates))
			for i := range items {
				withSpan := sources[name](rng, i)
				prevKept := false
				for j, s := range samplers {
					lr.Attributes().Remove(mcpconv.SamplingThreshold)
					_, keep := s.sampleLog(lr, logResource)
					if withSpan {
						span.TraceState().FromRaw("")
						if _, spanKeep := s.sampleSpan(span, spanResource); spanKeep != keep {
							t.Fatalf("item %d at %g%%: span kept %v, record kept %v", i, rates[j], spanKeep, keep)
						}
					}
					if keep {
						keptAt[j]++
					}
					if prevKept && !keep {
						t.Fatalf("item %d kept at %g%% but not at %g%%", i, rates[j-1], rates[j])
					}
					prevKept = keep
				}
			}
			t.Logf("kept at %v%%: %v of %d", rates, keptAt, items)
		})
	}
}

// TestSpanAndLogOfOneTraceDecideAlike sends a routing span and a
// load-balancer decision of the same trace, both at 10%, through the two
// processors: they are kept or dropped together, with the same threshold.
func TestSpanAndLogOfOneTraceDecideAlike(t *testing.T) {
	const traces = 50_000
	cfg := testConfig(t, map[string]float64{"routing": 10, "lb_decision": 10})
	spanSink, logSink := new(consumertest.TracesSink), new(consumertest.LogsSink)
	tp := startTraces(t, cfg, nopSettings(), spanSink)
	lp := startLogs(t, cfg, nopSettings(), logSink)

	rng := rand.New(rand.NewPCG(5, 5))
	td, _, spans := newSpans()
	ld, _, records := newRecords()
	for i := range traces {
		tid := randomTraceID(rng)
		routingSpan(spans, tid).Attributes().PutInt("trace.index", int64(i))
		lbDecision(records, tid).Attributes().PutInt("trace.index", int64(i))
	}
	require.NoError(t, tp.ConsumeTraces(context.Background(), td))
	require.NoError(t, lp.ConsumeLogs(context.Background(), ld))

	keptSpans := map[int64]string{} // trace index -> tracestate
	keptSpanSlice := spanSink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < keptSpanSlice.Len(); i++ {
		v, _ := keptSpanSlice.At(i).Attributes().Get("trace.index")
		keptSpans[v.Int()] = keptSpanSlice.At(i).TraceState().AsRaw()
	}
	keptLogs := map[int64]string{}
	keptRecords := logSink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < keptRecords.Len(); i++ {
		v, _ := keptRecords.At(i).Attributes().Get("trace.index")
		th, _ := keptRecords.At(i).Attributes().Get(mcpconv.SamplingThreshold)
		keptLogs[v.Int()] = "ot=th:" + th.Str()
	}
	t.Logf("%d traces: %d spans and %d records kept", traces, len(keptSpans), len(keptLogs))
	assert.Equal(t, keptSpans, keptLogs, "the same traces kept, at the same threshold")
	assert.InDelta(t, traces/10, len(keptSpans), 5*math.Sqrt(traces*0.1*0.9))
}

// mixedTraces is a batch of every kind of span, with and without failures
// and upstream tracestate; the same seed builds the same batch.
func mixedTraces(seed uint64) ptrace.Traces {
	rng := rand.New(rand.NewPCG(seed, seed))
	td, _, spans := newSpans()
	states := []string{"", "congo=t61rcWkgMzE", "ot=th:8", "ot=th:fd70a3d70a3d71", "ot=rv:c0ffee0c0ffee0", "not a tracestate"}
	for i := range 3000 {
		tid := randomTraceID(rng)
		var span ptrace.Span
		switch i % 3 {
		case 0:
			span = routingSpan(spans, tid)
		case 1:
			span = routingSpan(spans, tid)
			span.SetKind(ptrace.SpanKindClient)
		default:
			span = spans.AppendEmpty()
			span.SetTraceID(tid)
			span.SetName("cache lookup")
		}
		span.TraceState().FromRaw(states[rng.IntN(len(states))])
		if rng.IntN(10) == 0 {
			span.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

// mixedLogs is a batch of every kind of event, with and without trace id,
// event.id and upstream threshold; the same seed builds the same batch.
func mixedLogs(seed uint64) plog.Logs {
	rng := rand.New(rand.NewPCG(seed, seed))
	ld, _, records := newRecords()
	statuses := []string{mcpconv.HealthHealthy, mcpconv.HealthHealthy, mcpconv.HealthHealthy, mcpconv.HealthUnhealthy}
	for i := range 3000 {
		var lr plog.LogRecord
		switch i % 3 {
		case 0:
			lr = healthCheck(records, statuses[rng.IntN(len(statuses))])
		case 1:
			lr = lbDecision(records, pcommon.TraceID{})
		default:
			lr = records.AppendEmpty()
			lr.Body().SetStr("cache warmed")
		}
		lr.SetTimestamp(pcommon.Timestamp(1795651200000000000 + rng.Int64N(1e12)))
		switch rng.IntN(4) {
		case 0:
			lr.SetTraceID(randomTraceID(rng))
		case 1:
			lr.Attributes().PutStr(mcpconv.EventID, "ev-"+strconv.Itoa(i))
		case 2:
			lr.Attributes().PutStr(mcpconv.SamplingThreshold, "8")
		}
	}
	return ld
}

// TestReplayDecidesAlike processes the same batches twice, in two
// processors: the output is identical. Processing the output again changes
// nothing: the sampler is idempotent, so a replay through it, or a second
// tier with the same rates, keeps what the first kept.
func TestReplayDecidesAlike(t *testing.T) {
	cfg := testConfig(t, map[string]float64{"routing": 10, "tool_call": 50, "other": 5})
	var outTraces [2]ptrace.Traces
	var outLogs [2]plog.Logs
	for run := range 2 {
		spanSink, logSink := new(consumertest.TracesSink), new(consumertest.LogsSink)
		require.NoError(t, startTraces(t, cfg, nopSettings(), spanSink).ConsumeTraces(context.Background(), mixedTraces(11)))
		require.NoError(t, startLogs(t, cfg, nopSettings(), logSink).ConsumeLogs(context.Background(), mixedLogs(11)))
		outTraces[run], outLogs[run] = spanSink.AllTraces()[0], logSink.AllLogs()[0]
	}
	assert.Equal(t, tracesJSON(t, outTraces[0]), tracesJSON(t, outTraces[1]))
	assert.Equal(t, logsJSON(t, outLogs[0]), logsJSON(t, outLogs[1]))
	assert.Less(t, outTraces[0].SpanCount(), 3000)
	assert.Less(t, outLogs[0].LogRecordCount(), 3000)

	spanSink, logSink := new(consumertest.TracesSink), new(consumertest.LogsSink)
	require.NoError(t, startTraces(t, cfg, nopSettings(), spanSink).ConsumeTraces(context.Background(), outTraces[1]))
	require.NoError(t, startLogs(t, cfg, nopSettings(), logSink).ConsumeLogs(context.Background(), outLogs[1]))
	assert.Equal(t, tracesJSON(t, outTraces[0]), tracesJSON(t, spanSink.AllTraces()[0]), "sampled twice = sampled once")
	assert.Equal(t, logsJSON(t, outLogs[0]), logsJSON(t, logSink.AllLogs()[0]), "sampled twice = sampled once")
}

func tracesJSON(t *testing.T, td ptrace.Traces) string {
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return string(b)
}

func logsJSON(t *testing.T, ld plog.Logs) string {
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return string(b)
}

// TestFailuresAreNeverDropped sends every kind of failure, with every other
// rate at 0 and upstream thresholds their randomness does not pass: all of
// them are kept, unchanged.
func TestFailuresAreNeverDropped(t *testing.T) {
	zero := map[string]float64{}
	for _, name := range rateNames() {
		if name != failureRate {
			zero[name] = 0
		}
	}
	drop := RuleConfig{Name: "drop_weather", Match: map[string]string{mcpconv.ServerKey: "weather-1"}, Percent: percent(0)}
	cfg := testConfig(t, zero, drop)

	td, _, spans := newSpans()
	ld, _, records := newRecords()
	rng := rand.New(rand.NewPCG(9, 9))
	for range 2000 {
		tid := randomTraceID(rng)
		routingSpan(spans, tid).Status().SetCode(ptrace.StatusCodeError)
		client := routingSpan(spans, tid)
		client.SetKind(ptrace.SpanKindClient)
		client.Attributes().PutStr(mcpconv.ErrorType, "tool_error")
		client.TraceState().FromRaw("ot=th:fffffffffffff") // 2^-52, not passed by this randomness
		other := spans.AppendEmpty()
		other.SetTraceID(tid)
		other.Status().SetCode(ptrace.StatusCodeError)
		// An exception recorded on a span whose status stayed unset: an
		// error_log row of its own.
		handled := routingSpan(spans, tid)
		handled.Events().AppendEmpty().SetName(mcpconv.ExceptionEventName)

		healthCheck(records, mcpconv.HealthUnhealthy).SetTraceID(tid)
		changed := records.AppendEmpty()
		changed.SetEventName(mcpconv.EventServerHealthChanged)
		changed.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		changed.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthUnhealthy)
		breaker := records.AppendEmpty()
		breaker.SetEventName(mcpconv.EventBreakerStateChange)
		breaker.SetTraceID(tid)
		breaker.Attributes().PutStr(mcpconv.BreakerToState, mcpconv.BreakerOpen)
		breaker.Attributes().PutStr(mcpconv.SamplingThreshold, "fffffffffffff")
		routerError := records.AppendEmpty()
		routerError.SetEventName(mcpconv.EventError)
		severe := lbDecision(records, tid)
		severe.SetSeverityNumber(plog.SeverityNumberError)
		typed := records.AppendEmpty()
		typed.Attributes().PutStr(mcpconv.ErrorType, "config_invalid")
	}
	wantTraces, wantLogs := tracesJSON(t, td), logsJSON(t, ld)

	spanSink, logSink := new(consumertest.TracesSink), new(consumertest.LogsSink)
	require.NoError(t, startTraces(t, cfg, nopSettings(), spanSink).ConsumeTraces(context.Background(), td))
	require.NoError(t, startLogs(t, cfg, nopSettings(), logSink).ConsumeLogs(context.Background(), ld))
	assert.Equal(t, wantTraces, tracesJSON(t, spanSink.AllTraces()[0]))
	assert.Equal(t, wantLogs, logsJSON(t, logSink.AllLogs()[0]))
}
