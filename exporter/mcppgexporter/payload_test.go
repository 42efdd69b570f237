package mcppgexporter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

func TestPayloadJSON(t *testing.T) {
	o := newPayloadOptions(ToolPayloadsConfig{Enabled: true, RedactKeys: []string{"Password", "token"}, MaxBytes: 200})
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "redacts at any depth, case-insensitive", in: `{"city":"Paris","auth":{"PASSWORD":"hunter2","list":[{"token":"t"}]}}`,
			want: `{"auth":{"PASSWORD":"[REDACTED]","list":[{"token":"[REDACTED]"}]},"city":"Paris"}`},
		{name: "numbers kept exactly", in: `{"n":12345678901234567890,"f":0.1}`, want: `{"f":0.1,"n":12345678901234567890}`},
		{name: "not JSON: stored as a string", in: `plain <text>`, want: `"plain <text>"`},
		{name: "two documents are not one", in: `{} {}`, want: `"{} {}"`},
		{name: "over max_bytes", in: `"` + strings.Repeat("x", 300) + `"`, want: `{"truncated":true,"bytes":302}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pcommon.NewMap()
			m.PutStr(mcpconv.ToolArguments, tt.in)
			assert.Equal(t, tt.want, string(o.payloadJSON(m, mcpconv.ToolArguments).(json.RawMessage)))
		})
	}
	assert.Nil(t, o.payloadJSON(pcommon.NewMap(), mcpconv.ToolResult))
}

// TestToolPayloadsStoredApart checks that arguments and results never reach
// tool_call_record, and reach tool_call_payload redacted only when enabled.
func TestToolPayloadsStoredApart(t *testing.T) {
	ctx := context.Background()
	for _, enabled := range []bool{false, true} {
		schemaName := map[bool]string{false: "payloads_off", true: "payloads_on"}[enabled]
		e := startDirect(t, schemaName)
		e.payloads = newPayloadOptions(ToolPayloadsConfig{Enabled: enabled, RedactKeys: []string{"api_key"}})
		td := routerTraces(0, 3)
		client := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
		client.Attributes().PutStr(mcpconv.ToolArguments, `{"city":"Paris","api_key":"k-123"}`)
		client.Attributes().PutStr(mcpconv.ToolResult, `{"temp_c":21}`)
		require.NoError(t, e.pushTraces(ctx, td))

		pool := testPool(t)
		var leaked int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+schemaName+`.tool_call_record
			WHERE attributes ? 'mcp.router.tool.arguments' OR attributes ? 'mcp.router.tool.result'`).Scan(&leaked))
		assert.Zero(t, leaked)
		if !enabled {
			assert.Zero(t, countRows(ctx, t, pool, schemaName, "tool_call_payload"))
			continue
		}
		var args, result string
		require.NoError(t, pool.QueryRow(ctx, `SELECT p.arguments::text, p.result::text FROM payloads_on.tool_call_payload p
			JOIN payloads_on.tool_call_record r USING (trace_id, span_id, ts)`).Scan(&args, &result))
		assert.Equal(t, `{"city": "Paris", "api_key": "[REDACTED]"}`, args)
		assert.Equal(t, `{"temp_c": 21}`, result)
	}
}

// TestRejectedPayloadRowKeepsJSON: a tool_call_payload row refused by the
// database reaches rejected_event with its jsonb columns as JSON text and
// only its ids in hex.
func TestRejectedPayloadRowKeepsJSON(t *testing.T) {
	o := &payloadOptions{maxBytes: 1024}
	m := pcommon.NewMap()
	m.PutStr(mcpconv.ToolArguments, `{"city":"Paris"}`)
	row := rowOf(tables[toolCallPayload], map[string]any{"ts": time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC),
		"trace_id": []byte{0xab, 0xcd}, "span_id": []byte{0x01}, "arguments": o.payloadJSON(m, mcpconv.ToolArguments)})
	assert.JSONEq(t, `{"ts":"2026-11-26T01:02:03Z","trace_id":"abcd","span_id":"01","arguments":"{\"city\":\"Paris\"}","result":null}`,
		rowPayload(tables[toolCallPayload].columns, row))
}
