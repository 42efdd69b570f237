package mcppgexporter

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Why an item yields no row at all (otelcol_exporter_mcppg_items_unmapped).
// A failed span or one with an exception event always yields error_log rows,
// and every metric data point a metric_point row, so neither is ever
// unmapped.
type unmappedReason uint8

const (
	// A span without mcp.method.name: not an MCP operation (an HTTP span,
	// a session span of an emitter, ...).
	reasonNotMCP unmappedReason = iota
	// A span with mcp.method.name whose kind says neither side: INTERNAL,
	// PRODUCER, CONSUMER or unspecified.
	reasonNoRole
	// A log record whose event name is not one of the router's events.
	reasonUnknownEvent
	// A log record with no event name, below ERROR and without an exception.
	reasonNoEvent
	numUnmappedReasons
)

var unmappedReasonNames = [numUnmappedReasons]struct{ signal, reason string }{
	reasonNotMCP:       {"traces", "not_mcp"},
	reasonNoRole:       {"traces", "no_role"},
	reasonUnknownEvent: {"logs", "unknown_event"},
	reasonNoEvent:      {"logs", "no_event_name"},
}

// unmappedSample names one item that yielded no row, for the warning.
type unmappedSample struct {
	reason unmappedReason
	scope  string
	name   string // span name or event name
}

// maxUnmappedSamples bounds the samples one batch keeps for the warning.
const maxUnmappedSamples = 16

// unmappedItems counts, per reason, the items of one batch that yield no row.
type unmappedItems struct {
	counts  [numUnmappedReasons]int64
	samples []unmappedSample
}

func (u *unmappedItems) add(reason unmappedReason, scope pcommon.InstrumentationScope, name string) {
	u.counts[reason]++
	for _, s := range u.samples {
		if s.reason == reason && s.scope == scope.Name() && s.name == name {
			return
		}
	}
	if len(u.samples) < maxUnmappedSamples {
		u.samples = append(u.samples, unmappedSample{reason: reason, scope: scope.Name(), name: name})
	}
}

// spanUnmapped says why a span yields no row, false when it yields one.
func spanUnmapped(span ptrace.Span, kind mcpconv.Kind) (unmappedReason, bool) {
	if kind != mcpconv.KindOther || mcpconv.IsFailedSpan(span) || mcpconv.HasExceptionEvent(span) {
		return 0, false
	}
	if v, ok := span.Attributes().Get(mcpconv.MethodName); ok && v.AsString() != "" {
		return reasonNoRole, true
	}
	return reasonNotMCP, true
}

// logUnmappedReason says why a log record of no known kind yields no row.
func logUnmappedReason(lr plog.LogRecord) unmappedReason {
	if mcpconv.LogEventName(lr) != "" {
		return reasonUnknownEvent
	}
	return reasonNoEvent
}

// unmappedReporter counts unmapped items and warns about them, at most once
// per (reason, scope, name) every unmappedWarnEvery.
type unmappedReporter struct {
	counter metric.Int64Counter
	options [numUnmappedReasons]metric.AddOption
	logger  *zap.Logger

	mu     sync.Mutex
	warned map[unmappedSample]time.Time
}

const (
	unmappedWarnEvery = 10 * time.Minute
	// maxUnmappedWarned bounds the remembered keys; past it the memory is
	// cleared (an emitter with unbounded span names cannot grow it).
	maxUnmappedWarned = 1024
)

func newUnmappedReporter(tb *metadata.TelemetryBuilder, logger *zap.Logger) *unmappedReporter {
	r := &unmappedReporter{counter: tb.ExporterMcppgItemsUnmapped, logger: logger, warned: map[unmappedSample]time.Time{}}
	for i, n := range unmappedReasonNames {
		r.options[i] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("signal", n.signal), attribute.String("reason", n.reason)))
	}
	return r
}

func (r *unmappedReporter) report(ctx context.Context, u *unmappedItems) {
	for reason, n := range u.counts {
		if n > 0 {
			r.counter.Add(ctx, n, r.options[reason])
		}
	}
	if len(u.samples) == 0 {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range u.samples {
		if last, ok := r.warned[s]; ok && now.Sub(last) < unmappedWarnEvery {
			continue
		}
		if len(r.warned) >= maxUnmappedWarned {
			clear(r.warned)
		}
		r.warned[s] = now
		names := unmappedReasonNames[s.reason]
		r.logger.Warn("telemetry yields no row (counted in otelcol_exporter_mcppg_items_unmapped; add the emitter's dialect to mcpnormalizer or a rename, see docs/compatibility.md)",
			zap.String("signal", names.signal), zap.String("reason", names.reason),
			zap.String("scope", s.scope), zap.String("name", s.name),
			zap.Int64("in_batch", u.counts[s.reason]))
	}
}
