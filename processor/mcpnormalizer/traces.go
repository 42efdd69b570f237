package mcpnormalizer

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

type tracesProcessor struct {
	n      *normalizer
	counts *rewriteCounts
}

func (p *tracesProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	var counts batchCounts
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			d := p.n.forScope(ss.Scope())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				counts.add(p.n.span(spans.At(k), d))
			}
		}
	}
	p.counts.record(ctx, counts)
	return td, nil
}

// span normalizes one span: the configured renames, then the rules of its
// dialect (d, from its scope, else from a marker key when the span is not
// conventional already), then the shared fix-ups. It returns the name of
// what changed the span: the dialect, "conventions", or "" for nothing.
func (n *normalizer) span(span ptrace.Span, d *dialect) string {
	changedBy := ""
	if n.renames != nil {
		renamed := renameKeys(span.Attributes(), n.renames)
		events := span.Events()
		for i := 0; i < events.Len(); i++ {
			renamed = renameKeys(events.At(i).Attributes(), n.renames) || renamed
		}
		if renamed {
			changedBy = conventionsName
		}
	}
	if d == nil && !isConventionalSpan(span) {
		d = n.byMarker(span.Attributes())
	}
	if d != nil && d.span != nil && d.span(span) {
		changedBy = d.name
	}
	if fixSpan(span) && changedBy == "" {
		changedBy = conventionsName
	}
	return changedBy
}

// isConventionalSpan reports a span the classification already places: a
// SERVER or CLIENT span with mcp.method.name.
func isConventionalSpan(span ptrace.Span) bool {
	if k := span.Kind(); k != ptrace.SpanKindServer && k != ptrace.SpanKindClient {
		return false
	}
	v, ok := span.Attributes().Get(mcpconv.MethodName)
	return ok && v.AsString() != ""
}
