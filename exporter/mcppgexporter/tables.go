package mcppgexporter

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// table is a destination of rows: its name in schema/ and the columns the
// exporter writes, in the order of the values of each row.
type table struct {
	name    string
	columns []string
	// upsert is the ON CONFLICT clause of a table written row by row with
	// INSERT instead of COPY: its rows merge into one per key.
	upsert string
	// timeColumn is the index of the event-time column: ts, the partition
	// key, in the partitioned tables.
	timeColumn int
}

type tableID int

const (
	routingLog tableID = iota
	toolCallRecord
	errorLog
	healthCheckRecord
	lbDecision
	circuitBreakerEvent
	mcpServer
	sessionRecord
	metricPoint
	toolCallPayload
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
		"ts", "trace_id", "span_id", "parent_span_id", "duration_us", "tool_name", "method", "tool_call_id",
		"session_id", "request_id", "server_key", "server_address", "attempt", "status",
		"status_message", "error_type", "rpc_status_code", "service_name", "adjusted_count", "attributes",
	}},
	errorLog: {name: "error_log", columns: []string{
		"ts", "event_id", "source", "event_name", "trace_id", "span_id", "request_id", "session_id", "server_key",
		"method", "tool_name", "error_type", "message", "stacktrace", "severity_number",
		"severity_text", "service_name", "adjusted_count", "attributes",
	}},
	healthCheckRecord: {name: "health_check_record", columns: []string{
		"ts", "event_id", "server_key", "healthy", "status", "check_type", "latency_us", "error_type",
		"message", "service_name", "adjusted_count", "attributes",
	}},
	lbDecision: {name: "lb_decision", columns: []string{
		"ts", "event_id", "trace_id", "span_id", "request_id", "session_id", "method", "tool_name",
		"strategy", "server_key", "candidates", "reason", "service_name", "adjusted_count", "attributes",
	}},
	circuitBreakerEvent: {name: "circuit_breaker_event", columns: []string{
		"ts", "event_id", "server_key", "from_state", "to_state", "failure_count", "reason",
		"service_name", "adjusted_count", "attributes",
	}},
	toolCallPayload: {name: "tool_call_payload", columns: []string{
		"ts", "trace_id", "span_id", "arguments", "result",
	}},
	metricPoint: {name: "metric_point", columns: []string{
		"ts", "metric_name", "series_id", "metric_type", "temporality", "is_monotonic", "unit", "start_ts",
		"value", "count", "sum", "min", "max", "bucket_bounds", "bucket_counts", "exp_scale", "exp_zero_count",
		"exp_positive_offset", "exp_positive_counts", "exp_negative_offset", "exp_negative_counts",
		"quantiles", "quantile_values", "server_key", "tool_name", "method", "service_name", "service_instance",
		"attributes",
	}},
	mcpServer: {name: "mcp_server", columns: []string{
		"server_key", "name", "url", "version", "transport", "tools", "registered_at", "deregistered_at",
		"health_status", "health_changed_at", "updated_at", "service_name", "attributes",
	}, upsert: `ON CONFLICT (server_key) DO UPDATE SET
		name = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.name, t.name) ELSE t.name END,
		url = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.url, t.url) ELSE t.url END,
		version = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.version, t.version) ELSE t.version END,
		transport = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.transport, t.transport) ELSE t.transport END,
		tools = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.tools, t.tools) ELSE t.tools END,
		registered_at = GREATEST(t.registered_at, EXCLUDED.registered_at),
		deregistered_at = GREATEST(t.deregistered_at, EXCLUDED.deregistered_at),
		health_status = CASE WHEN EXCLUDED.health_changed_at IS NOT NULL AND (t.health_changed_at IS NULL OR EXCLUDED.health_changed_at >= t.health_changed_at) THEN EXCLUDED.health_status ELSE t.health_status END,
		health_changed_at = GREATEST(t.health_changed_at, EXCLUDED.health_changed_at),
		updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at),
		service_name = CASE WHEN EXCLUDED.updated_at >= t.updated_at THEN COALESCE(EXCLUDED.service_name, t.service_name) ELSE COALESCE(t.service_name, EXCLUDED.service_name) END,
		attributes = CASE WHEN EXCLUDED.updated_at >= t.updated_at THEN COALESCE(EXCLUDED.attributes, t.attributes) ELSE t.attributes END`,
		timeColumn: 10}, // updated_at
	sessionRecord: {name: "session_record", columns: []string{
		"session_id", "transport", "protocol_version", "client_address", "server_key", "started_at",
		"ended_at", "last_seen_at", "request_count", "error_count", "close_reason", "service_name", "attributes",
	}, upsert: `ON CONFLICT (session_id) DO UPDATE SET
		transport = COALESCE(t.transport, EXCLUDED.transport),
		protocol_version = COALESCE(t.protocol_version, EXCLUDED.protocol_version),
		client_address = COALESCE(t.client_address, EXCLUDED.client_address),
		server_key = COALESCE(t.server_key, EXCLUDED.server_key),
		started_at = LEAST(t.started_at, EXCLUDED.started_at),
		ended_at = GREATEST(t.ended_at, EXCLUDED.ended_at),
		last_seen_at = GREATEST(t.last_seen_at, EXCLUDED.last_seen_at),
		request_count = GREATEST(t.request_count, EXCLUDED.request_count),
		error_count = GREATEST(t.error_count, EXCLUDED.error_count),
		close_reason = CASE WHEN EXCLUDED.last_seen_at >= t.last_seen_at THEN COALESCE(EXCLUDED.close_reason, t.close_reason) ELSE COALESCE(t.close_reason, EXCLUDED.close_reason) END,
		service_name = COALESCE(t.service_name, EXCLUDED.service_name),
		attributes = CASE WHEN EXCLUDED.last_seen_at >= t.last_seen_at THEN COALESCE(EXCLUDED.attributes, t.attributes) ELSE t.attributes END`,
		timeColumn: 7}, // last_seen_at
}

// rowBatch holds the rows of one exported request, per table, and the items
// refused before they became rows.
type rowBatch struct {
	rows     [numTables][][]any
	rejected []rejection
	// unmapped counts the items that yield no row (unmapped.go).
	unmapped unmappedItems
	// notPromoted counts the numbers kept out of their column (numbers.go).
	notPromoted map[notPromoted]int64
}

// rejection is an item refused as bad data, bound for rejected_event.
type rejection struct {
	table    string
	cause    string // the class of reason, for the telemetry (cause* constants)
	sqlstate string
	reason   string
	payload  string
}

// fingerprint identifies a refusal, so a replay records it once.
func (r rejection) fingerprint() string {
	h := xxhash.New()
	_, _ = h.WriteString(r.table)
	_, _ = h.Write([]byte{0})
	_, _ = h.WriteString(r.payload)
	return strconv.FormatUint(h.Sum64(), 16)
}

func (b *rowBatch) add(t tableID, row []any) { b.rows[t] = append(b.rows[t], row) }

func (b *rowBatch) reject(t tableID, cause, reason, payload string) {
	b.rejected = append(b.rejected, rejection{table: tables[t].name, cause: cause, reason: reason, payload: payload})
}

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

// rowPayload renders a row for rejected_event as a JSON object of its
// columns; ids (bytea) as hex, times in RFC 3339, jsonb values
// (json.RawMessage) as their text.
func rowPayload(columns []string, row []any) string {
	buf := []byte{'{'}
	for i, col := range columns {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, col)
		buf = append(buf, ':')
		switch v := row[i].(type) {
		case nil:
			buf = append(buf, "null"...)
		case string:
			buf = appendJSONString(buf, v)
		case json.RawMessage:
			buf = appendJSONString(buf, string(v))
		case []byte:
			buf = appendJSONString(buf, hex.EncodeToString(v))
		case time.Time:
			buf = appendJSONString(buf, v.Format(time.RFC3339Nano))
		case int64:
			buf = strconv.AppendInt(buf, v, 10)
		case int32:
			buf = strconv.AppendInt(buf, int64(v), 10)
		case int16:
			buf = strconv.AppendInt(buf, int64(v), 10)
		case float64:
			buf = appendJSONString(buf, strconv.FormatFloat(v, 'g', -1, 64))
		case uint64:
			buf = strconv.AppendUint(buf, v, 10)
		case []uint64:
			buf = appendJSONArray(buf, v, func(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) })
		case []int64:
			buf = appendJSONArray(buf, v, func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
		case []float64:
			buf = appendJSONArray(buf, v, func(b []byte, f float64) []byte {
				return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
			})
		case []string:
			buf = appendJSONArray(buf, v, appendJSONString)
		case bool:
			buf = strconv.AppendBool(buf, v)
		default:
			buf = appendJSONString(buf, fmt.Sprint(v))
		}
	}
	return string(append(buf, '}'))
}

func appendJSONArray[T any](buf []byte, xs []T, appendOne func([]byte, T) []byte) []byte {
	buf = append(buf, '[')
	for i, x := range xs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendOne(buf, x)
	}
	return append(buf, ']')
}
