package instrumentation

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"sync"

	contribruntime "go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.41.0/goconv"
	"go.opentelemetry.io/otel/semconv/v1.41.0/processconv"
)

// WithRuntimeMetrics reports the router's runtime on the meter provider
// (default off: a router may start them itself): the Go runtime metrics of
// the OpenTelemetry contrib runtime instrumentation (go.memory.used,
// go.memory.limit, go.memory.allocated, go.memory.allocations,
// go.memory.gc.goal, go.goroutine.count, go.processor.limit,
// go.config.gogc), and, because that package reports neither CPU nor GC
// cycles, go.memory.gc.cycles and the process metrics process.cpu.time
// (by cpu.mode; Unix), process.memory.usage (resident memory) and
// process.thread.count (Linux). The view router_runtime_minute reads them
// per minute. Turn it on in one Router per process: each one reports them.
func WithRuntimeMetrics(on bool) Option {
	return func(c *config) { c.runtime = on }
}

// startRuntimeMetrics registers the runtime metrics on mp; meter (the
// Router's) carries the ones the contrib package (v0.72.0) does not
// report. Should a later version report one of them, drop ours: the view
// adds the series of a metric up, so both would count.
func startRuntimeMetrics(mp metric.MeterProvider, meter metric.Meter) error {
	if err := contribruntime.Start(contribruntime.WithMeterProvider(mp)); err != nil {
		return fmt.Errorf("instrumentation: runtime metrics: %w", err)
	}
	gcCycles, err1 := goconv.NewMemoryGCCyclesObservable(meter)
	cpuTime, err2 := processconv.NewCPUTime(meter)
	memory, err3 := processconv.NewMemoryUsageObservable(meter)
	threads, err4 := processconv.NewThreadCountObservable(meter)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return fmt.Errorf("instrumentation: process metrics: %w", err)
	}
	userMode := metric.WithAttributeSet(attribute.NewSet(cpuTime.AttrCPUMode(processconv.CPUModeUser)))
	systemMode := metric.WithAttributeSet(attribute.NewSet(cpuTime.AttrCPUMode(processconv.CPUModeSystem)))
	var mu sync.Mutex // several readers may collect at once
	gcSample := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	var reported bool
	_, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		metrics.Read(gcSample)
		if gcSample[0].Value.Kind() == metrics.KindUint64 {
			o.ObserveInt64(gcCycles.Inst(), int64(gcSample[0].Value.Uint64()))
		}
		p, err := readProcessStats()
		if p.cpu {
			o.ObserveFloat64(cpuTime.Inst(), p.userSeconds, userMode)
			o.ObserveFloat64(cpuTime.Inst(), p.systemSeconds, systemMode)
		}
		if p.memory {
			o.ObserveInt64(memory.Inst(), p.residentBytes)
			o.ObserveInt64(threads.Inst(), p.threads)
		}
		// An error returned here would make the SDK's periodic reader skip
		// the whole export (every metric of the provider): it goes to the
		// error handler instead, once.
		if err != nil && !reported {
			reported = true
			otel.Handle(fmt.Errorf("instrumentation: process metrics: %w", err))
		}
		return nil
	}, gcCycles.Inst(), cpuTime.Inst(), memory.Inst(), threads.Inst())
	return err
}

// processStats is what the platform tells about the process; cpu and
// memory say which parts it could read.
type processStats struct {
	cpu                        bool
	userSeconds, systemSeconds float64
	memory                     bool
	residentBytes, threads     int64
}
