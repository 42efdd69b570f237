package mcpsampler

import (
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var fuzzPercents = []float64{0, 0.5, 1, 10, 50, 99.9, 100}

// FuzzTraceState feeds arbitrary tracestates to the span sampler and checks
// the decision against the rule (keep iff the randomness, from ot=rv or the
// trace id, passes the stricter of the configured and the arriving
// threshold; failures and 100% always, unchanged) and that a kept span's
// tracestate reads back, as the exporter reads it, to the threshold applied.
func FuzzTraceState(f *testing.F) {
	for _, ts := range []string{"", "ot=th:8", "ot=th:0", "ot=th:fd70a3d70a3d71", "ot=rv:fffffffffffff0;th:c",
		"congo=t61rcWkgMzE,ot=th:8;xx:yy", "ot=th:zz", "ot=rv:1", "not a tracestate", "ot=,", " , ot=th:1 ,a=b",
		"a@b=c,ot=th:e6666666666666;rv:00000000000001"} {
		f.Add(ts, uint64(0x00e7000000000000), false, uint8(3))
		f.Add(ts, uint64(0x0012345678abcdef), true, uint8(4))
	}
	f.Fuzz(func(t *testing.T, traceState string, randomness uint64, failed bool, pick uint8) {
		pct := fuzzPercents[int(pick)%len(fuzzPercents)]
		s := newSampler(&Config{Rates: map[string]float64{"routing": pct}})
		_, resource, spans := newSpans()
		span := routingSpan(spans, traceIDWithRandomness(randomness))
		span.TraceState().FromRaw(traceState)
		if failed {
			span.Attributes().PutStr(mcpconv.ErrorType, "timeout")
		}

		arrived, _ := sampling.NewW3CTraceState(traceState)
		incoming, hasIncoming := arrived.OTelValue().TValueThreshold()
		rnd, hasRnd := arrived.OTelValue().RValueRandomness()
		if !hasRnd {
			rnd = sampling.TraceIDToRandomness(span.TraceID())
		}
		applied, _ := sampling.ProbabilityToThreshold(pct / 100)
		if pct == 0 {
			applied = sampling.NeverSampleThreshold
		}
		if hasIncoming && sampling.ThresholdGreater(incoming, applied) {
			applied = incoming
		}
		unconditional := failed || pct == 100
		wantKeep := unconditional || (pct > 0 && applied.ShouldSample(rnd))

		_, keep := s.sampleSpan(span, resource)
		if keep != wantKeep {
			t.Fatalf("kept %v, want %v (tracestate %q, randomness %x, %g%%)", keep, wantKeep, traceState, rnd.Unsigned(), pct)
		}
		out := span.TraceState().AsRaw()
		if !keep {
			return
		}
		if unconditional || (hasIncoming && incoming == applied) {
			if out != traceState {
				t.Fatalf("tracestate changed from %q to %q", traceState, out)
			}
			return
		}
		written, err := sampling.NewW3CTraceState(out)
		if err != nil {
			t.Fatalf("written tracestate %q (from %q) does not parse: %v", out, traceState, err)
		}
		if th, ok := written.OTelValue().TValueThreshold(); !ok || th != applied {
			t.Fatalf("written tracestate %q records %x, want %x", out, th.Unsigned(), applied.Unsigned())
		}
		if hasRnd && written.OTelValue().RValue() != arrived.OTelValue().RValue() {
			t.Fatalf("rv lost: %q -> %q", traceState, out)
		}
		if spanWeight(span) != applied.AdjustedCount() {
			t.Fatalf("weight %v, want %v", spanWeight(span), applied.AdjustedCount())
		}
	})
}

// FuzzLogSampling does the same for log records: arbitrary
// sampling.threshold, sampling.randomness and event.id values, with or
// without a trace id.
func FuzzLogSampling(f *testing.F) {
	for _, th := range []string{"", "8", "0", "fd70a3d70a3d71", "zz", "fffffffffffffff"} {
		f.Add(th, "", "hc-1", uint64(0x00e7000000000000), true, uint8(3))
		f.Add(th, "fffffffffffff0", "", uint64(0), false, uint8(2))
	}
	f.Fuzz(func(t *testing.T, threshold, randomness, eventID string, traceRandomness uint64, hasTrace bool, pick uint8) {
		pct := fuzzPercents[int(pick)%len(fuzzPercents)]
		s := newSampler(&Config{Rates: map[string]float64{"lb_decision": pct}})
		_, resource, records := newRecords()
		var tid [16]byte
		if hasTrace {
			tid = traceIDWithRandomness(traceRandomness)
		}
		lr := lbDecision(records, tid)
		attrs := lr.Attributes()
		for k, v := range map[string]string{mcpconv.SamplingThreshold: threshold, mcpconv.SamplingRandomness: randomness, mcpconv.EventID: eventID} {
			if v != "" {
				attrs.PutStr(k, v)
			}
		}

		incoming, err := sampling.TValueToThreshold(threshold)
		hasIncoming := err == nil
		applied, _ := sampling.ProbabilityToThreshold(pct / 100)
		if pct == 0 {
			applied = sampling.NeverSampleThreshold
		}
		if hasIncoming && sampling.ThresholdGreater(incoming, applied) {
			applied = incoming
		}
		before := attrs.AsRaw()
		wantKeep := pct == 100 || (pct > 0 && applied.ShouldSample(logRandomness(lr)))

		_, keep := s.sampleLog(lr, resource)
		if keep != wantKeep {
			t.Fatalf("kept %v, want %v", keep, wantKeep)
		}
		if !keep {
			return
		}
		if pct == 100 || (hasIncoming && incoming == applied) {
			if got := attrs.AsRaw(); len(got) != len(before) || got[mcpconv.SamplingThreshold] != before[mcpconv.SamplingThreshold] {
				t.Fatalf("attributes changed from %v to %v", before, got)
			}
			return
		}
		if w := logWeight(lr); w != applied.AdjustedCount() {
			t.Fatalf("weight %v, want %v", w, applied.AdjustedCount())
		}
	})
}
