package mcppgexporter

import (
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/internal/contenthash"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// logItem is a log record, the item of the log tables' rows, with the
// values every table derives from it; attrs are the record's attributes.
type logItem struct {
	item
	lr          plog.LogRecord
	eventName   string
	ts          any
	serviceName any
}

// appendLogs maps every log record onto its table by event name. Records of
// no known kind that are not errors are counted in b.unmapped.
func appendLogs(b *rowBatch, ld plog.Logs) {
	// One item of each kind for every row of the batch.
	items := &struct {
		log logItem
		err errorItem
	}{log: logItem{item: item{origin: fromLog, p: promoter{b: b}}}, err: errorItem{item: item{origin: fromLog, p: promoter{b: b}}}}
	r, e := &items.log, &items.err
	e.log = r
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := resourceColumnsOf(rl.Resource())
		r.serviceName, e.serviceName = res.serviceName, res.serviceName
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			scope := sls.At(j).Scope()
			records := sls.At(j).LogRecords()
			for k := 0; k < records.Len(); k++ {
				lr := records.At(k)
				r.lr, r.attrs, r.eventName, r.ts = lr, lr.Attributes(), mcpconv.LogEventName(lr), logTimestamp(lr)
				switch mcpconv.ClassifyLog(lr) {
				case mcpconv.KindHealthCheck:
					appendLog(b, healthCheckTable, r)
				case mcpconv.KindLBDecision:
					appendLog(b, lbDecisionTable, r)
				case mcpconv.KindCircuitBreaker:
					appendLog(b, breakerTable, r)
				case mcpconv.KindServer:
					appendServer(b, r)
				case mcpconv.KindSession:
					appendLog(b, sessionTable, r)
				case mcpconv.KindError:
					e.attrs, e.ctx = r.attrs, r.attrs
					errorLogTable.add(b, e, &e.item)
				default:
					b.unmapped.add(logUnmappedReason(lr), scope, r.eventName)
				}
			}
		}
	}
}

// appendLog adds the row of r to table t, or refuses r when it lacks an
// attribute the table requires.
func appendLog(b *rowBatch, t *tableSpec[logItem], r *logItem) {
	if key := t.missing(&r.item); key != "" {
		b.reject(t.id, causeMalformed, "missing required attribute "+key+" on event "+r.eventName, r.payload())
		return
	}
	t.add(b, r, &r.item)
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
func (r *logItem) eventID() string {
	if v, ok := r.attrs.Get(mcpconv.EventID); ok && v.AsString() != "" {
		return v.AsString()
	}
	return "h-" + strconv.FormatUint(contenthash.LogRecord(r.lr), 16)
}

func (r *logItem) body() any { return textOrNil(r.lr.Body().AsString()) }

func (r *logItem) str(key string) any { return strOrNil(r.attrs, key) }

// payload renders the record for rejected_event.
func (r *logItem) payload() string {
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

// appendServer turns a registry event into an mcp_server upsert that
// carries only what the event knows (serverTable); the upsert merges it by
// event time. A health change must say the health.
func appendServer(b *rowBatch, r *logItem) {
	if r.eventName == mcpconv.EventServerHealthChanged && serverTable.missing(&r.item) == "" && r.str(mcpconv.HealthStatus) == nil {
		b.reject(mcpServer, causeMalformed, "missing required attribute "+mcpconv.HealthStatus+" on event "+r.eventName, r.payload())
		return
	}
	appendLog(b, serverTable, r)
}
