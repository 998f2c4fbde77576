#!/usr/bin/env python3
"""tests/push/helper.py - small servers and utilities for the pusher tests.

  helper.py port
      print a free loopback TCP port, chosen outside the kernel's ephemeral
      range (a busy machine has thousands of TIME-WAIT sockets in it)
  helper.py wait PORT [SECONDS]
      wait until 127.0.0.1:PORT accepts a connection (exit 1 on timeout)
  helper.py proxy --port P --upstream HOST:PORT --log FILE [options]
      an HTTP/1.1 reverse proxy in front of a registry that logs every
      request as a JSON line and injects one kind of fault:
        --fault 503-once      the first blob upload PUT/PATCH is answered 503
        --fault drop-once     the first blob upload PUT/PATCH whose body is at
                              least --drop-min bytes (and, with --match-range,
                              whose Content-Range starts with it; with
                              --match-method, whose method is that) has half
                              its body read, then the connection is closed
        --fault manifest-500  every manifest PUT is answered 500 UNKNOWN
        --fault blob-400      every blob PUT ?digest= is answered 400
                              DIGEST_INVALID
        --fault blob-503      every blob upload PUT/PATCH is answered 503
                              UNAVAILABLE with Retry-After: 1
      --close answers every request with "Connection: close" and closes it,
      so a dropped request is never on a reused connection (libcurl resends
      a request that dies on a reused connection by itself)
      --bearer USER:PASS makes it a Bearer-token registry: /v2/ requests
      without "Authorization: Bearer TOKEN" get a 401 challenge whose realm is
      this proxy's /token endpoint; /token checks Basic USER:PASS and hands
      out TOKEN (a fresh random value, logged as {"token_value": ...}).

The proxy keeps the client's Host header, so registries that build absolute
Location URLs from it point the client back at the proxy.
"""
import argparse
import base64
import http.client
import json
import os
import random
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "content-length"}


def cmd_port(_args):
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            elo = int(f.read().split()[0])
            hi = min(hi, elo - 1)
    except OSError:
        pass
    for _ in range(200):
        p = random.randint(lo, hi)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))  # no SO_REUSEADDR: TIME-WAIT counts as busy
        except OSError:
            continue
        finally:
            s.close()
        print(p)
        return 0
    print("no free port", file=sys.stderr)
    return 1


def cmd_wait(args):
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
            return 0
        except OSError:
            time.sleep(0.05)
    return 1


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.fired = False
        self.logf = open(args.log, "a", buffering=1)
        self.user = self.password = None
        if args.bearer:
            self.user, self.password = args.bearer.split(":", 1)
        self.token = "tok-" + os.urandom(16).hex()
        if args.bearer:
            self.log(token_value=self.token)

    def log(self, **kw):
        kw["t"] = round(time.time(), 3)
        with self.lock:
            self.logf.write(json.dumps(kw, sort_keys=True) + "\n")

    def fire_once(self):
        with self.lock:
            if self.fired:
                return False
            self.fired = True
            return True


def error_body(code, message):
    return json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "push-test-proxy"
    st = None  # State

    def log_message(self, fmt, *a):
        pass

    def send_response(self, code, message=None):
        super().send_response(code, message)
        if self.st.args.close:
            self.send_header("Connection", "close")
            self.close_connection = True

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-type" for k, _ in headers) and body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        st, a = self.st, self.st.args
        path = self.path
        method = self.command
        entry = {"method": method, "path": path}
        auth = self.headers.get("Authorization", "")
        entry["auth"] = auth.split(" ", 1)[0] if auth else ""
        is_upload = "/blobs/uploads/" in path and method in ("PUT", "PATCH")
        clen = int(self.headers.get("Content-Length") or 0)

        # ---- the token endpoint
        if a.bearer and path.startswith("/token"):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            entry.update(token=True, scope=q.get("scope", []), service=q.get("service", [""])[0])
            ok = False
            if auth.lower().startswith("basic "):
                try:
                    u, p = base64.b64decode(auth[6:]).decode().split(":", 1)
                    ok = u == st.user and p == st.password
                except Exception:  # noqa: BLE001 - any garbage is a refusal
                    ok = False
            if ok:
                body = json.dumps({"token": st.token, "access_token": st.token,
                                   "expires_in": 300}).encode()
                entry["status"] = 200
                st.log(**entry)
                return self.reply(200, body)
            entry["status"] = 401
            st.log(**entry)
            return self.reply(401, error_body("UNAUTHORIZED", "bad credentials"))

        # ---- Bearer challenge
        if a.bearer and path.startswith("/v2"):
            if auth != "Bearer " + st.token:
                self.read_body()
                m = re.match(r"^/v2/(.+?)/(blobs|manifests|tags|referrers)/", path)
                ch = 'Bearer realm="http://127.0.0.1:%d/token",service="test"' % a.port
                if m:
                    ch += ',scope="repository:%s:pull,push"' % m.group(1)
                entry["status"] = 401
                st.log(**entry)
                return self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                                  [("WWW-Authenticate", ch),
                                   ("Docker-Distribution-API-Version", "registry/2.0")])

        # ---- faults
        if a.fault == "503-once" and is_upload and st.fire_once():
            self.read_body()
            entry.update(status=503, fault="503")
            st.log(**entry)
            return self.reply(503, error_body("UNAVAILABLE", "injected 503"))
        if (a.fault == "drop-once" and is_upload and clen >= a.drop_min and
                self.headers.get("Content-Range", "").startswith(a.match_range) and
                (not a.match_method or method == a.match_method) and
                st.fire_once()):
            got = len(self.rfile.read(clen // 2))
            entry.update(status=0, fault="drop", read=got, length=clen,
                         content_range=self.headers.get("Content-Range", ""))
            st.log(**entry)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if a.fault == "blob-503" and is_upload:
            self.read_body()
            entry.update(status=503, fault="503")
            st.log(**entry)
            return self.reply(503, error_body("UNAVAILABLE", "injected: come back later"),
                              [("Retry-After", "1")])
        if a.fault == "manifest-500" and method == "PUT" and "/manifests/" in path:
            self.read_body()
            entry.update(status=500, fault="500")
            st.log(**entry)
            return self.reply(500, error_body("UNKNOWN", "injected manifest failure"))
        if a.fault == "blob-400" and method == "PUT" and is_upload and "digest=" in path:
            self.read_body()
            entry.update(status=400, fault="400")
            st.log(**entry)
            return self.reply(400, error_body("DIGEST_INVALID",
                                              "provided digest did not match uploaded content"))

        # ---- forward
        body = self.read_body()
        entry["length"] = len(body)
        if self.headers.get("Content-Range"):
            entry["content_range"] = self.headers["Content-Range"]
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if a.bearer:
            hdrs.pop("Authorization", None)
        if body or method in ("PUT", "PATCH", "POST"):
            hdrs["Content-Length"] = str(len(body))
        host, port = a.upstream.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            conn.request(method, path, body=body if body else None, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
        except OSError as e:
            entry.update(status=502, error=str(e))
            st.log(**entry)
            return self.reply(502, error_body("UNKNOWN", "upstream: %s" % e))
        finally:
            conn.close()
        entry["status"] = r.status
        st.log(**entry)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if method == "HEAD":
            self.send_header("Content-Length", r.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD" and data:
            self.wfile.write(data)
        return None

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def cmd_proxy(args):
    Handler.st = State(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("port")
    w = sub.add_parser("wait")
    w.add_argument("port", type=int)
    w.add_argument("seconds", type=float, nargs="?", default=10)
    p = sub.add_parser("proxy")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fault", default="",
                   choices=["", "503-once", "drop-once", "manifest-500", "blob-400", "blob-503"])
    p.add_argument("--drop-min", type=int, default=1 << 20)
    p.add_argument("--match-range", default="")
    p.add_argument("--match-method", default="")
    p.add_argument("--bearer", default="")
    p.add_argument("--close", action="store_true")
    args = ap.parse_args()
    return {"port": cmd_port, "wait": cmd_wait, "proxy": cmd_proxy}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main() or 0)
