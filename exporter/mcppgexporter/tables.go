package mcppgexporter

import (
	"encoding/hex"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// table is a destination of rows: its name in schema/ and the columns the
// exporter writes, in the order of the values of each row.
type table struct {
	name    string
	columns []string
}

type tableID int

const (
	routingLog tableID = iota
	toolCallRecord
	errorLog
	numTables
)

var tables = [numTables]table{
	routingLog: {name: "routing_log", columns: []string{
		"ts", "trace_id", "span_id", "parent_span_id", "duration_us", "span_name", "method",
		"tool_name", "resource_uri", "session_id", "request_id", "server_key", "strategy", "attempt",
		"status", "status_message", "error_type", "rpc_status_code", "protocol_version", "transport",
		"client_address", "service_name", "service_instance", "adjusted_count", "attributes",
	}},
	toolCallRecord: {name: "tool_call_record", columns: []string{
		"ts", "trace_id", "span_id", "parent_span_id", "duration_us", "tool_name", "tool_call_id",
		"session_id", "request_id", "server_key", "server_address", "attempt", "status",
		"status_message", "error_type", "rpc_status_code", "service_name", "adjusted_count", "attributes",
	}},
	errorLog: {name: "error_log", columns: []string{
		"ts", "event_id", "source", "trace_id", "span_id", "request_id", "session_id", "server_key",
		"method", "tool_name", "error_type", "message", "stacktrace", "severity_number",
		"severity_text", "service_name", "adjusted_count", "attributes",
	}},
}

// rowBatch holds the rows of one exported request, per table.
type rowBatch struct {
	rows [numTables][][]any
}

func (b *rowBatch) add(t tableID, row []any) { b.rows[t] = append(b.rows[t], row) }

func (b *rowBatch) len() int {
	n := 0
	for _, r := range b.rows {
		n += len(r)
	}
	return n
}

// keySet builds the set of attribute keys promoted to columns of a table;
// they are left out of its attributes jsonb.
func keySet(keys ...string) map[string]struct{} {
	s := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		s[k] = struct{}{}
	}
	return s
}

// resourceColumns are the resource attributes kept on every row.
type resourceColumns struct {
	serviceName     any
	serviceInstance any
}

func resourceColumnsOf(res pcommon.Resource) resourceColumns {
	attrs := res.Attributes()
	return resourceColumns{
		serviceName:     strOrNil(attrs, mcpconv.ServiceName),
		serviceInstance: strOrNil(attrs, mcpconv.ServiceInstanceID),
	}
}

// strOrNil returns the attribute as text, or nil (SQL NULL) when it is absent
// or empty. Non-string values are rendered (a JSON-RPC id may be an integer).
func strOrNil(m pcommon.Map, key string) any {
	v, ok := m.Get(key)
	if !ok {
		return nil
	}
	var s string
	if v.Type() == pcommon.ValueTypeStr {
		s = v.Str()
	} else {
		s = v.AsString()
	}
	if s == "" {
		return nil
	}
	return s
}

// intOrNil returns an integer attribute (or a string holding one), else nil.
func intOrNil(m pcommon.Map, key string) any {
	v, ok := m.Get(key)
	if !ok {
		return nil
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return int64(v.Double())
	}
	return nil
}

func textOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timestampOf(t pcommon.Timestamp) time.Time { return t.AsTime().UTC() }

// traceIDBytes and spanIDBytes copy an id into a fresh slice, nil for the empty id.
func traceIDBytes(id pcommon.TraceID) any {
	if id.IsEmpty() {
		return nil
	}
	b := make([]byte, len(id))
	copy(b, id[:])
	return b
}

func spanIDBytes(id pcommon.SpanID) any {
	if id.IsEmpty() {
		return nil
	}
	b := make([]byte, len(id))
	copy(b, id[:])
	return b
}

// spanEventID is the natural key of an error row derived from a span: the
// trace and span ids, and the index of the exception event when there is one.
func spanEventID(traceID pcommon.TraceID, spanID pcommon.SpanID, event int) string {
	buf := make([]byte, 0, 32+1+16+4)
	buf = hex.AppendEncode(buf, traceID[:])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, spanID[:])
	if event >= 0 {
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(event), 10)
	}
	return string(buf)
}
