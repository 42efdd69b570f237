package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Meter is the meter of the component's own telemetry.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// TelemetryBuilder holds the instruments of the metrics in metadata.yaml
// (telemetry section), written by hand in the shape mdatagen generates.
type TelemetryBuilder struct {
	meter                           metric.Meter
	ProcessorMcpnormalizerRewritten metric.Int64Counter
}

// NewTelemetryBuilder creates every instrument.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	b := TelemetryBuilder{meter: Meter(settings)}
	var err, errs error
	b.ProcessorMcpnormalizerRewritten, err = b.meter.Int64Counter("otelcol_processor_mcpnormalizer_rewritten",
		metric.WithDescription("Spans, log records and metrics rewritten to the router conventions, per dialect and signal."),
		metric.WithUnit("{item}"))
	errs = errors.Join(errs, err)
	return &b, errs
}
