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
	meter                             metric.Meter
	ReceiverMcpeventsRequestsRejected metric.Int64Counter
	ReceiverMcpeventsEventsInvalid    metric.Int64Counter
	ReceiverMcpeventsRequestsRefused  metric.Int64Counter
}

// NewTelemetryBuilder creates every instrument.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	b := TelemetryBuilder{meter: Meter(settings)}
	var err, errs error
	b.ReceiverMcpeventsRequestsRejected, err = b.meter.Int64Counter("otelcol_receiver_mcpevents_requests_rejected",
		metric.WithDescription("Requests answered with a client error before anything was handed on, by reason."),
		metric.WithUnit("{request}"))
	errs = errors.Join(errs, err)
	b.ReceiverMcpeventsEventsInvalid, err = b.meter.Int64Counter("otelcol_receiver_mcpevents_events_invalid",
		metric.WithDescription("Events that failed validation (their whole request was refused with 400)."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	b.ReceiverMcpeventsRequestsRefused, err = b.meter.Int64Counter("otelcol_receiver_mcpevents_requests_refused",
		metric.WithDescription("Requests answered 503 with Retry-After because the receiver was at capacity, before their body was decoded, by reason."),
		metric.WithUnit("{request}"))
	errs = errors.Join(errs, err)
	return &b, errs
}
