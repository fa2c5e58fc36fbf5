"""Answer every request with 200 and the client address; append it to a log."""

import http.server
import socket
import socketserver
import sys
import threading

listen, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, body):
        client = self.client_address[0]
        if client.startswith("::ffff:") and "." in client:
            client = client[len("::ffff:") :]
        with lock, open(log, "a") as f:
            f.write(client + "\n")
        data = (client + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self):
        self.answer(True)

    def do_POST(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    daemon_threads = True

    def server_bind(self):
        # HTTPServer.server_bind asks DNS for its own name (getfqdn): in a namespace with a
        # default route and no resolver that hangs for seconds. Nothing here needs the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = listen, port


Server((listen, port), Handler).serve_forever()
