#!/usr/bin/python3
"""A WebSocket client for the image test that checks every byte (Python standard library only).

Opens one connection to HOST:PORT, checks the 101 and its Sec-WebSocket-Accept, sends --bytes of
random data in binary messages of --message bytes and compares each echo with what it sent.
With --hold FILE it then writes FILE and keeps the connection open until RELEASE exists (so the
test can look at the live flow), and finally closes with a WebSocket close handshake.
Exit 0 when everything came back intact; 1 with a message otherwise.
"""
import argparse
import base64
import hashlib
import os
import socket
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Conn:
    def __init__(self, sock, pending):
        self.sock = sock
        self.buf = bytearray(pending)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("connection closed by the peer")
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def send(self, opcode, payload):
        head = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head.append(0x80 | n)
        elif n < 1 << 16:
            head.append(0x80 | 126)
            head += struct.pack("!H", n)
        else:
            head.append(0x80 | 127)
            head += struct.pack("!Q", n)
        mask = os.urandom(4)
        head += mask
        # Client frames are masked (RFC 6455 5.3): XOR with the 4-byte key, done on integers.
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
        self.sock.sendall(bytes(head) + masked)

    def read_message(self):
        """The next data message (opcode, payload), reassembled; answers pings on the way."""
        parts, opcode = [], None
        while True:
            b0, b1 = self._need(2)
            op, fin, n = b0 & 0x0F, b0 & 0x80, b1 & 0x7F
            if b1 & 0x80:
                raise RuntimeError("the server masked a frame")
            if n == 126:
                (n,) = struct.unpack("!H", self._need(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._need(8))
            payload = self._need(n)
            if op == 9:
                self.send(10, payload)
                continue
            if op == 10:
                continue
            if op == 8:
                return op, payload
            if op != 0:
                opcode = op
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)


def handshake(host, port, path, timeout):
    sock = socket.create_connection((host, port), timeout=timeout)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() +
                 b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                 b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"closed during the handshake after {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 101"):
        raise RuntimeError(f"expected 101, got {lines[0]!r}")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != accept:
        raise RuntimeError("wrong Sec-WebSocket-Accept")
    return Conn(sock, rest), headers.get("x-wsteer-backend", "?")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/echo")
    p.add_argument("--bytes", type=int, default=4 << 20)
    p.add_argument("--message", type=int, default=64 << 10)
    p.add_argument("--hold", help="write this file once the data is checked, then wait for --release")
    p.add_argument("--release", help="close once this file exists (60 s at most)")
    p.add_argument("--timeout", type=float, default=20)
    a = p.parse_args()

    conn, backend = handshake(a.host, a.port, a.path, a.timeout)
    sent = messages = 0
    while sent < a.bytes:
        n = min(a.message, a.bytes - sent)
        payload = os.urandom(n)
        conn.send(2, payload)
        op, echo = conn.read_message()
        if op != 2 or echo != payload:
            raise RuntimeError(f"message {messages}: echo differs (opcode {op}, {len(echo)} of {n} bytes)")
        sent += n
        messages += 1
    print(f"{sent} bytes in {messages} messages echoed intact by backend {backend}", flush=True)

    if a.hold:
        with open(a.hold + ".tmp", "w") as f:
            f.write(backend + "\n")
        os.rename(a.hold + ".tmp", a.hold)
        deadline = time.monotonic() + 60
        while a.release and not os.path.exists(a.release) and time.monotonic() < deadline:
            time.sleep(0.1)

    conn.send(8, struct.pack("!H", 1000))
    op, _ = conn.read_message()
    if op != 8:
        raise RuntimeError("no close frame in answer to ours")
    conn.sock.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # one line for the test log, not a traceback
        print(f"ws_check: {e}", file=sys.stderr)
        sys.exit(1)
