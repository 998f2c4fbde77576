#!/usr/bin/env python3
"""tests/push/helper.py - registry stand-ins for the pusher tests (not packhelper
servers: those are tests/lib.sh's ph_serve_start; free ports and waiting are there too).

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
        --fault trickle-upload every blob upload PUT/PATCH has its body read,
                              then an answer that trickles at 2 KiB/s
        --fault stall-upload  every blob upload PUT/PATCH has its body read,
                              then no answer at all
      --close answers every request with "Connection: close" and closes it,
      so a dropped request is never on a reused connection (libcurl resends
      a request that dies on a reused connection by itself)
      --bearer USER:PASS makes it a Bearer-token registry: /v2/ requests
      without "Authorization: Bearer TOKEN" get a 401 challenge whose realm is
      this proxy's /token endpoint; /token checks Basic USER:PASS and hands
      out TOKEN (a fresh random value, logged as {"token_value": ...}).
      --token VALUE fixes TOKEN (two proxies can then share it).
      --refresh RT makes /token also take the OAuth2 POST of distribution's
      token spec (form grant_type=refresh_token&refresh_token=RT&service=..
      &scope=..&client_id=..) and answer {"access_token": TOKEN}; the log
      entry has "grant_type", "client_id", "form_scope", "form_service" and
      "refresh" (the refresh token it was given).
      --realm URL puts another token endpoint in the Bearer challenge.
      --basic USER:PASS makes it a Basic-auth registry: /v2/ requests without
      those credentials get 401 with a Basic challenge.
      --location-origin URL rewrites the Location of every upload POST and
      PATCH answer to that origin (scheme://host:port), keeping the path.
      --corrupt DIGEST serves GET .../blobs/DIGEST with its last byte changed
      (same length: a source that lies; a Range answer is corrupted the same
      way, so the blob's last byte is always wrong).
      --redirect-blobs URL answers every blob GET with 307 to that origin,
      keeping the path (a registry whose blobs are on a CDN).
      --tls CERT,KEY serves HTTPS.
      Every logged request has "host" (the Host header), "authz" (the
      whole Authorization header: the tests look for the secret in it) and
      "range" (the Range header, "" when none).
  helper.py fake --port P --mode MODE --log FILE
      a server that is not (quite) a registry, for the pusher's budgets:
        garbage   answers every request with bytes that are not HTTP
        junk      answers with an HTTP status line and a broken header
        endless   GET /v2/ -> 200 with an endless, fast chunked body
        trickle   GET /v2/ -> 200, Content-Length 100 MB, 2 KiB/s
        stall     GET /v2/ -> 200, Content-Length 100, then nothing
        huge      GET /v2/ -> 200 {}; anything else -> 200, an OCI manifest
                  Content-Type and a 5 MiB body (over a manifest's 4 MiB)
      each connection is logged as {"mode": ..., "t": ...}.

The proxy keeps the client's Host header, so registries that build absolute
Location URLs from it point the client back at the proxy.
"""
import argparse
import base64
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "content-length"}


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.fired = False
        self.logf = open(args.log, "a", buffering=1)
        self.user = self.password = None
        if args.bearer:
            self.user, self.password = args.bearer.split(":", 1)
        self.token = args.token or "tok-" + os.urandom(16).hex()
        self.basic = args.basic
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
        entry = {"method": method, "path": path, "host": self.headers.get("Host", "")}
        auth = self.headers.get("Authorization", "")
        entry["authz"] = auth
        entry["auth"] = auth.split(" ", 1)[0] if auth else ""
        entry["range"] = self.headers.get("Range", "")
        is_blob_get = method == "GET" and re.match(r"^/v2/.+/blobs/[a-z0-9]+:[a-f0-9]+$", path)
        is_upload = "/blobs/uploads/" in path and method in ("PUT", "PATCH")
        clen = int(self.headers.get("Content-Length") or 0)

        # ---- the token endpoint
        if a.bearer and path.startswith("/token"):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            entry.update(token=True, scope=q.get("scope", []), service=q.get("service", [""])[0])
            ok = False
            if method == "POST":
                f = urllib.parse.parse_qs(self.read_body().decode("utf-8", "replace"))
                entry.update(grant_type=f.get("grant_type", [""])[0],
                             client_id=f.get("client_id", [""])[0],
                             form_scope=f.get("scope", []), form_service=f.get("service", [""])[0],
                             refresh=f.get("refresh_token", [""])[0],
                             content_type=self.headers.get("Content-Type", ""))
                ok = bool(a.refresh) and entry["grant_type"] == "refresh_token" and \
                    entry["refresh"] == a.refresh
                if ok:
                    entry["status"] = 200
                    st.log(**entry)
                    return self.reply(200, json.dumps({"access_token": st.token,
                                                       "expires_in": 300}).encode())
                entry["status"] = 401
                st.log(**entry)
                return self.reply(401, error_body("UNAUTHORIZED", "bad refresh token"))
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
                ch = 'Bearer realm="%s",service="test"' % (
                    a.realm or "http://127.0.0.1:%d/token" % a.port)
                if m:
                    ch += ',scope="repository:%s:pull,push"' % m.group(1)
                entry["status"] = 401
                st.log(**entry)
                return self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                                  [("WWW-Authenticate", ch),
                                   ("Docker-Distribution-API-Version", "registry/2.0")])

        # ---- Basic challenge
        if st.basic and path.startswith("/v2"):
            if auth != "Basic " + base64.b64encode(st.basic.encode()).decode():
                self.read_body()
                entry["status"] = 401
                st.log(**entry)
                return self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                                  [("WWW-Authenticate", 'Basic realm="push-test"'),
                                   ("Docker-Distribution-API-Version", "registry/2.0")])

        # ---- faults
        if a.redirect_blobs and is_blob_get:
            entry.update(status=307, redirect=a.redirect_blobs + path)
            st.log(**entry)
            return self.reply(307, b"", [("Location", a.redirect_blobs + path)])
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
        if a.fault in ("trickle-upload", "stall-upload") and is_upload:
            self.read_body()
            entry.update(status=0, fault=a.fault)
            st.log(**entry)
            self.close_connection = True
            try:
                if a.fault == "trickle-upload":
                    self.wfile.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 100000000\r\n\r\n")
                    while True:
                        self.wfile.write(b" " * 512)
                        self.wfile.flush()
                        time.sleep(0.25)
                else:
                    time.sleep(600)
            except OSError:
                pass
            return None
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
        if a.bearer or a.basic:
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
        if a.corrupt and is_blob_get and path.endswith("/" + a.corrupt) and data and \
                r.status in (200, 206):
            data = data[:-1] + bytes([data[-1] ^ 0xff])
            entry["corrupted"] = True
        st.log(**entry)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                if (k.lower() == "location" and a.location_origin and
                        "/blobs/uploads/" in path and method in ("POST", "PATCH")):
                    u = urllib.parse.urlsplit(v)
                    v = a.location_origin + urllib.parse.urlunsplit(("", "", u.path, u.query, ""))
                    entry["location"] = v
                    st.log(rewrote=v)
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
    if args.tls:
        import ssl
        cert, key = args.tls.split(",", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


def fake_conn(c, mode, log):
    """One connection to the fake server (see the module comment)."""
    with log[1]:
        log[0].write(json.dumps({"mode": mode, "t": round(time.time(), 3)}) + "\n")
        log[0].flush()
    try:
        c.settimeout(600)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            got = c.recv(65536)
            if not got:
                return
            data += got
        if mode == "garbage":
            c.sendall(b"SSH-2.0-OpenSSH_9.2 not a registry\r\n")
        elif mode == "junk":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n{}")
        elif mode == "endless":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
            while True:
                c.sendall(chunk)
        elif mode == "trickle":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100000000\r\n\r\n")
            while True:
                c.sendall(b" " * 512)
                time.sleep(0.25)
        elif mode == "huge":
            if data.startswith(b"GET /v2/ "):
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
            else:
                n = 5 << 20
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
                          b"application/vnd.oci.image.manifest.v1+json\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % n)
                c.sendall(b"{" + b" " * (n - 2) + b"}")
        elif mode == "stall":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
            time.sleep(600)
    except OSError:
        pass
    finally:
        c.close()


def cmd_fake(args):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", args.port))
    s.listen(64)
    log = (open(args.log, "a"), threading.Lock())
    while True:
        c, _ = s.accept()
        threading.Thread(target=fake_conn, args=(c, args.mode, log), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fault", default="",
                   choices=["", "503-once", "drop-once", "manifest-500", "blob-400", "blob-503",
                            "trickle-upload", "stall-upload"])
    p.add_argument("--drop-min", type=int, default=1 << 20)
    p.add_argument("--match-range", default="")
    p.add_argument("--match-method", default="")
    p.add_argument("--bearer", default="")
    p.add_argument("--close", action="store_true")
    p.add_argument("--token", default="")
    p.add_argument("--refresh", default="")
    p.add_argument("--realm", default="")
    p.add_argument("--basic", default="")
    p.add_argument("--location-origin", default="")
    p.add_argument("--tls", default="")
    p.add_argument("--corrupt", default="")
    p.add_argument("--redirect-blobs", default="")
    f = sub.add_parser("fake")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--mode", required=True, choices=["garbage", "junk", "endless", "trickle", "stall", "huge"])
    f.add_argument("--log", required=True)
    args = ap.parse_args()
    return {"proxy": cmd_proxy, "fake": cmd_fake}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main() or 0)
