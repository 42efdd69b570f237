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
	meter                          metric.Meter
	ExporterMcppgRowsWritten       metric.Int64Counter
	ExporterMcppgRowsDuplicate     metric.Int64Counter
	ExporterMcppgRowsRejected      metric.Int64Counter
	ExporterMcppgItemsUnmapped     metric.Int64Counter
	ExporterMcppgValuesNotPromoted metric.Int64Counter
	ExporterMcppgBatchFallbacks    metric.Int64Counter
	ExporterMcppgCommitFailures    metric.Int64Counter
	ExporterMcppgCommitDuration    metric.Float64Histogram
	ExporterMcppgPoolConnections   metric.Int64ObservableGauge
}

// NewTelemetryBuilder creates every instrument.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	b := TelemetryBuilder{meter: Meter(settings)}
	var err, errs error
	b.ExporterMcppgRowsWritten, err = b.meter.Int64Counter("otelcol_exporter_mcppg_rows_written",
		metric.WithDescription("Rows committed, per table (duplicates of a replayed batch not included)."),
		metric.WithUnit("{row}"))
	errs = errors.Join(errs, err)
	b.ExporterMcppgRowsDuplicate, err = b.meter.Int64Counter("otelcol_exporter_mcppg_rows_duplicate",
		metric.WithDescription("Rows of a replayed batch that were already stored and were skipped, per table."),
		metric.WithUnit("{row}"))
	errs = errors.Join(errs, err)
	b.ExporterMcppgRowsRejected, err = b.meter.Int64Counter("otelcol_exporter_mcppg_rows_rejected",
		metric.WithDescription("Items refused as bad data and recorded in rejected_event, per intended table and cause."),
		metric.WithUnit("{row}"))
	errs = errors.Join(errs, err)
	b.ExporterMcppgItemsUnmapped, err = b.meter.Int64Counter("otelcol_exporter_mcppg_items_unmapped",
		metric.WithDescription("Spans and log records that yield no row at all, per signal and reason (not_mcp, no_role, unknown_event, no_event_name)."),
		metric.WithUnit("{item}"))
	errs = errors.Join(errs, err)
	b.ExporterMcppgValuesNotPromoted, err = b.meter.Int64Counter("otelcol_exporter_mcppg_values_not_promoted",
		metric.WithDescription("Numbers of the wrong type or range for their column (the column is NULL, an attribute stays in attributes), per table and attribute."),
		metric.WithUnit("{value}"))
	errs = errors.Join(errs, err)
	b.ExporterMcppgBatchFallbacks, err = b.meter.Int64Counter("otelcol_exporter_mcppg_batch_fallbacks",
		metric.WithDescription("Batches written again through a slower path: dedupe (a replay) or isolate (bad rows)."),
		metric.WithUnit("{batch}"))
	errs = errors.Join(errs, err)
	b.ExporterMcppgCommitFailures, err = b.meter.Int64Counter("otelcol_exporter_mcppg_commit_failures",
		metric.WithDescription("Batch writes that failed, by whether they will be retried."),
		metric.WithUnit("{batch}"))
	errs = errors.Join(errs, err)
	b.ExporterMcppgCommitDuration, err = b.meter.Float64Histogram("otelcol_exporter_mcppg_commit_duration",
		metric.WithDescription("Time to commit one batch, from the first statement to COMMIT, by write path (pool wait excluded)."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	errs = errors.Join(errs, err)
	b.ExporterMcppgPoolConnections, err = b.meter.Int64ObservableGauge("otelcol_exporter_mcppg_pool_connections",
		metric.WithDescription("Connections of the pool, by state: acquired, idle, max."),
		metric.WithUnit("{connection}"))
	errs = errors.Join(errs, err)
	return &b, errs
}

// RegisterCallback registers a callback for the observable instruments.
func (b *TelemetryBuilder) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	return b.meter.RegisterCallback(f, instruments...)
}
