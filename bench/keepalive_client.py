"""Sends N requests on one keep-alive connection, each after the previous answer (200 checked).

Usage: keepalive_client.py HOST PORT TOKEN N [TARGET]. TARGET `me` (the default) sends GET /users/me
with TOKEN as the bearer; `list` sends GET /api/v1/users (page 1 of 20) with TOKEN as the API key;
`refresh` sends POST /auth/refresh with TOKEN as the refresh token and
chains the rotations: each answer's refresh token is the next request's, so every request is a real
rotation. For bench/instructions.sh, where wrk's fixed duration would make the request count depend
on the machine's speed.
"""
import json
import socket
import sys

host, port, token, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
target = sys.argv[5] if len(sys.argv) > 5 else "me"


def request(token):
    if target == "me":
        return f"GET /users/me HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    if target == "list":
        return (
            "GET /api/v1/users?page=1&page_size=20 HTTP/1.1\r\nHost: bench\r\n"
            f"X-API-Key: {token}\r\n\r\n"
        ).encode()
    body = json.dumps({"refresh_token": token}).encode()
    head = (
        "POST /auth/refresh HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


if target not in ("me", "list", "refresh"):
    sys.exit(f"unknown target {target!r}")
conn = socket.create_connection((host, port))
pending = b""
for _ in range(n):
    conn.sendall(request(token))
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
                    sys.exit(f"unexpected answer: {head[:60]!r} {rest[:length][:200]!r}")
                if target == "refresh":
                    token = json.loads(rest[:length])["refresh_token"]
                pending = rest[length:]
                break
        chunk = conn.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        pending += chunk
