package simmanifest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

// manifestRecords reads a manifest into per-kind sets of lines.
func manifestRecords(t *testing.T, path string) (Header, map[Kind]map[string]bool) {
	t.Helper()
	out := map[Kind]map[string]bool{}
	h, err := Read(path, func(k Kind, f [][]byte) error {
		if out[k] == nil {
			out[k] = map[string]bool{}
		}
		line := string(bytes.Join(f, []byte{' '}))
		if out[k][line] {
			return fmt.Errorf("duplicate record %c %s", k.Code(), line)
		}
		out[k][line] = true
		return nil
	})
	require.NoError(t, err)
	return h, out
}

func TestManifestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gz")
	man, err := Create(path)
	require.NoError(t, err)
	count := &Counters{}
	rec := NewRecorder(man, count)
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	rec.Span(KindRouting, tid, sid, true)
	rec.SpanError(tid, sid, -1)
	rec.SpanError(tid, sid, 2)
	rec.Event(KindHealthCheck, "abc", false)
	rec.Session("s-1", 5, 1, true)
	rec.Server("weather-1", false, "unhealthy")
	rec.Count(KindSessionEvent, false)
	rec.Flush()
	require.NoError(t, man.Finish(Header{Mode: "otlp", InstanceID: "i-1", Kinds: count.Snapshot()}))

	h, got := manifestRecords(t, path)
	assert.Equal(t, "i-1", h.InstanceID)
	assert.Equal(t, KindCount{Sent: 2, Failed: 2}, h.Kinds["error"])
	assert.Equal(t, KindCount{Sent: 1}, h.Kinds["session_event"])
	assert.Equal(t, map[Kind]map[string]bool{
		KindRouting:     {"4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 1": true},
		KindError:       {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7 1": true, "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-2 1": true},
		KindHealthCheck: {"abc 0": true},
		KindSession:     {"s-1 5 1 1": true},
		KindServer:      {"weather-1 0 unhealthy": true},
	}, got)
}

// A manifest of a million ids is written and read back quickly and small.
func TestManifestOfAMillionIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "m.gz")
	man, err := Create(path)
	require.NoError(t, err)
	count := &Counters{}
	rec := NewRecorder(man, count)
	var tid trace.TraceID
	var sid trace.SpanID
	for i := range 1_000_000 {
		binary.BigEndian.PutUint64(tid[8:], uint64(i))
		binary.BigEndian.PutUint64(sid[:], uint64(i)+1)
		rec.Span(KindRouting, tid, sid, i%50 == 0)
		rec.FlushIfFull()
	}
	rec.Flush()
	require.NoError(t, man.Finish(Header{Kinds: count.Snapshot()}))
	n := 0
	_, err = Read(path, func(_ Kind, f [][]byte) error {
		if _, err := hex.DecodeString(string(f[0])); err != nil {
			return err
		}
		n++
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 1_000_000, n)
}
