// Package mcpsampler is a processor that samples MCP router spans and log
// records per kind of telemetry: every failure is kept, healthy health checks
// and load-balancer decisions are sampled consistently (by trace id), and
// the weight of what is kept is recorded the OpenTelemetry way.
package mcpsampler

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler/internal/metadata"
)

// NewFactory creates a factory for the mcpsampler processor. It has no
// metrics pipeline: metric points carry no sampling weight and are never
// sampled.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTracesProcessor, metadata.TracesStability),
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	rates := map[string]float64{failureRate: 100}
	for _, k := range mcpconv.Kinds() {
		rates[k.String()] = 100
	}
	rates[mcpconv.KindHealthCheck.String()] = 10 // healthy ones: failed checks are failures
	rates[mcpconv.KindLBDecision.String()] = 1
	return &Config{Rates: rates}
}

func createTracesProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c := cfg.(*Config)
	warnLostFailures(set.Logger, c)
	return newTracesProcessor(ctx, set, c, next)
}

func createLogsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	c := cfg.(*Config)
	warnLostFailures(set.Logger, c)
	return newLogsProcessor(ctx, set, c, next)
}

func warnLostFailures(logger *zap.Logger, cfg *Config) {
	if p := rateOf(cfg, failureRate); p < 100 {
		logger.Warn("rates::failure is below 100: failed items will be dropped", zap.Float64("percent", p))
	}
}
