#!/usr/bin/python3
"""Sends one JSON-RPC request to vswitchd and prints its response.

Used by tests/guide/mdcram.py to run the request/response pairs of
docs/jsonrpc.md: it reads one JSON request on stdin (pretty-printed over
several lines, as the document shows it), sends it as one line, as on
the wire, reads the one-line response and prints it as the document
shows responses: 2-space indent, keys in the daemon's order, one member
per line.  Nothing is sorted or canonicalised: the daemon's own order is
part of what the document shows.

Usage: rpc.py [SOCKET] < request.json   (SOCKET defaults to
$VSWITCH_SOCKET, else /var/lib/vswitch/vswitchd.sock)
"""
import json
import os
import socket
import sys


def main():
    path = (sys.argv[1] if len(sys.argv) > 1 else
            os.environ.get("VSWITCH_SOCKET", "/var/lib/vswitch/vswitchd.sock"))
    request = json.loads(sys.stdin.read())
    line = json.dumps(request, separators=(",", ":")).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(path)
        s.sendall(line)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data:
        print("rpc.py: no response (a notification?)")
        return 1
    response = json.loads(data)
    print(json.dumps(response, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
