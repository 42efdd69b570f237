package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// exportConfig says where and how the spans go.
type exportConfig struct {
	Endpoint    string // host:port of an OTLP/gRPC receiver, insecure
	ServiceName string
	InstanceID  string
	// QueueSize is the batch processor's queue; sized to the burst so that no
	// span is dropped while the exporter is slower than the generator.
	QueueSize int
	// RetryFor bounds the exporter's retries of one batch.
	RetryFor time.Duration
}

// exportStats counts what the OTLP exporter delivered.
type exportStats struct {
	mu       sync.Mutex
	exported int
	failed   int
	errs     []error
}

func (s *exportStats) snapshot() (exported, failed int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exported, s.failed, errors.Join(s.errs...)
}

// note keeps the first few distinct errors, so the report stays short.
func (s *exportStats) note(err error) {
	if len(s.errs) >= 3 {
		return
	}
	for _, seen := range s.errs {
		if seen.Error() == err.Error() {
			return
		}
	}
	s.errs = append(s.errs, err)
}

// countingExporter wraps the OTLP exporter to count delivered and failed
// spans: the batch processor reports export errors only to the global handler.
type countingExporter struct {
	sdktrace.SpanExporter
	stats *exportStats
}

func (e countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.stats.mu.Lock()
	defer e.stats.mu.Unlock()
	if err != nil {
		e.stats.failed += len(spans)
		e.stats.note(err)
	} else {
		e.stats.exported += len(spans)
	}
	return err
}

// newTracerProvider builds an SDK pipeline: every span sampled, a batch span
// processor, an OTLP/gRPC exporter.
func newTracerProvider(ctx context.Context, cfg exportConfig) (*sdktrace.TracerProvider, *exportStats, error) {
	exp, err := otlptracegrpc.New(ctx,
		otlptracegrpc.WithEndpoint(cfg.Endpoint),
		otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithTimeout(10*time.Second),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{
			Enabled:         true,
			InitialInterval: 250 * time.Millisecond,
			MaxInterval:     2 * time.Second,
			MaxElapsedTime:  cfg.RetryFor,
		}),
	)
	if err != nil {
		return nil, nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String(mcpconv.ServiceName, cfg.ServiceName),
		attribute.String(mcpconv.ServiceInstanceID, cfg.InstanceID),
	))
	if err != nil {
		return nil, nil, err
	}
	stats := &exportStats{}
	bsp := sdktrace.NewBatchSpanProcessor(countingExporter{SpanExporter: exp, stats: stats},
		sdktrace.WithMaxQueueSize(max(sdktrace.DefaultMaxQueueSize, cfg.QueueSize)),
		sdktrace.WithBlocking(),
		sdktrace.WithBatchTimeout(200*time.Millisecond),
		sdktrace.WithExportTimeout(cfg.RetryFor+5*time.Second),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(bsp),
	)
	return tp, stats, nil
}
