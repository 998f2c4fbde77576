#!/usr/bin/env python3
"""tests/mirror/upstream.py - an upstream registry that misbehaves, for the
mirror's tests (packhelper serve --mirror).

  upstream.py --port P --mode MODE --log FILE

Every request is logged to FILE as one line "METHOD PATH". GET /v2/ answers
200. The repository "t/img" has one image manifest (tag "v1") whose config
and one layer are served as the mode says:
  lie     the layer's bytes are the right length, but the last one is changed
  short   the layer's answer says its full length and closes one byte short
  hang    manifests and blobs are never answered (the head never comes)
  trickle the layer's answer sends its head, then a byte every 5 s
  big     the manifest under tag "v1" is 5 MiB (over the 4 MiB limit)
  redirect the layer is a 307 to /cdn/<digest>, which answers GET only (a
          HEAD is 403, as a URL signed for GET would be)
Prints nothing; the test reads FILE.
"""
import argparse
import hashlib
import json
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER = bytes((i * 7 + 3) % 251 for i in range(300000))


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha(CONFIG), "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": sha(LAYER), "size": len(LAYER)}],
}, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def note(self):
        with self.server.lock:
            with open(self.server.logfile, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))

    def send(self, code, body, ctype="application/octet-stream", length=None, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.note()
        mode = self.server.mode
        p = self.path.split("?")[0]
        if p == "/v2/":
            return self.send(200, b"{}", "application/json")
        if mode == "hang" and (p.startswith("/v2/t/img/manifests/") or "/blobs/" in p):
            time.sleep(3600)
            return
        if p in ("/v2/t/img/manifests/v1", "/v2/t/img/manifests/" + sha(MANIFEST)):
            body = MANIFEST
            if mode == "big":
                body = json.dumps({"schemaVersion": 2,
                                   "mediaType": "application/vnd.oci.image.index.v1+json",
                                   "manifests": [],
                                   "annotations": {"pad": "x" * (5 << 20)}}).encode()
            return self.send(200, body, "application/vnd.oci.image.manifest.v1+json"
                             if mode != "big" else "application/vnd.oci.image.index.v1+json",
                             extra={"Docker-Content-Digest": sha(body)})
        if p == "/v2/t/img/blobs/" + sha(CONFIG):
            return self.send(200, CONFIG)
        if mode == "redirect" and p == "/cdn/" + sha(LAYER):
            if self.command == "HEAD":
                return self.send(403, b"", "text/plain")
            return self.send(200, LAYER)
        if p == "/v2/t/img/blobs/" + sha(LAYER):
            if mode == "redirect":
                return self.send(307, b"", "text/plain", extra={"Location": "/cdn/" + sha(LAYER)})
            if mode == "lie":
                return self.send(200, LAYER[:-1] + bytes([LAYER[-1] ^ 0xFF]))
            if mode == "short":
                self.send(200, LAYER[:-1], length=len(LAYER))
                self.close_connection = True
                return
            if mode == "trickle":
                self.send_response(200)
                self.send_header("Content-Length", str(len(LAYER)))
                self.end_headers()
                for i in range(len(LAYER)):
                    self.wfile.write(LAYER[i:i + 1])
                    self.wfile.flush()
                    time.sleep(5)
                return
            return self.send(200, LAYER)
        return self.send(404, b'{"errors":[{"code":"NOT_FOUND","message":"no"}]}',
                         "application/json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    socketserver.TCPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.mode, srv.logfile, srv.lock = a.mode, a.log, threading.Lock()
    open(a.log, "a").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
