package mcppgexporter

import (
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/internal/contenthash"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Keys every log row leaves out of its attributes: they are the row's
// identity, kind or weight.
// Tool arguments and results belong to spans and tool_call_payload only:
// they are kept out of every log row too.
var logCommon = []string{mcpconv.EventID, mcpconv.EventNameAttr, mcpconv.SamplingThreshold,
	mcpconv.SamplingRandomness, mcpconv.ToolArguments, mcpconv.ToolResult}

var (
	healthPromoted = keySet(append([]string{mcpconv.ServerKey, mcpconv.HealthStatus, mcpconv.HealthCheck,
		mcpconv.HealthLatency, mcpconv.ErrorType}, logCommon...)...)
	lbPromoted = keySet(append([]string{mcpconv.JSONRPCRequestID, mcpconv.SessionID, mcpconv.MethodName,
		mcpconv.ToolName, mcpconv.Strategy, mcpconv.ServerKey, mcpconv.LBCandidates, mcpconv.LBReason}, logCommon...)...)
	breakerPromoted = keySet(append([]string{mcpconv.ServerKey, mcpconv.BreakerFromState, mcpconv.BreakerToState,
		mcpconv.BreakerFailureCount}, logCommon...)...)
	serverPromoted = keySet(append([]string{mcpconv.ServerKey, mcpconv.ServerName, mcpconv.ServerURL,
		mcpconv.ServerVersion, mcpconv.ServerTransport, mcpconv.ServerTools, mcpconv.HealthStatus}, logCommon...)...)
	sessionPromoted = keySet(append([]string{mcpconv.SessionID, mcpconv.SessionTransport, mcpconv.ProtocolVersion,
		mcpconv.ClientAddress, mcpconv.ServerKey, mcpconv.SessionRequestCount, mcpconv.SessionErrorCount,
		mcpconv.SessionCloseReason}, logCommon...)...)
	logErrorPromoted = keySet(append([]string{mcpconv.JSONRPCRequestID, mcpconv.SessionID, mcpconv.ServerKey,
		mcpconv.MethodName, mcpconv.ToolName, mcpconv.ErrorType, mcpconv.ExceptionMessage,
		mcpconv.ExceptionStacktrace}, logCommon...)...)
)

// logRecord is a log record with the values every table derives from it.
type logRecord struct {
	lr          plog.LogRecord
	attrs       pcommon.Map
	eventName   string
	ts          any
	serviceName any
}

// appendLogs maps every log record onto its table by event name. Records of
// no known kind that are not errors are counted in b.unmapped.
func appendLogs(b *rowBatch, ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := resourceColumnsOf(rl.Resource())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			scope := sls.At(j).Scope()
			records := sls.At(j).LogRecords()
			for k := 0; k < records.Len(); k++ {
				lr := records.At(k)
				r := logRecord{lr: lr, attrs: lr.Attributes(), eventName: mcpconv.LogEventName(lr),
					ts: logTimestamp(lr), serviceName: res.serviceName}
				switch mcpconv.ClassifyLog(lr) {
				case mcpconv.KindHealthCheck:
					appendHealthCheck(b, r)
				case mcpconv.KindLBDecision:
					b.add(lbDecision, lbRow(r))
				case mcpconv.KindCircuitBreaker:
					appendBreaker(b, r)
				case mcpconv.KindServer:
					appendServer(b, r)
				case mcpconv.KindSession:
					appendSession(b, r)
				case mcpconv.KindError:
					b.add(errorLog, logErrorRow(r, b.promoter(errorLog)))
				default:
					b.unmapped.add(logUnmappedReason(lr), scope, r.eventName)
				}
			}
		}
	}
}

// logTimestamp is the event time, or the observed time when the event time is unset.
func logTimestamp(lr plog.LogRecord) any {
	if lr.Timestamp() != 0 {
		return timestampOf(lr.Timestamp())
	}
	return timestampOf(lr.ObservedTimestamp())
}

// eventID is the record's event.id, or a hash of everything it says
// (contenthash.LogRecord, the same hash mcpsampler decides such a record
// from), so the same record delivered twice gets the same key.
func (r logRecord) eventID() string {
	if v, ok := r.attrs.Get(mcpconv.EventID); ok && v.AsString() != "" {
		return v.AsString()
	}
	return "h-" + strconv.FormatUint(contenthash.LogRecord(r.lr), 16)
}

func (r logRecord) body() any { return textOrNil(r.lr.Body().AsString()) }

func (r logRecord) str(key string) any { return strOrNil(r.attrs, key) }

// payload renders the record for rejected_event.
func (r logRecord) payload() string {
	buf := []byte(`{"event_name":`)
	buf = appendJSONString(buf, r.eventName)
	buf = append(buf, `,"time_unix_nano":`...)
	buf = strconv.AppendUint(buf, uint64(r.lr.Timestamp()), 10)
	buf = append(buf, `,"body":`...)
	buf = appendJSONValue(buf, r.lr.Body())
	buf = append(buf, `,"attributes":`...)
	if js, ok := attributesJSON(r.attrs, nil).(json.RawMessage); ok {
		buf = append(buf, js...)
	} else {
		buf = append(buf, "{}"...)
	}
	return string(append(buf, '}'))
}

// required returns the attribute, or records the rejection of the record
// for missing it.
func (r logRecord) required(b *rowBatch, t tableID, key string) (any, bool) {
	v := r.str(key)
	if v == nil {
		b.reject(t, causeMalformed, "missing required attribute "+key+" on event "+r.eventName, r.payload())
		return nil, false
	}
	return v, true
}

func appendHealthCheck(b *rowBatch, r logRecord) {
	serverKey, ok := r.required(b, healthCheckRecord, mcpconv.ServerKey)
	if !ok {
		return
	}
	status, ok := r.required(b, healthCheckRecord, mcpconv.HealthStatus)
	if !ok {
		return
	}
	p := b.promoter(healthCheckRecord)
	latency := p.micros(r.attrs, mcpconv.HealthLatency)
	b.add(healthCheckRecord, []any{
		r.ts,
		r.eventID(),
		serverKey,
		status == mcpconv.HealthHealthy,
		status,
		r.str(mcpconv.HealthCheck),
		latency,
		r.str(mcpconv.ErrorType),
		r.body(),
		r.serviceName,
		mcpconv.LogAdjustedCount(r.lr),
		attributesJSON(r.attrs, healthPromoted, p.kept...),
	})
}

func lbRow(r logRecord) []any {
	return []any{
		r.ts,
		r.eventID(),
		traceIDBytes(r.lr.TraceID()),
		spanIDBytes(r.lr.SpanID()),
		r.str(mcpconv.JSONRPCRequestID),
		r.str(mcpconv.SessionID),
		r.str(mcpconv.MethodName),
		r.str(mcpconv.ToolName),
		r.str(mcpconv.Strategy),
		r.str(mcpconv.ServerKey),
		stringSlice(r.attrs, mcpconv.LBCandidates),
		r.str(mcpconv.LBReason),
		r.serviceName,
		mcpconv.LogAdjustedCount(r.lr),
		attributesJSON(r.attrs, lbPromoted),
	}
}

// stringSlice returns a slice attribute as text[] (nil when absent).
func stringSlice(m pcommon.Map, key string) any {
	v, ok := m.Get(key)
	if !ok {
		return nil
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return []string{v.AsString()}
	}
	s := v.Slice()
	out := make([]string, s.Len())
	for i := range out {
		out[i] = s.At(i).AsString()
	}
	return out
}

func appendBreaker(b *rowBatch, r logRecord) {
	serverKey, ok := r.required(b, circuitBreakerEvent, mcpconv.ServerKey)
	if !ok {
		return
	}
	toState, ok := r.required(b, circuitBreakerEvent, mcpconv.BreakerToState)
	if !ok {
		return
	}
	p := b.promoter(circuitBreakerEvent)
	failures := p.integer(r.attrs, mcpconv.BreakerFailureCount, countRange)
	b.add(circuitBreakerEvent, []any{
		r.ts,
		r.eventID(),
		serverKey,
		r.str(mcpconv.BreakerFromState),
		toState,
		failures,
		r.body(),
		r.serviceName,
		mcpconv.LogAdjustedCount(r.lr),
		attributesJSON(r.attrs, breakerPromoted, p.kept...),
	})
}

// appendServer turns a registry event into an mcp_server upsert that
// carries only what the event knows; the upsert merges it by event time.
func appendServer(b *rowBatch, r logRecord) {
	serverKey, ok := r.required(b, mcpServer, mcpconv.ServerKey)
	if !ok {
		return
	}
	var registeredAt, deregisteredAt, healthChangedAt any
	var name, url, version, transport, tools any
	health := r.str(mcpconv.HealthStatus)
	switch r.eventName {
	case mcpconv.EventServerRegistered:
		registeredAt = r.ts
		name, url, version = r.str(mcpconv.ServerName), r.str(mcpconv.ServerURL), r.str(mcpconv.ServerVersion)
		transport, tools = r.str(mcpconv.ServerTransport), stringSlice(r.attrs, mcpconv.ServerTools)
	case mcpconv.EventServerDeregistered:
		deregisteredAt = r.ts
	case mcpconv.EventServerHealthChanged:
		if health == nil {
			b.reject(mcpServer, causeMalformed, "missing required attribute "+mcpconv.HealthStatus+" on event "+r.eventName, r.payload())
			return
		}
	}
	if health != nil {
		healthChangedAt = r.ts
	}
	b.add(mcpServer, []any{
		serverKey, name, url, version, transport, tools, registeredAt, deregisteredAt,
		health, healthChangedAt, r.ts, r.serviceName, attributesJSON(r.attrs, serverPromoted),
	})
}

// appendSession turns a session event into a session_record upsert.
func appendSession(b *rowBatch, r logRecord) {
	sessionID, ok := r.required(b, sessionRecord, mcpconv.SessionID)
	if !ok {
		return
	}
	var startedAt, endedAt any
	switch r.eventName {
	case mcpconv.EventSessionStart:
		startedAt = r.ts
	case mcpconv.EventSessionEnd:
		endedAt = r.ts
	}
	p := b.promoter(sessionRecord)
	requests := p.integer(r.attrs, mcpconv.SessionRequestCount, countRange)
	errors := p.integer(r.attrs, mcpconv.SessionErrorCount, countRange)
	b.add(sessionRecord, []any{
		sessionID,
		r.str(mcpconv.SessionTransport),
		r.str(mcpconv.ProtocolVersion),
		r.str(mcpconv.ClientAddress),
		r.str(mcpconv.ServerKey),
		startedAt,
		endedAt,
		r.ts,
		requests,
		errors,
		r.str(mcpconv.SessionCloseReason),
		r.serviceName,
		attributesJSON(r.attrs, sessionPromoted, p.kept...),
	})
}

func logErrorRow(r logRecord, p *promoter) []any {
	errType := r.str(mcpconv.ErrorType)
	if errType == nil {
		errType = r.str(mcpconv.ExceptionType)
	}
	message := r.str(mcpconv.ExceptionMessage)
	if message == nil {
		message = r.body()
	}
	severity := p.severity(int32(r.lr.SeverityNumber()))
	return []any{
		r.ts,
		r.eventID(),
		sourceLog,
		textOrNil(r.eventName),
		traceIDBytes(r.lr.TraceID()),
		spanIDBytes(r.lr.SpanID()),
		r.str(mcpconv.JSONRPCRequestID),
		r.str(mcpconv.SessionID),
		r.str(mcpconv.ServerKey),
		r.str(mcpconv.MethodName),
		r.str(mcpconv.ToolName),
		errType,
		message,
		r.str(mcpconv.ExceptionStacktrace),
		severity,
		textOrNil(r.lr.SeverityText()),
		r.serviceName,
		mcpconv.LogAdjustedCount(r.lr),
		attributesJSON(r.attrs, logErrorPromoted),
	}
}
