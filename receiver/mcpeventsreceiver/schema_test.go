package mcpeventsreceiver

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateSchema = flag.Bool("update", false, "rewrite schema/events.schema.json from the decoder's field tables")

// schemaPath is the JSON Schema of the events, kept next to the SQL schema.
var schemaPath = filepath.Join("..", "..", "schema", "events.schema.json")

// TestSchemaMatchesTheDecoder keeps schema/events.schema.json generated
// from the tables the decoder uses: run `go test -run TestSchema -update`
// after changing a field or an event type.
func TestSchemaMatchesTheDecoder(t *testing.T) {
	want := eventsSchema(t)
	if *updateSchema {
		require.NoError(t, os.WriteFile(schemaPath, want, 0o644))
	}
	got, err := os.ReadFile(schemaPath)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "schema/events.schema.json is stale: go test ./receiver/mcpeventsreceiver -run TestSchema -update")
}

func eventsSchema(t *testing.T) []byte {
	defaults := createDefaultConfig().(*Config)
	short := func() map[string]any {
		return map[string]any{"type": "string", "minLength": 1, "maxLength": defaults.MaxFieldLength}
	}
	defs := map[string]any{
		"timestamp": map[string]any{
			"description": fields[fTime].doc,
			"anyOf": []any{
				map[string]any{"type": "string", "format": "date-time"},
				map[string]any{"type": "integer", "minimum": minTime.UnixNano(), "maximum": maxTime.UnixNano() - 1},
				map[string]any{"type": "string", "pattern": "^[0-9]{1,19}$"},
			},
		},
		"traceId": map[string]any{"type": "string", "pattern": "^[0-9a-fA-F]{32}$", "not": map[string]any{"pattern": "^0+$"}},
		"spanId":  map[string]any{"type": "string", "pattern": "^[0-9a-fA-F]{16}$", "not": map[string]any{"pattern": "^0+$"}},
		"scalar":  map[string]any{"type": []string{"string", "number", "boolean"}},
		"attributes": map[string]any{
			"description":   fields[fAttributes].doc,
			"type":          "object",
			"maxProperties": maxAttributes,
			"propertyNames": map[string]any{"minLength": 1, "maxLength": defaults.MaxFieldLength},
			"additionalProperties": map[string]any{"anyOf": []any{
				map[string]any{"$ref": "#/$defs/scalar"},
				map[string]any{"type": "array", "maxItems": maxElements, "items": map[string]any{"$ref": "#/$defs/scalar"}},
			}},
		},
		"exception": map[string]any{
			"description": fields[fException].doc,
			"type":        "object",
			"properties": map[string]any{
				"type":       short(),
				"message":    map[string]any{"type": "string", "maxLength": defaults.MaxTextLength},
				"stacktrace": map[string]any{"type": "string", "maxLength": defaults.MaxTextLength},
			},
			"anyOf":                []any{map[string]any{"required": []string{"type"}}, map[string]any{"required": []string{"message"}}},
			"additionalProperties": false,
		},
	}
	variants := make([]any, 0, len(types))
	for i := range types {
		spec := &types[i]
		props := map[string]any{}
		required := []string{}
		for _, f := range spec.fields {
			field := &fields[f.id]
			var p map[string]any
			switch field.kind {
			case kindType:
				p = map[string]any{"const": spec.name}
			case kindTime:
				p = map[string]any{"$ref": "#/$defs/timestamp"}
			case kindShort:
				p = short()
			case kindText:
				p = map[string]any{"type": "string", "minLength": 1, "maxLength": defaults.MaxTextLength}
			case kindEnum:
				p = map[string]any{"enum": field.enum}
			case kindStrOrInt:
				p = short()
				p["type"] = []string{"string", "integer"}
			case kindInt:
				p = map[string]any{"type": "integer", "minimum": field.min, "maximum": field.max}
			case kindMillis:
				p = map[string]any{"type": "number", "minimum": 0, "maximum": field.max}
			case kindTraceID:
				p = map[string]any{"$ref": "#/$defs/traceId"}
			case kindSpanID:
				p = map[string]any{"$ref": "#/$defs/spanId"}
			case kindShortList:
				p = map[string]any{"type": "array", "maxItems": maxElements, "items": short()}
			case kindRawJSON:
				p = map[string]any{}
			case kindException:
				p = map[string]any{"$ref": "#/$defs/exception"}
			case kindAttributes:
				p = map[string]any{"$ref": "#/$defs/attributes"}
			case kindThreshold:
				p = map[string]any{"type": "string", "pattern": "^[0-9a-f]{1,14}$"}
			default:
				t.Fatalf("no schema for field kind %d", field.kind)
			}
			doc := field.doc
			if f.doc != "" {
				doc = f.doc
			}
			if _, isRef := p["$ref"]; !isRef || f.doc != "" {
				p["description"] = doc
			}
			props[field.name] = p
			if f.required {
				required = append(required, field.name)
			}
		}
		def := map[string]any{
			"title":                spec.name,
			"description":          spec.doc,
			"type":                 "object",
			"properties":           props,
			"required":             required,
			"additionalProperties": false,
		}
		switch {
		case spec.signal == signalMetrics:
			def["anyOf"] = []any{
				map[string]any{"required": []string{"active"}},
				map[string]any{"required": []string{"idle"}},
				map[string]any{"required": []string{"pending"}},
			}
		case spec.allowed&bit(fErrorMessage) != 0:
			def["if"] = map[string]any{"required": []string{"error_message", "status"}}
			def["then"] = map[string]any{"properties": map[string]any{"status": map[string]any{"const": "error"}}}
		}
		defs[spec.name] = def
		variants = append(variants, map[string]any{"$ref": "#/$defs/" + spec.name})
	}
	defs["event"] = map[string]any{
		"description": "One router event; the type field selects its kind.",
		"oneOf":       variants,
	}
	root := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     "https://github.com/mcp-bridge/otelcol-mcp/schema/events.schema.json",
		"title":   "MCP router events for the mcpevents receiver",
		"description": "Events routers post to POST /v1/events: an array of events or one event (Content-Type application/json), " +
			"or one event per line (application/x-ndjson). Generated from receiver/mcpeventsreceiver (go test -run TestSchema -update); " +
			"lengths are the receiver's defaults (max_field_length, max_text_length), counted in bytes by the receiver. " +
			"The receiver also takes null, or an empty string, for an optional field and treats it as absent.",
		"anyOf": []any{
			map[string]any{"$ref": "#/$defs/event"},
			map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/event"}},
		},
		"$defs": defs,
	}
	out, err := json.MarshalIndent(root, "", "  ")
	require.NoError(t, err)
	return append(out, '\n')
}

// TestSchemaIsConsistent checks the generated schema against the tables
// from the other side: every type is there with exactly its fields.
func TestSchemaIsConsistent(t *testing.T) {
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(eventsSchema(t), &schema))
	for i := range types {
		spec := &types[i]
		def, ok := schema.Defs[spec.name]
		require.True(t, ok, spec.name)
		var names, required []string
		for _, f := range spec.fields {
			names = append(names, fields[f.id].name)
			if f.required {
				required = append(required, fields[f.id].name)
			}
		}
		got := make([]string, 0, len(def.Properties))
		for name := range def.Properties {
			got = append(got, name)
		}
		assert.ElementsMatch(t, names, got, spec.name)
		assert.Equal(t, required, def.Required, spec.name)
	}
}
