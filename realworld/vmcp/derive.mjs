// Completes OUTDIR/operations.json after a record.sh run:
//  - transitions: what vmcp's stderr log (OUTDIR/vmcp.log, JSON lines) says
//    happened to backend health and circuit breakers, in log order;
//  - upstream operations: when OUTDIR/traces.jsonl exists (otlpcapture
//    output), one "side":"upstream" entry per CLIENT span vmcp emitted for a
//    call it made to a backend (derived from the recording, not from the client).
//
//   node derive.mjs OUTDIR
import fs from "node:fs";
import path from "node:path";

const out = process.argv[2];
const opsFile = path.join(out, "operations.json");
const doc = JSON.parse(fs.readFileSync(opsFile, "utf8"));

// --- transitions from the log -------------------------------------------
const lines = fs.readFileSync(path.join(out, "vmcp.log"), "utf8").split("\n").filter(Boolean);
const transitions = [];
const healthEvents = {};
const breaker = {}; // backend -> last known state
for (const raw of lines) {
  let l;
  try { l = JSON.parse(raw); } catch { continue; }
  const msg = l.msg;
  const b = l.backend;
  const base = { time: l.time, backend: b, level: l.level, msg };
  switch (msg) {
    case "backend initialized with failure": // below the unhealthy threshold: still "unknown"
    case "backend initialized with failure and reached threshold":
      transitions.push({ kind: "health", ...base, from: null, to: l.status, status: l.status,
        consecutive_failures: l.failures, threshold: l.threshold });
      break;
    case "backend health degraded":          // threshold reached: previous_status -> status
    case "backend recovering from failures": // first success after failures: -> degraded
    case "backend status changed":           // success without failures: previous -> status
      transitions.push({ kind: "health", ...base, from: l.previous_status, to: l.status, status: l.status,
        ...(l.consecutive_failures !== undefined && { consecutive_failures: l.consecutive_failures }),
        ...(l.threshold !== undefined && { threshold: l.threshold }) });
      break;
    case "backend remains unhealthy":        // a failed check at/over the threshold: no change
      healthEvents[b] = (healthEvents[b] ?? 0) + 1;
      break;
    case "circuit breaker OPENED (threshold exceeded)":
      transitions.push({ kind: "breaker", ...base, from: "closed", to: "open" });
      breaker[b] = "open";
      break;
    case "circuit breaker returned to OPEN from half-open (recovery failed)":
    case "circuit breaker CLOSED (recovery successful)":
      // open -> half-open is not logged at INFO; it happened just before.
      if (breaker[b] === "open") {
        transitions.push({ kind: "breaker", time: l.time, backend: b, from: "open", to: "half-open",
          logged: false, note: "not logged at INFO (only the DEBUG line \"circuit breaker testing recovery\"); implied by the next line, whose time it carries: the half-open check began up to one check duration earlier" });
      }
      const to = msg.startsWith("circuit breaker CLOSED") ? "closed" : "open";
      transitions.push({ kind: "breaker", ...base, from: "half-open", to });
      breaker[b] = to;
      break;
  }
}
doc.transitions = transitions;
doc.health_check_failures_logged_as_remains_unhealthy = healthEvents;

// --- upstream operations from CLIENT spans ------------------------------
const tracesFile = path.join(out, "traces.jsonl");
doc.operations = doc.operations.filter((o) => o.side !== "upstream");
if (fs.existsSync(tracesFile)) {
  const attrVal = (v) => v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue ?? null;
  const ups = [];
  const serverSpans = new Map(); // "method|jsonrpc id|session" -> SERVER span
  for (const raw of fs.readFileSync(tracesFile, "utf8").split("\n").filter(Boolean)) {
    for (const rs of JSON.parse(raw).resourceSpans ?? []) {
      const svc = (rs.resource?.attributes ?? []).find((kv) => kv.key === "service.name");
      if (svc && attrVal(svc.value) !== "realworld-vmcp") continue; // not vmcp's
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const a = Object.fromEntries((s.attributes ?? []).map((kv) => [kv.key, attrVal(kv.value)]));
          if (s.kind === 2 && a["mcp.method.name"]) { // SPAN_KIND_SERVER
            serverSpans.set(`${a["mcp.method.name"]}|${a["jsonrpc.request.id"] ?? ""}`, s);
          }
          if (s.kind !== 3) continue; // SPAN_KIND_CLIENT
          ups.push({
            side: "upstream",
            method: a["mcp.method.name"] ?? s.name,
            ...(a["gen_ai.tool.name"] && { tool: a["gen_ai.tool.name"] }),
            backend: a["target.workload_name"] ?? null,
            request_id: null, // vmcp's CLIENT spans carry no JSON-RPC id
            session_id: null, // nor the backend's session id
            span_name: s.name,
            trace_id: s.traceId,
            span_id: s.spanId,
            parent_span_id: s.parentSpanId || null,
            start_unix_nano: s.startTimeUnixNano,
            failed: s.status?.code === 2, // span status ERROR; a tool result with isError leaves it unset
            rpc_code: null,
            ...(s.status?.message && { error_message: s.status.message }),
          });
        }
      }
    }
  }
  for (const op of doc.operations) {
    const s = serverSpans.get(`${op.method}|${op.request_id ?? ""}`);
    if (s) { op.trace_id = s.traceId; op.span_id = s.spanId; }
  }
  ups.sort((x, y) => (BigInt(x.start_unix_nano) < BigInt(y.start_unix_nano) ? -1 : 1));
  doc.operations.push(...ups);
  doc.upstream_source = "derived from vmcp's CLIENT spans in traces.jsonl (derive.mjs), not observed by the client";
}
fs.writeFileSync(opsFile, JSON.stringify(doc, null, 2) + "\n");
console.error(`derive: ${transitions.length} transitions, ${doc.operations.filter((o) => o.side === "upstream").length} upstream operations`);
