package instrumentation

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// memoryLogs keeps every exported log record.
type memoryLogs struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (m *memoryLogs) Export(_ context.Context, records []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range records {
		m.records = append(m.records, r.Clone())
	}
	return nil
}
func (m *memoryLogs) Shutdown(context.Context) error   { return nil }
func (m *memoryLogs) ForceFlush(context.Context) error { return nil }

func (m *memoryLogs) all() []sdklog.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdklog.Record(nil), m.records...)
}

// testRouter is a Router on SDK providers that keep everything in memory.
type testRouter struct {
	*Router
	spans   *tracetest.SpanRecorder
	logs    *memoryLogs
	metrics *sdkmetric.ManualReader
}

func newTestRouter(t *testing.T, opts ...Option) testRouter {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	logs := &memoryLogs{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(logs)))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		ctx := context.Background()
		_ = tp.Shutdown(ctx)
		_ = lp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
	})
	r, err := New(tp, lp, mp, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return testRouter{Router: r, spans: spans, logs: logs, metrics: reader}
}

func (tr testRouter) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tr.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// spanToPdata converts what the classification and the exporter read.
func spanToPdata(s sdktrace.ReadOnlySpan) ptrace.Span {
	span := ptrace.NewSpan()
	span.SetName(s.Name())
	span.SetTraceID(pcommon.TraceID(s.SpanContext().TraceID()))
	span.SetSpanID(pcommon.SpanID(s.SpanContext().SpanID()))
	span.SetParentSpanID(pcommon.SpanID(s.Parent().SpanID()))
	switch s.SpanKind() {
	case trace.SpanKindServer:
		span.SetKind(ptrace.SpanKindServer)
	case trace.SpanKindClient:
		span.SetKind(ptrace.SpanKindClient)
	default:
		span.SetKind(ptrace.SpanKindInternal)
	}
	putAttributes(span.Attributes(), s.Attributes())
	if s.Status().Code == codes.Error {
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage(s.Status().Description)
	}
	for _, ev := range s.Events() {
		e := span.Events().AppendEmpty()
		e.SetName(ev.Name)
		putAttributes(e.Attributes(), ev.Attributes)
	}
	return span
}

func logToPdata(r sdklog.Record) plog.LogRecord {
	lr := plog.NewLogRecord()
	lr.SetEventName(r.EventName())
	lr.SetSeverityNumber(plog.SeverityNumber(r.Severity()))
	lr.SetTraceID(pcommon.TraceID(r.TraceID()))
	lr.SetSpanID(pcommon.SpanID(r.SpanID()))
	if b := r.Body(); b.Type() != attribute.EMPTY {
		lr.Body().SetStr(b.String())
	}
	var attrs []attribute.KeyValue
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		attrs = append(attrs, kv)
		return true
	})
	putAttributes(lr.Attributes(), attrs)
	return lr
}

func putAttributes(to pcommon.Map, from []attribute.KeyValue) {
	for _, kv := range from {
		k := string(kv.Key)
		switch kv.Value.Type() {
		case attribute.INT64:
			to.PutInt(k, kv.Value.AsInt64())
		case attribute.FLOAT64:
			to.PutDouble(k, kv.Value.AsFloat64())
		case attribute.BOOL:
			to.PutBool(k, kv.Value.AsBool())
		case attribute.STRINGSLICE:
			s := to.PutEmptySlice(k)
			for _, v := range kv.Value.AsStringSlice() {
				s.AppendEmpty().SetStr(v)
			}
		default:
			to.PutStr(k, kv.Value.String())
		}
	}
}
