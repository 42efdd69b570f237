package mcppgexporter

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	if len(u.samples) == maxUnmappedSamples {
		return
	}
	s := unmappedSample{reason: reason, scope: clip(scope.Name()), name: clip(name)}
	for _, seen := range u.samples {
		if seen == s {
			return
		}
	}
	u.samples = append(u.samples, s)
}

// maxUnmappedNameBytes bounds a scope or span name kept for the warning: a
// span name can be a whole SQL statement.
const maxUnmappedNameBytes = 128

// clip cuts s to maxUnmappedNameBytes on a rune boundary, copying it so
// that no batch's memory is kept alive.
func clip(s string) string {
	if len(s) <= maxUnmappedNameBytes {
		return strings.Clone(s)
	}
	cut := maxUnmappedNameBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut]) + "…"
}

// spanUnmappedReason says why a span of no table that gave no error_log row
// yields no row at all.
func spanUnmappedReason(span ptrace.Span) unmappedReason {
	if v, ok := span.Attributes().Get(mcpconv.MethodName); ok && v.AsString() != "" {
		return reasonNoRole
	}
	return reasonNotMCP
}

// logUnmappedReason says why a log record of no known kind yields no row.
func logUnmappedReason(lr plog.LogRecord) unmappedReason {
	if mcpconv.LogEventName(lr) != "" {
		return reasonUnknownEvent
	}
	return reasonNoEvent
}

// unmappedReporter counts unmapped items and logs them: once per (reason,
// scope, name) in each window of unmappedWarnEvery, and at most
// maxUnmappedLogs lines per window in all (an emitter with unbounded span
// names cannot flood the log or grow the memory). Spans that are no MCP
// operation (not_mcp: HTTP and database spans of an instrumented router)
// are expected, so they are logged at debug; the rest at warn.
type unmappedReporter struct {
	counter metric.Int64Counter
	options [numUnmappedReasons]metric.AddOption
	logger  *zap.Logger

	mu          sync.Mutex
	windowStart time.Time
	logged      map[unmappedSample]struct{}
}

const (
	unmappedWarnEvery = 10 * time.Minute
	maxUnmappedLogs   = 64
)

func newUnmappedReporter(tb *metadata.TelemetryBuilder, logger *zap.Logger) *unmappedReporter {
	r := &unmappedReporter{counter: tb.ExporterMcppgItemsUnmapped, logger: logger, logged: map[unmappedSample]struct{}{}}
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
	if now.Sub(r.windowStart) >= unmappedWarnEvery {
		r.windowStart = now
		clear(r.logged)
	}
	for _, s := range u.samples {
		if _, done := r.logged[s]; done || len(r.logged) >= maxUnmappedLogs {
			continue
		}
		r.logged[s] = struct{}{}
		names := unmappedReasonNames[s.reason]
		level := zap.WarnLevel
		if s.reason == reasonNotMCP {
			level = zap.DebugLevel
		}
		if ce := r.logger.Check(level, "telemetry yields no row (counted in otelcol_exporter_mcppg_items_unmapped; see docs/compatibility.md)"); ce != nil {
			ce.Write(zap.String("signal", names.signal), zap.String("reason", names.reason),
				zap.String("scope", s.scope), zap.String("name", s.name),
				zap.Int64("in_batch", u.counts[s.reason]))
		}
	}
}
