package mcpsampler

import (
	"maps"
	"slices"

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
