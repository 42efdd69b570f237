package routersim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/internal/simmanifest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// otlpConfig says where and how the telemetry goes.
type otlpConfig struct {
	Protocol    string // grpc or http
	Endpoint    string // host:port, insecure
	ServiceName string
	InstanceID  string
	// RetryFor bounds the exporters' retries of one batch. It is also the
	// exporters' timeout: the SDK retries within that timeout (10 s by
	// default), so without it a batch refused for longer than 10 s (a full
	// collector queue) was dropped whatever -flush-timeout said.
	RetryFor       time.Duration
	MetricInterval time.Duration
	LBEvents       bool
}

// otlpExporters are the three SDK exporters of a run.
type otlpExporters struct {
	spans   sdktrace.SpanExporter
	logs    sdklog.Exporter
	metrics sdkmetric.Exporter
}

func newOTLPExporters(ctx context.Context, cfg otlpConfig) (otlpExporters, error) {
	var e otlpExporters
	var err1, err2, err3 error
	switch cfg.Protocol {
	case "grpc":
		e.spans, err1 = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.Endpoint), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithRetry(retryConfig(cfg.RetryFor)),
			otlptracegrpc.WithTimeout(cfg.RetryFor))
		e.logs, err2 = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(cfg.Endpoint), otlploggrpc.WithInsecure(),
			otlploggrpc.WithRetry(otlploggrpc.RetryConfig(retryConfig(cfg.RetryFor))),
			otlploggrpc.WithTimeout(cfg.RetryFor))
		e.metrics, err3 = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(cfg.Endpoint), otlpmetricgrpc.WithInsecure(),
			otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig(retryConfig(cfg.RetryFor))),
			otlpmetricgrpc.WithTimeout(cfg.RetryFor))
	case "http":
		e.spans, err1 = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(cfg.Endpoint), otlptracehttp.WithInsecure(),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig(retryConfig(cfg.RetryFor))),
			otlptracehttp.WithTimeout(cfg.RetryFor))
		e.logs, err2 = otlploghttp.New(ctx, otlploghttp.WithEndpoint(cfg.Endpoint), otlploghttp.WithInsecure(),
			otlploghttp.WithRetry(otlploghttp.RetryConfig(retryConfig(cfg.RetryFor))),
			otlploghttp.WithTimeout(cfg.RetryFor))
		e.metrics, err3 = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(cfg.Endpoint), otlpmetrichttp.WithInsecure(),
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig(retryConfig(cfg.RetryFor))),
			otlpmetrichttp.WithTimeout(cfg.RetryFor))
	default:
		return e, fmt.Errorf("protocol: %q must be grpc or http", cfg.Protocol)
	}
	return e, errors.Join(err1, err2, err3)
}

// retryConfig is the same for every exporter: the otlp*.RetryConfig types
// are conversions of one internal type.
func retryConfig(retryFor time.Duration) otlptracegrpc.RetryConfig {
	return otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 100 * time.Millisecond,
		MaxInterval: 2 * time.Second, MaxElapsedTime: retryFor}
}

// otlpEmitter sends through the instrumentation package on SDK providers.
type otlpEmitter struct {
	router *instrumentation.Router
	tp     *sdktrace.TracerProvider
	lp     *sdklog.LoggerProvider
	mp     *sdkmetric.MeterProvider
	stats  *deliveryStats
	// runtimeErr is why the runtime metrics did not start (runtime.go).
	runtimeErr error
}

// newOTLPEmitter builds the SDK pipelines: every span sampled, batch
// processors that block rather than drop when the collector is slower than
// the generator, a periodic metric reader.
func newOTLPEmitter(cfg otlpConfig, exp otlpExporters) (*otlpEmitter, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String(mcpconv.ServiceName, cfg.ServiceName),
		attribute.String(mcpconv.ServiceInstanceID, cfg.InstanceID),
	))
	if err != nil {
		return nil, err
	}
	stats := &deliveryStats{}
	bsp := sdktrace.NewBatchSpanProcessor(countingSpans{SpanExporter: exp.spans, stats: stats},
		sdktrace.WithMaxQueueSize(1<<16),
		sdktrace.WithMaxExportBatchSize(2048),
		sdktrace.WithBlocking(),
		sdktrace.WithBatchTimeout(200*time.Millisecond),
		sdktrace.WithExportTimeout(cfg.RetryFor+5*time.Second),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(bsp))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res),
		sdklog.WithProcessor(newBlockingLogProcessor(countingLogs{Exporter: exp.logs, stats: stats}, 2048, 8)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(countingMetrics{Exporter: exp.metrics, stats: stats},
			sdkmetric.WithInterval(cfg.MetricInterval))))
	router, err := instrumentation.New(tp, lp, mp, instrumentation.WithLBDecisions(cfg.LBEvents),
		instrumentation.WithScope("github.com/mcp-bridge/otelcol-mcp/cmd/mcprouter-sim", ""))
	if err != nil {
		return nil, err
	}
	return &otlpEmitter{router: router, tp: tp, lp: lp, mp: mp, stats: stats}, nil
}

func (e *otlpEmitter) request(r *simRequest) {
	ctx, req := e.router.StartRequest(context.Background(), r.info)
	for i := range r.n {
		a := &r.attempts[i]
		a.lbID = req.ChooseServer(a.choice)
		if a.hasCall {
			_, call := req.StartToolCall(ctx, a.call)
			a.spanID = call.SpanContext().SpanID()
			call.EndAt(a.callEnd, a.callErr)
		}
	}
	if r.routerErr != nil {
		r.routerErrID = e.router.Error(ctx, *r.routerErr)
	}
	sc := req.SpanContext()
	r.traceID, r.spanID = sc.TraceID(), sc.SpanID()
	req.EndAt(r.end, r.err)
}

func (e *otlpEmitter) healthCheck(h instrumentation.HealthCheck) string {
	return e.router.HealthCheck(context.Background(), h)
}

func (e *otlpEmitter) serverRegistered(s instrumentation.Server) string {
	return e.router.ServerRegistered(context.Background(), s)
}

func (e *otlpEmitter) serverDeregistered(d instrumentation.Deregistration) string {
	return e.router.ServerDeregistered(context.Background(), d)
}

func (e *otlpEmitter) serverHealthChanged(h instrumentation.HealthChange) string {
	return e.router.ServerHealthChanged(context.Background(), h)
}

func (e *otlpEmitter) breakerStateChange(b instrumentation.BreakerChange) string {
	return e.router.BreakerStateChange(context.Background(), b)
}

func (e *otlpEmitter) sessionStart(s instrumentation.Session) string {
	return e.router.SessionStart(context.Background(), s)
}

func (e *otlpEmitter) sessionStats(s instrumentation.SessionStats) string {
	return e.router.SessionStats(context.Background(), s)
}

func (e *otlpEmitter) sessionEnd(s instrumentation.SessionEnd) string {
	return e.router.SessionEnd(context.Background(), s)
}

func (e *otlpEmitter) observePools(pools func() []instrumentation.PoolStats) error {
	_, err := e.router.ObservePools(pools)
	return err
}

// shutdown flushes spans and logs, then collects and exports the metrics a
// last time (so the histogram counts cover every request).
func (e *otlpEmitter) shutdown(ctx context.Context) error {
	err := errors.Join(e.runtimeErr, e.tp.Shutdown(ctx), e.lp.Shutdown(ctx))
	_ = e.mp.ForceFlush(ctx) // waits for a periodic export in flight
	if err := errors.Join(err, e.mp.Shutdown(ctx)); err != nil {
		return err
	}
	if e.stats.metricsFailed.Load() == 0 {
		e.stats.clearNotes("metrics: ") // superseded by the final export
	}
	return nil
}

func (e *otlpEmitter) delivery() simmanifest.Delivery { return e.stats.snapshot() }

// countingSpans counts delivered and failed spans: the batch processor
// reports export errors only to the global handler.
type countingSpans struct {
	sdktrace.SpanExporter
	stats *deliveryStats
}

func (e countingSpans) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		e.stats.spansFailed.Add(int64(len(spans)))
		e.stats.note(fmt.Errorf("spans: %w", err))
	} else {
		e.stats.spansExported.Add(int64(len(spans)))
	}
	return err
}

type countingLogs struct {
	sdklog.Exporter
	stats *deliveryStats
}

func (e countingLogs) Export(ctx context.Context, records []sdklog.Record) error {
	err := e.Exporter.Export(ctx, records)
	if err != nil {
		e.stats.logsFailed.Add(int64(len(records)))
		e.stats.note(fmt.Errorf("logs: %w", err))
	} else {
		e.stats.logsExported.Add(int64(len(records)))
	}
	return err
}

type countingMetrics struct {
	sdkmetric.Exporter
	stats *deliveryStats
}

// Export counts successful exports. The metrics are cumulative, so only
// the last export decides whether their state was delivered: metricsFailed
// is 1 while the latest export failed (a periodic export that the reader's
// shutdown cancels is superseded by the final one).
func (e countingMetrics) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	if err != nil {
		e.stats.metricsFailed.Store(1)
		e.stats.note(fmt.Errorf("metrics: %w", err))
	} else {
		e.stats.metricExports.Add(1)
		e.stats.metricsFailed.Store(0)
	}
	return err
}
