package mcpsampler

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// failureRate is the rates key of failed items of every kind.
const failureRate = "failure"

// minPercent is the smallest non-zero rate a threshold can express (2^-56).
const minPercent = 100 * sampling.MinSamplingProbability

// Config defines the configuration of the mcpsampler processor.
type Config struct {
	// Rates maps "failure" and each mcpconv kind name to the percentage of
	// items kept. Keys left out keep their default.
	Rates map[string]float64 `mapstructure:"rates"`
	// Rules set the rate of items they match; they are tried in order after
	// the failure check and before the kind rates, and the first match wins.
	Rules []RuleConfig `mapstructure:"rules"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// RuleConfig is a rate for the items that carry every attribute of Match
// and, when set, the span kind or event name.
type RuleConfig struct {
	// Name identifies the rule in the processor's metrics.
	Name string `mapstructure:"name"`
	// Match maps attribute keys to values; all must be equal (as text). An
	// attribute of the span or log record wins over one of its resource.
	Match map[string]string `mapstructure:"match"`
	// SpanKind restricts the rule to spans of that kind (server, client, ...).
	SpanKind string `mapstructure:"span_kind"`
	// EventName restricts the rule to log records of that event name.
	EventName string `mapstructure:"event_name"`
	// Percent of the matching items kept; required.
	Percent *float64 `mapstructure:"percent"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// rateNames lists the keys of rates in the order the documentation gives them.
func rateNames() []string {
	names := []string{failureRate}
	for _, k := range mcpconv.Kinds() {
		if k != mcpconv.KindOther {
			names = append(names, k.String())
		}
	}
	return append(names, mcpconv.KindOther.String())
}

var spanKinds = map[string]ptrace.SpanKind{
	"internal":    ptrace.SpanKindInternal,
	"server":      ptrace.SpanKindServer,
	"client":      ptrace.SpanKindClient,
	"producer":    ptrace.SpanKindProducer,
	"consumer":    ptrace.SpanKindConsumer,
	"unspecified": ptrace.SpanKindUnspecified,
}

const spanKindNames = "internal, server, client, producer, consumer, unspecified"

// Validate reports every problem of the configuration at once.
func (cfg *Config) Validate() error {
	var errs error
	valid := rateNames()
	keys := make([]string, 0, len(cfg.Rates))
	for k := range cfg.Rates {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := "rates::" + k
		if !isRateName(k) {
			errs = errors.Join(errs, fmt.Errorf("%s: unknown kind; valid keys are %s", field, strings.Join(valid, ", ")))
			continue
		}
		errs = errors.Join(errs, checkPercent(field, cfg.Rates[k]))
	}

	names := map[string]int{}
	for i, r := range cfg.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		switch first, seen := names[r.Name]; {
		case r.Name == "":
			errs = errors.Join(errs, fmt.Errorf("%s::name: must not be empty", field))
		case isRateName(r.Name):
			errs = errors.Join(errs, fmt.Errorf("%s::name: %q is reserved: failure and the kind names name the rates", field, r.Name))
		case seen:
			errs = errors.Join(errs, fmt.Errorf("%s::name: %q is also the name of rules[%d]", field, r.Name, first))
		default:
			names[r.Name] = i
		}
		if r.Percent == nil {
			errs = errors.Join(errs, fmt.Errorf("%s::percent: must be set", field))
		} else {
			errs = errors.Join(errs, checkPercent(field+"::percent", *r.Percent))
		}
		if _, ok := spanKinds[r.SpanKind]; r.SpanKind != "" && !ok {
			errs = errors.Join(errs, fmt.Errorf("%s::span_kind: %q must be one of %s", field, r.SpanKind, spanKindNames))
		}
		if _, empty := r.Match[""]; empty {
			errs = errors.Join(errs, fmt.Errorf("%s::match: an attribute key must not be empty", field))
		}
		switch {
		case len(r.Match) == 0 && r.SpanKind == "" && r.EventName == "":
			errs = errors.Join(errs, fmt.Errorf("%s: set at least one of match, span_kind and event_name (the rule would match every item)", field))
		case r.SpanKind != "" && r.EventName != "":
			errs = errors.Join(errs, fmt.Errorf("%s: span_kind and event_name exclude each other (span_kind matches spans, event_name log records)", field))
		}
	}
	return errs
}

func isRateName(name string) bool {
	if name == failureRate {
		return true
	}
	_, ok := mcpconv.ParseKind(name)
	return ok
}

func checkPercent(field string, p float64) error {
	if !(p >= 0 && p <= 100) { // also refuses NaN
		return fmt.Errorf("%s: %g must be a percentage between 0 and 100", field, p)
	}
	if p > 0 && p < minPercent {
		return fmt.Errorf("%s: %g is below the smallest rate that can be recorded, %g (0 drops every item)", field, p, minPercent)
	}
	return nil
}
