package mcpsampler

import (
	"context"

	"github.com/cespare/xxhash/v2"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/sampling"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/mcp-bridge/otelcol-mcp/internal/contenthash"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler/internal/metadata"
)

type logsProcessor struct {
	sampler *sampler
	counts  *itemCounts
}

func newLogsProcessor(ctx context.Context, set processor.Settings, cfg *Config, next consumer.Logs) (processor.Logs, error) {
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	s := newSampler(cfg)
	p := &logsProcessor{sampler: s, counts: newItemCounts(telemetry.ProcessorMcpsamplerItems, s, signalLogs)}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}

// processLogs removes the records not sampled; an empty result goes no further.
func (p *logsProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	tally := p.counts.start()
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		resource := rl.Resource().Attributes()
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				rate, keep := p.sampler.sampleLog(lr, resource)
				tally.add(rate, keep)
				return !keep
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
	p.counts.record(ctx, tally)
	if ld.ResourceLogs().Len() == 0 {
		return ld, processorhelper.ErrSkipProcessingData
	}
	return ld, nil
}

// logPolicy picks the rate of a log record: failures first, then the first
// rule that matches, then the record's kind.
func (s *sampler) logPolicy(lr plog.LogRecord, resource pcommon.Map) int {
	if mcpconv.IsFailedLog(lr) {
		return failurePolicy
	}
	if len(s.rules) > 0 {
		eventName := mcpconv.LogEventName(lr)
		for i := range s.rules {
			r := &s.rules[i]
			if r.hasSpanKind || (r.eventName != "" && r.eventName != eventName) {
				continue
			}
			if r.matches(lr.Attributes(), resource) {
				return r.policy
			}
		}
	}
	return kindPolicy(mcpconv.ClassifyLog(lr))
}

// sampleLog decides a log record and, when it keeps it at a new threshold,
// records that threshold in its sampling.threshold attribute. It returns the
// policy index and the decision.
func (s *sampler) sampleLog(lr plog.LogRecord, resource pcommon.Map) (int, bool) {
	rate := s.logPolicy(lr, resource)
	p := &s.policies[rate]
	switch {
	case p.keepAll:
		return rate, true
	case p.dropAll:
		return rate, false
	}
	attrs := lr.Attributes()
	incoming, hasIncoming := mcpconv.LogThreshold(lr) // unreadable counts as absent
	keep, th, changed := p.decide(logRandomness(lr), incoming, hasIncoming)
	if keep && changed {
		tvalue := p.tvalue
		if th != p.threshold {
			tvalue = th.TValue()
		}
		attrs.PutStr(mcpconv.SamplingThreshold, tvalue)
	}
	return rate, keep
}

// logRandomness is, in order: the record's sampling.randomness (explicit,
// as an r-value), its trace id's randomness (as for spans, so a record and
// the spans of its trace are decided alike), a hash of its event.id, or a
// hash of its content. The last two make a replayed record decide the same.
func logRandomness(lr plog.LogRecord) sampling.Randomness {
	attrs := lr.Attributes()
	if v, ok := attrs.Get(mcpconv.SamplingRandomness); ok {
		if rnd, err := sampling.RValueToRandomness(valueText(v)); err == nil {
			return rnd
		}
	}
	if tid := lr.TraceID(); !tid.IsEmpty() {
		return sampling.TraceIDToRandomness(tid)
	}
	if v, ok := attrs.Get(mcpconv.EventID); ok {
		if id := valueText(v); id != "" {
			return hashRandomness(xxhash.Sum64String(id))
		}
	}
	return hashRandomness(contenthash.LogRecord(lr))
}
