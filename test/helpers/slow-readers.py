"""Clients that send a request and then never read the answer (for the slow-reader test).

Usage: slow-readers.py HOST PORT COUNT API_KEY < body.json

Each client sets a small SO_RCVBUF before connecting (Node cannot set it on a TCP socket), so the
kernel advertises a small window (and a small MSS) and the server's socket buffer fills after a few
KB of answer, as
with a real client that stopped reading. Prints "sent COUNT" once every request is written, then
keeps the sockets open, reading nothing, until stdin closes or the process is killed.
"""
import socket
import sys

RCVBUF = 4096
MSS = 536


def main() -> None:
    host, port, count, api_key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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
    sys.stdin.buffer.read()  # until the test closes stdin
    for s in sockets:
        s.close()


if __name__ == "__main__":
    main()
