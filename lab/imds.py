"""A stand-in for EC2's instance metadata service (IMDSv2), from files: what the lab's gateway asks.

PUT /latest/api/token answers a token; a GET carrying it answers the file under ANSWERS named by its
path (absent: 404, as IMDS answers a key the instance lacks); a GET without it answers 401. The test
writes and removes the files, so the answer changes as EC2's does when an address is assigned.
"""

import http.server
import os
import socketserver
import sys

listen, port, answers = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TOKEN = "lab-imds-token"


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):  # noqa: N802 - http.server's name
        self.answer(200 if self.path == "/latest/api/token" else 404, TOKEN.encode())

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            return self.answer(401)
        path = os.path.normpath(os.path.join(answers, self.path.lstrip("/")))
        if not path.startswith(answers + os.sep) or not os.path.isfile(path):
            return self.answer(404)
        with open(path, "rb") as handle:
            self.answer(200, handle.read())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server((listen, port), Handler).serve_forever()
