// Package mcpeventsreceiver accepts MCP router events posted as JSON (an
// array, or NDJSON) over HTTP and turns them into the same traces, logs and
// metrics an OpenTelemetry SDK would send, following mcpconv.
package mcpeventsreceiver

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/mcp-bridge/otelcol-mcp/internal/sharedcomponent"
	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

// NewFactory creates a factory for the mcpevents receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithTraces(createTraces, metadata.TracesStability),
		receiver.WithLogs(createLogs, metadata.LogsStability),
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	server.MaxRequestBodySize = defaultMaxRequestBytes
	server.ReadHeaderTimeout = defaultReadHeaderTimeout
	server.ReadTimeout = defaultReadTimeout
	server.WriteTimeout = defaultWriteTimeout
	return &Config{
		ServerConfig:        server,
		MaxEventsPerRequest: defaultMaxEvents,
		MaxFieldLength:      defaultMaxFieldLength,
		MaxTextLength:       defaultMaxTextLength,
		RetryAfter:          defaultRetryAfter,
		MaxBytesInFlight:    defaultMaxBytesInFlight,
		MaxRequestsInFlight: defaultMaxRequestsInFlight,
	}
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	r, err := sharedReceiver(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	r.Unwrap().nextTraces = next
	return r, nil
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	r, err := sharedReceiver(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	r.Unwrap().nextLogs = next
	return r, nil
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	r, err := sharedReceiver(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	r.Unwrap().nextMetrics = next
	return r, nil
}

// receivers holds one receiver per configuration: the traces, logs and
// metrics pipelines that use the same mcpevents component share its HTTP
// server, as one request may hold events of every signal.
var receivers = sharedcomponent.NewMap[*Config, *eventsReceiver]()

func sharedReceiver(cfg *Config, set receiver.Settings) (*sharedcomponent.Ref[*eventsReceiver], error) {
	return receivers.LoadOrStore(cfg, func() (*eventsReceiver, error) { return newEventsReceiver(cfg, set) })
}
