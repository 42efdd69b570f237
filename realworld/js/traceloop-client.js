// The official TS SDK client, instrumented with @traceloop/instrumentation-mcp,
// against @modelcontextprotocol/server-everything over stdio or streamable HTTP.
// Usage: node traceloop-client.js stdio|http OUTDIR   (spans go to $OTEL_EXPORTER_OTLP_ENDPOINT)
import path from "node:path";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { McpInstrumentation } from "@traceloop/instrumentation-mcp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort, realworldDir, runOperations, startServer, stopServer, version, writeOperations } from "./common.js";

const [mode, outDir] = process.argv.slice(2);
if (!["stdio", "http"].includes(mode) || !outDir) throw new Error("usage: traceloop-client.js stdio|http OUTDIR");

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "traceloop-mcp-client" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
provider.register();
// The SDK is loaded as ESM, which the require hook cannot patch: wrap the class by hand.
const instrumentation = new McpInstrumentation();
instrumentation.setTracerProvider(provider);
instrumentation.manuallyInstrument({ Client });

const everything = path.join(realworldDir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
let server, transport;
if (mode === "stdio") {
  transport = new StdioClientTransport({ command: process.execPath, args: [everything, "stdio"], stderr: "ignore" });
} else {
  const port = await freePort();
  server = await startServer([everything, "streamableHttp"], { PORT: String(port) }, /listening on port/);
  transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
}

const client = new Client({ name: "realworld-traceloop-client", version: "1.0.0" });
try {
  const operations = await runOperations({ client, transport, side: "client" });
  await client.close();
  writeOperations(outDir, {
    emitter: "traceloop-js", transport: mode,
    versions: Object.fromEntries(["@traceloop/instrumentation-mcp", "@modelcontextprotocol/sdk", "@modelcontextprotocol/server-everything",
      "@opentelemetry/sdk-trace-node", "@opentelemetry/exporter-trace-otlp-http"].map((p) => [p, version(p)])),
    operations,
  });
} finally {
  await client.close(); // a no-op when already closed; after an error it stops the stdio child
  if (server) await stopServer(server);
  await provider.shutdown(); // flushes; rejects when the OTLP export failed
}
