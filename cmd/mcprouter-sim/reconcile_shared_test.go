package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// TestReconcileTwoRoutersInOneSchema stores two runs in one schema, as two
// simulators behind two gateway collectors do (chaos/run.sh gateways): each
// with its own service.instance.id, ids and server-key prefix. Each manifest
// reconciles on its own; the other run's rows (routing, events, sessions,
// mcp_server rows, histogram series) are not counted.
func TestReconcileTwoRoutersInOneSchema(t *testing.T) {
	const schema = "reconcile_two_routers"
	a := newTestRun(t, runSpec{requests: 40, healthy: 20, unhealthy: 2, instance: "sim-a", idPrefix: "a-", serverPrefix: "a-"})
	b := newTestRun(t, runSpec{requests: 30, healthy: 10, unhealthy: 1, instance: "sim-b", idPrefix: "b-", serverPrefix: "b-"})
	a.store(t, schema)
	b.store(t, schema)
	for _, tt := range []struct {
		run                                testRun
		routing, failed, health, histogram string
	}{
		{run: a, routing: "40", failed: "4", health: "22", histogram: "40"},
		{run: b, routing: "30", failed: "3", health: "11", histogram: "30"},
	} {
		rep, err := reconcile(context.Background(), reconcileOpts(t, tt.run.manifest, schema), io.Discard)
		require.NoError(t, err)
		var out bytes.Buffer
		rep.print(&out)
		t.Log("\n" + out.String())
		assert.True(t, rep.ok())
		assert.Equal(t, []string{"routing", "routing_log", tt.routing, tt.failed, tt.routing, "0", "0", "-"},
			strings.Fields(reportLine(out.String(), "routing "))[:8])
		assert.Equal(t, tt.health, strings.Fields(reportLine(out.String(), "health_check "))[2])
		assert.Equal(t, []string{"server", "mcp_server", "2", "0", "2", "0", "0", "0"},
			strings.Fields(reportLine(out.String(), "server "))[:8])
		assert.Equal(t, tt.histogram, strings.Fields(reportLine(out.String(), "metric "+mcpconv.MetricServerOperationDuration))[2])
		for _, k := range rep.kinds {
			assert.Zero(t, k.sharedKeys, "%s", k.kind)
		}
	}
}

// TestReconcileSharedServerKeys: two routers reporting the same server keys
// merge into the same mcp_server rows, so their final state cannot be
// judged against either manifest, even when it happens to match; reconcile
// says so instead of passing (or blaming a lost event).
func TestReconcileSharedServerKeys(t *testing.T) {
	const schema = "reconcile_shared_keys"
	a := newTestRun(t, runSpec{requests: 10, healthy: 5, instance: "sim-a", idPrefix: "a-"})
	b := newTestRun(t, runSpec{requests: 10, healthy: 6, unhealthy: 1, instance: "sim-b", idPrefix: "b-"})
	a.store(t, schema)
	b.store(t, schema)
	rep, err := reconcile(context.Background(), reconcileOpts(t, a.manifest, schema), io.Discard)
	require.NoError(t, err)
	var out bytes.Buffer
	rep.print(&out)
	t.Log("\n" + out.String())
	assert.False(t, rep.ok())
	assert.Contains(t, reportLine(out.String(), "server "),
		"FAIL: server keys also reported by another router during the run: 1 (7 health checks not in this manifest)")
	for _, k := range rep.kinds {
		if k.kind != kindServer {
			assert.True(t, k.ok(), "%s: %v", k.kind, k.problems)
		}
	}
	assert.Contains(t, out.String(), "reconcile: FAILED: server: server keys also reported by another router")
}

// TestServerPrefix: -server-prefix starts every upstream key, which the
// manifest header lists; a prefix with a space would break the manifest.
func TestServerPrefix(t *testing.T) {
	o, err := parseRunFlags([]string{"-requests", "1", "-servers", "3", "-server-prefix", "gw1-"}, io.Discard)
	require.NoError(t, err)
	f := newFleet(o.fleet, nopEmitter{}, nil, &counters{})
	var keys []string
	for _, u := range f.ups {
		keys = append(keys, u.key)
	}
	assert.Len(t, keys, 3)
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, "gw1-"), k)
	}
	o, err = parseRunFlags([]string{"-requests", "1"}, io.Discard)
	require.NoError(t, err)
	assert.False(t, strings.HasPrefix(newFleet(o.fleet, nopEmitter{}, nil, &counters{}).ups[0].key, "gw"))
	_, err = parseRunFlags([]string{"-requests", "1", "-server-prefix", "gw 1"}, io.Discard)
	assert.ErrorContains(t, err, "server-prefix")
}
