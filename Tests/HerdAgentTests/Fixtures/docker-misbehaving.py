#!/usr/bin/env python3
"""A unix socket that answers like a broken Docker Engine, for DockerTests.

Usage: docker-misbehaving.py SOCKET MODE, MODE one of
  stall      accept, read the request, never answer
  garbage    answer bytes that are not HTTP, with an escape sequence
  not-found  404 with the engine's {"message": ...} body
  bad-json   200 with a body that is not the JSON asked for
  bad-chunk  200, chunked, with a chunk size that is not hexadecimal
"""
import os
import signal
import socket
import sys
import time

# Whoever started us may have left SIGTERM blocked or ignored: take it back, and leave by ourselves
# after a minute without a connection whatever happens to the test.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
signal.signal(signal.SIGTERM, signal.SIG_DFL)

path, mode = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
# Bound and listening under another name first: the test waits for `path` to appear, then connects.
server.bind(path + ".new")
server.listen(8)
os.rename(path + ".new", path)
server.settimeout(60)
while True:
    try:
        connection, _ = server.accept()
    except socket.timeout:
        sys.exit(0)
    request = b""
    while b"\r\n\r\n" not in request:
        data = connection.recv(4096)
        if not data:
            break
        request += data
    if mode == "stall":
        time.sleep(30)
    elif mode == "garbage":
        connection.sendall(b"\x1b[31mSSH-2.0-OpenSSH\r\n\x00\x01\x02")
    elif mode == "not-found":
        body = b'{"message":"page not found \x1b[2J"}'
        connection.sendall(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)
    elif mode == "bad-json":
        body = b'{"Id": [1, 2'
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)
    elif mode == "bad-chunk":
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n")
    connection.close()
