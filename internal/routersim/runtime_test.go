package routersim

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// runRuntime simulates a short run of a router reporting runtime and
// returns the runtime metrics of its final export: name -> unit, and the
// points' values by name and attributes.
func runRuntime(t *testing.T, runtime string) (map[string]string, map[string]float64) {
	t.Helper()
	o := testRunOptions(t, 3000)
	o.Fleet.Runtime = runtime
	require.NoError(t, o.Fleet.Validate())
	metrics := &memoryMetrics{}
	em, err := newOTLPEmitter(otlpConfig{ServiceName: o.ServiceName, InstanceID: o.InstanceID, RetryFor: time.Second,
		MetricInterval: o.MetricInterval}, otlpExporters{spans: &memorySpans{}, logs: &memoryLogs{}, metrics: metrics})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, simulate(context.Background(), o, em, &out, io.Discard), out.String())
	require.NotNil(t, metrics.last)
	units := map[string]string{}
	values := map[string]float64{}
	for _, sm := range metrics.last.ScopeMetrics {
		for _, m := range sm.Metrics {
			if !strings.HasPrefix(m.Name, "go.") && !strings.HasPrefix(m.Name, "process.") && !strings.HasPrefix(m.Name, "jvm.") {
				continue
			}
			units[m.Name] = m.Unit
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					values[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] += float64(p.Value)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					values[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] += p.Value
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					values[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					values[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] += float64(p.Count)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return units, values
}

func names(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestSimulatedJVMRouterReportsTheJavaAgentsMetrics(t *testing.T) {
	units, values := runRuntime(t, RuntimeJVM)
	assert.Equal(t, map[string]string{
		"jvm.cpu.time": "s", "jvm.cpu.count": "{cpu}", "jvm.cpu.recent_utilization": "1", "jvm.memory.used": "By",
		"jvm.thread.count": "{thread}", "jvm.gc.duration": "s",
	}, units)
	// 3000 requests route far more than the 512 calls that fill an eden:
	// young collections happened.
	assert.GreaterOrEqual(t, values["jvm.gc.duration jvm.gc.action=end of minor GC,jvm.gc.name=G1 Young Generation"], 1.0)
	assert.Positive(t, values["jvm.cpu.time "])
	assert.Equal(t, float64(jvmMetaspace), values["jvm.memory.used jvm.memory.pool.name=Metaspace,jvm.memory.type=non_heap"])
	assert.GreaterOrEqual(t, values["jvm.memory.used jvm.memory.pool.name=G1 Old Gen,jvm.memory.type=heap"], float64(jvmOldStart))
	var threads float64
	for k, v := range values {
		if strings.HasPrefix(k, "jvm.thread.count ") {
			threads += v
		}
	}
	assert.Positive(t, threads)
}

func TestSimulatedGoRouterReportsItsRuntime(t *testing.T) {
	units, values := runRuntime(t, "")
	got := names(units)
	for _, name := range []string{"go.memory.used", "go.memory.gc.goal", "go.memory.gc.cycles", "go.goroutine.count", "go.processor.limit"} {
		assert.Contains(t, got, name)
	}
	for _, name := range got {
		assert.False(t, strings.HasPrefix(name, "jvm."), name)
	}
	assert.Positive(t, values["go.goroutine.count "])
}

func TestSimulatedRouterWithoutRuntime(t *testing.T) {
	units, _ := runRuntime(t, RuntimeNone)
	assert.Empty(t, units)
}

func TestRuntimeValidation(t *testing.T) {
	o := testRunOptions(t, 1)
	o.Fleet.Runtime = "python"
	assert.EqualError(t, o.Fleet.Validate(), `runtime: "python" must be go, jvm or none`)
}

// The model's rates follow the calls: 1025 calls over a second cost the
// base load and 250 us each, and allocate 1025 * 64 KiB: two young
// collections of a 32 MiB eden, 64 KiB left in it.
func TestJVMModelFollowsTheCalls(t *testing.T) {
	var calls int64
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	m := newJVMModel(func() int64 { return calls }, 1, start)
	calls = 1025
	m.advance(start.Add(time.Second))
	cpu := jvmBaseCores + 1025*jvmCPUPerCall.Seconds()
	assert.InDelta(t, cpu, m.cpuSeconds, 1e-9)
	assert.InDelta(t, cpu/jvmCPUs, m.recent, 1e-9)
	assert.Len(t, m.youngGCs, 2)
	assert.Empty(t, m.mixedGCs)
	assert.Equal(t, int64(64<<10), m.eden)
	assert.Equal(t, int64(jvmOldStart+2*jvmPromotedPerGC), m.old)

	// Idle for a second: the base load only, no collection.
	m.youngGCs = m.youngGCs[:0]
	m.advance(start.Add(2 * time.Second))
	assert.InDelta(t, cpu+jvmBaseCores, m.cpuSeconds, 1e-9)
	assert.Empty(t, m.youngGCs)
}
