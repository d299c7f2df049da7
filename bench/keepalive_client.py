"""Sends N GET /users/me on one keep-alive connection, each after the previous answer (200 checked).

Usage: keepalive_client.py HOST PORT TOKEN N. For bench/instructions.sh, where wrk's fixed duration
would make the request count depend on the machine's speed.
"""
import socket
import sys

host, port, token, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
conn = socket.create_connection((host, port))
request = f"GET /users/me HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
pending = b""
for _ in range(n):
    conn.sendall(request)
    while True:
        head, sep, rest = pending.partition(b"\r\n\r\n")
        if sep:
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if len(rest) >= length:
                if not head.startswith(b"HTTP/1.1 200"):
                    sys.exit(f"unexpected answer: {head[:60]!r}")
                pending = rest[length:]
                break
        chunk = conn.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        pending += chunk
