// Helpers shared by the realworld MCP scenarios: OTLP tracing, child
// servers, and the fixed list of client operations with its ground truth.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { McpError } from "@modelcontextprotocol/sdk/types.js";

export const realworldDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export function version(pkg) {
  const file = path.join(realworldDir, "node_modules", pkg, "package.json");
  return JSON.parse(fs.readFileSync(file, "utf8")).version;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts `node args...` and resolves once its stderr matches `ready`.
export function startServer(args, env, ready) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server ${args.join(" ")} not ready in 15s`)), 15000);
    child.stdout.resume(); // request logging: not interesting
    child.stderr.on("data", (buf) => {
      process.stderr.write(buf);
      if (ready.test(buf.toString())) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited early (${code})`)); });
  });
}

// SIGTERM, wait up to 10s for the child to exit (it may be flushing spans), then SIGKILL.
// Returns the exit code, or the signal name when it did not exit by itself.
export async function stopServer(child) {
  child.removeAllListeners("exit");
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
    await exited;
    clearTimeout(timer);
  }
  return child.exitCode ?? child.signalCode;
}

// Remembers every JSON-RPC request the client sends, so the ground truth has real ids.
export function recordRequests(transport) {
  const sent = [];
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (message.method !== undefined && message.id !== undefined) sent.push(message);
    return send(message, options);
  };
  return sent;
}

// Runs the scenario's operations in order and returns the ground truth list.
// `extraCalls` are further tools/call operations, all expected to fail.
export async function runOperations({ client, transport, side, extraCalls = [] }) {
  const sent = recordRequests(transport);
  const ops = [];
  const op = async (method, tool, expectFail, fn) => {
    const before = sent.length;
    let failed = false, rpcCode = null, isError = false;
    try {
      const result = await fn();
      if (result?.isError === true) failed = isError = true;
    } catch (err) {
      if (!(err instanceof McpError)) throw err;
      failed = true;
      rpcCode = String(err.code);
    }
    const req = sent.slice(before).findLast((m) => m.method === method);
    if (!req) throw new Error(`no ${method} request was sent`);
    ops.push({ side, method, tool, request_id: String(req.id), session_id: transport.sessionId ?? null,
      failed, rpc_code: rpcCode, is_error_result: isError });
    if (failed !== expectFail) throw new Error(`${method} ${tool ?? ""}: failed=${failed}, expected ${expectFail}`);
  };
  const call = (name, args) => () => client.callTool({ name, arguments: args });

  await op("initialize", null, false, () => client.connect(transport));
  await op("tools/list", null, false, () => client.listTools());
  await op("tools/call", "echo", false, call("echo", { message: "hello" }));
  await op("tools/call", "echo", true, call("echo", { text: 42 }));
  await op("tools/call", "no_such_tool", true, call("no_such_tool", {}));
  await op("prompts/list", null, false, () => client.listPrompts());
  await op("resources/list", null, false, () => client.listResources());
  for (const name of extraCalls) await op("tools/call", name, true, call(name, {}));
  // Tool failures come back as isError results in SDK 1.32; this one is a real JSON-RPC error (-32602).
  await op("prompts/get", null, true, () => client.getPrompt({ name: "no_such_prompt" }));
  return ops;
}

export function writeOperations(outDir, doc) {
  fs.mkdirSync(outDir, { recursive: true });
  // One operation per line: small diffs, easy to read next to the recording.
  const { operations, ...head } = doc;
  const lines = operations.map((o) => "  " + JSON.stringify(o)).join(",\n");
  const text = JSON.stringify(head).slice(0, -1) + `,\n "operations":[\n${lines}\n]}\n`;
  fs.writeFileSync(path.join(outDir, "operations.json"), text);
}
