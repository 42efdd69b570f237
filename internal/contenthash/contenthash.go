// Package contenthash is the one way a record's content becomes a number:
// mcpsampler decides a record without trace id or event.id from it, and the
// mcppg exporter derives the event id of such a record from it, so that a
// record delivered again gets the same decision and the same key.
package contenthash

import (
	"encoding/binary"
	"math"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// LogRecord hashes what a log record says: its times, trace and span id,
// severity, event name, body and attributes (in their order), less the
// sampling attributes an earlier sampler may have added.
func LogRecord(lr plog.LogRecord) uint64 {
	var h Hash
	h.Uint64(uint64(lr.Timestamp()))
	h.Uint64(uint64(lr.ObservedTimestamp()))
	tid, sid := lr.TraceID(), lr.SpanID()
	h.Bytes(tid[:])
	h.Bytes(sid[:])
	h.Uint64(uint64(lr.SeverityNumber()))
	h.String(lr.EventName())
	h.Value(lr.Body())
	h.Attributes(lr.Attributes())
	return h.Sum()
}

// Hash hashes the fields of a record, each unambiguously encoded:
// the same record delivered again hashes the same. The fields are gathered
// in buf and hashed at once; a record too large for buf streams through a
// digest instead (a digest write per field would cost more than the rest of
// the decision). Use it as a local variable: it then costs no allocation.
type Hash struct {
	buf       [384]byte
	n         int
	streaming bool
	d         xxhash.Digest
}

func (h *Hash) flush() {
	if !h.streaming {
		h.d.Reset()
		h.streaming = true
	}
	_, _ = h.d.Write(h.buf[:h.n])
	h.n = 0
}

func (h *Hash) Uint64(v uint64) {
	if h.n > len(h.buf)-8 {
		h.flush()
	}
	binary.LittleEndian.PutUint64(h.buf[h.n:], v)
	h.n += 8
}

// String is length-prefixed so that no two sequences of fields collide.
func (h *Hash) String(s string) {
	h.Uint64(uint64(len(s)))
	if len(s) > len(h.buf)-h.n {
		h.flush()
		if len(s) > len(h.buf) {
			_, _ = h.d.WriteString(s)
			return
		}
	}
	h.n += copy(h.buf[h.n:], s)
}

func (h *Hash) Bytes(b []byte) {
	h.Uint64(uint64(len(b)))
	if len(b) > len(h.buf)-h.n {
		h.flush()
		if len(b) > len(h.buf) {
			_, _ = h.d.Write(b)
			return
		}
	}
	h.n += copy(h.buf[h.n:], b)
}

func (h *Hash) Sum() uint64 {
	if !h.streaming {
		return xxhash.Sum64(h.buf[:h.n])
	}
	h.flush()
	return h.d.Sum64()
}

func (h *Hash) Value(v pcommon.Value) {
	h.Uint64(uint64(v.Type()))
	switch v.Type() {
	case pcommon.ValueTypeStr:
		h.String(v.Str())
	case pcommon.ValueTypeInt:
		h.Uint64(uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		h.Uint64(math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			h.Uint64(1)
		} else {
			h.Uint64(0)
		}
	case pcommon.ValueTypeBytes:
		h.Bytes(v.Bytes().AsRaw())
	case pcommon.ValueTypeMap:
		h.Attributes(v.Map())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		h.Uint64(uint64(s.Len()))
		for i := 0; i < s.Len(); i++ {
			h.Value(s.At(i))
		}
	}
}

// Attributes hashes a map in its order, leaving out the sampling state an
// earlier sampler may have added: it is not part of what the record says.
func (h *Hash) Attributes(m pcommon.Map) {
	m.Range(func(k string, v pcommon.Value) bool {
		if k == mcpconv.SamplingThreshold || k == mcpconv.SamplingRandomness {
			return true
		}
		h.String(k)
		h.Value(v)
		return true
	})
	h.Uint64(mapEnd)
}

// mapEnd closes a map: no key length can take this value.
const mapEnd = ^uint64(0)
