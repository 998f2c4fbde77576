"""Blob pulls (end-2, end-10): GET/HEAD, Range (one range, several as
multipart/byteranges, If-Range), digests, large bodies, DELETE (the file's
blocks freed by the trash thread, off the loop)."""
import email.parser
import email.policy
import hashlib
import json
import os
import re
import subprocess
import time

from phtest import ServerTest, RawConn, assert_trashed, error_code, sha256

BLOB = bytes(range(256)) * 4 + b"tail-of-the-blob"  # 1040 bytes, every byte value


class TestBlobGet(ServerTest):
    def setUp(self):
        super().setUp()
        self.digest = self.srv.push_blob("blobs/one", BLOB)
        self.path = "/v2/blobs/one/blobs/" + self.digest

    def test_end2_get_blob_exact_bytes_and_digest(self):
        st, h, body = self.srv.request("GET", self.path)
        self.assertEqual(st, 200)
        self.assertEqual(body, BLOB)
        self.assertEqual(h["docker-content-digest"], self.digest)
        self.assertEqual(h["content-length"], str(len(BLOB)))
        self.assertEqual(h["content-type"], "application/octet-stream")
        self.assertEqual(h["accept-ranges"], "bytes")

    def test_end2_head_blob_has_length_and_no_body(self):
        # pipeline a GET /v2/ behind the HEAD: its response must start right
        # after the HEAD's head, which proves the HEAD carried no body
        c = RawConn(self.srv)
        try:
            c.send(("HEAD %s HTTP/1.1\r\nHost: t\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n"
                    % self.path).encode())
            r1 = c.read_response(head_request=True)
            self.assertEqual(r1.status, 200)
            self.assertEqual(r1.header("content-length"), str(len(BLOB)))
            self.assertEqual(r1.header("docker-content-digest"), self.digest)
            r2 = c.read_response()
            self.assertEqual(r2.status, 200)
            self.assertEqual(r2.body, b"{}")
        finally:
            c.close()

    def test_range_first_last(self):
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=10-19"})
        self.assertEqual(st, 206)
        self.assertEqual(body, BLOB[10:20])
        self.assertEqual(h["content-range"], "bytes 10-19/%d" % len(BLOB))
        self.assertEqual(h["content-length"], "10")
        self.assertEqual(h["docker-content-digest"], self.digest)

    def test_range_last_beyond_end_is_clamped(self):
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=1030-99999"})
        self.assertEqual(st, 206)
        self.assertEqual(body, BLOB[1030:])
        self.assertEqual(h["content-range"], "bytes 1030-1039/1040")

    def test_range_open_ended(self):
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=1000-"})
        self.assertEqual(st, 206)
        self.assertEqual(body, BLOB[1000:])
        self.assertEqual(h["content-range"], "bytes 1000-1039/1040")

    def test_range_suffix(self):
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=-16"})
        self.assertEqual(st, 206)
        self.assertEqual(body, b"tail-of-the-blob")
        self.assertEqual(h["content-range"], "bytes 1024-1039/1040")

    def test_range_suffix_longer_than_blob_is_whole_blob(self):
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=-5000"})
        self.assertEqual(st, 206)
        self.assertEqual(body, BLOB)
        self.assertEqual(h["content-range"], "bytes 0-1039/1040")

    def test_range_head_has_partial_length_no_body(self):
        c = RawConn(self.srv)
        try:
            c.send(("HEAD %s HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n"
                    "GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n" % self.path).encode())
            r1 = c.read_response(head_request=True)
            self.assertEqual(r1.status, 206)
            self.assertEqual(r1.header("content-length"), "10")
            self.assertEqual(r1.header("content-range"), "bytes 0-9/1040")
            self.assertEqual(c.read_response().body, b"{}")
        finally:
            c.close()

    def test_range_unsatisfiable_is_416_with_size(self):
        # last < first (bytes=20-10) is invalid: RFC 9110 14.2 lets a server
        # ignore or reject it, and the OCI conformance suite wants the 416
        for rng in ("bytes=1040-", "bytes=5000-6000", "bytes=20-10", "bytes=5-2", "bytes=-0"):
            st, h, body = self.srv.request("GET", self.path, headers={"Range": rng})
            self.assertEqual(st, 416, rng)
            self.assertEqual(h["content-range"], "bytes */1040", rng)
            self.assertTrue(h["content-type"].startswith("application/json"), rng)
            err = json.loads(body)["errors"][0]
            self.assertEqual(err["message"], "requested range not satisfiable", rng)

    def test_blob_of_other_repo_is_blob_unknown(self):
        st, h, body = self.srv.request("GET", "/v2/blobs/other/blobs/" + self.digest)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UNKNOWN")

    def test_empty_blob(self):
        d = self.srv.push_blob("blobs/one", b"")
        st, h, body = self.srv.request("GET", "/v2/blobs/one/blobs/" + d)
        self.assertEqual((st, body), (200, b""))
        self.assertEqual(h["content-length"], "0")
        self.assertEqual(h["docker-content-digest"], d)


def split_byteranges(content_type, body):
    """A strict multipart/byteranges splitter (RFC 9110 14.6, RFC 2046 5.1.1):
    [(first, last, size, bytes)] from the body, checking every delimiter,
    part head and the close; raises AssertionError on anything else."""
    m = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})", content_type)
    assert m, content_type
    delim = b"--" + m.group(1).encode()
    assert body.startswith(delim + b"\r\n"), body[:80]
    assert body.endswith(b"\r\n" + delim + b"--\r\n"), body[-80:]
    inner = body[len(delim) + 2:-(len(delim) + 6)]
    parts = []
    for chunk in inner.split(b"\r\n" + delim + b"\r\n"):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        assert sep, chunk[:200]
        lines = head.decode("ascii").split("\r\n")
        hdrs = dict((k.lower(), v.strip()) for k, v in (l.split(":", 1) for l in lines))
        assert set(hdrs) == {"content-type", "content-range"}, hdrs
        assert hdrs["content-type"] == "application/octet-stream", hdrs
        r = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", hdrs["content-range"])
        assert r, hdrs
        first, last, size = (int(x) for x in r.groups())
        assert len(data) == last - first + 1, (first, last, len(data))
        parts.append((first, last, size, data))
    return parts


def email_parts(content_type, body):
    """The same body through Python's email parser: [(Content-Range, bytes)]."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    assert msg.is_multipart() and not msg.defects, msg.defects
    return [(p["Content-Range"], p.get_payload(decode=True)) for p in msg.iter_parts()]


class TestBlobMultiRange(ServerTest):
    """Several ranges in one Range header: 206 multipart/byteranges (RFC 9110
    14.6), each part by sendfile; If-Range (RFC 9110 13.1.5)."""

    def setUp(self):
        super().setUp()
        self.digest = self.srv.push_blob("blobs/multi", BLOB)
        self.path = "/v2/blobs/multi/blobs/" + self.digest

    def get_parts(self, rng, method="GET", headers=None):
        h = {"Range": rng}
        h.update(headers or {})
        st, hd, body = self.srv.request(method, self.path, headers=h)
        self.assertEqual(st, 206, (rng, body[:200]))
        self.assertNotIn("content-range", hd)
        self.assertEqual(int(hd["content-length"]), len(body))
        self.assertEqual(hd["docker-content-digest"], self.digest)
        return hd, split_byteranges(hd["content-type"], body), body

    def test_end2_two_ranges_are_a_multipart_body_byte_exact(self):
        hd, parts, body = self.get_parts("bytes=0-9,20-29")
        self.assertEqual(parts, [(0, 9, 1040, BLOB[0:10]), (20, 29, 1040, BLOB[20:30])])
        self.assertEqual(email_parts(hd["content-type"], body),
                         [("bytes 0-9/1040", BLOB[0:10]), ("bytes 20-29/1040", BLOB[20:30])])

    def test_end2_ranges_keep_the_order_asked_and_are_not_merged(self):
        # what nginx and Go's http.ServeContent do; containers/image matches
        # the parts to its chunks by position
        hd, parts, _ = self.get_parts("bytes=500-599 , 10-19,20-29,\t-16,0-0")
        self.assertEqual([(a, b) for a, b, _, _ in parts],
                         [(500, 599), (10, 19), (20, 29), (1024, 1039), (0, 0)])
        for a, b, size, data in parts:
            self.assertEqual(data, BLOB[a:b + 1])

    def test_end2_overlapping_ranges_within_the_size_are_served_as_asked(self):
        _, parts, _ = self.get_parts("bytes=0-99,50-149")
        self.assertEqual([d for _, _, _, d in parts], [BLOB[0:100], BLOB[50:150]])

    def test_end2_ranges_asking_more_than_the_blob_get_the_whole_blob(self):
        # a range flood (RFC 9110 15.3.7.2): nginx and Go answer 200 whole
        for rng in ("bytes=0-,0-", "bytes=0-1039,5-5", "bytes=" + ",".join(["0-599"] * 2)):
            st, h, body = self.srv.request("GET", self.path, headers={"Range": rng})
            self.assertEqual((st, body), (200, BLOB), rng)
            self.assertNotIn("content-range", h)

    def test_end2_unsatisfiable_ranges_are_dropped_one_left_is_single_part(self):
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=5000-6000,10-19"})
        self.assertEqual(st, 206)
        self.assertEqual(h["content-range"], "bytes 10-19/1040")
        self.assertEqual(h["content-type"], "application/octet-stream")
        self.assertEqual(body, BLOB[10:20])

    def test_end2_no_satisfiable_range_is_416(self):
        for rng in ("bytes=5000-6000,1040-", "bytes=0-9,20-10", "bytes=-0,2000-"):
            st, h, body = self.srv.request("GET", self.path, headers={"Range": rng})
            self.assertEqual(st, 416, rng)
            self.assertEqual(h["content-range"], "bytes */1040", rng)
            self.assertEqual(error_code(body), "RANGE_NOT_SATISFIABLE", rng)

    def test_end2_malformed_range_sets_are_ignored(self):
        for rng in ("bytes=0-9;20-29", "bytes=0-9 20-29", "bytes=0-9,x", "bytes=0-9,bytes=20-29"):
            st, h, body = self.srv.request("GET", self.path, headers={"Range": rng})
            self.assertEqual((st, body), (200, BLOB), rng)

    def test_end2_head_has_the_get_head_and_no_body(self):
        get_h, _, body = self.get_parts("bytes=0-9,20-29")
        c = RawConn(self.srv)
        try:
            c.send(("HEAD %s HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9,20-29\r\n\r\n"
                    "GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n" % self.path).encode())
            r1 = c.read_response(head_request=True)
            self.assertEqual(r1.status, 206)
            self.assertEqual(r1.header("content-length"), get_h["content-length"])
            self.assertTrue(r1.header("content-type").startswith("multipart/byteranges; boundary="))
            self.assertIsNone(r1.header("content-range"))
            self.assertEqual(c.read_response().body, b"{}")
        finally:
            c.close()

    def test_end2_pipelined_multirange_gets_keep_the_connection_in_step(self):
        c = RawConn(self.srv)
        try:
            req = "GET %s HTTP/1.1\r\nHost: t\r\nRange: %%s\r\n\r\n" % self.path
            c.send(((req % "bytes=0-9,20-29") + (req % "bytes=-16,100-199,300-")
                    + "GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n").encode())
            r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
            self.assertEqual([d for _, _, _, d in split_byteranges(r1.header("content-type"), r1.body)],
                             [BLOB[0:10], BLOB[20:30]])
            self.assertEqual([d for _, _, _, d in split_byteranges(r2.header("content-type"), r2.body)],
                             [BLOB[1024:], BLOB[100:200], BLOB[300:]])
            self.assertEqual((r3.status, r3.body), (200, b"{}"))
            # every answer had its own boundary
            self.assertNotEqual(r1.header("content-type"), r2.header("content-type"))
        finally:
            c.close()

    def test_end2_at_most_1024_ranges_more_get_the_whole_blob(self):
        many = ",".join("%d-%d" % (i, i) for i in range(1024))
        _, parts, _ = self.get_parts("bytes=" + many)
        self.assertEqual(len(parts), 1024)
        self.assertEqual(b"".join(d for _, _, _, d in parts), BLOB[:1024])
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=%s,1039-" % many})
        self.assertEqual((st, body), (200, BLOB))
        self.assertIn("1024 ranges", self.srv.output())

    def test_end2_if_range_with_our_etag_honours_the_ranges(self):
        etag = '"%s"' % self.digest
        st, h, _ = self.srv.request("GET", self.path)
        self.assertEqual(h["etag"], etag)
        _, parts, _ = self.get_parts("bytes=0-9,20-29", headers={"If-Range": etag})
        self.assertEqual(len(parts), 2)
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=5-9", "If-Range": etag})
        self.assertEqual((st, body, h["content-range"]), (206, BLOB[5:10], "bytes 5-9/1040"))

    def test_end2_if_range_with_anything_else_is_the_whole_blob(self):
        other = sha256(b"other")
        for v in ('W/"%s"' % self.digest, '"%s"' % other, self.digest, '"%s"' % self.digest.upper(),
                  "Sun, 06 Nov 1994 08:49:37 GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                                  time.gmtime(time.time() + 86400)),
                  "garbage"):
            for rng in ("bytes=0-9,20-29", "bytes=0-9", "bytes=5000-"):
                st, h, body = self.srv.request("GET", self.path, headers={"Range": rng, "If-Range": v})
                self.assertEqual((st, body), (200, BLOB), (v, rng))
                self.assertNotIn("content-range", h)

    def test_end2_if_range_without_range_is_ignored(self):
        st, h, body = self.srv.request("GET", self.path, headers={"If-Range": '"x"'})
        self.assertEqual((st, body), (200, BLOB))

    def test_end2_curl_multirange_splits_byte_exact(self):
        out = subprocess.run(["curl", "-sS", "-D", "-", "-r", "0-9,20-29,1000-",
                              "http://127.0.0.1:%d%s" % (self.srv.port, self.path)],
                             capture_output=True, check=True).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        hd = dict((k.lower(), v.strip()) for k, v in
                  (l.split(":", 1) for l in head.decode().split("\r\n")[1:]))
        self.assertTrue(head.startswith(b"HTTP/1.1 206 "))
        self.assertEqual(int(hd["content-length"]), len(body))
        self.assertEqual(email_parts(hd["content-type"], body),
                         [("bytes 0-9/1040", BLOB[0:10]), ("bytes 20-29/1040", BLOB[20:30]),
                          ("bytes 1000-1039/1040", BLOB[1000:])])


class TestLargeBlob(ServerTest):
    def test_large_blob_sent_intact_via_sendfile(self):
        data = os.urandom(6 * 1024 * 1024 + 12345)
        d = self.srv.push_blob("big/blob", data)
        c = self.srv.conn(timeout=30)
        try:
            c.request("GET", "/v2/big/blob/blobs/" + d)
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Length"), str(len(data)))
            h = hashlib.sha256()
            n = 0
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
            self.assertEqual(n, len(data))
            self.assertEqual("sha256:" + h.hexdigest(), d)
            # and the same connection still serves a ranged read of the middle
            c.request("GET", "/v2/big/blob/blobs/" + d, headers={"Range": "bytes=3000000-3000099"})
            r = c.getresponse()
            self.assertEqual(r.status, 206)
            self.assertEqual(r.read(), data[3000000:3000100])
        finally:
            c.close()


    def test_large_blob_last_segment_is_not_held_back(self):
        # a range of more than one sendfile chunk is sent under TCP_CORK (full
        # segments); uncorking at its end flushes the last, short one.  Left
        # corked, the kernel would hold it 200 ms: every GET would take that long
        data = os.urandom(1024 * 1024 + 1)
        d = self.srv.push_blob("big/tail", data)
        c = self.srv.conn(timeout=30)
        took = []
        try:
            for _ in range(5):
                t0 = time.monotonic()
                c.request("GET", "/v2/big/tail/blobs/" + d)
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.read(), data)
                took.append(time.monotonic() - t0)
        finally:
            c.close()
        self.assertLess(min(took), 0.19, took)


class TestLargeBlobMultiRange(ServerTest):
    def test_end2_sixteen_ranges_of_a_large_blob_by_sendfile(self):
        data = os.urandom(6 * 1024 * 1024 + 12345)
        d = self.srv.push_blob("big/multi", data)
        step = len(data) // 16
        rngs = [(i * step, len(data) - 1 if i == 15 else (i + 1) * step - 1) for i in range(16)]
        rngs = rngs[1::2] + rngs[0::2]  # not in order either
        c = self.srv.conn(timeout=30)
        try:
            for _ in range(2):  # and again on the same connection
                c.request("GET", "/v2/big/multi/blobs/" + d,
                          headers={"Range": "bytes=" + ",".join("%d-%d" % r for r in rngs)})
                r = c.getresponse()
                body = r.read()
                self.assertEqual(r.status, 206)
                self.assertEqual(int(r.getheader("Content-Length")), len(body))
                parts = split_byteranges(r.getheader("Content-Type"), body)
                self.assertEqual([(a, b) for a, b, _, _ in parts], rngs)
                for a, b, size, part in parts:
                    self.assertEqual(size, len(data))
                    self.assertEqual(part, data[a:b + 1])
        finally:
            c.close()


class TestBlobDelete(ServerTest):
    def test_end10_delete_blob_202_then_404(self):
        d = self.srv.push_blob("del/blob", b"delete me")
        st, h, body = self.srv.request("DELETE", "/v2/del/blob/blobs/" + d)
        self.assertEqual(st, 202)
        self.assertEqual(body, b"")
        for method in ("GET", "HEAD"):
            st, h, body = self.srv.request(method, "/v2/del/blob/blobs/" + d)
            self.assertEqual(st, 404, method)
        st, h, body = self.srv.request("GET", "/v2/del/blob/blobs/" + d)
        self.assertEqual(error_code(body), "BLOB_UNKNOWN")
        # the bytes are gone from the store when no repository holds them
        self.assertFalse(os.path.exists(os.path.join(self.srv.root, "blobs/sha256", d[7:])))
        st, h, body = self.srv.request("DELETE", "/v2/del/blob/blobs/" + d)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UNKNOWN")

    def test_delete_blob_in_one_repo_keeps_it_in_another(self):
        d = self.srv.push_blob("del/a", b"shared bytes")
        self.srv.push_blob("del/b", b"shared bytes")
        self.assertEqual(self.srv.request("DELETE", "/v2/del/a/blobs/" + d)[0], 202)
        self.assertEqual(self.srv.request("GET", "/v2/del/a/blobs/" + d)[0], 404)
        st, h, body = self.srv.request("GET", "/v2/del/b/blobs/" + d)
        self.assertEqual((st, body), (200, b"shared bytes"))

    def test_delete_of_a_large_blob_leaves_its_removal_to_the_trash_thread(self):
        """The loop renames the file into uploads/ (cheap) and the trash thread
        unlinks it there (freeing 32 MiB of blocks, the slow part): gone from
        blobs/ when the 202 arrives, and from uploads/ soon after, with no
        descriptor of the server left on it, so its space is back."""
        data = os.urandom(32 << 20)
        d = self.srv.push_blob("del/big", data)
        assert_trashed(self, self.srv, lambda: self.srv.request("DELETE", "/v2/del/big/blobs/" + d), d)
        st, _, body = self.srv.request("GET", "/v2/del/big/blobs/" + d)
        self.assertEqual((st, error_code(body)), (404, "BLOB_UNKNOWN"))
        self.assertEqual(self.srv.request("HEAD", "/v2/del/big/blobs/" + d)[0], 404)
        # the digest is free at once: the same bytes again are a new blob
        self.assertEqual(self.srv.push_blob("del/big", data), d)
        st, _, body = self.srv.request("GET", "/v2/del/big/blobs/" + d)
        self.assertEqual((st, sha256(body)), (200, d))

