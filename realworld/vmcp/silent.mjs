// A backend that never answers: it accepts TCP connections on PORT and never
// writes a byte, so the router's health checks (an MCP initialize + list over
// streamable HTTP) time out and its circuit breaker opens.
//
// Optional recovery: with TARGET_PORT set, after SILENT_FOR_MS milliseconds
// (or on SIGUSR1) it stops being silent: connections held so far are closed
// and new ones are piped to 127.0.0.1:TARGET_PORT (a real MCP server), so the
// router sees the backend recover (half-open -> closed).
//
//   PORT=4600 [TARGET_PORT=4601 SILENT_FOR_MS=20000] node silent.mjs
import net from "node:net";

const port = Number(process.env.PORT || 0);
const targetPort = Number(process.env.TARGET_PORT || 0);
const silentFor = Number(process.env.SILENT_FOR_MS || 0);
const held = new Set();
let silent = true;

function answer() {
  if (!silent || !targetPort) return;
  silent = false;
  for (const s of held) s.destroy();
  held.clear();
  console.error(`silent backend: now forwarding to 127.0.0.1:${targetPort}`);
}

const server = net.createServer((sock) => {
  sock.on("error", () => {});
  if (silent) {
    held.add(sock);
    sock.on("close", () => held.delete(sock));
    sock.resume(); // read and drop whatever arrives, never reply
    return;
  }
  const up = net.connect(targetPort, "127.0.0.1");
  up.on("error", () => sock.destroy());
  sock.on("close", () => up.destroy());
  up.on("close", () => sock.destroy());
  sock.pipe(up).pipe(sock);
});

server.listen(port, "127.0.0.1", () => {
  console.error(`silent backend listening on 127.0.0.1:${server.address().port}`);
});
process.on("SIGUSR1", answer);
if (targetPort && silentFor > 0) setTimeout(answer, silentFor).unref();
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    for (const s of held) s.destroy();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  });
}
