package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// TelemetryBuilder holds the instruments of the metrics in metadata.yaml.
type TelemetryBuilder struct {
	meter                      metric.Meter
	DiskguardRefused           metric.Int64Counter
	DiskguardBookkeepingFailed metric.Int64Counter
	DiskguardFreeBytes         metric.Int64ObservableGauge
}

// NewTelemetryBuilder creates every instrument.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	b := TelemetryBuilder{meter: settings.MeterProvider.Meter(ScopeName)}
	var err, errs error
	b.DiskguardRefused, err = b.meter.Int64Counter("otelcol_diskguard_refused",
		metric.WithDescription("Writes of new data refused because the filesystem's free space is below the reserve, by where they were refused (admission, storage)."), metric.WithUnit("{request}"))
	errs = errors.Join(errs, err)
	b.DiskguardBookkeepingFailed, err = b.meter.Int64Counter("otelcol_diskguard_bookkeeping_failed",
		metric.WithDescription("Reads whose bookkeeping write failed; the item was read anyway and stays on disk until it is acknowledged."), metric.WithUnit("{read}"))
	errs = errors.Join(errs, err)
	b.DiskguardFreeBytes, err = b.meter.Int64ObservableGauge("otelcol_diskguard_free_bytes",
		metric.WithDescription("Free space of the filesystem holding the storage directory, available to the collector."), metric.WithUnit("By"))
	errs = errors.Join(errs, err)
	return &b, errs
}

// RegisterCallback registers a callback for the observable instruments.
func (b *TelemetryBuilder) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	return b.meter.RegisterCallback(f, instruments...)
}
