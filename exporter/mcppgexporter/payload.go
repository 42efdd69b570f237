package mcppgexporter

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// redactedValue replaces the value of a redacted key.
const redactedValue = "[REDACTED]"

// payloadOptions governs the opt-in storage of tool-call arguments and
// results in tool_call_payload.
type payloadOptions struct {
	enabled  bool
	redact   map[string]struct{} // lower-case keys
	maxBytes int
}

func newPayloadOptions(cfg ToolPayloadsConfig) *payloadOptions {
	o := &payloadOptions{enabled: cfg.Enabled, maxBytes: cfg.MaxBytes, redact: map[string]struct{}{}}
	for _, k := range cfg.RedactKeys {
		o.redact[strings.ToLower(k)] = struct{}{}
	}
	return o
}

// payloadJSON turns an arguments or result attribute into redacted JSON for a
// jsonb column: JSON text is parsed and every value under a redacted key, at
// any depth, replaced; anything else is stored as a JSON string. A payload
// over max_bytes is replaced by a note of its size.
func (o *payloadOptions) payloadJSON(m pcommon.Map, key string) any {
	v, ok := m.Get(key)
	if !ok {
		return nil
	}
	raw := v.AsString()
	if o.maxBytes > 0 && len(raw) > o.maxBytes {
		return json.RawMessage(`{"truncated":true,"bytes":` + strconv.Itoa(len(raw)) + `}`)
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return json.RawMessage(appendJSONString(nil, raw))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o.redactValue(doc)); err != nil {
		return json.RawMessage(appendJSONString(nil, raw))
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n"))
}

func (o *payloadOptions) redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if _, secret := o.redact[strings.ToLower(k)]; secret {
				t[k] = redactedValue
			} else {
				t[k] = o.redactValue(val)
			}
		}
	case []any:
		for i, val := range t {
			t[i] = o.redactValue(val)
		}
	}
	return v
}
