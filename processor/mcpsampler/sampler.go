package mcpsampler

import (
	"encoding/binary"
	"maps"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// policy is one rate: failure, a kind, or a configured rule.
type policy struct {
	name string
	// threshold rejects the items whose randomness is below it.
	threshold sampling.Threshold
	// tvalue is threshold.TValue(), written to log records.
	tvalue string
	// traceState is what the API writes into an empty tracestate.
	traceState string
	keepAll    bool
	dropAll    bool
}

func newPolicy(name string, percent float64) policy {
	p := policy{name: name, threshold: sampling.AlwaysSampleThreshold}
	switch {
	case percent >= 100:
	case percent <= 0:
		p.threshold = sampling.NeverSampleThreshold
	default:
		// Full precision: the recorded weight is the inverse of the rate
		// actually applied (Validate refuses rates too small to express).
		p.threshold, _ = sampling.ProbabilityToThreshold(percent / 100)
	}
	p.keepAll = p.threshold == sampling.AlwaysSampleThreshold
	p.dropAll = p.threshold == sampling.NeverSampleThreshold
	if !p.keepAll && !p.dropAll {
		p.tvalue = p.threshold.TValue()
		p.traceState = "ot=th:" + p.tvalue
	}
	return p
}

// decide is the consistent decision for an item of randomness rnd under
// policy p, given the threshold it arrived with (hasIncoming): the
// effective threshold is the stricter of the two, so an upstream sampler's
// weight is never loosened. It reports whether to keep the item, the
// threshold to record, and whether that differs from what the item carries.
func (p *policy) decide(rnd sampling.Randomness, incoming sampling.Threshold, hasIncoming bool) (keep bool, th sampling.Threshold, changed bool) {
	th = p.threshold
	if hasIncoming && sampling.ThresholdGreater(incoming, th) {
		th = incoming
	}
	if !th.ShouldSample(rnd) {
		return false, th, false
	}
	return true, th, !hasIncoming || th != incoming
}

// Policy indexes: failures first, then one per kind, then the rules.
const failurePolicy = 0

func kindPolicy(k mcpconv.Kind) int { return 1 + int(k) }

// sampler is the decision shared by the traces and logs processors.
type sampler struct {
	policies []policy
	rules    []rule
}

// rule is a compiled RuleConfig.
type rule struct {
	policy      int
	match       []attributeMatch
	hasSpanKind bool
	spanKind    ptrace.SpanKind
	eventName   string
}

type attributeMatch struct{ key, value string }

func newSampler(cfg *Config) *sampler {
	s := &sampler{policies: []policy{newPolicy(failureRate, rateOf(cfg, failureRate))}}
	for _, k := range mcpconv.Kinds() {
		s.policies = append(s.policies, newPolicy(k.String(), rateOf(cfg, k.String())))
	}
	for _, rc := range cfg.Rules {
		r := rule{policy: len(s.policies), eventName: rc.EventName}
		if rc.SpanKind != "" {
			r.hasSpanKind, r.spanKind = true, spanKinds[rc.SpanKind]
		}
		for _, k := range slices.Sorted(maps.Keys(rc.Match)) {
			r.match = append(r.match, attributeMatch{key: k, value: rc.Match[k]})
		}
		s.rules = append(s.rules, r)
		s.policies = append(s.policies, newPolicy(rc.Name, *rc.Percent))
	}
	return s
}

// rateOf is the configured rate of name; a rate left out of the config
// (possible only for a hand-built Config) keeps everything.
func rateOf(cfg *Config, name string) float64 {
	if p, ok := cfg.Rates[name]; ok {
		return p
	}
	return 100
}

// matches reports whether the item's attributes (or else its resource's)
// carry every attribute of the rule.
func (r *rule) matches(attrs, resource pcommon.Map) bool {
	for _, m := range r.match {
		v, ok := attrs.Get(m.key)
		if !ok {
			if v, ok = resource.Get(m.key); !ok {
				return false
			}
		}
		if valueText(v) != m.value {
			return false
		}
	}
	return true
}

// valueText is an attribute's value as text, without allocating for strings.
func valueText(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}

// hashRandomness takes the 56 bits of randomness from a 64-bit hash.
func hashRandomness(h uint64) sampling.Randomness {
	rnd, _ := sampling.UnsignedToRandomness(h & (sampling.MaxAdjustedCount - 1))
	return rnd
}

// contentHash hashes the fields of a record, each unambiguously encoded:
// the same record delivered again hashes the same. The fields are gathered
// in buf and hashed at once; a record too large for buf streams through a
// digest instead (a digest write per field would cost more than the rest of
// the decision). Use it as a local variable: it then costs no allocation.
type contentHash struct {
	buf       [384]byte
	n         int
	streaming bool
	d         xxhash.Digest
}

func (h *contentHash) flush() {
	if !h.streaming {
		h.d.Reset()
		h.streaming = true
	}
	_, _ = h.d.Write(h.buf[:h.n])
	h.n = 0
}

func (h *contentHash) uint64(v uint64) {
	if h.n > len(h.buf)-8 {
		h.flush()
	}
	binary.LittleEndian.PutUint64(h.buf[h.n:], v)
	h.n += 8
}

// string is length-prefixed so that no two sequences of fields collide.
func (h *contentHash) string(s string) {
	h.uint64(uint64(len(s)))
	if len(s) > len(h.buf)-h.n {
		h.flush()
		if len(s) > len(h.buf) {
			_, _ = h.d.WriteString(s)
			return
		}
	}
	h.n += copy(h.buf[h.n:], s)
}

func (h *contentHash) bytes(b []byte) {
	h.uint64(uint64(len(b)))
	if len(b) > len(h.buf)-h.n {
		h.flush()
		if len(b) > len(h.buf) {
			_, _ = h.d.Write(b)
			return
		}
	}
	h.n += copy(h.buf[h.n:], b)
}

func (h *contentHash) sum() uint64 {
	if !h.streaming {
		return xxhash.Sum64(h.buf[:h.n])
	}
	h.flush()
	return h.d.Sum64()
}

func (h *contentHash) value(v pcommon.Value) {
	h.uint64(uint64(v.Type()))
	switch v.Type() {
	case pcommon.ValueTypeStr:
		h.string(v.Str())
	case pcommon.ValueTypeInt:
		h.uint64(uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		h.uint64(math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			h.uint64(1)
		} else {
			h.uint64(0)
		}
	case pcommon.ValueTypeBytes:
		h.bytes(v.Bytes().AsRaw())
	case pcommon.ValueTypeMap:
		h.attributes(v.Map())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		h.uint64(uint64(s.Len()))
		for i := 0; i < s.Len(); i++ {
			h.value(s.At(i))
		}
	}
}

// attributes hashes a map in its order, leaving out the sampling state an
// earlier sampler may have added: it is not part of what the record says.
func (h *contentHash) attributes(m pcommon.Map) {
	m.Range(func(k string, v pcommon.Value) bool {
		if k == mcpconv.SamplingThreshold || k == mcpconv.SamplingRandomness {
			return true
		}
		h.string(k)
		h.value(v)
		return true
	})
	h.uint64(mapEnd)
}

// mapEnd closes a map: no key length can take this value.
const mapEnd = ^uint64(0)
