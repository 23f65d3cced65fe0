#!/usr/bin/python3
"""A stand-in for the pool manager's ready-callback endpoint.

Usage: fake-pool-manager.py PORTFILE BODYFILE [STATUS]
Listens on 127.0.0.1 (a free port, written to PORTFILE), answers every POST
with STATUS (default 204) and appends each request body, one per line, to
BODYFILE. Ends after 60 s in any case, so that a failed test leaves nothing
running."""
import http.server
import sys
import threading

portfile, bodyfile = sys.argv[1], sys.argv[2]
status = int(sys.argv[3]) if len(sys.argv) > 3 else 204


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        with open(bodyfile, "a") as f:
            f.write(self.path + " " + self.headers.get("Content-Type", "") + " " + body + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
threading.Timer(60, server.shutdown).start()
server.serve_forever()
