// Package mcppgexporter writes MCP router telemetry into PostgreSQL tables.
package mcppgexporter

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/internal/sharedcomponent"
)

// NewFactory creates a factory for the mcppg exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTracesExporter, metadata.TracesStability),
		exporter.WithLogs(createLogsExporter, metadata.LogsStability),
		exporter.WithMetrics(createMetricsExporter, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	queue := exporterhelper.NewDefaultQueueConfig()
	queue.NumConsumers = 4
	queue.QueueSize = 1000
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.FlushTimeout = time.Second
	batch.MinSize = 1000
	batch.MaxSize = 5000
	queue.Batch = configoptional.Some(batch)

	retry := configretry.NewDefaultBackOffConfig()
	// Never give up on retryable errors: a database outage must not lose data.
	retry.MaxElapsedTime = 0

	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = 30 * time.Second
	return &Config{
		TimeoutConfig: timeout,
		QueueConfig:   configoptional.Some(queue),
		BackOffConfig: retry,
		Schema:        "mcp",
		ApplySchema:   true,
		ToolPayloads: ToolPayloadsConfig{
			RedactKeys: []string{"password", "passwd", "secret", "token", "access_token", "refresh_token",
				"api_key", "apikey", "authorization", "cookie", "credentials", "private_key"},
			MaxBytes: 65536,
		},
		// A year back, a day ahead: rows outside land in no partition
		// retention would ever clear.
		EventTime: EventTimeConfig{MaxAge: 365 * 24 * time.Hour, MaxFuture: 24 * time.Hour},
	}
}

func createTracesExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	ref, err := sharedExporter(c, set)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewTraces(ctx, queueSettings(set, c), cfg, ref.Unwrap().pushTraces, helperOptions(c, ref)...)
	if err != nil {
		return nil, errors.Join(err, ref.Shutdown(ctx)) // this signal's hold on the shared exporter
	}
	return &admittingTraces{Traces: exp, adm: newAdmission(c)}, nil
}

func createLogsExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	ref, err := sharedExporter(c, set)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewLogs(ctx, queueSettings(set, c), cfg, ref.Unwrap().pushLogs, helperOptions(c, ref)...)
	if err != nil {
		return nil, errors.Join(err, ref.Shutdown(ctx)) // this signal's hold on the shared exporter
	}
	return &admittingLogs{Logs: exp, adm: newAdmission(c)}, nil
}

func createMetricsExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c := cfg.(*Config)
	ref, err := sharedExporter(c, set)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewMetrics(ctx, queueSettings(set, c), cfg, ref.Unwrap().pushMetrics, helperOptions(c, ref)...)
	if err != nil {
		return nil, errors.Join(err, ref.Shutdown(ctx)) // this signal's hold on the shared exporter
	}
	return &admittingMetrics{Metrics: exp, adm: newAdmission(c)}, nil
}

func helperOptions(c *Config, ref *sharedcomponent.Ref[*pgExporter]) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithStart(ref.Start),
		exporterhelper.WithShutdown(ref.Shutdown),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.BackOffConfig),
		exporterhelper.WithQueue(c.QueueConfig),
	}
}
