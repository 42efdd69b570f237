// Package mcpnormalizer is a processor that rewrites the MCP telemetry of
// known emitters (each speaks its own dialect of the MCP semantic
// conventions) to the router conventions the mcppg exporter maps onto
// tables: the role of a span, its name and keys, status codes as strings,
// failures from JSON-RPC error codes and isError results, durations in
// seconds, health and circuit-breaker log lines as events. It runs ahead of
// mcpsampler, so that sampling sees the same kinds as the exporter.
package mcpnormalizer

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/mcp-bridge/otelcol-mcp/processor/mcpnormalizer/internal/metadata"
)

// NewFactory creates a factory for the mcpnormalizer processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTracesProcessor, metadata.TracesStability),
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
		processor.WithMetrics(createMetricsProcessor, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{Dialects: dialectNames()}
}

var capabilities = processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true})

func createTracesProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &tracesProcessor{n: newNormalizer(cfg.(*Config)), counts: newRewriteCounts(tb.ProcessorMcpnormalizerRewritten, signalTraces)}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces, capabilities)
}

func createLogsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &logsProcessor{n: newNormalizer(cfg.(*Config)), counts: newRewriteCounts(tb.ProcessorMcpnormalizerRewritten, signalLogs)}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs, capabilities)
}

func createMetricsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &metricsProcessor{n: newNormalizer(cfg.(*Config)), counts: newRewriteCounts(tb.ProcessorMcpnormalizerRewritten, signalMetrics)}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics, capabilities)
}
