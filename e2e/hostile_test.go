package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// bomb compresses size bytes of an OTLP/JSON-looking prefix followed by
// spaces: a small body that expands far beyond any request limit.
func bomb(t *testing.T, encoding string, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case "gzip":
		gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		require.NoError(t, err)
		w = gz
	case "zstd":
		z, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		require.NoError(t, err)
		w = z
	}
	_, err := w.Write([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"`))
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte{' '}, 1<<20)
	for written := 0; written < size; written += len(chunk) {
		_, err = w.Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// peakRSS reads a process's high-water mark of resident memory (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestOTLPCompressionBombs: gzip and zstd bodies that expand to 1 GiB are
// refused with a 4xx, the collector's memory stays within its limit, and a
// good request afterwards is stored.
func TestOTLPCompressionBombs(t *testing.T) {
	schemaName := freshSchema("e2e_hostile_bombs")
	httpAddr := freePort(t)
	c := startCollector(t, schemaName, "MCP_OTLP_HTTP_ENDPOINT="+httpAddr)
	for _, encoding := range []string{"gzip", "zstd"} {
		body := bomb(t, encoding, 1<<30)
		t.Logf("%s bomb: %d bytes expanding to 1 GiB", encoding, len(body))
		req, err := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/v1/traces", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", encoding)
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		require.NoError(t, err)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.GreaterOrEqualf(t, resp.StatusCode, 400, "%s bomb answered %d: %s", encoding, resp.StatusCode, msg)
		assert.Lessf(t, resp.StatusCode, 500, "%s bomb answered %d: %s", encoding, resp.StatusCode, msg)
	}
	assert.Less(t, peakRSS(t, c.cmd.Process.Pid), int64(512<<20), "the bombs blew the collector's memory past its 512 MiB limit")

	run := newSpanRun()
	body, err := (&ptrace.JSONMarshaler{}).MarshalTraces(run.serverSpans(0, 3, 0))
	require.NoError(t, err)
	resp, err := http.Post("http://"+httpAddr+"/v1/traces", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	run.waitStored(t, schemaName, 3, 60*time.Second)
	c.stop(t)
}
