package mcppgexporter

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mcp-bridge/otelcol-mcp/internal/jsonstr"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// attributesJSON encodes the attributes not promoted to columns as a JSON
// object for a jsonb column (a json.RawMessage, which pgx sends as is and
// rowPayload keeps as JSON); nil (SQL NULL) when nothing is left. kept are
// promoted attributes whose value did not fit their column: they stay.
// Tool payloads (mcpconv.IsPayloadKey) are never stored here, whatever the
// emitter called them; they reach tool_call_payload only, redacted.
func attributesJSON(m pcommon.Map, promoted map[string]struct{}, kept ...string) any {
	var buf []byte
	m.Range(func(k string, v pcommon.Value) bool {
		if _, ok := promoted[k]; ok && !slices.Contains(kept, k) {
			return true
		}
		if mcpconv.IsPayloadKey(k) {
			return true
		}
		if buf == nil {
			buf = make([]byte, 0, 128)
			buf = append(buf, '{')
		} else {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = appendJSONValue(buf, v)
		return true
	})
	if buf == nil {
		return nil
	}
	return json.RawMessage(append(buf, '}'))
}

func appendJSONValue(buf []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(buf, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// JSON has no NaN or infinity; keep them readable as strings.
			return appendJSONString(buf, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(buf, f, 'g', -1, 64)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(buf, v.Bool())
	case pcommon.ValueTypeBytes:
		return appendJSONString(buf, base64.StdEncoding.EncodeToString(v.Bytes().AsRaw()))
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		buf = append(buf, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONValue(buf, s.At(i))
		}
		return append(buf, ']')
	case pcommon.ValueTypeMap:
		buf = append(buf, '{')
		first := true
		v.Map().Range(func(k string, mv pcommon.Value) bool {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendJSONValue(buf, mv)
			return true
		})
		return append(buf, '}')
	}
	return append(buf, "null"...)
}

// appendJSONString quotes s as a JSON string (jsonstr.Append). Invalid UTF-8
// becomes U+FFFD and NUL is escaped as \u0000, which jsonb refuses: the
// screen before COPY (validate.go) sends such a row to rejected_event rather
// than altering it.
func appendJSONString(buf []byte, s string) []byte { return jsonstr.Append(buf, s) }
