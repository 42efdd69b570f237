package instrumentation

import (
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// runtimeMetric is what a test compares of one collected metric: its
// unit, how it aggregates and the attribute keys of its points.
type runtimeMetric struct {
	Unit      string
	Kind      string // sum, monotonic sum, gauge
	Attribute string // the one attribute key its points carry, if any
}

// runtimeMetrics collects tr and describes every metric of the runtime
// families (go.*, process.*), with each point's value by name and
// attribute value ("process.cpu.time user").
func runtimeMetrics(t *testing.T, tr testRouter) (map[string]runtimeMetric, map[string]float64) {
	t.Helper()
	got := map[string]runtimeMetric{}
	values := map[string]float64{}
	for _, sm := range tr.collect(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			if !strings.HasPrefix(m.Name, "go.") && !strings.HasPrefix(m.Name, "process.") {
				continue
			}
			d := runtimeMetric{Unit: m.Unit}
			point := func(attrs attribute.Set, v float64) {
				name := m.Name
				if kvs := attrs.ToSlice(); len(kvs) > 0 {
					require.Len(t, kvs, 1, "%s", m.Name)
					d.Attribute = string(kvs[0].Key)
					name += " " + kvs[0].Value.String()
				}
				values[name] = v
			}
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				d.Kind = sumKind(data.IsMonotonic, data.Temporality)
				for _, p := range data.DataPoints {
					point(p.Attributes, float64(p.Value))
				}
			case metricdata.Sum[float64]:
				d.Kind = sumKind(data.IsMonotonic, data.Temporality)
				for _, p := range data.DataPoints {
					point(p.Attributes, p.Value)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			got[m.Name] = d
		}
	}
	return got, values
}

func sumKind(monotonic bool, temporality metricdata.Temporality) string {
	kind := "cumulative sum"
	if temporality != metricdata.CumulativeTemporality {
		kind = temporality.String() + " sum"
	}
	if monotonic {
		kind = "monotonic " + kind
	}
	return kind
}

func TestRuntimeMetricsNamesAndUnits(t *testing.T) {
	tr := newTestRouter(t, WithRuntimeMetrics(true))
	goruntime.GC() // at least one completed cycle to count
	got, values := runtimeMetrics(t, tr)

	want := map[string]runtimeMetric{
		// The contrib runtime instrumentation (go.memory.limit only when a
		// limit is set, which this test does not do).
		"go.memory.used":        {"By", "cumulative sum", "go.memory.type"},
		"go.memory.allocated":   {"By", "monotonic cumulative sum", ""},
		"go.memory.allocations": {"{allocation}", "monotonic cumulative sum", ""},
		"go.memory.gc.goal":     {"By", "cumulative sum", ""},
		"go.goroutine.count":    {"{goroutine}", "cumulative sum", ""},
		"go.processor.limit":    {"{thread}", "cumulative sum", ""},
		"go.config.gogc":        {"%", "cumulative sum", ""},
		// Ours.
		"go.memory.gc.cycles": {"{gc_cycle}", "monotonic cumulative sum", ""},
	}
	switch goruntime.GOOS {
	case "linux":
		want["process.memory.usage"] = runtimeMetric{"By", "cumulative sum", ""}
		want["process.thread.count"] = runtimeMetric{"{thread}", "cumulative sum", ""}
		fallthrough
	case "aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "netbsd", "openbsd", "solaris":
		want["process.cpu.time"] = runtimeMetric{"s", "monotonic cumulative sum", "cpu.mode"}
	}
	assert.Equal(t, want, got)

	assert.Positive(t, values["go.memory.used other"])
	assert.Positive(t, values["go.goroutine.count"])
	assert.GreaterOrEqual(t, values["go.memory.gc.cycles"], 1.0)
	assert.Equal(t, float64(goruntime.GOMAXPROCS(0)), values["go.processor.limit"])
	if _, ok := want["process.cpu.time"]; ok {
		assert.Positive(t, values["process.cpu.time user"], "this process has run")
		assert.Contains(t, values, "process.cpu.time system")
	}
	if _, ok := want["process.memory.usage"]; ok {
		assert.Positive(t, values["process.memory.usage"])
		assert.GreaterOrEqual(t, values["process.thread.count"], 1.0)
	}

	// The counters only grow.
	goruntime.GC()
	_, later := runtimeMetrics(t, tr)
	for name, v := range values {
		if d := got[strings.Fields(name)[0]]; strings.HasPrefix(d.Kind, "monotonic") {
			assert.GreaterOrEqual(t, later[name], v, "%s", name)
		}
	}
	assert.Greater(t, later["go.memory.gc.cycles"], values["go.memory.gc.cycles"])
}

func TestRuntimeMetricsOffByDefault(t *testing.T) {
	tr := newTestRouter(t)
	got, _ := runtimeMetrics(t, tr)
	assert.Empty(t, got)
}

func TestProcessStatsOfThisProcess(t *testing.T) {
	if !slices.Contains([]string{"linux", "darwin", "freebsd"}, goruntime.GOOS) {
		t.Skip("process statistics are read on Unix")
	}
	p, err := readProcessStats()
	require.NoError(t, err)
	assert.True(t, p.cpu)
	assert.Positive(t, p.userSeconds)
	if goruntime.GOOS == "linux" {
		assert.True(t, p.memory)
		// A Go process runs a few threads at least; the resident set holds
		// at least the heap in use.
		assert.GreaterOrEqual(t, p.threads, int64(2))
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		assert.Greater(t, p.residentBytes, int64(ms.HeapInuse)/2)
	}
}
