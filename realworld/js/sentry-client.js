// The plain (uninstrumented) TS SDK client against sentry-server.js, over stdio
// (the client spawns the server) or streamable HTTP. The spans come from the server.
// Usage: node sentry-client.js stdio|http OUTDIR   (the server exports to $OTEL_EXPORTER_OTLP_ENDPOINT)
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort, runOperations, startServer, stopServer, version, writeOperations } from "./common.js";

const [mode, outDir] = process.argv.slice(2);
if (!["stdio", "http"].includes(mode) || !outDir) throw new Error("usage: sentry-client.js stdio|http OUTDIR");

const serverScript = path.join(path.dirname(new URL(import.meta.url).pathname), "sentry-server.js");
let server, transport;
if (mode === "stdio") {
  // The SDK passes only a minimal environment to the child: hand it ours (OTEL_*).
  transport = new StdioClientTransport({ command: process.execPath, args: [serverScript, "stdio"], env: { ...process.env } });
} else {
  const port = await freePort();
  server = await startServer([serverScript, "http", String(port)], {}, /listening on port/);
  transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
}

const client = new Client({ name: "realworld-sentry-client", version: "1.0.0" });
try {
  const operations = await runOperations({ client, transport, side: "server", extraCalls: ["fail_tool", "throw_tool"] });
  const child = transport._process; // stdio: the spawned server (the SDK keeps no exit code for us)
  await client.close(); // stdio: ends the server's stdin, it flushes its spans and exits
  if (child && child.exitCode !== 0) throw new Error(`sentry-server did not exit cleanly (code ${child.exitCode}, signal ${child.signalCode})`);
  writeOperations(outDir, {
    emitter: "sentry-js", transport: mode,
    versions: Object.fromEntries(["@sentry/node", "@modelcontextprotocol/sdk", "@opentelemetry/sdk-trace-base",
      "@opentelemetry/exporter-trace-otlp-http"].map((p) => [p, version(p)])),
    operations,
  });
} finally {
  await client.close(); // a no-op when already closed; after an error it stops the stdio child
  const code = server && (await stopServer(server)); // it flushes its spans on SIGTERM
  if (server && code !== 0) {
    console.error(`sentry-server exited with ${code}`);
    process.exitCode = 1;
  }
}
