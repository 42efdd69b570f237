package mcpsampler

import (
	"context"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/mcp-bridge/otelcol-mcp/internal/contenthash"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler/internal/metadata"
)

// The W3C tracestate limits as pkg/sampling enforces them when it parses (the
// exporter reads the weight back with it): 1024 characters, fewer than 32
// list members, 256 characters in the ot value.
const (
	maxTraceStateLen     = 1024
	maxTraceStateMembers = 31
	maxOTelValueLen      = 256
)

type tracesProcessor struct {
	sampler *sampler
	counts  *itemCounts
}

func newTracesProcessor(ctx context.Context, set processor.Settings, cfg *Config, next consumer.Traces) (processor.Traces, error) {
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	s := newSampler(cfg)
	p := &tracesProcessor{sampler: s, counts: newItemCounts(telemetry.ProcessorMcpsamplerItems, s, signalTraces)}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}

// processTraces removes the spans not sampled; an empty result goes no further.
func (p *tracesProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	tally := p.counts.start()
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		resource := rs.Resource().Attributes()
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(span ptrace.Span) bool {
				rate, keep := p.sampler.sampleSpan(span, resource)
				tally.add(rate, keep)
				return !keep
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
	p.counts.record(ctx, tally)
	if td.ResourceSpans().Len() == 0 {
		return td, processorhelper.ErrSkipProcessingData
	}
	return td, nil
}

// spanPolicy picks the rate of a span: failures (and spans that recorded an
// exception, which become error_log rows) first, then the first rule that
// matches, then the span's kind.
func (s *sampler) spanPolicy(span ptrace.Span, resource pcommon.Map) int {
	if mcpconv.IsFailedSpan(span) || mcpconv.HasExceptionEvent(span) {
		return failurePolicy
	}
	for i := range s.rules {
		r := &s.rules[i]
		if r.eventName != "" || (r.hasSpanKind && span.Kind() != r.spanKind) {
			continue
		}
		if r.matches(span.Attributes(), resource) {
			return r.policy
		}
	}
	return kindPolicy(mcpconv.ClassifySpan(span))
}

// sampleSpan decides a span and, when it keeps it at a new threshold, records
// that threshold in the span's tracestate (ot=th). It returns the policy
// index and the decision.
func (s *sampler) sampleSpan(span ptrace.Span, resource pcommon.Map) (int, bool) {
	rate := s.spanPolicy(span, resource)
	p := &s.policies[rate]
	switch {
	case p.keepAll:
		return rate, true
	case p.dropAll:
		return rate, false
	}
	raw := span.TraceState().AsRaw()
	var (
		w3c         sampling.W3CTraceState
		parsed      bool
		incoming    sampling.Threshold
		hasIncoming bool
		rnd         sampling.Randomness
		hasRnd      bool
	)
	if strings.Contains(raw, "ot=") {
		// On a parse error w3c holds what could be parsed; an unreadable
		// th or rv counts as absent.
		w3c, _ = sampling.NewW3CTraceState(raw)
		parsed = true
		incoming, hasIncoming = w3c.OTelValue().TValueThreshold()
		rnd, hasRnd = w3c.OTelValue().RValueRandomness()
	}
	if !hasRnd {
		rnd = spanRandomness(span)
	}
	keep, th, changed := p.decide(rnd, incoming, hasIncoming)
	if keep && changed {
		if raw == "" {
			span.TraceState().FromRaw(p.traceState) // th is p.threshold: nothing arrived
		} else {
			if !parsed {
				w3c, _ = sampling.NewW3CTraceState(raw)
			}
			span.TraceState().FromRaw(traceStateWith(&w3c, th))
		}
	}
	return rate, keep
}

// spanRandomness is the randomness of the span's trace id (W3C Trace Context
// level 2: its last 56 bits are random).
func spanRandomness(span ptrace.Span) sampling.Randomness {
	if tid := span.TraceID(); !tid.IsEmpty() {
		return sampling.TraceIDToRandomness(tid)
	}
	// A span without trace id is malformed; hash what identifies it so that
	// it is decided the same way every time it is seen.
	var h contenthash.Hash
	sid := span.SpanID()
	h.Bytes(sid[:])
	h.Uint64(uint64(span.StartTimestamp()))
	h.String(span.Name())
	return hashRandomness(h.Sum())
}

// traceStateWith sets threshold th in the parsed tracestate and serializes
// it, ot first. th is never below the threshold it carries, so the update
// cannot fail. When the result would break the W3C limits, entries are left
// out from the right end, as the W3C specification asks.
func traceStateWith(w3c *sampling.W3CTraceState, th sampling.Threshold) string {
	_ = w3c.OTelValue().UpdateTValueWithSampling(th)
	var b strings.Builder
	_ = w3c.Serialize(&b) // a strings.Builder never fails
	out := b.String()
	otLen := strings.IndexByte(out, ',') // ot values hold no comma
	if otLen < 0 {
		otLen = len(out)
	}
	otLen -= len("ot=")
	if len(out) <= maxTraceStateLen && otLen <= maxOTelValueLen && 1+len(w3c.ExtraValues()) <= maxTraceStateMembers {
		return out
	}
	return fitTraceState(w3c)
}

func fitTraceState(w3c *sampling.W3CTraceState) string {
	otts := w3c.OTelValue()
	var ot strings.Builder
	if rv := otts.RValue(); rv != "" {
		ot.WriteString("rv:" + rv + ";")
	}
	ot.WriteString("th:" + otts.TValue())
	for _, kv := range otts.ExtraValues() {
		if ot.Len()+len(";:")+len(kv.Key)+len(kv.Value) > maxOTelValueLen {
			break
		}
		ot.WriteString(";" + kv.Key + ":" + kv.Value)
	}
	var b strings.Builder
	b.WriteString("ot=" + ot.String())
	members := 1
	for _, kv := range w3c.ExtraValues() {
		if members == maxTraceStateMembers || b.Len()+len(",=")+len(kv.Key)+len(kv.Value) > maxTraceStateLen {
			break
		}
		b.WriteString("," + kv.Key + "=" + kv.Value)
		members++
	}
	return b.String()
}
