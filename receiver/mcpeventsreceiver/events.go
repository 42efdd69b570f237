package mcpeventsreceiver

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
	"github.com/go-json-experiment/json/jsontext"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

// contentIDPrefix marks an event id the receiver derived from the event's
// content (the exporter's own content hash uses "h-").
const contentIDPrefix = "c-"

var severityNumbers = map[string]plog.SeverityNumber{
	"TRACE": plog.SeverityNumberTrace,
	"DEBUG": plog.SeverityNumberDebug,
	"INFO":  plog.SeverityNumberInfo,
	"WARN":  plog.SeverityNumberWarn,
	"ERROR": plog.SeverityNumberError,
	"FATAL": plog.SeverityNumberFatal,
}

// attrValue is an extra attribute's value: a scalar or an array of
// scalars. It is kept small: arrays of tiny values are the densest input.
type attrValue struct {
	kind jsontext.Kind // jsonString, jsonNumber, jsonBool or jsonArray
	// isInt tells an integer number from a double; b is a boolean's value.
	isInt, b bool
	// num holds an integer, or a double's bits.
	num  uint64
	str  string
	list []attrValue
}

// The kinds of attrValue.
const (
	jsonString = jsontext.Kind('"')
	jsonNumber = jsontext.Kind('0')
	jsonBool   = jsontext.Kind('t')
	jsonArray  = jsontext.Kind('[')
)

func (v *attrValue) int() int64      { return int64(v.num) }
func (v *attrValue) double() float64 { return math.Float64frombits(v.num) }

type extraAttr struct {
	key   string
	value attrValue
	pos   int
}

type exceptionValue struct {
	typ, message, stacktrace string
}

// fieldRef records a field as it appeared in the event, for the problems
// that can only be told once the event's type is known.
type fieldRef struct {
	id   fieldID
	name string // unknown fields only
	pos  int
	// problems[from:to] of the event are about this field's value.
	from, to int
	// failed is set when the value had a problem (listed or not).
	failed bool
}

type fieldProblem struct {
	pos    int
	at     loc
	reason string
}

// event is one decoded event, reused from event to event.
type event struct {
	index int
	start int // offset of its '{'
	typ   eventType
	// typeOK is set when the type field named a known type.
	typeOK bool
	// invalid is set once the event is counted as invalid.
	invalid bool
	// closed is set once the event's closing brace was read.
	closed bool
	// seen: fields present; set: fields with a value (not null, not "");
	// empty: fields given as "".
	seen, set, empty uint64

	str          [numFields]string
	num          [numFields]int64
	flt          [numFields]float64
	traceID      pcommon.TraceID
	spanID       pcommon.SpanID
	parentSpanID pcommon.SpanID
	tools        []string
	candidates   []string
	exception    exceptionValue
	attrs        []extraAttr

	refs     []fieldRef
	problems []fieldProblem
	// extraProblems counts the problems beyond what the event keeps (a
	// request lists at most maxDetails anyway).
	extraProblems int
}

func (e *event) reset(index int) {
	tools, candidates, attrs, refs, problems := e.tools[:0], e.candidates[:0], e.attrs[:0], e.refs[:0], e.problems[:0]
	*e = event{index: index}
	e.tools, e.candidates, e.attrs, e.refs, e.problems = tools, candidates, attrs, refs, problems
}

func (e *event) has(f fieldID) bool { return e.set&bit(f) != 0 }

func (e *event) problem(pos int, at loc, reason string) {
	if len(e.problems) >= maxDetails {
		e.extraProblems++
		return
	}
	e.problems = append(e.problems, fieldProblem{pos: pos, at: at, reason: reason})
}

func unknownField(t *typeSpec) string {
	if t == nil {
		return "unknown field"
	}
	return "unknown field for event type " + t.name
}

// finishEvent checks what depends on the event's type and, while the
// request holds no invalid event, maps the event onto the batch.
func (d *decoder) finishEvent() {
	e := &d.ev
	before := len(d.problems) + d.moreProblems
	var t *typeSpec
	if e.typeOK {
		t = &types[e.typ]
	}
	var hadProblem uint64
	for _, r := range e.refs {
		switch {
		case r.id == fieldNone:
			d.addProblem(r.pos, loc{name: r.name}, unknownField(t))
		case t != nil && t.allowed&bit(r.id) == 0:
			d.addProblem(r.pos, loc{name: fields[r.id].name}, unknownField(t))
		default:
			for _, p := range e.problems[r.from:r.to] {
				d.addProblem(p.pos, p.at, p.reason)
			}
			if r.failed {
				hadProblem |= bit(r.id)
			}
		}
	}
	d.moreProblems += e.extraProblems
	required := bit(fType)
	if t != nil {
		required = t.required
	}
	for f := range numFields {
		id := fieldID(f)
		if required&bit(id) == 0 || e.set&bit(id) != 0 || hadProblem&bit(id) != 0 {
			continue
		}
		reason := "required field missing"
		if e.empty&bit(id) != 0 {
			reason = "must not be empty"
		}
		d.addProblem(e.start, loc{name: fields[id].name}, reason)
	}
	if t != nil {
		d.checkType(t, hadProblem)
	}
	if len(d.problems)+d.moreProblems > before {
		e.invalid = true
		d.invalidEvents++
		return
	}
	if d.invalidEvents > 0 {
		return // the request is refused anyway: spare the mapping
	}
	d.out.add(e, t, d.observed)
}

// checkType applies the rules that involve several fields.
func (d *decoder) checkType(t *typeSpec, hadProblem uint64) {
	e := &d.ev
	for _, a := range e.attrs {
		if who, ok := t.reserved[a.key]; ok {
			d.addProblem(a.pos, loc{name: "attributes", key: a.key, keyed: true}, "reserved: set by "+who)
		}
	}
	if e.has(fErrorMessage) && e.has(fStatus) && e.str[fStatus] != "error" {
		d.addProblem(e.start, loc{name: fields[fErrorMessage].name}, `only allowed with status "error"`)
	}
	counts := bit(fActive) | bit(fIdle) | bit(fPending)
	if t.signal == signalMetrics && e.set&counts == 0 && hadProblem&counts == 0 {
		d.addProblem(e.start, loc{}, "one of active, idle, pending is required")
	}
	if !d.pipelines[t.signal] {
		d.addProblem(e.start, loc{name: "type"}, "no "+signalNames[t.signal]+" pipeline uses this receiver, so "+
			t.name+" events cannot be accepted")
	}
}

type resourceKey struct {
	serviceName, instanceID string
}

// batch is the pdata of one request, grouped by resource.
type batch struct {
	traces  ptrace.Traces
	logs    plog.Logs
	metrics pmetric.Metrics
	spans   int
	records int
	points  int

	spanSlices  map[resourceKey]ptrace.SpanSlice
	logSlices   map[resourceKey]plog.LogRecordSlice
	poolMetrics map[resourceKey]pmetric.NumberDataPointSlice

	digest  *xxhash.Digest
	hashBuf []byte
	attrBuf []byte
}

// reset starts a new batch; the pdata of the previous one belongs to the
// pipeline now, only the lookup maps and buffers are reused.
func (b *batch) reset() {
	b.traces, b.logs, b.metrics = ptrace.NewTraces(), plog.NewLogs(), pmetric.NewMetrics()
	b.spans, b.records, b.points = 0, 0, 0
	if b.digest == nil {
		b.digest = xxhash.New()
		b.spanSlices = map[resourceKey]ptrace.SpanSlice{}
		b.logSlices = map[resourceKey]plog.LogRecordSlice{}
		b.poolMetrics = map[resourceKey]pmetric.NumberDataPointSlice{}
	}
	clear(b.spanSlices)
	clear(b.logSlices)
	clear(b.poolMetrics)
}

func setResource(res pcommon.Resource, k resourceKey) {
	if k.serviceName != "" {
		res.Attributes().PutStr(mcpconv.ServiceName, k.serviceName)
	}
	if k.instanceID != "" {
		res.Attributes().PutStr(mcpconv.ServiceInstanceID, k.instanceID)
	}
}

func (b *batch) spanSlice(k resourceKey) ptrace.SpanSlice {
	if s, ok := b.spanSlices[k]; ok {
		return s
	}
	rs := b.traces.ResourceSpans().AppendEmpty()
	setResource(rs.Resource(), k)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(metadata.ScopeName)
	b.spanSlices[k] = ss.Spans()
	return ss.Spans()
}

func (b *batch) logSlice(k resourceKey) plog.LogRecordSlice {
	if s, ok := b.logSlices[k]; ok {
		return s
	}
	rl := b.logs.ResourceLogs().AppendEmpty()
	setResource(rl.Resource(), k)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	b.logSlices[k] = sl.LogRecords()
	return sl.LogRecords()
}

func (b *batch) poolPoints(k resourceKey) pmetric.NumberDataPointSlice {
	if s, ok := b.poolMetrics[k]; ok {
		return s
	}
	rm := b.metrics.ResourceMetrics().AppendEmpty()
	setResource(rm.Resource(), k)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	m := sm.Metrics().AppendEmpty()
	m.SetName(mcpconv.MetricPoolConnections)
	m.SetUnit("{connection}")
	points := m.SetEmptyGauge().DataPoints()
	b.poolMetrics[k] = points
	return points
}

// add maps a valid event onto the batch.
func (b *batch) add(e *event, t *typeSpec, observed pcommon.Timestamp) {
	res := resourceKey{serviceName: e.str[fServiceName], instanceID: e.str[fServiceInstanceID]}
	switch t.signal {
	case signalTraces:
		b.addSpan(e, t, b.spanSlice(res).AppendEmpty())
		b.spans++
	case signalLogs:
		b.addLogRecord(e, t, b.logSlice(res).AppendEmpty(), observed)
		b.records++
	case signalMetrics:
		b.points += addPoolPoints(e, b.poolPoints(res))
	}
}

func (b *batch) addSpan(e *event, t *typeSpec, sp ptrace.Span) {
	traceID, spanID := e.traceID, e.spanID
	if !e.has(fTraceID) || !e.has(fSpanID) {
		seed := e.str[fID]
		if seed == "" {
			seed = b.contentID(e, t)
		}
		if !e.has(fTraceID) {
			traceID = b.deriveTraceID(seed)
		}
		if !e.has(fSpanID) {
			spanID = b.deriveSpanID(seed)
		}
	}
	sp.SetTraceID(traceID)
	sp.SetSpanID(spanID)
	if e.has(fParentSpanID) {
		sp.SetParentSpanID(e.parentSpanID)
	}
	start := e.num[fTime]
	end := start + int64(math.Round(e.flt[fDurationMs]*1e6))
	sp.SetStartTimestamp(pcommon.Timestamp(start))
	sp.SetEndTimestamp(pcommon.Timestamp(end))
	if e.has(fSamplingThreshold) {
		sp.TraceState().FromRaw("ot=th:" + e.str[fSamplingThreshold])
	}
	attrs := sp.Attributes()
	attrs.EnsureCapacity(bits.OnesCount64(e.set) + len(e.attrs) + 2)
	if t == &types[typeToolCall] {
		sp.SetKind(ptrace.SpanKindClient)
		sp.SetName(mcpconv.MethodToolsCall + " " + e.str[fTool])
		attrs.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		attrs.PutStr(mcpconv.OperationName, mcpconv.OperationExecuteTool)
	} else {
		sp.SetKind(ptrace.SpanKindServer)
		name := e.str[fMethod]
		if target := e.str[fTarget]; target != "" {
			name += " " + target
		} else if tool := e.str[fTool]; tool != "" {
			name += " " + tool
		}
		sp.SetName(name)
	}
	putTypedAttributes(attrs, e, t)
	putExtraAttributes(attrs, e)

	failed := e.has(fErrorType) || e.has(fErrorMessage) || e.has(fException)
	switch status := e.str[fStatus]; {
	case status == "ok":
		sp.Status().SetCode(ptrace.StatusCodeOk)
	case status == "error" || (status == "" && failed):
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(e.str[fErrorMessage])
	}
	if e.has(fException) {
		ev := sp.Events().AppendEmpty()
		ev.SetName(mcpconv.ExceptionEventName)
		ev.SetTimestamp(pcommon.Timestamp(end))
		putException(ev.Attributes(), e.exception)
	}
}

func putException(m pcommon.Map, x exceptionValue) {
	if x.typ != "" {
		m.PutStr(mcpconv.ExceptionType, x.typ)
	}
	if x.message != "" {
		m.PutStr(mcpconv.ExceptionMessage, x.message)
	}
	if x.stacktrace != "" {
		m.PutStr(mcpconv.ExceptionStacktrace, x.stacktrace)
	}
}

func (b *batch) addLogRecord(e *event, t *typeSpec, lr plog.LogRecord, observed pcommon.Timestamp) {
	lr.SetEventName(t.eventName)
	lr.SetTimestamp(pcommon.Timestamp(e.num[fTime]))
	lr.SetObservedTimestamp(observed)
	if sev := e.str[fSeverity]; sev != "" {
		lr.SetSeverityText(sev)
		lr.SetSeverityNumber(severityNumbers[sev])
	}
	if t.body != fieldNone && e.has(t.body) {
		lr.Body().SetStr(e.str[t.body])
	}
	if e.has(fTraceID) {
		lr.SetTraceID(e.traceID)
	}
	if e.has(fSpanID) {
		lr.SetSpanID(e.spanID)
	}
	attrs := lr.Attributes()
	attrs.EnsureCapacity(bits.OnesCount64(e.set) + len(e.attrs) + 3)
	id := e.str[fID]
	if id == "" {
		id = b.contentID(e, t)
	}
	attrs.PutStr(mcpconv.EventID, id)
	putTypedAttributes(attrs, e, t)
	if e.has(fException) {
		putException(attrs, e.exception)
	}
	putExtraAttributes(attrs, e)
}

// addPoolPoints adds one point per pool state given and returns how many.
func addPoolPoints(e *event, points pmetric.NumberDataPointSlice) int {
	n := 0
	for _, state := range [...]struct {
		id   fieldID
		name string
	}{{fActive, mcpconv.PoolActive}, {fIdle, mcpconv.PoolIdle}, {fPending, mcpconv.PoolPending}} {
		if !e.has(state.id) {
			continue
		}
		p := points.AppendEmpty()
		p.SetTimestamp(pcommon.Timestamp(e.num[fTime]))
		p.SetIntValue(e.num[state.id])
		attrs := p.Attributes()
		attrs.EnsureCapacity(2 + len(e.attrs))
		attrs.PutStr(mcpconv.ServerKey, e.str[fServerKey])
		attrs.PutStr(mcpconv.PoolState, state.name)
		putExtraAttributes(attrs, e)
		n++
	}
	return n
}

// putTypedAttributes sets the attribute of every field of the event that
// has one, in the type's field order.
func putTypedAttributes(m pcommon.Map, e *event, t *typeSpec) {
	for _, f := range t.fields {
		if f.attr == "" || f.id == fServiceName || f.id == fServiceInstanceID || !e.has(f.id) {
			continue
		}
		switch fields[f.id].kind {
		case kindInt:
			m.PutInt(f.attr, e.num[f.id])
		case kindMillis:
			m.PutDouble(f.attr, e.flt[f.id]/1000) // latency: milliseconds in, seconds out
		case kindShortList:
			list := e.tools
			if f.id == fCandidates {
				list = e.candidates
			}
			s := m.PutEmptySlice(f.attr)
			s.EnsureCapacity(len(list))
			for _, v := range list {
				s.AppendEmpty().SetStr(v)
			}
		default:
			m.PutStr(f.attr, e.str[f.id])
		}
	}
}

func putExtraAttributes(m pcommon.Map, e *event) {
	for i := range e.attrs {
		putAttrValue(m.PutEmpty(e.attrs[i].key), &e.attrs[i].value)
	}
}

func putAttrValue(dst pcommon.Value, v *attrValue) {
	switch v.kind {
	case jsonString:
		dst.SetStr(v.str)
	case jsonBool:
		dst.SetBool(v.b)
	case jsonNumber:
		if v.isInt {
			dst.SetInt(v.int())
		} else {
			dst.SetDouble(v.double())
		}
	case jsonArray:
		s := dst.SetEmptySlice()
		s.EnsureCapacity(len(v.list))
		for i := range v.list {
			putAttrValue(s.AppendEmpty(), &v.list[i])
		}
	}
}

// contentID derives an event id from everything the event says, so that
// the same event sent twice gets the same id however it is formatted: the
// field order, whitespace, escapes and the timestamp notation (RFC 3339 or
// nanoseconds) do not change it, any value does. Tool arguments and results
// count as sent (their text).
func (b *batch) contentID(e *event, t *typeSpec) string {
	h := b.digest
	h.Reset()
	buf := b.hashBuf[:0]
	buf = append(buf, t.name...)
	buf = append(buf, 0)
	for f := range numFields {
		id := fieldID(f)
		if e.set&bit(id) == 0 || id == fType || id == fID {
			continue
		}
		buf = append(buf, byte(id))
		switch fields[id].kind {
		case kindTime, kindInt:
			buf = binary.LittleEndian.AppendUint64(buf, uint64(e.num[id]))
		case kindMillis:
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(e.flt[id]))
		case kindShortList:
			list := e.tools
			if id == fCandidates {
				list = e.candidates
			}
			buf = binary.LittleEndian.AppendUint64(buf, uint64(len(list)))
			for _, s := range list {
				buf = appendHashString(buf, s)
			}
		case kindException:
			buf = appendHashString(buf, e.exception.typ)
			buf = appendHashString(buf, e.exception.message)
			buf = appendHashString(buf, e.exception.stacktrace)
		case kindAttributes:
			// Order-independent: the sum of one hash per attribute.
			var sum uint64
			for i := range e.attrs {
				ab := appendHashString(b.attrBuf[:0], e.attrs[i].key)
				ab = appendHashAttr(ab, &e.attrs[i].value)
				sum += xxhash.Sum64(ab)
				b.attrBuf = ab
			}
			buf = binary.LittleEndian.AppendUint64(buf, sum)
		default: // strings (trace and span ids are hex text here)
			buf = appendHashString(buf, e.str[id])
		}
	}
	_, _ = h.Write(buf)
	b.hashBuf = buf
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h.Sum64())
	var out [len(contentIDPrefix) + 16]byte
	copy(out[:], contentIDPrefix)
	hex.Encode(out[len(contentIDPrefix):], sum[:])
	return string(out[:])
}

func appendHashString(buf []byte, s string) []byte {
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendHashAttr(buf []byte, v *attrValue) []byte {
	switch v.kind {
	case jsonString:
		buf = append(buf, 's')
		return appendHashString(buf, v.str)
	case jsonBool:
		if v.b {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case jsonNumber:
		if v.isInt {
			return binary.LittleEndian.AppendUint64(append(buf, 'i'), v.num)
		}
		return binary.LittleEndian.AppendUint64(append(buf, 'd'), v.num)
	case jsonArray:
		buf = binary.LittleEndian.AppendUint64(append(buf, 'a'), uint64(len(v.list)))
		for i := range v.list {
			buf = appendHashAttr(buf, &v.list[i])
		}
	}
	return buf
}

// deriveTraceID and deriveSpanID make the ids of a span that came without
// them from its event id (or content id): a retry gets the same ids, so the
// row's natural key (trace_id, span_id, ts) recognises it.
func (b *batch) deriveTraceID(seed string) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], b.seededHash("trace.hi", seed))
	binary.BigEndian.PutUint64(id[8:], b.seededHash("trace.lo", seed))
	if id.IsEmpty() {
		id[15] = 1
	}
	return id
}

func (b *batch) deriveSpanID(seed string) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], b.seededHash("span", seed))
	if id.IsEmpty() {
		id[7] = 1
	}
	return id
}

func (b *batch) seededHash(purpose, seed string) uint64 {
	h := b.digest
	h.Reset()
	_, _ = h.WriteString(purpose)
	_, _ = h.Write([]byte{0})
	_, _ = h.WriteString(seed)
	return h.Sum64()
}
