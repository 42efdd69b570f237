package main

import (
	"encoding/json"
	"os"
	"time"
)

// Manifest records what one run sent, for reconciliation against the tables.
type Manifest struct {
	ServiceName string    `json:"service_name"`
	InstanceID  string    `json:"service_instance_id"`
	Endpoint    string    `json:"endpoint"`
	Seed        uint64    `json:"seed,string"` // a string: JSON numbers lose 64-bit precision
	ErrorRate   float64   `json:"error_rate"`
	Servers     []string  `json:"servers"`
	FirstStart  time.Time `json:"first_start"`
	LastEnd     time.Time `json:"last_end"`

	Requests        int            `json:"requests"`
	Methods         map[string]int `json:"methods"`
	RoutingSpans    int            `json:"routing_spans"`
	ToolCallSpans   int            `json:"tool_call_spans"`
	FailedRequests  int            `json:"failed_requests"`
	FailedToolCalls int            `json:"failed_tool_calls"`
	// ErrorRows is what error_log gains: one exception row per failed CLIENT
	// span plus one span_status row per failed SERVER span.
	ErrorRows int `json:"error_rows"`
	// ExpectedRows is the growth of each mcp table, by table name.
	ExpectedRows map[string]int `json:"expected_rows"`

	SpansSent     int    `json:"spans_sent"`
	SpansExported int    `json:"spans_exported"`
	SpansFailed   int    `json:"spans_failed"`
	ExportError   string `json:"export_error,omitempty"`

	// TraceIDs and RequestIDs are in send order, one per routed request.
	TraceIDs   []string `json:"trace_ids"`
	RequestIDs []string `json:"request_ids"`
}

func newManifest(plan *Plan, exp Expected, sent []sentTrace) Manifest {
	m := Manifest{
		Requests:        len(plan.Requests),
		Methods:         exp.Methods,
		RoutingSpans:    exp.RoutingSpans,
		ToolCallSpans:   exp.ToolCallSpans,
		FailedRequests:  exp.FailedRequests,
		FailedToolCalls: exp.FailedToolCalls,
		ErrorRows:       exp.ErrorRows,
		ExpectedRows: map[string]int{
			"routing_log":      exp.RoutingSpans,
			"tool_call_record": exp.ToolCallSpans,
			"error_log":        exp.ErrorRows,
		},
		SpansSent:  exp.RoutingSpans + exp.ToolCallSpans,
		TraceIDs:   make([]string, len(sent)),
		RequestIDs: make([]string, len(sent)),
	}
	for _, u := range plan.Upstreams {
		m.Servers = append(m.Servers, u.Key)
	}
	for i, s := range sent {
		m.TraceIDs[i] = s.TraceID
		m.RequestIDs[i] = s.RequestID
	}
	return m
}

func (m Manifest) write(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
