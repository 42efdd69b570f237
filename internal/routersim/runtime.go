package routersim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconvjvm "go.opentelemetry.io/otel/semconv/v1.26.0"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
)

// The runtime a simulated router reports (FleetConfig.Runtime).
const (
	// RuntimeGo: the simulator's own Go runtime and process, through
	// instrumentation.WithRuntimeMetrics (the default).
	RuntimeGo = "go"
	// RuntimeJVM: a modelled JVM whose load follows the routed calls, with
	// the metrics, units and attributes of the OpenTelemetry Java agent.
	RuntimeJVM = "jvm"
	// RuntimeNone: no runtime metrics.
	RuntimeNone = "none"
)

func validRuntime(r string) bool {
	return r == "" || r == RuntimeGo || r == RuntimeJVM || r == RuntimeNone
}

// runtimeReporter is an emitter that reports the router's runtime: the
// OTLP one (the events API carries no runtime metrics).
type runtimeReporter interface {
	reportRuntime(runtime string, calls func() int64, seed uint64)
}

// startRuntime has em report the fleet's runtime, if it can.
func (f *fleet) startRuntime() {
	if r, ok := f.em.(runtimeReporter); ok {
		r.reportRuntime(f.cfg.Runtime, f.upstreamCalls, f.cfg.Seed)
	}
}

// upstreamCalls counts the calls routed to the upstreams so far: the load
// of the modelled JVM.
func (f *fleet) upstreamCalls() int64 {
	var n int64
	for _, u := range f.ups {
		n += u.calls.Load()
	}
	return n
}

// reportRuntime starts the runtime metrics on the emitter's meter
// provider; an error fails the run when the emitter shuts down.
func (e *otlpEmitter) reportRuntime(runtime string, calls func() int64, seed uint64) {
	var err error
	switch runtime {
	case "", RuntimeGo:
		// The emitter's Router exists before the fleet says its runtime: a
		// second one on the same providers reports it (and nothing else).
		_, err = instrumentation.New(e.tp, e.lp, e.mp, instrumentation.WithRuntimeMetrics(true))
	case RuntimeJVM:
		err = newJVMModel(calls, seed, time.Now()).register(e.mp.Meter(jvmScope))
	}
	if err != nil {
		e.runtimeErr = fmt.Errorf("runtime metrics: %w", err)
	}
}

// jvmScope is the instrumentation scope of the Java agent's JVM metrics.
const jvmScope = "io.opentelemetry.runtime-telemetry-java17"

// jvmGCBuckets are the Java agent's bucket boundaries of jvm.gc.duration.
var jvmGCBuckets = []float64{0.01, 0.1, 1, 10}

// The model: a G1 heap whose eden fills with what the routed calls
// allocate; a full eden is a young collection that promotes a little into
// the old generation, and an old generation past its threshold is a mixed
// collection. CPU is a base load plus a cost per call.
const (
	jvmCPUs             = 4
	jvmBaseCores        = 0.02
	jvmCPUPerCall       = 250 * time.Microsecond
	jvmAllocPerCall     = 64 << 10
	jvmEden             = 32 << 20
	jvmSurvivor         = 4 << 20
	jvmPromotedPerGC    = jvmEden / 50
	jvmOldStart         = 80 << 20
	jvmOldMixedGC       = 300 << 20
	jvmMetaspace        = 48 << 20
	jvmCodeCache        = 12 << 20
	jvmYoungCollector   = "G1 Young Generation"
	jvmMixedCollector   = "G1 Old Generation"
	jvmYoungGCAction    = "end of minor GC"
	jvmMixedGCAction    = "end of major GC"
	jvmDaemonThreads    = 14
	jvmNonDaemonThreads = 6
)

// jvmModel is the state of the modelled JVM, advanced at each collection.
type jvmModel struct {
	calls func() int64
	mu    sync.Mutex // several readers may collect at once
	rng   *rand.Rand

	at                  time.Time
	lastCalls           int64
	cpuSeconds, recent  float64
	eden, old           int64
	youngGCs, mixedGCs  []float64 // durations (s) not yet recorded
	runnable, timedWait int64
}

func newJVMModel(calls func() int64, seed uint64, now time.Time) *jvmModel {
	return &jvmModel{calls: calls, rng: rand.New(rand.NewPCG(seed, 0x6a766d)), at: now, lastCalls: calls(),
		old: jvmOldStart}
}

// advance moves the model to now.
func (m *jvmModel) advance(now time.Time) {
	elapsed := now.Sub(m.at).Seconds()
	if elapsed <= 0 {
		return
	}
	calls := m.calls()
	n := calls - m.lastCalls
	m.at, m.lastCalls = now, calls
	used := jvmBaseCores*elapsed + float64(n)*jvmCPUPerCall.Seconds()
	m.cpuSeconds += used
	m.recent = min(1, used/elapsed/jvmCPUs)
	m.eden += n * jvmAllocPerCall
	for m.eden >= jvmEden {
		m.eden -= jvmEden
		m.old += jvmPromotedPerGC
		m.youngGCs = append(m.youngGCs, 0.004+0.012*m.rng.Float64())
		if m.old >= jvmOldMixedGC {
			m.old = jvmOldStart + m.rng.Int64N(jvmOldStart/4)
			m.mixedGCs = append(m.mixedGCs, 0.03+0.05*m.rng.Float64())
		}
	}
	m.runnable = 2 + int64(min(float64(n)/elapsed/500, 6))
	m.timedWait = 4 + m.rng.Int64N(3)
}

func (m *jvmModel) register(meter metric.Meter) error {
	cpuTime, err1 := meter.Float64ObservableCounter(semconvjvm.JvmCPUTimeName,
		metric.WithUnit(semconvjvm.JvmCPUTimeUnit), metric.WithDescription(semconvjvm.JvmCPUTimeDescription))
	cpuCount, err2 := meter.Int64ObservableUpDownCounter(semconvjvm.JvmCPUCountName,
		metric.WithUnit(semconvjvm.JvmCPUCountUnit), metric.WithDescription(semconvjvm.JvmCPUCountDescription))
	recent, err3 := meter.Float64ObservableGauge(semconvjvm.JvmCPURecentUtilizationName,
		metric.WithUnit(semconvjvm.JvmCPURecentUtilizationUnit), metric.WithDescription(semconvjvm.JvmCPURecentUtilizationDescription))
	memUsed, err4 := meter.Int64ObservableUpDownCounter(semconvjvm.JvmMemoryUsedName,
		metric.WithUnit(semconvjvm.JvmMemoryUsedUnit), metric.WithDescription(semconvjvm.JvmMemoryUsedDescription))
	threads, err5 := meter.Int64ObservableUpDownCounter(semconvjvm.JvmThreadCountName,
		metric.WithUnit(semconvjvm.JvmThreadCountUnit), metric.WithDescription(semconvjvm.JvmThreadCountDescription))
	gcDuration, err6 := meter.Float64Histogram(semconvjvm.JvmGcDurationName,
		metric.WithUnit(semconvjvm.JvmGcDurationUnit), metric.WithDescription(semconvjvm.JvmGcDurationDescription),
		metric.WithExplicitBucketBoundaries(jvmGCBuckets...))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return err
	}
	set := func(kvs ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(kvs...))
	}
	heap := func(pool string) metric.MeasurementOption {
		return set(semconvjvm.JvmMemoryTypeHeap, semconvjvm.JvmMemoryPoolName(pool))
	}
	nonHeap := func(pool string) metric.MeasurementOption {
		return set(semconvjvm.JvmMemoryTypeNonHeap, semconvjvm.JvmMemoryPoolName(pool))
	}
	eden, survivor, old := heap("G1 Eden Space"), heap("G1 Survivor Space"), heap("G1 Old Gen")
	metaspace, codeCache := nonHeap("Metaspace"), nonHeap("CodeCache")
	runnable := set(semconvjvm.JvmThreadDaemon(true), semconvjvm.JvmThreadStateRunnable)
	waiting := set(semconvjvm.JvmThreadDaemon(true), semconvjvm.JvmThreadStateWaiting)
	timedWaiting := set(semconvjvm.JvmThreadDaemon(false), semconvjvm.JvmThreadStateTimedWaiting)
	young := metric.WithAttributeSet(attribute.NewSet(semconvjvm.JvmGcName(jvmYoungCollector), semconvjvm.JvmGcAction(jvmYoungGCAction)))
	mixed := metric.WithAttributeSet(attribute.NewSet(semconvjvm.JvmGcName(jvmMixedCollector), semconvjvm.JvmGcAction(jvmMixedGCAction)))

	_, err := meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.advance(time.Now())
		// The collections since the last report; the SDK aggregates what
		// callbacks record before it reads the histogram.
		for _, d := range m.youngGCs {
			gcDuration.Record(ctx, d, young)
		}
		for _, d := range m.mixedGCs {
			gcDuration.Record(ctx, d, mixed)
		}
		m.youngGCs, m.mixedGCs = m.youngGCs[:0], m.mixedGCs[:0]
		o.ObserveFloat64(cpuTime, m.cpuSeconds)
		o.ObserveInt64(cpuCount, jvmCPUs)
		o.ObserveFloat64(recent, m.recent)
		o.ObserveInt64(memUsed, m.eden, eden)
		o.ObserveInt64(memUsed, jvmSurvivor, survivor)
		o.ObserveInt64(memUsed, m.old, old)
		o.ObserveInt64(memUsed, jvmMetaspace, metaspace)
		o.ObserveInt64(memUsed, jvmCodeCache, codeCache)
		o.ObserveInt64(threads, m.runnable, runnable)
		o.ObserveInt64(threads, jvmDaemonThreads-m.runnable, waiting)
		o.ObserveInt64(threads, jvmNonDaemonThreads+m.timedWait, timedWaiting)
		return nil
	}, cpuTime, cpuCount, recent, memUsed, threads)
	return err
}
