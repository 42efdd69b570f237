package e2e

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/gatewaydns"
)

// gatewayDNS serves one name with several addresses until the test ends.
func gatewayDNS(t *testing.T, name string, addrs ...netip.Addr) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() { _ = gatewaydns.Serve(pc, name, addrs) }()
	return pc.LocalAddr().String()
}

// TestAgentToTwoGateways: simulator -> agent (deploy/agent-config.yaml: its
// own sampler and disk queue) -> two gateways (otelcol-config.yaml) found
// through one DNS name, balanced round robin -> PostgreSQL. Every event is
// stored exactly once and both gateways carried a share.
func TestAgentToTwoGateways(t *testing.T) {
	schemaName := freshSchema("e2e_two_tier")
	port := portOf(freePort(t))
	gatewayIPs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	// Both gateways listen on the same port, one address each, as replicas
	// behind one name do.
	probe, err := net.Listen("tcp", net.JoinHostPort(gatewayIPs[1].String(), port))
	if err != nil {
		t.Skipf("this machine has no second loopback address to put a gateway on: %v", err)
	}
	require.NoError(t, probe.Close())
	var metrics []string
	for _, ip := range gatewayIPs {
		m := freePort(t)
		metrics = append(metrics, m)
		startCollector(t, schemaName, append(keepEverySampledEvent,
			"MCP_OTLP_GRPC_ENDPOINT="+net.JoinHostPort(ip.String(), port), "MCP_METRICS_PORT="+portOf(m))...)
	}
	dns := gatewayDNS(t, "gateways.e2e.test", gatewayIPs...)

	agentAddr := freePort(t)
	agent := startCollectorConfig(t, filepath.Join(repoRoot, "deploy", "agent-config.yaml"), schemaName,
		append(keepEverySampledEvent,
			"MCP_OTLP_GRPC_ENDPOINT="+agentAddr,
			"MCP_AGENT_STORAGE_DIR="+t.TempDir(),
			"MCP_GATEWAY_ENDPOINT=dns://"+dns+"/gateways.e2e.test:"+port)...)

	sim := startSim(t, agentAddr, 4000)
	sim.wait(t)
	sim.reconcile(t, schemaName)

	for i, m := range metrics {
		deadline := time.Now().Add(10 * time.Second)
		for scrapeSum(t, m, "otelcol_receiver_accepted_spans") == 0 {
			require.Truef(t, time.Now().Before(deadline), "gateway %d (%s) received no span: the agent did not balance", i, gatewayIPs[i])
			time.Sleep(100 * time.Millisecond)
		}
	}
	assert.Zero(t, scrapeSum(t, metrics[0], "otelcol_receiver_refused_spans")+scrapeSum(t, metrics[1], "otelcol_receiver_refused_spans"))
	agent.stop(t)
}
