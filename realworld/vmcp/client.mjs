// MCP client (TypeScript SDK, streamable HTTP) driven against ToolHive vMCP.
// Does, in order: initialize, tools/list, tools/call of the routed echo tool,
// tools/call with invalid arguments, tools/call of a nonexistent tool,
// prompts/list, resources/list, then terminates the session (HTTP DELETE).
// Writes OUT/operations.json with the "server" side operations: every JSON-RPC
// message the router received from this client, with the id the SDK put on the
// wire, the Mcp-Session-Id and how the router answered.
//
//   node client.mjs http://127.0.0.1:4483/mcp OUTDIR [toolPrefix]
import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, outDir, prefix = "everything_"] = process.argv.slice(2);
if (!url || !outDir) {
  console.error("usage: node client.mjs URL OUTDIR [toolPrefix]");
  process.exit(2);
}

const ops = [];          // in the order sent
const byId = new Map();  // JSON-RPC id -> op
const transport = new StreamableHTTPClientTransport(new URL(url));

// Record every outgoing message, as it goes on the wire.
const send = transport.send.bind(transport);
transport.send = async (msg, opts) => {
  if (msg.method) {
    const op = {
      side: "server",
      method: msg.method,
      request_id: msg.id === undefined ? null : String(msg.id),
      session_id: transport.sessionId ?? null,
      failed: false,
      rpc_code: null,
      started_at: new Date().toISOString(),
    };
    if (msg.method === "tools/call") op.tool = msg.params?.name ?? null;
    if (msg.id === undefined) op.notification = true;
    ops.push(op);
    if (msg.id !== undefined) byId.set(String(msg.id), op);
  }
  return send(msg, opts);
};
// Record every response, whatever path (JSON body or SSE) it came back on.
let inner;
Object.defineProperty(transport, "onmessage", {
  configurable: true,
  get: () => inner && wrapped,
  set: (fn) => { inner = fn; },
});
function wrapped(msg, extra) {
  if (msg.id !== undefined && !msg.method) {
    const op = byId.get(String(msg.id));
    if (op) {
      op.ended_at = new Date().toISOString();
      if (msg.error) {
        op.failed = true;
        op.rpc_code = msg.error.code;
        op.error_message = msg.error.message;
      } else if (msg.result?.isError) {
        // A tool result with isError: JSON-RPC success carrying a tool error.
        op.failed = true;
        op.tool_error = true;
      }
    }
  }
  return inner(msg, extra);
}

const client = new Client({ name: "otelcol-mcp-realworld", version: "1.0.0" });
const notes = {};
async function step(name, fn) {
  try {
    const r = await fn();
    notes[name] = "ok";
    return r;
  } catch (e) {
    notes[name] = `threw: ${e.message}`;
    console.error(`${name}: ${e.message}`);
    return undefined;
  }
}

await client.connect(transport); // initialize + notifications/initialized
const sessionId = transport.sessionId;
for (const op of ops) op.session_id = sessionId; // initialize went out before the id existed

const tools = await step("tools/list", () => client.listTools());
const names = (tools?.tools ?? []).map((t) => t.name);
const echo = names.find((n) => n === `${prefix}echo`) ?? names.find((n) => n.endsWith("echo"));
await step("tools/call echo", () => client.callTool({ name: echo, arguments: { message: "hello through vmcp" } }));
await step("tools/call invalid args", () => client.callTool({ name: echo, arguments: { message: 42, unexpected: true } }));
await step("tools/call nonexistent", () => client.callTool({ name: `${prefix}no_such_tool`, arguments: {} }));
await step("prompts/list", () => client.listPrompts());
await step("resources/list", () => client.listResources());
await step("terminate", () => transport.terminateSession());
await client.close();

for (const op of ops) op.session_id = op.session_id ?? sessionId;
const out = {
  emitter: "toolhive-vmcp",
  transport: "streamable_http",
  versions: { toolhive: process.env.TOOLHIVE_VERSION || "v0.47.0" },
  router_url: url,
  session_id: sessionId,
  protocol_version: transport.protocolVersion ?? null,
  tools_listed: names,
  client_steps: notes,
  operations: ops,
  transitions: [],
};
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "operations.json"), JSON.stringify(out, null, 2) + "\n");
console.error(`client: ${ops.length} operations, session ${sessionId}, wrote ${path.join(outDir, "operations.json")}`);
