#!/usr/bin/python3
"""Opens a connection, sends half a request line and then nothing; prints
how many seconds pass until the server closes it (at most LIMIT s)."""
import socket
import sys
import time

port, limit = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=limit)
s.sendall(b"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Le")
t0 = time.monotonic()
try:
    while s.recv(4096):
        pass
except socket.timeout:
    print("still open after", limit)
    sys.exit(1)
print("%.2f" % (time.monotonic() - t0))
