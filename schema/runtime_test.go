package schema

import (
	"context"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runtimePoint is a metric_point row as the exporter writes it for a sum,
// gauge or histogram point.
type runtimePoint struct {
	instance, name, kind string // kind: gauge, sum, counter (a monotonic sum), histogram
	delta                bool
	start, ts            time.Time
	value                float64 // sum and gauge; a histogram's count
	sum                  float64 // histogram
	attrs                map[string]any
}

func insertRuntimePoints(ctx context.Context, t *testing.T, conn *pgx.Conn, service string, points []runtimePoint) {
	t.Helper()
	for _, p := range points {
		h := fnv.New64a()
		_, _ = h.Write([]byte(service + "/" + p.instance + "/" + p.name))
		keys := slices.Sorted(maps.Keys(p.attrs))
		for _, k := range keys {
			_, _ = h.Write([]byte(k + "=" + p.attrs[k].(string)))
		}
		temporality := "cumulative"
		if p.delta {
			temporality = "delta"
		}
		var start any
		if !p.start.IsZero() {
			start = p.start
		}
		var value, count, sum, monotonic any
		switch p.kind {
		case "gauge":
			value, temporality = p.value, ""
		case "sum":
			value, monotonic = p.value, false
		case "counter":
			value, monotonic = p.value, true
		case "histogram":
			count, sum = int64(p.value), p.sum
		}
		kind := p.kind
		if kind == "counter" {
			kind = "sum"
		}
		_, err := conn.Exec(ctx, `INSERT INTO metric_point (ts, metric_name, series_id, metric_type, temporality,
			is_monotonic, start_ts, value, count, sum, service_name, service_instance, attributes)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8, $9, $10, $11, $12, $13)`,
			p.ts, p.name, int64(h.Sum64()), kind, temporality, monotonic, start, value, count, sum, service, p.instance, p.attrs)
		require.NoError(t, err, "%s %s", p.instance, p.name)
	}
}

// runtimeRow is one row of router_runtime.
type runtimeRow struct {
	Minute                                            time.Time
	Instance, Runtime                                 string
	CPUCores, CPUUtilization, MemoryUsed, ProcessMem  *float64
	GCPerMinute, GCTimeRatio, GCGoal, GOGC, AllocPerS *float64
	Goroutines, Threads                               *float64
}

// TestRouterRuntimeView stores the runtime metrics of a Go router (as
// instrumentation.WithRuntimeMetrics reports them, one of them restarting),
// a Java router (as the OpenTelemetry Java agent reports them) and a
// router reporting process.* metrics only, with delta temporality, and
// checks router_runtime_minute against values worked out by hand.
func TestRouterRuntimeView(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := freshSchema("runtime")
	_, err := Apply(ctx, testPool(t), s)
	require.NoError(t, err)
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{s}.Sanitize())
	require.NoError(t, err)

	const mib = 1 << 20
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	t1, t2 := start.Add(time.Minute), start.Add(2*time.Minute)
	mode := func(m string) map[string]any { return map[string]any{"cpu.mode": m} }
	var points []runtimePoint
	// Go: exports at t1 and t2 (and goroutines once more at t2+30s).
	goRouter := func(instance string, p runtimePoint) {
		p.instance = instance
		if p.start.IsZero() && p.kind != "gauge" {
			p.start = start
		}
		points = append(points, p)
	}
	for _, p := range []runtimePoint{
		{name: "process.cpu.time", kind: "counter", ts: t1, value: 3, attrs: mode("user")},
		{name: "process.cpu.time", kind: "counter", ts: t2, value: 9, attrs: mode("user")},
		{name: "process.cpu.time", kind: "counter", ts: t1, value: 1, attrs: mode("system")},
		{name: "process.cpu.time", kind: "counter", ts: t2, value: 4, attrs: mode("system")},
		{name: "go.processor.limit", kind: "sum", ts: t1, value: 4},
		{name: "go.processor.limit", kind: "sum", ts: t2, value: 4},
		{name: "go.memory.used", kind: "sum", ts: t2, value: 1 * mib, attrs: map[string]any{"go.memory.type": "stack"}},
		{name: "go.memory.used", kind: "sum", ts: t2, value: 20 * mib, attrs: map[string]any{"go.memory.type": "other"}},
		{name: "process.memory.usage", kind: "sum", ts: t2, value: 30 * mib},
		{name: "go.memory.gc.cycles", kind: "counter", ts: t1, value: 10},
		{name: "go.memory.gc.cycles", kind: "counter", ts: t2, value: 40},
		{name: "go.memory.gc.goal", kind: "sum", ts: t2, value: 8 * mib},
		{name: "go.config.gogc", kind: "sum", ts: t2, value: 100},
		{name: "go.memory.allocated", kind: "counter", ts: t1, value: 60 * mib},
		{name: "go.memory.allocated", kind: "counter", ts: t2, value: 120 * mib},
		{name: "go.goroutine.count", kind: "sum", ts: t2, value: 42},
		{name: "go.goroutine.count", kind: "sum", ts: t2.Add(30 * time.Second), value: 44},
		{name: "process.thread.count", kind: "sum", ts: t2, value: 9},
	} {
		goRouter("go-1", p)
	}
	// A Go router restarted at t1+30s: its counter starts again from zero.
	goRouter("go-2", runtimePoint{name: "process.cpu.time", kind: "counter", ts: t1, value: 50, attrs: mode("user")})
	goRouter("go-2", runtimePoint{name: "process.cpu.time", kind: "counter", start: t1.Add(30 * time.Second), ts: t2, value: 2, attrs: mode("user")})
	insertRuntimePoints(ctx, t, conn, "router-go", points)

	// Java: heap and non-heap pools, two collectors, threads by state.
	points = nil
	pool := func(typ, name string) map[string]any {
		return map[string]any{"jvm.memory.type": typ, "jvm.memory.pool.name": name}
	}
	gc := func(name string) map[string]any {
		return map[string]any{"jvm.gc.name": name, "jvm.gc.action": "end of GC"}
	}
	for _, p := range []runtimePoint{
		{name: "jvm.cpu.time", kind: "counter", ts: t1, value: 6},
		{name: "jvm.cpu.time", kind: "counter", ts: t2, value: 18},
		{name: "jvm.cpu.recent_utilization", kind: "gauge", ts: t2, value: 0.05},
		{name: "jvm.cpu.count", kind: "sum", ts: t2, value: 8},
		{name: "jvm.memory.used", kind: "sum", ts: t2, value: 50 * mib, attrs: pool("heap", "G1 Eden Space")},
		{name: "jvm.memory.used", kind: "sum", ts: t2, value: 100 * mib, attrs: pool("heap", "G1 Old Gen")},
		{name: "jvm.memory.used", kind: "sum", ts: t2, value: 40 * mib, attrs: pool("non_heap", "Metaspace")},
		{name: "jvm.gc.duration", kind: "histogram", ts: t1, value: 10, sum: 0.5, attrs: gc("G1 Young Generation")},
		{name: "jvm.gc.duration", kind: "histogram", ts: t2, value: 22, sum: 1.1, attrs: gc("G1 Young Generation")},
		{name: "jvm.gc.duration", kind: "histogram", ts: t1, value: 0, sum: 0, attrs: gc("G1 Old Generation")},
		{name: "jvm.gc.duration", kind: "histogram", ts: t2, value: 1, sum: 0.3, attrs: gc("G1 Old Generation")},
		{name: "jvm.thread.count", kind: "sum", ts: t2, value: 10, attrs: map[string]any{"jvm.thread.state": "runnable"}},
		{name: "jvm.thread.count", kind: "sum", ts: t2, value: 5, attrs: map[string]any{"jvm.thread.state": "waiting"}},
	} {
		p.instance = "jvm-1"
		if p.kind != "gauge" {
			p.start = start
		}
		points = append(points, p)
	}
	insertRuntimePoints(ctx, t, conn, "router-java", points)

	// Process metrics only, delta temporality.
	insertRuntimePoints(ctx, t, conn, "router-other", []runtimePoint{
		{instance: "proc-1", name: "process.cpu.time", kind: "counter", delta: true, start: start, ts: t1, value: 30, attrs: mode("user")},
		{instance: "proc-1", name: "process.cpu.time", kind: "counter", delta: true, start: t1, ts: t2, value: 15, attrs: mode("user")},
		{instance: "proc-1", name: "process.cpu.utilization", kind: "gauge", ts: t2, value: 0.125, attrs: mode("user")},
		{instance: "proc-1", name: "process.memory.usage", kind: "sum", ts: t2, value: 64 * mib},
		{instance: "proc-1", name: "process.thread.count", kind: "sum", ts: t2, value: 12},
	})

	f := func(v float64) *float64 { return &v }
	want := []runtimeRow{
		// Each first point counts from its start, a minute earlier.
		{Minute: t1, Instance: "go-1", Runtime: "go", CPUCores: f(4.0 / 60), CPUUtilization: f(4.0 / 60 / 4),
			GCPerMinute: f(10), AllocPerS: f(1 * mib)},
		{Minute: t1, Instance: "go-2", Runtime: "process", CPUCores: f(50.0 / 60)},
		{Minute: t1, Instance: "jvm-1", Runtime: "jvm", CPUCores: f(0.1), GCPerMinute: f(10), GCTimeRatio: f(0.5 / 60)},
		{Minute: t1, Instance: "proc-1", Runtime: "process", CPUCores: f(0.5)},
		{Minute: t2, Instance: "go-1", Runtime: "go", CPUCores: f(9.0 / 60), CPUUtilization: f(9.0 / 60 / 4),
			MemoryUsed: f(21 * mib), ProcessMem: f(30 * mib), GCPerMinute: f(30), GCGoal: f(8 * mib), GOGC: f(100),
			AllocPerS: f(1 * mib), Goroutines: f(43), Threads: f(9)},
		// Restarted 30 s before: 2 s of CPU since.
		{Minute: t2, Instance: "go-2", Runtime: "process", CPUCores: f(2.0 / 30)},
		// Utilization as the JVM reports it wins over cores per CPU.
		{Minute: t2, Instance: "jvm-1", Runtime: "jvm", CPUCores: f(0.2), CPUUtilization: f(0.05), MemoryUsed: f(190 * mib),
			GCPerMinute: f(13), GCTimeRatio: f(0.9 / 60), Threads: f(15)},
		{Minute: t2, Instance: "proc-1", Runtime: "process", CPUCores: f(0.25), CPUUtilization: f(0.125),
			ProcessMem: f(64 * mib), Threads: f(12)},
	}
	for i := range want {
		roundRow(&want[i])
	}
	query := func(sql string, args ...any) []runtimeRow {
		t.Helper()
		rows, err := conn.Query(ctx, sql, args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []runtimeRow
		for rows.Next() {
			var r runtimeRow
			require.NoError(t, rows.Scan(&r.Minute, &r.Instance, &r.Runtime, &r.CPUCores, &r.CPUUtilization, &r.MemoryUsed,
				&r.ProcessMem, &r.GCPerMinute, &r.GCTimeRatio, &r.GCGoal, &r.GOGC, &r.AllocPerS, &r.Goroutines, &r.Threads))
			r.Minute = r.Minute.UTC()
			roundRow(&r)
			out = append(out, r)
		}
		require.NoError(t, rows.Err())
		return out
	}
	const cols = `minute, service_instance, runtime, cpu_cores, cpu_utilization, memory_used_bytes, process_memory_bytes,
		gc_per_minute, gc_time_ratio, gc_goal_bytes, gogc, alloc_bytes_per_s, goroutines, threads`
	assert.Equal(t, want, query(`SELECT `+cols+` FROM router_runtime_minute ORDER BY 1, 2`))
	// From a range that starts after the first exports: the points at t2
	// are measured against those before the range (the restarted series
	// against nothing: it began inside the lookback).
	assert.Equal(t, want[4:], query(`SELECT `+cols+` FROM router_runtime($1, $2, '5 minutes') ORDER BY 1, 2`,
		t1, t2.Add(time.Minute)))
	// Without a lookback reaching them, counters whose series began before
	// the range have no rate.
	got := query(`SELECT `+cols+` FROM router_runtime($1, $2, '1 second') WHERE service_instance = 'jvm-1'`,
		t1.Add(time.Second), t2.Add(time.Minute))
	require.Len(t, got, 1)
	assert.Nil(t, got[0].CPUCores)
	assert.Equal(t, want[6].MemoryUsed, got[0].MemoryUsed)
}

// roundRow rounds every number to 9 significant decimals, so that values
// worked out in float64 compare with SQL's.
func roundRow(r *runtimeRow) {
	for _, p := range []**float64{&r.CPUCores, &r.CPUUtilization, &r.MemoryUsed, &r.ProcessMem, &r.GCPerMinute,
		&r.GCTimeRatio, &r.GCGoal, &r.GOGC, &r.AllocPerS, &r.Goroutines, &r.Threads} {
		if *p != nil {
			v := **p
			if v != 0 {
				scale := math.Pow(10, 9-math.Ceil(math.Log10(math.Abs(v))))
				v = math.Round(v*scale) / scale
			}
			*p = &v
		}
	}
}
