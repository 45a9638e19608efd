"""Clients that send a request and then read nothing (for the slow-reader tests).

Usage: slow-readers.py HOST PORT COUNT API_KEY [RESUME_AFTER_S] < body.json

Each client sets a small SO_RCVBUF before connecting (Node cannot set it on a TCP socket), so the
kernel advertises a small window (and a small MSS) and the server's socket buffer fills after a few
KB of answer, as with a real client that stopped reading. Prints "sent COUNT" once every request is
written.

Without RESUME_AFTER_S the sockets stay open, reading nothing, until stdin closes or the process is
killed. With it, the clients read nothing for that many seconds, print "reading", then read every
answer to its end (the end of its chunked body, or the server closing) and print one JSON line
counting how the answers ended: `complete` (the SSE stream ends with message_stop), `error` (an SSE
error event), `refused` (a status other than 200), `cut` (anything else), the body bytes read and
the seconds the reading took.
"""
import json
import selectors
import socket
import sys
import time

RCVBUF = 4096
MSS = 536
TAIL = 4096
IDLE_LIMIT_S = 120
RESUMED_RCVBUF = 1 << 20


class Answer:
    """One HTTP/1.1 answer read as it arrives: status line, then the chunked body, keeping its tail."""

    def __init__(self) -> None:
        self.raw = bytearray()
        self.head_done = False
        self.status = 0
        self.chunked = False
        self.length = None
        self.ended = False
        self.body_bytes = 0
        self.tail = b""

    def feed(self, data: bytes) -> None:
        self.raw += data
        if not self.head_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.raw[:end].decode("latin-1").split("\r\n")
            self.status = int(head[0].split(" ")[1])
            fields = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[1].strip() for h in head[1:] if ":" in h}
            self.chunked = fields.get("transfer-encoding", "").lower() == "chunked"
            self.length = int(fields["content-length"]) if "content-length" in fields else None
            del self.raw[: end + 4]
            self.head_done = True
        if not self.chunked:
            self.body(bytes(self.raw))
            self.raw.clear()
            self.ended = self.length is not None and self.body_bytes >= self.length
            return
        while not self.ended:
            line_end = self.raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(self.raw[:line_end]).split(b";")[0], 16)
            if len(self.raw) < line_end + 2 + size + 2:
                return
            self.body(bytes(self.raw[line_end + 2 : line_end + 2 + size]))
            del self.raw[: line_end + 2 + size + 2]
            if size == 0:
                self.ended = True

    def body(self, data: bytes) -> None:
        self.body_bytes += len(data)
        self.tail = (self.tail + data)[-TAIL:]

    def outcome(self) -> str:
        if self.head_done and self.status != 200:
            return "refused"
        if self.ended and b"event: message_stop" in self.tail:
            return "complete"
        if b"event: error" in self.tail:
            return "error"
        return "cut"


def read_all(sockets: list) -> dict:
    selector = selectors.DefaultSelector()
    answers = {}
    for s in sockets:
        # Reading again like a normal client: a bigger receive buffer from now on (the small one
        # was there to make the stall reach the server).
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RESUMED_RCVBUF)
        s.setblocking(False)
        answers[s] = Answer()
        selector.register(s, selectors.EVENT_READ)
    open_count = len(sockets)
    started = time.monotonic()
    while open_count > 0:
        ready = selector.select(timeout=IDLE_LIMIT_S)
        if not ready:
            break  # nothing arrived on any socket for that long: the rest count as cut
        for key, _ in ready:
            s = key.fileobj
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            answer = answers[s]
            if data:
                answer.feed(data)
                if not answer.ended:
                    continue
            # The answer is whole (or the server closed): done with this connection, as an HTTP
            # client is (the server may keep an idle keep-alive connection open for a long time).
            selector.unregister(s)
            s.close()
            open_count -= 1
    counts = {"complete": 0, "error": 0, "cut": 0, "refused": 0, "bytes": 0, "seconds": round(time.monotonic() - started, 1)}
    for a in answers.values():
        counts[a.outcome()] += 1
        counts["bytes"] += a.body_bytes
    return counts


def main() -> None:
    host, port, count, api_key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    resume_after = float(sys.argv[5]) if len(sys.argv) > 5 else None
    body = sys.stdin.buffer.readline().strip()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"x-api-key: {api_key}\r\nanthropic-version: 2023-06-01\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        # A small advertised MSS keeps the server's send-buffer autotuning small too: on loopback
        # (MSS ~64 KB) it grows to MBs and a whole long answer vanishes into the kernel.
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
        s.connect((host, port))
        s.sendall(head + body)
        sockets.append(s)
    print(f"sent {count}", flush=True)
    if resume_after is None:
        sys.stdin.buffer.read()  # until the test closes stdin
        for s in sockets:
            s.close()
        return
    time.sleep(resume_after)
    print("reading", flush=True)
    print(json.dumps(read_all(sockets)), flush=True)


if __name__ == "__main__":
    main()
