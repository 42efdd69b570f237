package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/routersim"
)

// runtimeSummary is what router_runtime_minute shows of one router over
// a run: the largest value of each column (NULL when never reported).
type runtimeSummary struct {
	Runtime                                                      string
	CPUCores, CPUUtilization, Memory, ProcessMemory, GCPerMinute *float64
	GCTimeRatio, GCGoal, GOGC, AllocPerS, Goroutines, Threads    *float64
}

// TestRouterRuntimeThroughTheCollector runs two simulated routers against
// the distribution, a Go one (the simulator's own runtime through
// instrumentation.WithRuntimeMetrics) and a JVM one (the Java agent's
// metric names), and reads both back from router_runtime_minute: each
// family lands in the columns docs/schema.md gives it.
func TestRouterRuntimeThroughTheCollector(t *testing.T) {
	schemaName := freshSchema("e2e_runtime")
	c := startCollector(t, schemaName)
	ctx := context.Background()
	run := func(runtime, instance string) {
		o := routersim.Options{
			Fleet: routersim.FleetConfig{Rate: 2000, Requests: 2000, Servers: 4, ToolsPerServer: 2, ServerPrefix: instance + "-",
				ErrorRate: 0.05, OutageLength: time.Second, HealthInterval: time.Second, BreakerThreshold: 5,
				BreakerCooldown: time.Second, Sessions: 10, SessionLife: 10 * time.Second, SessionStats: 5 * time.Second,
				Workers: 2, Seed: 16, Runtime: runtime},
			Mode: "otlp", Protocol: "grpc", Endpoint: c.grpcAddr, ServiceName: "router-" + runtime, InstanceID: instance,
			MetricInterval: 300 * time.Millisecond, FlushTimeout: 30 * time.Second,
		}
		require.NoError(t, o.Fleet.Validate())
		var out strings.Builder
		require.NoError(t, routersim.Run(ctx, o, &out, io.Discard), out.String())
	}
	run(routersim.RuntimeGo, "go-1")
	run(routersim.RuntimeJVM, "jvm-1")

	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	summary := func(instance string) (runtimeSummary, error) {
		var s runtimeSummary
		err := conn.QueryRow(ctx, `SELECT min(runtime), max(cpu_cores), max(cpu_utilization), max(memory_used_bytes),
			max(process_memory_bytes), max(gc_per_minute), max(gc_time_ratio), max(gc_goal_bytes), max(gogc),
			max(alloc_bytes_per_s), max(goroutines), max(threads)
			FROM `+pgx.Identifier{schemaName, "router_runtime_minute"}.Sanitize()+` WHERE service_instance = $1`, instance).
			Scan(&s.Runtime, &s.CPUCores, &s.CPUUtilization, &s.Memory, &s.ProcessMemory, &s.GCPerMinute, &s.GCTimeRatio,
				&s.GCGoal, &s.GOGC, &s.AllocPerS, &s.Goroutines, &s.Threads)
		return s, err
	}
	positive := func(v *float64) bool { return v != nil && *v > 0 }

	// The exporter commits what the simulators delivered asynchronously:
	// poll until the final exports are in.
	var goRouter, jvmRouter runtimeSummary
	deadline := time.Now().Add(60 * time.Second)
	for {
		goRouter, err = summary("go-1")
		if err == nil {
			jvmRouter, err = summary("jvm-1")
		}
		if err == nil && positive(goRouter.CPUCores) && positive(goRouter.Goroutines) && positive(jvmRouter.CPUCores) &&
			positive(jvmRouter.GCPerMinute) && positive(jvmRouter.Threads) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("router_runtime_minute after 60 s: go %s, jvm %s (%v)", show(goRouter), show(jvmRouter), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("go: %s\njvm: %s", show(goRouter), show(jvmRouter))

	assert.Equal(t, "go", goRouter.Runtime)
	for name, v := range map[string]*float64{"cpu_cores": goRouter.CPUCores, "cpu_utilization": goRouter.CPUUtilization,
		"memory_used_bytes": goRouter.Memory, "process_memory_bytes": goRouter.ProcessMemory, "gc_goal_bytes": goRouter.GCGoal,
		"alloc_bytes_per_s": goRouter.AllocPerS, "goroutines": goRouter.Goroutines, "threads": goRouter.Threads} {
		assert.True(t, positive(v), "go router: %s", name)
	}
	assert.NotNil(t, goRouter.GCPerMinute, "go.memory.gc.cycles")
	assert.NotNil(t, goRouter.GOGC, "go.config.gogc")
	assert.Nil(t, goRouter.GCTimeRatio, "the Go runtime reports no pause durations")

	assert.Equal(t, "jvm", jvmRouter.Runtime)
	for name, v := range map[string]*float64{"cpu_cores": jvmRouter.CPUCores, "cpu_utilization": jvmRouter.CPUUtilization,
		"memory_used_bytes": jvmRouter.Memory, "gc_per_minute": jvmRouter.GCPerMinute, "gc_time_ratio": jvmRouter.GCTimeRatio,
		"threads": jvmRouter.Threads} {
		assert.True(t, positive(v), "jvm router: %s", name)
	}
	assert.LessOrEqual(t, *jvmRouter.CPUUtilization, 1.0)
	// Every pool counts: the non-heap pools and the old generation alone
	// hold 144 MiB in the model.
	assert.GreaterOrEqual(t, *jvmRouter.Memory, float64(144<<20))
	for name, v := range map[string]*float64{"process_memory_bytes": jvmRouter.ProcessMemory, "gc_goal_bytes": jvmRouter.GCGoal,
		"gogc": jvmRouter.GOGC, "alloc_bytes_per_s": jvmRouter.AllocPerS, "goroutines": jvmRouter.Goroutines} {
		assert.Nil(t, v, "jvm router: %s", name)
	}
	c.stop(t)
}

func show(s runtimeSummary) string {
	f := func(v *float64) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprintf("%.4g", *v)
	}
	return fmt.Sprintf("%s cpu %s util %s mem %s rss %s gc/min %s gc-time %s goal %s gogc %s alloc/s %s goroutines %s threads %s",
		s.Runtime, f(s.CPUCores), f(s.CPUUtilization), f(s.Memory), f(s.ProcessMemory), f(s.GCPerMinute), f(s.GCTimeRatio),
		f(s.GCGoal), f(s.GOGC), f(s.AllocPerS), f(s.Goroutines), f(s.Threads))
}
