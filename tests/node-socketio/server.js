// A socket.io backend for wsteer's tests and bench: `node server.js NAME HOST PORT`.
// Namespaces "/" and "/chat" both answer "whoami" (this backend's name and the transport in use)
// and "echo". Every engine.io connection error (e.g. "Session ID unknown": a polling request or an
// upgrade that reached a backend other than the one holding its session) is printed as one JSON
// line, so the test can count them.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const [name, host, port] = process.argv.slice(2);
if (!name || !host || !port) {
  console.error("usage: node server.js NAME HOST PORT");
  process.exit(2);
}
const server = http.createServer((req, res) => res.end(name + "\n"));
const io = new Server(server, { cors: { origin: true, credentials: true } });
io.engine.on("connection_error", (err) => {
  console.log(JSON.stringify({ event: "connection_error", code: err.code, message: err.message }));
});
for (const nsp of [io.of("/"), io.of("/chat")]) {
  nsp.on("connection", (socket) => {
    socket.on("whoami", (ack) => ack({ backend: name, transport: socket.conn.transport.name }));
    socket.on("echo", (msg, ack) => ack({ backend: name, msg }));
  });
}
server.listen(Number(port), host, () => console.log(JSON.stringify({ event: "listening", name, host, port })));
