package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/simcapture"
)

func TestReplayFlags(t *testing.T) {
	_, err := parseReplayFlags([]string{"-endpoint", "http://x:4317", "-rate", "-1", "-workers", "0"}, &strings.Builder{})
	require.Error(t, err)
	for _, want := range []string{"in: the capture file is required", `endpoint: "http://x:4317" must be host:port`,
		"rate: -1 must not be negative", "workers: 0 must be at least 1"} {
		assert.ErrorContains(t, err, want)
	}
	o, err := parseReplayFlags([]string{"-in", "x.bin", "-rate", "50000", "-duration", "20s"}, &strings.Builder{})
	require.NoError(t, err)
	assert.Equal(t, replayFlags{in: "x.bin", ReplayOptions: simcapture.ReplayOptions{Endpoint: "localhost:4317", Rate: 50000,
		Duration: 20 * time.Second, Workers: 8, Timeout: 10 * time.Second, RetryFor: 2 * time.Minute}}, o)
}

// TestRunCaptureRecordsWhatTheFleetSent: `run -capture` delivers to the file
// exactly what its exporters report as delivered.
func TestRunCaptureRecordsWhatTheFleetSent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.bin")
	var stdout, stderr strings.Builder
	code := runCommand(context.Background(), []string{"-capture", path, "-rate", "0", "-requests", "300", "-progress", "0",
		"-endpoint", "ignored:1"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	recs, err := simcapture.Read(path)
	require.NoError(t, err)
	counts := map[simcapture.Signal]int{}
	for _, r := range recs {
		counts[r.Signal] += r.Items
	}
	assert.Contains(t, stdout.String(), "captured ")
	assert.Regexp(t, `delivered `+strconv.Itoa(counts[simcapture.Traces])+` spans, `+strconv.Itoa(counts[simcapture.Logs])+` log records`, stdout.String())
	assert.GreaterOrEqual(t, counts[simcapture.Traces], 300, "at least one SERVER span per routed request")

	_, err = parseRunFlags([]string{"-capture", path, "-mode", "events", "-requests", "1"}, &strings.Builder{})
	require.ErrorContains(t, err, "capture: needs -mode otlp -protocol grpc")
}
