package mcppgexporter

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcp-bridge/otelcol-mcp/extension/diskguard"
)

// admission runs before exporterhelper's sending queue takes a request, so
// that nothing is acknowledged that the queue cannot keep: a value nested
// deeper than the queue's protobuf round trip allows is refused (permanent:
// the sender gets 400 / InvalidArgument with the reason), and while the
// queue's disk is at its reserve (the diskguard storage extension) new data
// is refused as retryable (503 / Unavailable), before the upstream queue
// would take a slot it cannot write.
type admission struct {
	storageID *component.ID
	disk      diskguard.Admitter // nil unless the queue is stored in diskguard
}

func newAdmission(cfg *Config) *admission {
	a := &admission{}
	if cfg.QueueConfig.HasValue() {
		a.storageID = cfg.QueueConfig.Get().StorageID
	}
	return a
}

func (a *admission) start(host component.Host) error {
	if a.storageID == nil {
		return nil
	}
	ext, ok := host.GetExtensions()[*a.storageID]
	if !ok {
		return fmt.Errorf("sending_queue::storage: extension %q is not configured", a.storageID)
	}
	a.disk, _ = ext.(diskguard.Admitter)
	return nil
}

func (a *admission) admit(ctx context.Context, depthErr error) error {
	if depthErr != nil {
		// InvalidArgument, so that the OTLP receiver answers 400 rather
		// than 500 (its mapping of a bare permanent error).
		return consumererror.NewPermanent(status.Error(codes.InvalidArgument, depthErr.Error()))
	}
	if a.disk != nil {
		return a.disk.Admit(ctx)
	}
	return nil
}

type admittingTraces struct {
	exporter.Traces
	adm *admission
}

func (w *admittingTraces) Start(ctx context.Context, host component.Host) error {
	if err := w.adm.start(host); err != nil {
		return err
	}
	return w.Traces.Start(ctx, host)
}

func (w *admittingTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if err := w.adm.admit(ctx, checkTracesDepth(td)); err != nil {
		return err
	}
	return w.Traces.ConsumeTraces(ctx, td)
}

type admittingLogs struct {
	exporter.Logs
	adm *admission
}

func (w *admittingLogs) Start(ctx context.Context, host component.Host) error {
	if err := w.adm.start(host); err != nil {
		return err
	}
	return w.Logs.Start(ctx, host)
}

func (w *admittingLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if err := w.adm.admit(ctx, checkLogsDepth(ld)); err != nil {
		return err
	}
	return w.Logs.ConsumeLogs(ctx, ld)
}

type admittingMetrics struct {
	exporter.Metrics
	adm *admission
}

func (w *admittingMetrics) Start(ctx context.Context, host component.Host) error {
	if err := w.adm.start(host); err != nil {
		return err
	}
	return w.Metrics.Start(ctx, host)
}

func (w *admittingMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if err := w.adm.admit(ctx, checkMetricsDepth(md)); err != nil {
		return err
	}
	return w.Metrics.ConsumeMetrics(ctx, md)
}
