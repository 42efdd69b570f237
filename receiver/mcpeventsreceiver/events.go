package mcpeventsreceiver

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
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

// attrValue is an extra attribute's value: a scalar or an array of
// scalars. It is kept small: arrays of tiny values are the densest input.
type attrValue struct {
	// tag is the type of the value, as the content id hashes it: 's' a
	// string, 't' true, 'f' false, 'i' an integer, 'd' a double, 'a' an
	// array.
	tag byte
	// num holds an integer, or a double's bits.
	num  uint64
	str  string
	list []attrValue
}

type extraAttr struct {
	key   string
	value attrValue
	pos   int
}

// fieldRef records a field as it appeared in the event, for the problems
// that can only be told once the event's type is known.
type fieldRef struct {
	id   fieldID // fieldNone for an unknown field
	name string
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
	// typ is the type the type field named, if a known one.
	typ *typeSpec
	// invalid is set once the event is counted as invalid.
	invalid bool
	// closed is set once the event's closing brace was read.
	closed bool
	// seen: fields present; set: fields with a value (not null, not "");
	// empty: fields given as "".
	seen, set, empty uint64

	str          [maxFields]string
	num          [maxFields]int64
	flt          [maxFields]float64
	traceID      pcommon.TraceID
	spanID       pcommon.SpanID
	parentSpanID pcommon.SpanID
	tools        []string
	candidates   []string
	exception    [len(exceptionKeys)]string
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

// list is the value of a kindShortList field.
func (e *event) list(f fieldID) *[]string {
	if f == fCandidates {
		return &e.candidates
	}
	return &e.tools
}

// problemCount counts the problems of the event, listed or not.
func (e *event) problemCount() int { return len(e.problems) + e.extraProblems }

// problem records a problem of the event's value at pos, if reason tells one.
func (e *event) problem(pos int, at loc, reason string) {
	if reason == "" {
		return
	}
	if len(e.problems) >= maxDetails {
		e.extraProblems++
		return
	}
	e.problems = append(e.problems, fieldProblem{pos: pos, at: at, reason: reason})
}

// finishEvent checks what depends on the event's type and, while the
// request holds no invalid event, maps the event onto the batch.
func (d *decoder) finishEvent() {
	e := &d.ev
	before, t := len(d.problems)+d.moreProblems, e.typ
	var hadProblem uint64
	for _, r := range e.refs {
		if r.id == fieldNone || t != nil && t.allowed&bit(r.id) == 0 {
			reason := "unknown field"
			if t != nil {
				reason += " for event type " + t.name
			}
			d.addProblem(r.pos, loc{name: r.name}, reason)
			continue
		}
		for _, p := range e.problems[r.from:r.to] {
			d.addProblem(p.pos, p.at, p.reason)
		}
		if r.failed {
			hadProblem |= bit(r.id)
		}
	}
	d.moreProblems += e.extraProblems
	required := bit(fType)
	if t != nil {
		required = t.required
	}
	for id := range fieldID(len(fields)) {
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
	d.out.add(e, d.observed)
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

	hashBuf []byte
	attrBuf []byte
}

// reset starts a new batch; the pdata of the previous one belongs to the
// pipeline now, only the lookup maps and buffers are reused.
func (b *batch) reset() {
	b.traces, b.logs, b.metrics = ptrace.NewTraces(), plog.NewLogs(), pmetric.NewMetrics()
	b.spans, b.records, b.points = 0, 0, 0
	if b.spanSlices == nil {
		b.spanSlices = map[resourceKey]ptrace.SpanSlice{}
		b.logSlices = map[resourceKey]plog.LogRecordSlice{}
		b.poolMetrics = map[resourceKey]pmetric.NumberDataPointSlice{}
	}
	clear(b.spanSlices)
	clear(b.logSlices)
	clear(b.poolMetrics)
}

// setResource fills in a new resource of k and names the scope under it.
func setResource(res pcommon.Resource, scope pcommon.InstrumentationScope, k resourceKey) {
	if k.serviceName != "" {
		res.Attributes().PutStr(mcpconv.ServiceName, k.serviceName)
	}
	if k.instanceID != "" {
		res.Attributes().PutStr(mcpconv.ServiceInstanceID, k.instanceID)
	}
	scope.SetName(metadata.ScopeName)
}

// add maps a valid event onto the batch, under its resource.
func (b *batch) add(e *event, observed pcommon.Timestamp) {
	k := resourceKey{serviceName: e.str[fServiceName], instanceID: e.str[fServiceInstanceID]}
	switch e.typ.signal {
	case signalTraces:
		spans, ok := b.spanSlices[k]
		if !ok {
			rs := b.traces.ResourceSpans().AppendEmpty()
			ss := rs.ScopeSpans().AppendEmpty()
			setResource(rs.Resource(), ss.Scope(), k)
			spans, b.spanSlices[k] = ss.Spans(), ss.Spans()
		}
		b.addSpan(e, spans.AppendEmpty())
		b.spans++
	case signalLogs:
		records, ok := b.logSlices[k]
		if !ok {
			rl := b.logs.ResourceLogs().AppendEmpty()
			sl := rl.ScopeLogs().AppendEmpty()
			setResource(rl.Resource(), sl.Scope(), k)
			records, b.logSlices[k] = sl.LogRecords(), sl.LogRecords()
		}
		b.addLogRecord(e, records.AppendEmpty(), observed)
		b.records++
	case signalMetrics:
		points, ok := b.poolMetrics[k]
		if !ok {
			rm := b.metrics.ResourceMetrics().AppendEmpty()
			sm := rm.ScopeMetrics().AppendEmpty()
			setResource(rm.Resource(), sm.Scope(), k)
			m := sm.Metrics().AppendEmpty()
			m.SetName(mcpconv.MetricPoolConnections)
			m.SetUnit("{connection}")
			points = m.SetEmptyGauge().DataPoints()
			b.poolMetrics[k] = points
		}
		b.points += addPoolPoints(e, points)
	}
}

func (b *batch) addSpan(e *event, sp ptrace.Span) {
	t, traceID, spanID := e.typ, e.traceID, e.spanID
	if !e.has(fTraceID) || !e.has(fSpanID) {
		// Ids derived from the event id (or content id): a retry gets the
		// same ones, so the row's natural key (trace_id, span_id, ts)
		// recognises it.
		seed := e.str[fID]
		if seed == "" {
			seed = b.contentID(e)
		}
		if !e.has(fTraceID) {
			binary.BigEndian.PutUint64(traceID[:8], b.seededHash("trace.hi", seed))
			binary.BigEndian.PutUint64(traceID[8:], b.seededHash("trace.lo", seed))
			if traceID.IsEmpty() {
				traceID[15] = 1
			}
		}
		if !e.has(fSpanID) {
			binary.BigEndian.PutUint64(spanID[:], b.seededHash("span", seed))
			if spanID.IsEmpty() {
				spanID[7] = 1
			}
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
	sp.SetKind(t.spanKind)
	if t.spanKind == ptrace.SpanKindClient {
		sp.SetName(mcpconv.MethodToolsCall + " " + e.str[fTool])
		attrs.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		attrs.PutStr(mcpconv.OperationName, mcpconv.OperationExecuteTool)
	} else {
		name := e.str[fMethod]
		if target := e.str[fTarget]; target != "" {
			name += " " + target
		} else if tool := e.str[fTool]; tool != "" {
			name += " " + tool
		}
		sp.SetName(name)
	}
	putTypedAttributes(attrs, e)
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
		putException(ev.Attributes(), e)
	}
}

func putException(m pcommon.Map, e *event) {
	for i, v := range e.exception {
		if v != "" {
			m.PutStr(exceptionAttrs[i], v)
		}
	}
}

func (b *batch) addLogRecord(e *event, lr plog.LogRecord, observed pcommon.Timestamp) {
	t := e.typ
	lr.SetEventName(t.eventName)
	lr.SetTimestamp(pcommon.Timestamp(e.num[fTime]))
	lr.SetObservedTimestamp(observed)
	if sev := e.str[fSeverity]; sev != "" {
		lr.SetSeverityText(sev)
		lr.SetSeverityNumber(plog.SeverityNumber(1 + 4*slices.Index(severityNames, sev))) // TRACE 1, DEBUG 5, ..., FATAL 21
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
		id = b.contentID(e)
	}
	attrs.PutStr(mcpconv.EventID, id)
	putTypedAttributes(attrs, e)
	if e.has(fException) {
		putException(attrs, e)
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
func putTypedAttributes(m pcommon.Map, e *event) {
	for _, f := range e.typ.fields {
		if f.attr == "" || f.id == fServiceName || f.id == fServiceInstanceID || !e.has(f.id) {
			continue
		}
		switch fields[f.id].kind {
		case kindInt:
			m.PutInt(f.attr, e.num[f.id])
		case kindMillis:
			m.PutDouble(f.attr, e.flt[f.id]/1000) // latency: milliseconds in, seconds out
		case kindShortList:
			list := *e.list(f.id)
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
	switch v.tag {
	case 's':
		dst.SetStr(v.str)
	case 't', 'f':
		dst.SetBool(v.tag == 't')
	case 'i':
		dst.SetInt(int64(v.num))
	case 'd':
		dst.SetDouble(math.Float64frombits(v.num))
	case 'a':
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
func (b *batch) contentID(e *event) string {
	buf := b.hashBuf[:0]
	buf = append(buf, e.typ.name...)
	buf = append(buf, 0)
	for id := range fieldID(len(fields)) {
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
			list := *e.list(id)
			buf = binary.LittleEndian.AppendUint64(buf, uint64(len(list)))
			for _, s := range list {
				buf = appendHashString(buf, s)
			}
		case kindException:
			for _, s := range e.exception {
				buf = appendHashString(buf, s)
			}
		case kindAttributes:
			// Order-independent: the sum of one hash per attribute.
			var sum uint64
			for i := range e.attrs {
				b.attrBuf = appendHashAttr(appendHashString(b.attrBuf[:0], e.attrs[i].key), &e.attrs[i].value)
				sum += xxhash.Sum64(b.attrBuf)
			}
			buf = binary.LittleEndian.AppendUint64(buf, sum)
		default: // strings (trace and span ids are hex text here)
			buf = appendHashString(buf, e.str[id])
		}
	}
	b.hashBuf = buf
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], xxhash.Sum64(buf))
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
	buf = append(buf, v.tag)
	switch v.tag {
	case 's':
		return appendHashString(buf, v.str)
	case 'i', 'd':
		return binary.LittleEndian.AppendUint64(buf, v.num)
	case 'a':
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(v.list)))
		for i := range v.list {
			buf = appendHashAttr(buf, &v.list[i])
		}
	}
	return buf
}

// seededHash hashes the seed of a span's ids for one purpose (trace.hi,
// trace.lo, span).
func (b *batch) seededHash(purpose, seed string) uint64 {
	b.attrBuf = append(append(append(b.attrBuf[:0], purpose...), 0), seed...)
	return xxhash.Sum64(b.attrBuf)
}
