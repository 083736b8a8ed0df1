// The rebalance e2e's clients: N real `ws` connections through the agent, each echoing a
// checksummed stream (large binary messages, each one frame longer than an skb, and bursts of
// tiny ones, many frames per skb) against the demo echo server. A connection closed with 1012
// (Service Restart) reconnects, as a well-behaved client does. Writes a status file while it
// runs and, at the end, every session's close code and byte checks as JSON.
//
// node rebalance_clients.mjs --url ws://HOST:PORT/ --connections 600 --seconds 30 \
//      --status status.json --out result.json
import { createHash } from 'node:crypto';
import { writeFileSync, renameSync } from 'node:fs';
import WebSocket from 'ws';

const opts = { url: '', connections: 600, seconds: 30, status: '', out: '' };
for (let i = 2; i < process.argv.length; i += 2) opts[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
opts.connections = Number(opts.connections);
opts.seconds = Number(opts.seconds);
if (!opts.url || !opts.out) {
  console.error('usage: rebalance_clients.mjs --url URL --connections N --seconds S --status FILE --out FILE');
  process.exit(2);
}

let running = true;
const sessions = [];  // every session ever opened, in order
const live = new Map(); // slot -> current session

// A deterministic byte pattern per session and message, cheap to make.
function pattern(seed, n) {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function writeAtomic(path, obj) {
  writeFileSync(path + '.tmp', JSON.stringify(obj));
  renameSync(path + '.tmp', path);
}

function open(slot) {
  const s = {
    slot, backend: null, closeCode: null, error: null, opened: false,
    sent: 0, echoed: 0, messages: 0, mismatches: 0, pendingAtClose: 0,
    expectHash: createHash('sha256'), echoHash: createHash('sha256'), queue: [], seq: 0,
  };
  sessions.push(s);
  live.set(slot, s);
  const ws = new WebSocket(opts.url, { perMessageDeflate: false });
  s.ws = ws;
  ws.on('open', () => {
    s.opened = true;
    ws.send('whoami');
  });
  ws.on('message', (data, isBinary) => {
    if (s.backend === null && !isBinary) {
      s.backend = data.toString();
      return;
    }
    const want = s.queue.shift();
    if (!want || !want.equals(data)) {
      s.mismatches++;
      return;
    }
    s.echoed += data.length;
    s.messages++;
    s.expectHash.update(want);
    s.echoHash.update(data);
  });
  ws.on('error', (e) => { s.error = String(e.message || e); });
  ws.on('close', (code) => {
    s.closeCode = code;
    s.pendingAtClose = s.queue.reduce((n, b) => n + b.length, 0);
    live.delete(slot);
    // 1012: the service asks us to come back; a new connection goes through the balancer again.
    if (code === 1012 && running) setTimeout(() => open(slot), 20 + Math.random() * 200);
  });
}

function send(s, buf) {
  s.queue.push(buf);
  s.sent += buf.length;
  s.ws.send(buf, { binary: true });
}

// Each live session sends a round now and then: one large message (a single frame of 70-200 KB
// from the echo server) or a burst of 100 tiny messages.
function traffic() {
  for (const s of live.values()) {
    if (!s.opened || s.backend === null || s.ws.readyState !== WebSocket.OPEN) continue;
    if (s.queue.length > 150 || Math.random() < 0.7) continue;
    s.seq++;
    if (s.seq % 2) {
      send(s, pattern(s.slot * 7919 + s.seq, 70000 + Math.floor(Math.random() * 130000)));
    } else {
      for (let k = 0; k < 100; k++) send(s, pattern(s.slot * 104729 + s.seq * 131 + k, 1 + (k % 16)));
    }
  }
}

function status() {
  const perBackend = {};
  for (const s of live.values()) if (s.backend) perBackend[s.backend] = (perBackend[s.backend] || 0) + 1;
  const closes1012 = sessions.filter((s) => s.closeCode === 1012).length;
  const mismatches = sessions.reduce((n, s) => n + s.mismatches, 0);
  return { open: [...live.values()].filter((s) => s.backend).length, perBackend, closes1012, mismatches, sessions: sessions.length };
}

for (let slot = 0; slot < opts.connections; slot++) {
  open(slot);
  if (slot % 50 === 49) await new Promise((r) => setTimeout(r, 20));
}
const trafficTimer = setInterval(traffic, 100);
const statusTimer = setInterval(() => { if (opts.status) writeAtomic(opts.status, status()); }, 250);
await new Promise((r) => setTimeout(r, opts.seconds * 1000));

// The end: no new rounds, let every echo come back, then close everything with 1000.
running = false;
clearInterval(trafficTimer);
const drainBy = Date.now() + 10000;
while (Date.now() < drainBy && [...live.values()].some((s) => s.queue.length)) await new Promise((r) => setTimeout(r, 50));
for (const s of live.values()) s.ws.close(1000);
const closeBy = Date.now() + 10000;
while (Date.now() < closeBy && live.size) await new Promise((r) => setTimeout(r, 50));
clearInterval(statusTimer);
if (opts.status) writeAtomic(opts.status, status());

const out = sessions.map((s) => ({
  slot: s.slot, backend: s.backend, close_code: s.closeCode, error: s.error, sent: s.sent, echoed: s.echoed,
  messages: s.messages, mismatches: s.mismatches, pending_at_close: s.pendingAtClose,
  expect_sha256: s.expectHash.digest('hex'), echo_sha256: s.echoHash.digest('hex'),
}));
writeAtomic(opts.out, { sessions: out, still_open: live.size });
process.exit(0);
