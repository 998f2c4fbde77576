"""The HTTP layer: malformed input, limits, framing, pipelining, keep-alive,
timeouts, many connections, access logging, shutdown during a download."""
import json
import os
import re
import signal
import socket
import time

from phtest import ServerTest, Server, RawConn, error_code, sha256, wait_for

GET_BASE = b"GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n"


class HTTPTest(ServerTest):
    def assert_serving(self):
        """A fresh connection is still answered."""
        st, h, body = self.srv.request("GET", "/v2/")
        self.assertEqual((st, body), (200, b"{}"))

    def one_shot(self, data, status):
        """Send data on a new connection: one response with status, then close."""
        c = RawConn(self.srv)
        try:
            c.send(data)
            r = c.read_response()
            self.assertEqual(r.status, status, r.body)
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(r.header("content-type").startswith("application/json"))
            self.assertEqual(error_code(r.body), "BAD_REQUEST")
            self.assertTrue(c.closed_within(3), "connection left open")
            self.assertEqual(c.buf, b"")
            return r
        finally:
            c.close()


class TestMalformed(HTTPTest):
    def test_malformed_request_lines_are_400_and_server_keeps_serving(self):
        for line in (b"GARBAGE\r\n\r\n", b"GET /v2/\r\n\r\n", b"GET /v2/ HTTP/2.0\r\n\r\n",
                     b"GET  /v2/ HTTP/1.1\r\n\r\n", b"GET /v2/ HTTP/1.1 extra\r\n\r\n",
                     b"G(T /v2/ HTTP/1.1\r\n\r\n", b"GET /v2/\x01 HTTP/1.1\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"):
            self.one_shot(line, 400)
            self.assert_serving()

    def test_bad_headers_are_400(self):
        for hdr in (b"No-Colon\r\n", b"Bad Name: x\r\n", b"Name : x\r\n", b": empty\r\n",
                    b"X: ctl\x01char\r\n", b"X: a\r\n folded\r\n"):
            self.one_shot(b"GET /v2/ HTTP/1.1\r\nHost: t\r\n" + hdr + b"\r\n", 400)
        self.assert_serving()

    def test_header_line_over_the_limit_is_431(self):
        self.one_shot(b"GET /v2/ HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n", 431)
        self.assert_serving()

    def test_head_over_16k_is_431(self):
        hdrs = b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"p" * 400) for i in range(45))
        head = b"GET /v2/ HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n"
        self.assertGreater(len(head), 16384)
        self.one_shot(head, 431)
        self.assert_serving()

    def test_head_over_16k_sent_in_two_parts_is_431(self):
        # most of the head first, the rest (with its end) later: the limit
        # holds however the bytes arrive
        head = b"GET /v2/ HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 19000 + b"\r\n\r\n"
        c = RawConn(self.srv)
        try:
            c.send(head[:15000])
            time.sleep(0.1)
            c.send(head[15000:])
            r = c.read_response()
            self.assertEqual(r.status, 431)
            self.assertTrue(c.closed_within(3))
        finally:
            c.close()
        self.assert_serving()

    def test_head_just_under_16k_is_served(self):
        head = b"GET /v2/ HTTP/1.1\r\nHost: t\r\nX-Long: "
        head += b"a" * (16384 - len(head) - 4) + b"\r\n\r\n"
        self.assertEqual(len(head), 16384)
        c = RawConn(self.srv)
        try:
            c.send(head)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"{}"))
        finally:
            c.close()

    def test_too_many_headers(self):
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(64))
        c = RawConn(self.srv)
        try:
            c.send(b"GET /v2/ HTTP/1.1\r\n" + many + b"\r\n")  # exactly 64: fine
            self.assertEqual(c.read_response().status, 200)
        finally:
            c.close()
        r = self.one_shot(b"GET /v2/ HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n", 400)
        self.assert_serving()

    def test_conflicting_content_length_is_400(self):
        self.one_shot(b"POST /v2/r/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                      b"Content-Length: 4\r\n\r\nabcd", 400)
        self.one_shot(b"POST /v2/r/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400)
        self.one_shot(b"POST /v2/r/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nContent-Length: 1,1\r\n\r\n", 400)
        self.assert_serving()

    def test_equal_repeated_content_length_is_fine(self):
        data = b"abcd"
        c = RawConn(self.srv)
        try:
            c.send(b"POST /v2/r/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                   b"Content-Length: 4\r\n\r\n%s" % (sha256(data).encode(), data))
            self.assertEqual(c.read_response().status, 201)
        finally:
            c.close()

    def test_content_length_with_transfer_encoding_is_400(self):
        for order in ((b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n"),
                      (b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n")):
            self.one_shot(b"POST /v2/r/blobs/uploads/ HTTP/1.1\r\nHost: t\r\n" + b"".join(order) +
                          b"\r\n5\r\nhello\r\n0\r\n\r\n", 400)
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [])
        self.assert_serving()

    def test_unknown_transfer_coding_is_501(self):
        self.one_shot(b"POST /v2/r/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501)

    def test_unknown_expectation_is_417(self):
        self.one_shot(b"POST /v2/r/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nExpect: magic\r\n\r\n", 417)


class TestConnections(HTTPTest):
    def test_pipelined_requests_answered_in_order(self):
        blob = os.urandom(200000)
        d = self.srv.push_blob("pipe/line", blob)
        reqs = [("GET", "/v2/pipe/line/blobs/" + d), ("GET", "/v2/"), ("HEAD", "/v2/pipe/line/blobs/" + d),
                ("GET", "/v2/pipe/line/blobs/" + sha256(b"missing")), ("GET", "/v2/pipe/line/tags/list"),
                ("GET", "/v2/pipe/line/blobs/" + d)]
        c = RawConn(self.srv)
        try:
            c.send(b"".join(b"%s %s HTTP/1.1\r\nHost: t\r\n\r\n" % (m.encode(), p.encode()) for m, p in reqs))
            rs = [c.read_response(head_request=(m == "HEAD")) for m, p in reqs]
        finally:
            c.close()
        self.assertEqual([r.status for r in rs], [200, 200, 200, 404, 200, 200])
        self.assertEqual(rs[0].body, blob)
        self.assertEqual(rs[1].body, b"{}")
        self.assertEqual(rs[2].header("content-length"), str(len(blob)))
        self.assertEqual(error_code(rs[3].body), "BLOB_UNKNOWN")
        self.assertEqual(json.loads(rs[4].body), {"name": "pipe/line", "tags": []})
        self.assertEqual(rs[5].body, blob)

    def test_pipelined_uploads_with_bodies(self):
        parts = [b"first", b"second", b"third"]
        c = RawConn(self.srv)
        try:
            c.send(b"".join(b"POST /v2/pipe/bodies/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: t\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (sha256(p).encode(), len(p), p) for p in parts))
            for p in parts:
                r = c.read_response()
                self.assertEqual(r.status, 201)
                self.assertEqual(r.header("docker-content-digest"), sha256(p))
        finally:
            c.close()

    def test_unwanted_small_body_is_dropped_and_connection_kept(self):
        c = RawConn(self.srv)
        try:
            c.send(b"GET /v2/ HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world" + GET_BASE +
                   b"POST /v2/ HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
                   GET_BASE)
            for status in (200, 200, 405, 200):
                r = c.read_response()
                self.assertEqual(r.status, status)
                self.assertIsNone(r.header("connection"))
        finally:
            c.close()

    def test_unwanted_large_body_closes_and_says_so(self):
        c = RawConn(self.srv)
        try:
            c.send(b"POST /v2/ HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 405)
            self.assertEqual(error_code(r.body), "UNSUPPORTED")
            self.assertEqual(r.header("connection"), "close")
            try:
                c.send(b"x" * 3000000)  # the server drains a while, so this is no reset
            except OSError:
                pass
            self.assertTrue(c.closed_within(3))
            self.assertEqual(c.buf, b"")
        finally:
            c.close()
        self.assert_serving()

    def test_keep_alive_reuses_one_connection(self):
        c = self.srv.conn()
        try:
            c.request("GET", "/v2/")
            c.getresponse().read()
            sock = c.sock
            port = sock.getsockname()[1]
            for i in range(20):
                c.request("GET", "/v2/missing/blobs/" + sha256(b"%d" % i))
                r = c.getresponse()
                self.assertEqual(r.status, 404)
                r.read()
                self.assertIs(c.sock, sock)
                self.assertEqual(c.sock.getsockname()[1], port)
                self.assertIsNone(r.getheader("Connection"))
        finally:
            c.close()

    def test_http10_gets_response_and_close(self):
        c = RawConn(self.srv)
        try:
            c.send(b"GET /v2/ HTTP/1.0\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"{}"))
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_within(1.0))
        finally:
            c.close()

    def test_connection_close_is_honoured(self):
        c = RawConn(self.srv)
        try:
            c.send(b"GET /v2/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + GET_BASE)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_within(1.0))
            self.assertEqual(c.buf, b"")  # the pipelined second request is not answered
        finally:
            c.close()

    def test_200_connections_at_once(self):
        conns = [RawConn(self.srv, timeout=10) for _ in range(200)]
        try:
            for c in conns:
                c.send(GET_BASE)
            for c in conns:
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"{}"))
            # all still open and usable
            for c in conns:
                c.send(b"GET /v2/_catalog HTTP/1.1\r\nHost: t\r\n\r\n")
            for c in conns:
                self.assertEqual(c.read_response().status, 200)
        finally:
            for c in conns:
                c.close()
        self.assert_serving()


class TestTimeouts(HTTPTest):
    server_args = ("--header-timeout", "0.5", "--idle-timeout", "0.5", "--body-timeout", "0.5")

    def test_half_a_head_gets_408_and_close(self):
        c = RawConn(self.srv)
        try:
            t0 = time.monotonic()
            c.send(b"GET /v2/ HTTP/1.1\r\nHost: t\r\nX-Half: ")
            r = c.read_response()
            self.assertEqual(r.status, 408)
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_within(2.0))
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 0.45)
            self.assertLess(elapsed, 1.75)  # 0.5 s + the 1 s tick
        finally:
            c.close()
        self.assert_serving()

    def test_slow_but_steady_head_still_times_out(self):
        # the header deadline runs from the first byte, not the last
        c = RawConn(self.srv)
        try:
            t0 = time.monotonic()
            status = None
            for ch in b"GET /v2/ HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 100:
                try:
                    c.send(bytes([ch]))
                except OSError:
                    break
                if c.closed_within(0.05):
                    break
            r = c.read_response()
            self.assertEqual(r.status, 408)
            self.assertLess(time.monotonic() - t0, 2.0)
        finally:
            c.close()

    def test_idle_keep_alive_connection_is_closed(self):
        c = RawConn(self.srv)
        try:
            c.send(GET_BASE)
            self.assertEqual(c.read_response().status, 200)
            t0 = time.monotonic()
            self.assertTrue(c.closed_within(2.5))
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 0.45)
            self.assertLess(elapsed, 1.75)  # 0.5 s + the 1 s tick
            self.assertEqual(c.buf, b"")  # closed silently: no 408 for an idle connection
        finally:
            c.close()

    def test_stalled_body_is_dropped(self):
        st, h, _ = self.srv.request("POST", "/v2/slow/body/blobs/uploads/")
        c = RawConn(self.srv)
        try:
            c.send(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789" % h["location"]).encode())
            self.assertTrue(c.closed_within(2.5))
            self.assertEqual(c.buf, b"")
        finally:
            c.close()
        # the session is not left busy: it takes the rest of the data
        st, h2, _ = self.srv.request("PATCH", h["location"], body=b"abc")
        self.assertEqual(st, 202)
        self.assert_serving()


class TestLogging(HTTPTest):
    LINE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info |debug) 127\.0\.0\.1:\d+ '
                      r'"(?P<req>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) \d+\.\d{3}ms$')

    def request_lines(self, srv):
        out = []
        for line in srv.output().splitlines():
            m = self.LINE.match(line)
            if m:
                out.append((m.group("req"), int(m.group("status")), int(m.group("bytes"))))
        return out

    def test_one_line_per_request_and_no_readyz_at_default_level(self):
        blob = b"logged blob" * 1000
        d = self.srv.push_blob("log/repo", blob)
        self.srv.request("GET", "/readyz")
        self.srv.request("GET", "/healthz")
        self.srv.request("GET", "/v2/log/repo/blobs/" + d)
        st, h, missing = self.srv.request("GET", "/v2/log/repo/manifests/nope")
        self.srv.request("HEAD", "/v2/log/repo/blobs/" + d)
        want = [
            ("POST /v2/log/repo/blobs/uploads/?digest=" + d, 201, 0),
            ("GET /v2/log/repo/blobs/" + d, 200, len(blob)),
            ("GET /v2/log/repo/manifests/nope", 404, len(missing)),
            ("HEAD /v2/log/repo/blobs/" + d, 200, 0),
        ]
        got = wait_for(lambda: self.request_lines(self.srv) if len(self.request_lines(self.srv)) >= 4 else None)
        self.assertEqual(got, want)
        self.assertNotIn("/readyz", self.srv.output())
        self.assertNotIn("/healthz", self.srv.output())

    def test_bad_request_is_logged(self):
        self.srv.raw(b"GARBAGE\r\n\r\n", timeout=2)
        got = wait_for(lambda: self.request_lines(self.srv))
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][:2], ("-", 400))

    def test_readyz_logged_at_debug_level(self):
        dbg = Server(args=["--log-level", "debug"]).start()
        try:
            st, h, body = dbg.request("GET", "/readyz")
            self.assertEqual(st, 200)
            self.assertEqual(json.loads(body), {"ready": True})
            dbg.request("GET", "/v2/")
            got = wait_for(lambda: self.request_lines(dbg) if ("GET /v2/", 200, 2) in self.request_lines(dbg) else None)
            # start-up's own probe, then ours, then /v2/
            self.assertEqual(got[-2:], [("GET /readyz", 200, 15), ("GET /v2/", 200, 2)])
            self.assertIn("debug 127.0.0.1:", [l for l in dbg.output().splitlines() if "/readyz" in l][-1])
        finally:
            dbg.cleanup()


class TestShutdown(HTTPTest):
    def test_sigterm_during_blob_download_exits_zero_within_a_second(self):
        blob = os.urandom(32 * 1024 * 1024)
        d = self.srv.push_blob("big/dl", blob)
        c = RawConn(self.srv, rcvbuf=4096)
        try:
            c.send(("GET /v2/big/dl/blobs/%s HTTP/1.1\r\nHost: t\r\n\r\n" % d).encode())
            status, _, headers = c.read_head()
            self.assertEqual(status, 200)
            self.assertEqual(dict(headers)["content-length"], str(len(blob)))
            c.read_exact(100000)  # the download is under way, and stalls on our side
            time.sleep(0.1)
            rc, secs = self.srv.stop(signal.SIGTERM, timeout=3)
            self.assertEqual(rc, 0)
            self.assertLess(secs, 1.0)
            self.assertIn("stopped", self.srv.output())
        finally:
            c.close()

    def test_sigterm_during_upload_exits_zero_and_keeps_store_clean(self):
        st, h, _ = self.srv.request("POST", "/v2/up/stop/blobs/uploads/")
        c = RawConn(self.srv)
        try:
            c.send(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n" % h["location"]).encode())
            c.send(b"x" * 1000000)
            time.sleep(0.1)
            rc, secs = self.srv.stop(signal.SIGTERM, timeout=3)
            self.assertEqual(rc, 0)
            self.assertLess(secs, 1.0)
        finally:
            c.close()
        srv2 = Server(root=self.srv.root).start()
        try:
            self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [])
            self.assertEqual(srv2.request("GET", h["location"])[0], 404)
        finally:
            srv2.stop()
