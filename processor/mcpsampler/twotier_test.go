package mcpsampler

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/internal/contenthash"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Two tiers (issue #14): agent collectors run mcpsampler at the edge and
// forward OTLP to gateway collectors, which run mcpsampler again before the
// mcppg exporter. TestTwoTiers sends one deterministic population through an
// agent mcpsampler, an OTLP/protobuf hop and a gateway mcpsampler, and
// compares every item with what a single mcpsampler at the stricter rate of
// its kind does with it.

// itemIndexKey is a test-only attribute that numbers the items of the
// population, so that outcomes are compared item by item.
const itemIndexKey = "test.item.index"

// twoTierBatch is the number of items of one signal in a batch.
const twoTierBatch = 2_000

// itemClass is a sampled kind of router telemetry, healthy or failed.
type itemClass int

const (
	classHealthyCheck itemClass = iota
	classFailedCheck
	classLBDecision
	classFailedLBDecision
	classRouting
	classFailedRouting
	classToolCall
	classFailedToolCall
	classUpstreamLBDecision
	classUpstreamRouting
	numItemClasses
)

// upstreamPercent is the rate at which the items of the upstream classes
// were sampled before the agent (by the router's SDK, or a
// probabilistic_sampler): they arrive with its threshold and, as an upstream
// sampler only passes on what it keeps, with randomness that passes it. At
// 50% the threshold is 2^55: setting that bit of uniform randomness gives
// uniform randomness among the values that pass.
const upstreamPercent = 50

// itemClasses: the name of each class, the key of Config.Rates that applies
// to it, its signal, the rate it was sampled at before the agent (100: it
// was not) and how many items of it the population holds.
var itemClasses = [numItemClasses]struct {
	name     string
	rate     string
	span     bool
	upstream float64
	count    int
}{
	classHealthyCheck:       {"healthy health_check record", mcpconv.KindHealthCheck.String(), false, 100, 40_000},
	classFailedCheck:        {"failed health_check record", failureRate, false, 100, 6_000},
	classLBDecision:         {"lb_decision record", mcpconv.KindLBDecision.String(), false, 100, 60_000},
	classFailedLBDecision:   {"failed lb_decision record", failureRate, false, 100, 2_000},
	classRouting:            {"routing span", mcpconv.KindRouting.String(), true, 100, 40_000},
	classFailedRouting:      {"failed routing span", failureRate, true, 100, 6_000},
	classToolCall:           {"tool_call span", mcpconv.KindToolCall.String(), true, 100, 40_000},
	classFailedToolCall:     {"failed tool_call span", failureRate, true, 100, 4_000},
	classUpstreamLBDecision: {"lb_decision record, 50% upstream", mcpconv.KindLBDecision.String(), false, upstreamPercent, 20_000},
	classUpstreamRouting:    {"routing span, 50% upstream", mcpconv.KindRouting.String(), true, upstreamPercent, 20_000},
}

// population is the input of every scenario. Its batches are read-only: each
// run sends copies.
type population struct {
	traces []ptrace.Traces
	logs   []plog.Logs
	// Per item index:
	class []itemClass
	// rnd is the item's 56 bits of randomness, worked out by the test from
	// what it put in the item (trace id, rv, sampling.randomness, event.id,
	// content), not by asking the sampler.
	rnd []uint64
	// sent is the span's tracestate or the record's sampling.threshold as
	// sent to the first tier.
	sent []string
}

// twoTierPopulation builds the population, shuffled, from a fixed seed: the
// same on every run.
func twoTierPopulation() *population {
	rng := rand.New(rand.NewPCG(14, 14))
	var order []itemClass
	for c := range numItemClasses {
		for range itemClasses[c].count {
			order = append(order, c)
		}
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	pop := &population{class: order, rnd: make([]uint64, len(order)), sent: make([]string, len(order))}
	var (
		spans   ptrace.SpanSlice
		records plog.LogRecordSlice
	)
	for i, c := range order {
		if itemClasses[c].span {
			if len(pop.traces) == 0 || spans.Len() == twoTierBatch {
				var td ptrace.Traces
				td, _, spans = newSpans()
				pop.traces = append(pop.traces, td)
			}
			pop.rnd[i], pop.sent[i] = addTwoTierSpan(spans, c, i, rng)
			continue
		}
		if len(pop.logs) == 0 || records.Len() == twoTierBatch {
			var ld plog.Logs
			ld, _, records = newRecords()
			pop.logs = append(pop.logs, ld)
		}
		pop.rnd[i], pop.sent[i] = addTwoTierRecord(records, c, i, rng)
	}
	for _, td := range pop.traces {
		td.MarkReadOnly()
	}
	for _, ld := range pop.logs {
		ld.MarkReadOnly()
	}
	return pop
}

// randomness56 is a random value of 56 bits, as an rv or sampling.randomness;
// it passes the upstream threshold of class c.
func randomness56(rng *rand.Rand, c itemClass) uint64 {
	rnd := rng.Uint64() & (sampling.MaxAdjustedCount - 1)
	if itemClasses[c].upstream < 100 {
		rnd |= thresholdOf(itemClasses[c].upstream)
	}
	return rnd
}

// twoTierTraceID is a random trace id whose randomness passes the upstream
// threshold of class c.
func twoTierTraceID(rng *rand.Rand, c itemClass) pcommon.TraceID {
	tid := randomTraceID(rng)
	if itemClasses[c].upstream < 100 {
		return traceIDWithRandomness(sampling.TraceIDToRandomness(tid).Unsigned() | thresholdOf(itemClasses[c].upstream))
	}
	return tid
}

// addTwoTierSpan appends span i of class c, decided by its trace id or by an
// explicit rv, sometimes behind other vendors' tracestate entries; a span
// sampled upstream carries that threshold. It returns the span's randomness
// and tracestate.
func addTwoTierSpan(spans ptrace.SpanSlice, c itemClass, i int, rng *rand.Rand) (uint64, string) {
	tid := twoTierTraceID(rng, c)
	span := routingSpan(spans, tid) // SERVER tools/call: a routing span
	span.Attributes().PutInt(itemIndexKey, int64(i))
	switch c {
	case classToolCall, classFailedToolCall:
		span.SetKind(ptrace.SpanKindClient) // CLIENT tools/call: a tool call
	}
	switch {
	case c == classFailedRouting:
		span.Status().SetCode(ptrace.StatusCodeError)
	case c == classFailedToolCall && i%2 == 0:
		span.Attributes().PutStr(mcpconv.ErrorType, "tool_error")
	case c == classFailedToolCall:
		span.Events().AppendEmpty().SetName(mcpconv.ExceptionEventName)
	}
	rnd, ot := sampling.TraceIDToRandomness(tid).Unsigned(), ""
	if itemClasses[c].upstream < 100 {
		ot = "th:" + tvalueOf(itemClasses[c].upstream)
	}
	ts := ""
	switch rng.IntN(6) {
	case 0:
		rnd = randomness56(rng, c)
		ts = fmt.Sprintf("ot=rv:%014x", rnd)
		if ot != "" {
			ts += ";" + ot
		}
	case 1:
		ts = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
		if ot != "" {
			ts = "ot=" + ot + "," + ts
		}
	case 2:
		rnd = randomness56(rng, c)
		ts = fmt.Sprintf("rojo=00f067aa0ba902b7,ot=rv:%014x", rnd)
		if ot != "" {
			ts += ";" + ot
		}
	default:
		if ot != "" {
			ts = "ot=" + ot
		}
	}
	span.TraceState().FromRaw(ts)
	return rnd, ts
}

// addTwoTierRecord appends record i of class c, decided by its trace id, its
// sampling.randomness, its event.id or its content; a record sampled
// upstream carries that threshold (and its randomness is a trace id or
// sampling.randomness, which the upstream sampler saw too). It returns the
// record's randomness and threshold.
func addTwoTierRecord(records plog.LogRecordSlice, c itemClass, i int, rng *rand.Rand) (uint64, string) {
	var lr plog.LogRecord
	switch c {
	case classHealthyCheck:
		lr = healthCheck(records, mcpconv.HealthHealthy)
	case classFailedCheck:
		lr = healthCheck(records, mcpconv.HealthUnhealthy)
	case classLBDecision, classUpstreamLBDecision:
		lr = lbDecision(records, pcommon.TraceID{})
	case classFailedLBDecision:
		lr = lbDecision(records, pcommon.TraceID{})
		lr.SetSeverityNumber(plog.SeverityNumberError)
	}
	lr.SetTimestamp(lr.Timestamp() + pcommon.Timestamp(i)*1_000_000)
	attrs := lr.Attributes()
	attrs.PutInt(itemIndexKey, int64(i))
	th, sources := "", 4
	if itemClasses[c].upstream < 100 {
		th, sources = tvalueOf(itemClasses[c].upstream), 2
		attrs.PutStr(mcpconv.SamplingThreshold, th)
	}
	const mask = sampling.MaxAdjustedCount - 1
	switch rng.IntN(sources) {
	case 0:
		tid := twoTierTraceID(rng, c)
		lr.SetTraceID(tid)
		return sampling.TraceIDToRandomness(tid).Unsigned(), th
	case 1:
		rnd := randomness56(rng, c)
		attrs.PutStr(mcpconv.SamplingRandomness, fmt.Sprintf("%014x", rnd))
		return rnd, th
	case 2:
		id := "ev-" + strconv.Itoa(i)
		attrs.PutStr(mcpconv.EventID, id)
		return xxhash.Sum64String(id) & mask, th
	default:
		// The content hash leaves sampling.threshold out, so the threshold
		// the agent writes does not change the randomness at the gateway.
		return contenthash.LogRecord(lr) & mask, th
	}
}

// tierRates is a configuration's rates of the sampled kinds; the others keep
// their defaults (failures 100%).
func tierRates(healthCheckPct, lbDecisionPct, routingPct, toolCallPct float64) map[string]float64 {
	return map[string]float64{
		mcpconv.KindHealthCheck.String(): healthCheckPct,
		mcpconv.KindLBDecision.String():  lbDecisionPct,
		mcpconv.KindRouting.String():     routingPct,
		mcpconv.KindToolCall.String():    toolCallPct,
	}
}

// stricterRates is, for every rate, the lower of the two configurations'.
func stricterRates(a, b *Config) map[string]float64 {
	out := map[string]float64{}
	for _, name := range rateNames() {
		out[name] = math.Min(rateOf(a, name), rateOf(b, name))
	}
	return out
}

// tracesThroughTiers sends copies of the batches through one mcpsampler per
// configuration, in order, each built by the factory and passing on to a
// consumertest sink. Between two tiers every batch crosses an OTLP/protobuf
// hop, as from an agent's exporter to a gateway's receiver. It returns what
// the last tier passed on.
func tracesThroughTiers(t *testing.T, batches []ptrace.Traces, tiers ...*Config) []ptrace.Traces {
	t.Helper()
	for n, cfg := range tiers {
		sink := new(consumertest.TracesSink)
		p := startTraces(t, cfg, nopSettings(), sink)
		for _, td := range batches {
			in := ptrace.NewTraces()
			if n == 0 {
				td.CopyTo(in)
			} else {
				wire, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
				require.NoError(t, err)
				in, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(wire)
				require.NoError(t, err)
			}
			require.NoError(t, p.ConsumeTraces(context.Background(), in))
		}
		batches = sink.AllTraces()
	}
	return batches
}

// logsThroughTiers is tracesThroughTiers for log records.
func logsThroughTiers(t *testing.T, batches []plog.Logs, tiers ...*Config) []plog.Logs {
	t.Helper()
	for n, cfg := range tiers {
		sink := new(consumertest.LogsSink)
		p := startLogs(t, cfg, nopSettings(), sink)
		for _, ld := range batches {
			in := plog.NewLogs()
			if n == 0 {
				ld.CopyTo(in)
			} else {
				wire, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
				require.NoError(t, err)
				in, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(wire)
				require.NoError(t, err)
			}
			require.NoError(t, p.ConsumeLogs(context.Background(), in))
		}
		batches = sink.AllLogs()
	}
	return batches
}

// itemOutcome is what became of one item.
type itemOutcome struct {
	kept bool
	// state is the span's tracestate or the record's sampling.threshold.
	state string
	// tvalue is the threshold recorded ("" for none), weight the adjusted
	// count read back the way the mcppg exporter reads it (mcpconv).
	tvalue string
	weight float64
}

// outcomes reads the output of a run, by item index.
func (pop *population) outcomes(t *testing.T, traces []ptrace.Traces, logs []plog.Logs) []itemOutcome {
	t.Helper()
	out := make([]itemOutcome, len(pop.class))
	keep := func(attrs pcommon.Map, o itemOutcome) {
		v, ok := attrs.Get(itemIndexKey)
		require.True(t, ok, "an item lost its index")
		i := int(v.Int())
		require.True(t, i >= 0 && i < len(out), "item index %d", i)
		require.False(t, out[i].kept, "item %d passed on twice", i)
		o.kept = true
		out[i] = o
	}
	for _, td := range traces {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					ts := span.TraceState().AsRaw()
					w3c, err := sampling.NewW3CTraceState(ts)
					require.NoError(t, err, "tracestate %q", ts)
					keep(span.Attributes(), itemOutcome{state: ts, tvalue: w3c.OTelValue().TValue(), weight: mcpconv.SpanAdjustedCount(span)})
				}
			}
		}
	}
	for _, ld := range logs {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					th := ""
					if v, ok := lr.Attributes().Get(mcpconv.SamplingThreshold); ok {
						th = v.AsString()
					}
					keep(lr.Attributes(), itemOutcome{state: th, tvalue: th, weight: mcpconv.LogAdjustedCount(lr)})
				}
			}
		}
	}
	return out
}

// classTally sums the outcomes of one class.
type classTally struct {
	items, kept int
	weights     float64
	wrong       int
	firstWrong  string
}

func (c *classTally) wrongf(format string, args ...any) {
	if c.wrong == 0 {
		c.firstWrong = fmt.Sprintf(format, args...)
	}
	c.wrong++
}

// TestTwoTiers runs the population through an agent mcpsampler and a gateway
// mcpsampler (two processors built by the factory, an OTLP/protobuf hop
// between them) for pairs of rates, and through a single mcpsampler at the
// stricter rate of each kind. For an item sampled upstream, "the stricter
// rate" also counts the upstream one. It asserts:
//
//  1. per item, kept at the end iff the single sampler at the stricter rate
//     keeps it, and iff its randomness (known to the test) is at least the
//     stricter rate's threshold: the same randomness gives the same decision
//     at both tiers, so the kept share is the stricter rate, not the product;
//  2. per kept item, the recorded threshold is the stricter rate's (none when
//     that is 100%), so its adjusted count, read back with mcpconv as the
//     exporter does, is 1/(stricter probability), never the product of the
//     tiers' weights; an item no tier is stricter for passes unchanged; the
//     output is byte for byte what the single sampler passes on;
//  3. per class, the sum of the adjusted counts estimates the population
//     before any sampling within 5 standard deviations (see the bound
//     below), as does the number kept;
//  4. every failure is kept, unchanged, with adjusted count 1.
//
// Weights applied twice (a tier that records 1/(p_in·p_own) for an item
// arriving with a threshold) break 2 and 3 for every class that two
// samplers sample below 100%. Every scenario has such classes, and the test
// checks that its bound tells them (require below): where one tier is at
// 100%, the classes sampled upstream at 50% have two weights to multiply.
func TestTwoTiers(t *testing.T) {
	pop := twoTierPopulation()
	tests := []struct {
		name           string
		agent, gateway map[string]float64
	}{
		{name: "same rates at both tiers", agent: tierRates(10, 1, 10, 25), gateway: tierRates(10, 1, 10, 25)},
		{name: "gateway stricter than agent", agent: tierRates(50, 10, 50, 50), gateway: tierRates(10, 1, 10, 25)},
		{name: "agent stricter than gateway", agent: tierRates(10, 1, 10, 25), gateway: tierRates(50, 10, 50, 50)},
		{name: "each tier stricter for some kinds", agent: tierRates(12.5, 1, 100, 30), gateway: tierRates(50, 2.5, 20, 30)},
		{name: "100% at the agent", agent: tierRates(100, 100, 100, 100), gateway: tierRates(10, 1, 10, 25)},
		{name: "100% at the gateway", agent: tierRates(10, 1, 10, 25), gateway: tierRates(100, 100, 100, 100)},
	}
	// The single sampler at the stricter rates, run once per set of rates
	// (most scenarios share one), before the scenarios run in parallel.
	type oneTier struct {
		traces   []ptrace.Traces
		logs     []plog.Logs
		outcomes []itemOutcome
	}
	singles := map[string]*oneTier{}
	for _, tt := range tests {
		stricter := testConfig(t, stricterRates(testConfig(t, tt.agent), testConfig(t, tt.gateway)))
		key := fmt.Sprint(stricter.Rates)
		if singles[key] == nil {
			one := &oneTier{traces: tracesThroughTiers(t, pop.traces, stricter), logs: logsThroughTiers(t, pop.logs, stricter)}
			one.outcomes = pop.outcomes(t, one.traces, one.logs)
			singles[key] = one
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			agent, gateway := testConfig(t, tt.agent), testConfig(t, tt.gateway)
			stricter := testConfig(t, stricterRates(agent, gateway))
			one := singles[fmt.Sprint(stricter.Rates)]

			twoTierTraces := tracesThroughTiers(t, pop.traces, agent, gateway)
			twoTierLogs := logsThroughTiers(t, pop.logs, agent, gateway)
			got, single := pop.outcomes(t, twoTierTraces, twoTierLogs), one.outcomes

			// effective is the stricter rate of class c, upstream included.
			effective := func(c itemClass) float64 {
				return math.Min(rateOf(stricter, itemClasses[c].rate), itemClasses[c].upstream)
			}
			var tallies [numItemClasses]classTally
			for i, c := range pop.class {
				pct := effective(c)
				tally := &tallies[c]
				tally.items++
				wantKept, wantTValue, wantWeight := true, "", 1.0
				if pct < 100 {
					wantKept = pop.rnd[i] >= thresholdOf(pct)
					wantTValue, wantWeight = tvalueOf(pct), 100/pct
				}
				o := got[i]
				// (1) The decision.
				if o.kept != wantKept || o.kept != single[i].kept {
					tally.wrongf("item %d (randomness %014x): kept %v by the two tiers, %v by one sampler at %g%%, want %v",
						i, pop.rnd[i], o.kept, single[i].kept, pct, wantKept)
					continue
				}
				if !o.kept {
					continue
				}
				tally.kept++
				tally.weights += o.weight
				switch {
				// (2) The weight: the stricter rate's, read back as the exporter does.
				case o.tvalue != wantTValue:
					tally.wrongf("item %d kept with threshold %q, want %q (%g%%)", i, o.tvalue, wantTValue, pct)
				case math.Abs(o.weight-wantWeight) > 1e-9*wantWeight:
					tally.wrongf("item %d: adjusted count %v, want %v = 1/(%g%%)", i, o.weight, wantWeight, pct)
				case o.state != single[i].state:
					tally.wrongf("item %d: %q after two tiers, %q after one sampler at %g%%", i, o.state, single[i].state, pct)
				// (4) Failures, and every item no tier is stricter for, pass unchanged.
				case pct == itemClasses[c].upstream && o.state != pop.sent[i]:
					tally.wrongf("item %d: sent with %q, passed on with %q", i, pop.sent[i], o.state)
				}
			}

			canTell := 0 // classes whose doubled weights the bound tells
			for c, tally := range tallies {
				class := itemClasses[c]
				pa, pg := rateOf(agent, class.rate)/100, rateOf(gateway, class.rate)/100
				up, p, n := class.upstream/100, effective(itemClass(c))/100, float64(tally.items)
				// (3) An item arrives with probability up (1: it was not
				// sampled upstream) and the tiers keep it with
				// probability q = p/up given its randomness, uniform among
				// the values that pass up; a kept item weighs w = 1/p. So
				// the number kept is Binomial(n, q), and the sum of
				// weights w·Binomial(n, q) has mean n/up (the population
				// before any sampling) and variance n·q(1-q)·w². A correct
				// sampler lands outside 5 standard deviations with
				// probability below 6e-7 (and the population is seeded,
				// so the outcome is the same on every run). When nothing
				// samples (q = 1) both bounds are 0: all kept, weight 1.
				// The 1e-9·n allows for rounding in the sum.
				q, w := p/up, 1/p
				weightBound := 5*math.Sqrt(n*q*(1-q))*w + 1e-9*n
				keptBound := 5 * math.Sqrt(n*q*(1-q))
				t.Logf("%-33s at %5g%% (upstream %g%%, agent %g%%, gateway %g%%): kept %6d of %6d, sum of adjusted counts %9.1f (want %6.0f ± %.1f)",
					class.name, 100*p, 100*up, 100*pa, 100*pg, tally.kept, tally.items, tally.weights, n/up, weightBound)
				assert.Zero(t, tally.wrong, "%s: %d items wrong; first: %s", class.name, tally.wrong, tally.firstWrong)
				assert.InDelta(t, n*q, float64(tally.kept), keptBound, "%s: number kept", class.name)
				assert.InDelta(t, n/up, tally.weights, weightBound, "%s: sum of adjusted counts", class.name)

				// Weights applied twice: the same items kept, each weighing
				// the product of the samplers' weights, 1/(up·pa·pg), so
				// the sum would be about n·q/(up·pa·pg). When two of the
				// samplers sample, that is off by more than the bound.
				samplers := 0
				for _, s := range []float64{up, pa, pg} {
					if s < 1 {
						samplers++
					}
				}
				if samplers >= 2 {
					doubled := n * q / (up * pa * pg)
					require.Greater(t, doubled-n/up, 2*weightBound, "%s: the bound cannot tell doubled weights", class.name)
					canTell++
				}
			}
			require.NotZero(t, canTell, "no class of this scenario would show weights applied twice")

			// Two tiers pass on exactly what one sampler at the stricter
			// rates passes on, batch by batch.
			assert.True(t, sameBatches(t, twoTierTraces, one.traces, (&ptrace.ProtoMarshaler{}).MarshalTraces),
				"spans after two tiers differ from spans after one sampler at the stricter rates")
			assert.True(t, sameBatches(t, twoTierLogs, one.logs, (&plog.ProtoMarshaler{}).MarshalLogs),
				"records after two tiers differ from records after one sampler at the stricter rates")
		})
	}
}

// sameBatches compares two lists of batches by their OTLP encoding.
func sameBatches[T any](t *testing.T, a, b []T, marshal func(T) ([]byte, error)) bool {
	t.Helper()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, err := marshal(a[i])
		require.NoError(t, err)
		y, err := marshal(b[i])
		require.NoError(t, err)
		if !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}
