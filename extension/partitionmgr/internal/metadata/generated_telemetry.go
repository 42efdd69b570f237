package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// TelemetryBuilder holds the instruments of the metrics in metadata.yaml.
type TelemetryBuilder struct {
	meter                          metric.Meter
	PartitionmgrPartitionsCreated  metric.Int64Counter
	PartitionmgrPartitionsExpired  metric.Int64Counter
	PartitionmgrRowsMoved          metric.Int64Counter
	PartitionmgrDefaultRowsExpired metric.Int64Counter
	PartitionmgrRuns               metric.Int64Counter
	PartitionmgrRowsInDefault      metric.Int64ObservableGauge
	PartitionmgrLastSuccess        metric.Int64ObservableGauge
	PartitionmgrSchemaReady        metric.Int64ObservableGauge
}

// NewTelemetryBuilder creates every instrument.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	b := TelemetryBuilder{meter: settings.MeterProvider.Meter(ScopeName)}
	var err, errs error
	b.PartitionmgrPartitionsCreated, err = b.meter.Int64Counter("otelcol_partitionmgr_partitions_created",
		metric.WithDescription("Partitions created, ahead of time or on demand."), metric.WithUnit("{partition}"))
	errs = errors.Join(errs, err)
	b.PartitionmgrPartitionsExpired, err = b.meter.Int64Counter("otelcol_partitionmgr_partitions_expired",
		metric.WithDescription("Partitions removed by retention, by what was done to them."), metric.WithUnit("{partition}"))
	errs = errors.Join(errs, err)
	b.PartitionmgrRowsMoved, err = b.meter.Int64Counter("otelcol_partitionmgr_rows_moved",
		metric.WithDescription("Rows moved out of a DEFAULT partition into a new partition."), metric.WithUnit("{row}"))
	errs = errors.Join(errs, err)
	b.PartitionmgrDefaultRowsExpired, err = b.meter.Int64Counter("otelcol_partitionmgr_default_rows_expired",
		metric.WithDescription("Rows of a DEFAULT partition removed by retention, by what was done to them (deleted, or moved into a detached or archived table)."),
		metric.WithUnit("{row}"))
	errs = errors.Join(errs, err)
	b.PartitionmgrRuns, err = b.meter.Int64Counter("otelcol_partitionmgr_runs",
		metric.WithDescription("Maintenance runs, by task (create, expire) and result (ok, failed, skipped)."), metric.WithUnit("{run}"))
	errs = errors.Join(errs, err)
	b.PartitionmgrRowsInDefault, err = b.meter.Int64ObservableGauge("otelcol_partitionmgr_rows_in_default",
		metric.WithDescription("Rows waiting in the DEFAULT partition, as of the last run."), metric.WithUnit("{row}"))
	errs = errors.Join(errs, err)
	b.PartitionmgrLastSuccess, err = b.meter.Int64ObservableGauge("otelcol_partitionmgr_last_success",
		metric.WithDescription("Unix time of the last successful run of each task."), metric.WithUnit("s"))
	errs = errors.Join(errs, err)
	b.PartitionmgrSchemaReady, err = b.meter.Int64ObservableGauge("otelcol_partitionmgr_schema_ready",
		metric.WithDescription("1 once the schema migrations are applied, else 0."), metric.WithUnit("1"))
	errs = errors.Join(errs, err)
	return &b, errs
}

// RegisterCallback registers a callback for the observable instruments.
func (b *TelemetryBuilder) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	return b.meter.RegisterCallback(f, instruments...)
}
