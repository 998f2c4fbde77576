"""Blob pulls (end-2, end-10): GET/HEAD, Range, digests, large bodies, DELETE."""
import hashlib
import json
import os

from phtest import ServerTest, RawConn, error_code, sha256

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

    def test_range_multiple_ranges_ignored_whole_body(self):
        st, h, body = self.srv.request("GET", self.path, headers={"Range": "bytes=0-1,5-6"})
        self.assertEqual(st, 200)
        self.assertEqual(body, BLOB)
        self.assertNotIn("content-range", h)

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
