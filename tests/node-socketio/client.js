// socket.io clients for wsteer's tests and bench, all from this process (one client IP):
//   node client.js --url http://HOST:PORT [--count N] [--transports default|websocket]
//                  [--namespace /] [--concurrency C] [--hold-file PATH] [--settle MS]
// Each client connects (default transports: long-polling first, then the upgrade to WebSocket;
// "websocket": WebSocket only), waits for the upgrade, asks "whoami" and echoes one message. Prints
// one JSON summary line ("phase":"connect"): connected, failed, upgraded, echoed, per-backend
// counts, errors by message, connections per second. With --hold-file the clients stay connected
// until that file exists, then, after --settle ms, a second line ("phase":"hold") tells per backend
// how many are still connected (and echo) and how many were disconnected.
// Cookies: withCredentials turns on engine.io-client's cookie jar in Node, so the agent's sticky
// cookie from the first polling response rides along on later requests and on the upgrade.
"use strict";
const fs = require("fs");
const { io } = require("socket.io-client");

const args = { count: 30, transports: "default", namespace: "/", concurrency: 20, settle: 3000 };
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "").replace(/-(\w)/g, (_, c) => c.toUpperCase())] = process.argv[i + 1];
args.count = Number(args.count);
args.concurrency = Number(args.concurrency);
args.settle = Number(args.settle);
if (!args.url) {
  console.error("usage: node client.js --url http://HOST:PORT [--count N] [--transports default|websocket] ...");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bump = (o, k) => (o[k] = (o[k] || 0) + 1);

function once(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), ms);
    emitter.once(event, (v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

async function one(i, summary, held) {
  const socket = io(args.url + args.namespace, {
    transports: args.transports === "websocket" ? ["websocket"] : ["polling", "websocket"],
    withCredentials: true,
    forceNew: true,
    reconnection: false,
    timeout: 10000,
  });
  try {
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    summary.connected++;
    const engine = socket.io.engine;
    if (engine.transport.name !== "websocket") await once(engine, "upgrade", 10000);
    summary.upgraded++;
    const who = await socket.timeout(5000).emitWithAck("whoami");
    const echo = await socket.timeout(5000).emitWithAck("echo", "hello " + i);
    if (echo.msg !== "hello " + i || echo.backend !== who.backend || who.transport !== "websocket")
      throw new Error("bad echo");
    summary.echoed++;
    bump(summary.backends, who.backend);
    if (held) {
      const entry = { socket, backend: who.backend, reason: null };
      socket.on("disconnect", (reason) => (entry.reason = reason));
      held.push(entry);
    } else {
      socket.close();
    }
  } catch (e) {
    summary.failed++;
    bump(summary.errors, e.message || String(e));
    socket.close();
  }
}

async function main() {
  const summary = { phase: "connect", clients: args.count, transports: args.transports, connected: 0, failed: 0,
                    upgraded: 0, echoed: 0, backends: {}, errors: {} };
  const held = args.holdFile ? [] : null;
  const start = process.hrtime.bigint();
  let next = 0;
  const workers = Array.from({ length: Math.min(args.concurrency, args.count) }, async () => {
    while (next < args.count) await one(next++, summary, held);
  });
  await Promise.all(workers);
  summary.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  summary.per_second = summary.echoed / summary.seconds;
  console.log(JSON.stringify(summary));
  if (!held) process.exit(0);

  while (!fs.existsSync(args.holdFile)) await sleep(100);
  await sleep(args.settle);
  const hold = { phase: "hold", connected: {}, disconnected: {}, echoed: {} };
  for (const h of held) {
    if (!h.socket.connected) {
      bump(hold.disconnected, h.backend);
      continue;
    }
    bump(hold.connected, h.backend);
    try {
      const echo = await h.socket.timeout(5000).emitWithAck("echo", "still here");
      if (echo.backend === h.backend && echo.msg === "still here") bump(hold.echoed, h.backend);
    } catch (e) {}
  }
  console.log(JSON.stringify(hold));
  for (const h of held) h.socket.close();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
