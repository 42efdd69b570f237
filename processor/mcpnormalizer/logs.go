package mcpnormalizer

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

type logsProcessor struct {
	n      *normalizer
	counts *rewriteCounts
}

func (p *logsProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var counts batchCounts
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			d := p.n.forScope(sl.Scope())
			records := sl.LogRecords()
			for k := 0; k < records.Len(); k++ {
				counts.add(p.n.log(records.At(k), d))
			}
		}
	}
	p.counts.record(ctx, counts)
	return ld, nil
}

// log normalizes one log record: the configured renames, then the rules of
// its dialect (d, from its scope; else, for a record with no event name,
// the first dialect that owns it). It returns the name of what changed the
// record, "" for nothing.
func (n *normalizer) log(lr plog.LogRecord, d *dialect) string {
	changedBy := ""
	if n.renames != nil && renameKeys(lr.Attributes(), n.renames) {
		changedBy = conventionsName
	}
	if d == nil && len(n.logOwners) > 0 && mcpconv.LogEventName(lr) == "" {
		for _, owner := range n.logOwners {
			if owner.ownsLog(lr) {
				d = owner
				break
			}
		}
	}
	if d != nil && d.log != nil && d.log(lr) {
		changedBy = d.name
	}
	return changedBy
}
