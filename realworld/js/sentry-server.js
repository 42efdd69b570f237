// A small McpServer of the official TS SDK wrapped with @sentry/node's
// wrapMcpServerWithSentry. Sentry gets no DSN (nothing leaves the machine);
// its OpenTelemetry spans go to $OTEL_EXPORTER_OTLP_ENDPOINT via an extra span processor.
// Usage: node sentry-server.js stdio | node sentry-server.js http PORT
import http from "node:http";
import { randomUUID } from "node:crypto";
import * as Sentry from "@sentry/node";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

const [mode, port] = process.argv.slice(2);
process.env.OTEL_SERVICE_NAME ||= "sentry-mcp-server"; // Sentry's resource reads it
const spans = new BatchSpanProcessor(new OTLPTraceExporter());
// sendDefaultPii turns on Sentry's MCP input/output recording (mcp.request.argument.*, mcp.tool.result.content).
Sentry.init({ tracesSampleRate: 1.0, sendDefaultPii: true, openTelemetrySpanProcessors: [spans] });

function createServer() {
  // Wrapped before the tools are registered, as Sentry documents it.
  const server = Sentry.wrapMcpServerWithSentry(new McpServer({ name: "realworld-sentry-server", version: "1.0.0" }));
  server.registerTool("echo", { description: "Echoes the message", inputSchema: { message: z.string() } },
    async ({ message }) => ({ content: [{ type: "text", text: `Echo: ${message}` }] }));
  server.registerTool("fail_tool", { description: "Returns an isError result" },
    async () => ({ content: [{ type: "text", text: "this tool always fails" }], isError: true }));
  server.registerTool("throw_tool", { description: "Throws from its handler" },
    async () => { throw new Error("throw_tool exploded"); });
  server.registerPrompt("greeting", { description: "A greeting" },
    () => ({ messages: [{ role: "user", content: { type: "text", text: "Hello" } }] }));
  server.registerResource("readme", "realworld://readme", { mimeType: "text/plain" },
    (uri) => ({ contents: [{ uri: uri.href, text: "realworld" }] }));
  return server;
}

let closing = false;
async function shutdown(close) {
  if (closing) return;
  closing = true;
  try {
    await close();
    await spans.forceFlush(); // rejects when the OTLP export failed
    await Sentry.close(2000);
    process.exit(0);
  } catch (err) {
    console.error("sentry-server: shutdown failed:", err);
    process.exit(1);
  }
}

if (mode === "stdio") {
  const server = createServer();
  await server.connect(new StdioServerTransport());
  const close = () => shutdown(() => server.close());
  process.stdin.on("end", close); // the client ends our stdin when it closes
  process.on("SIGTERM", close);
} else if (mode === "http" && port) {
  const sessions = new Map();
  const httpServer = http.createServer(async (req, res) => {
    const id = req.headers["mcp-session-id"];
    let transport = id && sessions.get(id);
    if (!transport && !id && req.method === "POST") {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      transport.onclose = () => sessions.delete(transport.sessionId);
      await createServer().connect(transport);
    }
    if (!transport) {
      res.writeHead(404).end();
      return;
    }
    await transport.handleRequest(req, res);
  });
  httpServer.listen(Number(port), "127.0.0.1", () => console.error(`listening on port ${port}`));
  process.on("SIGTERM", () => shutdown(async () => {
    for (const t of sessions.values()) await t.close();
    httpServer.close();
  }));
} else {
  throw new Error("usage: sentry-server.js stdio | sentry-server.js http PORT");
}
