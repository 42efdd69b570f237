// Small helpers for record.sh, so it needs nothing but node and bash.
//   node util.mjs ports N                    print N free loopback TCP ports
//   node util.mjs wait-tcp PORT SECONDS      wait until 127.0.0.1:PORT accepts
//   node util.mjs wait-http URL SECONDS      wait until URL answers 2xx
//   node util.mjs wait-log FILE REGEX SECONDS  wait until a line of FILE matches
import fs from "node:fs";
import net from "node:net";

const [cmd, ...args] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(seconds, what, probe) {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await probe()) return;
    await sleep(100);
  }
  console.error(`timed out after ${seconds}s waiting for ${what}`);
  process.exit(1);
}

switch (cmd) {
  case "ports": {
    const servers = [];
    for (let i = 0; i < Number(args[0] || 1); i++) {
      const s = net.createServer();
      await new Promise((r) => s.listen(0, "127.0.0.1", r));
      servers.push(s);
    }
    console.log(servers.map((s) => s.address().port).join(" "));
    for (const s of servers) s.close();
    break;
  }
  case "wait-tcp":
    await until(Number(args[1] || 30), `127.0.0.1:${args[0]}`, () =>
      new Promise((r) => {
        const c = net.connect(Number(args[0]), "127.0.0.1");
        c.on("connect", () => { c.destroy(); r(true); });
        c.on("error", () => r(false));
      }));
    break;
  case "wait-http":
    await until(Number(args[1] || 30), args[0], async () => {
      try {
        const r = await fetch(args[0], { signal: AbortSignal.timeout(1000) });
        return r.ok;
      } catch {
        return false;
      }
    });
    break;
  case "wait-log": {
    const re = new RegExp(args[1]);
    await until(Number(args[2] || 30), `/${args[1]}/ in ${args[0]}`, () => {
      try {
        return fs.readFileSync(args[0], "utf8").split("\n").some((l) => re.test(l));
      } catch {
        return false;
      }
    });
    break;
  }
  default:
    console.error("usage: node util.mjs ports N | wait-tcp PORT S | wait-http URL S | wait-log FILE REGEX S");
    process.exit(2);
}
