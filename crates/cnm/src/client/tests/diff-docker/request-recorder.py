# A fake daemon that records every request (method, path, content type, body) to a log, so
# the requests of `docker` and `cnm` can be compared byte for byte. Usage: SOCKET LOG API_VERSION
import socketserver, http.server, sys, os, json
path = sys.argv[1]; log = sys.argv[2]; ver = sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, code, body=b"", ctype="application/json"):
        self.send_response(code); self.send_header("Api-Version", ver); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0); body = self.rfile.read(n) if n else b""
        if self.path != "/_ping":
            with open(log, "ab") as f: f.write(f"{self.command} {self.path} {self.headers.get('Content-Type')}\n".encode() + body + b"\n--\n")
        if self.path.endswith("/networks/create"): self.reply(201, b'{"Id":"abc","Warning":""}')
        elif self.command == "HEAD": self.reply(200)
        elif self.path.endswith("/networks"): self.reply(200, b"[]")
        else: self.reply(200, b"")
    do_GET = do_POST = do_HEAD = do_DELETE = handle_any
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    def get_request(self):
        req, _ = super().get_request(); return req, ("local", 0)
if os.path.exists(path): os.unlink(path)
S(path, H).serve_forever()
