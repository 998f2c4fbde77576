"""Blob uploads (end-4a/4b, end-5, end-6, end-11, end-13): sessions, chunks,
streamed and chunked-coded PATCH, closing PUT, cancel, Expect: 100-continue, mounts."""
import json
import os
import re
import time

from phtest import ServerTest, Server, RawConn, error_code, sha256, sha512, wait_for

LOC_RE = re.compile(r"^/v2/(?P<name>[a-z0-9/._-]+)/blobs/uploads/(?P<id>[0-9a-f]{32})$")


class UploadTest(ServerTest):
    repo = "up/load"

    def start_session(self, repo=None):
        repo = repo or self.repo
        st, h, body = self.srv.request("POST", "/v2/%s/blobs/uploads/" % repo)
        self.assertEqual(st, 202, body)
        m = LOC_RE.match(h["location"])
        self.assertIsNotNone(m, h["location"])
        self.assertEqual(m.group("name"), repo)
        return h["location"], m.group("id"), h

    def assert_upload_headers(self, h, loc, size):
        self.assertEqual(h["location"], loc)
        self.assertEqual(h["range"], "0-%d" % (size - 1 if size else 0))
        self.assertEqual(h["docker-upload-uuid"], LOC_RE.match(loc).group("id"))

    def assert_blob(self, digest, data, repo=None):
        st, h, body = self.srv.request("GET", "/v2/%s/blobs/%s" % (repo or self.repo, digest))
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        self.assertEqual(h["docker-content-digest"], digest)

    def assert_no_blob(self, digest, repo=None):
        st, h, body = self.srv.request("GET", "/v2/%s/blobs/%s" % (repo or self.repo, digest))
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UNKNOWN")


class TestSessions(UploadTest):
    def test_end4a_post_without_digest_opens_session(self):
        loc, uid, h = self.start_session()
        self.assertEqual(h["range"], "0-0")
        self.assertEqual(h["docker-upload-uuid"], uid)
        self.assertEqual(h["content-length"], "0")

    def test_end4b_monolithic_post_with_digest(self):
        data = b"monolithic blob body"
        d = sha256(data)
        st, h, body = self.srv.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.repo, d), body=data)
        self.assertEqual(st, 201)
        self.assertEqual(h["location"], "/v2/%s/blobs/%s" % (self.repo, d))
        self.assertEqual(h["docker-content-digest"], d)
        self.assert_blob(d, data)

    def test_monolithic_post_sha512(self):
        data = b"sha512 blob body"
        d = sha512(data)
        st, h, body = self.srv.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.repo, d), body=data)
        self.assertEqual(st, 201)
        self.assertEqual(h["docker-content-digest"], d)
        self.assert_blob(d, data)
        self.assertTrue(os.path.isfile(os.path.join(self.srv.root, "blobs/sha512", d[7:])))

    def test_monolithic_post_wrong_digest_is_digest_invalid(self):
        data = b"these are not the bytes"
        wrong = sha256(b"other bytes")
        st, h, body = self.srv.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.repo, wrong), body=data)
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "DIGEST_INVALID")
        self.assert_no_blob(wrong)
        self.assert_no_blob(sha256(data))
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [])

    def test_end6_put_with_whole_body_closes_session(self):
        loc, uid, _ = self.start_session()
        data = b"put it all at once"
        d = sha256(data)
        st, h, body = self.srv.request("PUT", "%s?digest=%s" % (loc, d), body=data,
                                       headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(st, 201)
        self.assertEqual(h["location"], "/v2/%s/blobs/%s" % (self.repo, d))
        self.assertEqual(h["docker-content-digest"], d)
        self.assert_blob(d, data)
        # the session is gone once committed
        st, h, body = self.srv.request("GET", loc)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UPLOAD_UNKNOWN")


class TestChunks(UploadTest):
    def test_end5_patch_chunks_then_put_without_body(self):
        loc, uid, _ = self.start_session()
        data = b"0123456789abcdefghij"
        st, h, body = self.srv.request("PATCH", loc, body=data[:7],
                                       headers={"Content-Range": "0-6", "Content-Type": "application/octet-stream"})
        self.assertEqual(st, 202)
        self.assert_upload_headers(h, loc, 7)
        st, h, body = self.srv.request("PATCH", loc, body=data[7:],
                                       headers={"Content-Range": "7-19", "Content-Type": "application/octet-stream"})
        self.assertEqual(st, 202)
        self.assert_upload_headers(h, loc, 20)
        d = sha256(data)
        st, h, body = self.srv.request("PUT", "%s?digest=%s" % (loc, d), body=b"")
        self.assertEqual(st, 201)
        self.assertEqual(h["docker-content-digest"], d)
        self.assertEqual(h["location"], "/v2/%s/blobs/%s" % (self.repo, d))
        self.assert_blob(d, data)

    def test_end6_put_with_last_chunk(self):
        loc, uid, _ = self.start_session()
        data = b"first part|last part"
        st, h, _ = self.srv.request("PATCH", loc, body=data[:11], headers={"Content-Range": "0-10"})
        self.assertEqual(st, 202)
        d = sha256(data)
        st, h, body = self.srv.request("PUT", "%s?digest=%s" % (loc, d), body=data[11:],
                                       headers={"Content-Range": "11-%d" % (len(data) - 1)})
        self.assertEqual(st, 201)
        self.assertEqual(h["docker-content-digest"], d)
        self.assert_blob(d, data)

    def test_content_range_bytes_form_is_accepted(self):
        loc, _, _ = self.start_session()
        st, h, _ = self.srv.request("PATCH", loc, body=b"abcde", headers={"Content-Range": "bytes 0-4/5"})
        self.assertEqual(st, 202)
        self.assert_upload_headers(h, loc, 5)

    def test_end8a_patch_out_of_order_is_416(self):
        loc, uid, _ = self.start_session()
        st, h, _ = self.srv.request("PATCH", loc, body=b"abcde", headers={"Content-Range": "0-4"})
        self.assertEqual(st, 202)
        for rng in ("10-14", "0-4", "3-7"):
            st, h, body = self.srv.request("PATCH", loc, body=b"fghij", headers={"Content-Range": rng})
            self.assertEqual(st, 416, rng)
            self.assertEqual(error_code(body), "BLOB_UPLOAD_INVALID")
            self.assert_upload_headers(h, loc, 5)
        # a Content-Range whose length disagrees with the body is refused too
        st, h, body = self.srv.request("PATCH", loc, body=b"fghij", headers={"Content-Range": "5-10"})
        self.assertEqual(st, 416)
        self.assert_upload_headers(h, loc, 5)
        # the session is intact: the right chunk still goes on
        st, h, _ = self.srv.request("PATCH", loc, body=b"fghij", headers={"Content-Range": "5-9"})
        self.assertEqual(st, 202)
        self.assert_upload_headers(h, loc, 10)
        d = sha256(b"abcdefghij")
        self.assertEqual(self.srv.request("PUT", "%s?digest=%s" % (loc, d))[0], 201)
        self.assert_blob(d, b"abcdefghij")

    def test_malformed_content_range_is_400(self):
        loc, _, _ = self.start_session()
        st, h, body = self.srv.request("PATCH", loc, body=b"abc", headers={"Content-Range": "zero-two"})
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "BLOB_UPLOAD_INVALID")

    def test_streamed_patch_without_content_range(self):
        loc, uid, _ = self.start_session()
        parts = [b"stream-", b"ed ", b"upload " * 1000]
        size = 0
        for p in parts:
            st, h, _ = self.srv.request("PATCH", loc, body=p, headers={"Content-Type": "application/octet-stream"})
            size += len(p)
            self.assertEqual(st, 202)
            self.assert_upload_headers(h, loc, size)
        data = b"".join(parts)
        d = sha256(data)
        self.assertEqual(self.srv.request("PUT", "%s?digest=%s" % (loc, d))[0], 201)
        self.assert_blob(d, data)

    def test_patch_transfer_encoding_chunked_odd_sizes_and_extensions(self):
        loc, uid, _ = self.start_session()
        data = os.urandom(70000)
        pieces = [data[:1], data[1:8], data[8:8 + 0x1a3], data[8 + 0x1a3:65536 + 17], data[65536 + 17:]]
        body = b""
        for i, p in enumerate(pieces):
            ext = [b"", b";name=value", b'; quoted="a;b"', b";x", b""][i]
            body += b"%x%s\r\n%s\r\n" % (len(p), ext, p)
        body += b"0\r\nX-Trailer: ignored\r\n\r\n"
        head = ("PATCH %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % loc).encode()
        c = RawConn(self.srv)
        try:
            c.send(head)
            # dribble the body in awkward splits: inside size lines, CRLFs and data
            cuts = [1, 2, 5, 9, 30, 500, 501, 40000, len(body)]
            prev = 0
            for cut in cuts:
                c.send(body[prev:cut])
                prev = cut
                time.sleep(0.002)
            r = c.read_response()
            self.assertEqual(r.status, 202, r.body)
            self.assertEqual(r.header("location"), loc)
            self.assertEqual(r.header("range"), "0-%d" % (len(data) - 1))
            # the connection is still usable: status of the same upload
            c.send(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % loc).encode())
            r = c.read_response()
            self.assertEqual(r.status, 204)
            self.assertEqual(r.header("range"), "0-%d" % (len(data) - 1))
        finally:
            c.close()
        d = sha256(data)
        self.assertEqual(self.srv.request("PUT", "%s?digest=%s" % (loc, d))[0], 201)
        self.assert_blob(d, data)

    def test_malformed_chunked_body_is_400_and_closes(self):
        loc, uid, _ = self.start_session()
        c = RawConn(self.srv)
        try:
            c.send(("PATCH %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nabcde\r\nzz\r\n" % loc).encode())
            r = c.read_response()
            self.assertEqual(r.status, 400)
            self.assertEqual(error_code(r.body), "BLOB_UPLOAD_INVALID")
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_within(3))
        finally:
            c.close()

    def test_end13_get_upload_status_204_with_range(self):
        loc, uid, _ = self.start_session()
        self.srv.request("PATCH", loc, body=b"x" * 33, headers={"Content-Range": "0-32"})
        st, h, body = self.srv.request("GET", loc)
        self.assertEqual(st, 204)
        self.assertEqual(body, b"")
        self.assert_upload_headers(h, loc, 33)
        self.assertNotIn("content-length", h)

    def test_end11_delete_cancels_upload(self):
        loc, uid, _ = self.start_session()
        self.srv.request("PATCH", loc, body=b"abc")
        st, h, body = self.srv.request("DELETE", loc)
        self.assertEqual(st, 204)
        self.assertEqual(body, b"")
        for method, b in (("GET", None), ("PATCH", b"more"), ("PUT", b""), ("DELETE", None)):
            path = loc + ("?digest=" + sha256(b"abc") if method == "PUT" else "")
            st, h, body = self.srv.request(method, path, body=b)
            self.assertEqual(st, 404, method)
            self.assertEqual(error_code(body), "BLOB_UPLOAD_UNKNOWN", method)
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [])

    def test_put_wrong_digest_is_digest_invalid_and_nothing_served(self):
        loc, uid, _ = self.start_session()
        data = b"the real content"
        self.srv.request("PATCH", loc, body=data[:4], headers={"Content-Range": "0-3"})
        wrong = sha256(b"claimed content")
        st, h, body = self.srv.request("PUT", "%s?digest=%s" % (loc, wrong), body=data[4:])
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "DIGEST_INVALID")
        self.assert_no_blob(wrong)
        self.assert_no_blob(sha256(data))
        self.assertEqual(self.srv.request("HEAD", "/v2/%s/blobs/%s" % (self.repo, wrong))[0], 404)
        # the failed upload is cancelled and leaves nothing behind
        st, h, body = self.srv.request("GET", loc)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UPLOAD_UNKNOWN")
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "blobs/sha256")), [])
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [])
        # and no repository came into being
        st, h, body = self.srv.request("GET", "/v2/_catalog")
        self.assertEqual(json.loads(body), {"repositories": []})
        st, h, body = self.srv.request("GET", "/v2/%s/tags/list" % self.repo)
        self.assertEqual(error_code(body), "NAME_UNKNOWN")

    def test_put_without_digest_is_digest_invalid(self):
        loc, uid, _ = self.start_session()
        st, h, body = self.srv.request("PUT", loc, body=b"abc")
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "DIGEST_INVALID")
        st, h, body = self.srv.request("PUT", loc + "?digest=sha256:abc", body=b"abc")
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "DIGEST_INVALID")

    def test_upload_id_of_other_repo_is_unknown(self):
        loc, uid, _ = self.start_session()
        st, h, body = self.srv.request("GET", "/v2/other/repo/blobs/uploads/" + uid)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UPLOAD_UNKNOWN")
        st, h, body = self.srv.request("PATCH", "/v2/other/repo/blobs/uploads/" + uid, body=b"x")
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UPLOAD_UNKNOWN")


class TestExpectContinue(UploadTest):
    def test_patch_with_expect_gets_100_continue_before_final(self):
        loc, uid, _ = self.start_session()
        data = b"sent after 100 Continue"
        c = RawConn(self.srv)
        try:
            c.send(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                    "Expect: 100-continue\r\n\r\n" % (loc, len(data))).encode())
            status, reason, headers = c.read_head()
            self.assertEqual((status, reason), (100, "Continue"))
            self.assertEqual(headers, [])
            c.send(data)
            r = c.read_response()
            self.assertEqual(r.status, 202)
            self.assertEqual(r.header("range"), "0-%d" % (len(data) - 1))
            self.assertEqual(r.header("location"), loc)
        finally:
            c.close()
        d = sha256(data)
        self.assertEqual(self.srv.request("PUT", "%s?digest=%s" % (loc, d))[0], 201)
        self.assert_blob(d, data)

    def test_monolithic_post_with_expect(self):
        data = b"monolithic with expect"
        d = sha256(data)
        c = RawConn(self.srv)
        try:
            c.send(("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: t\r\n"
                    "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (self.repo, d, len(data))).encode())
            status, _, _ = c.read_head()
            self.assertEqual(status, 100)
            c.send(data)
            r = c.read_response()
            self.assertEqual(r.status, 201)
            self.assertEqual(r.header("docker-content-digest"), d)
        finally:
            c.close()
        self.assert_blob(d, data)

    def test_expect_on_unknown_upload_gets_final_answer_without_100(self):
        c = RawConn(self.srv)
        try:
            c.send(("PATCH /v2/%s/blobs/uploads/%s HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
                    "Expect: 100-continue\r\n\r\n" % (self.repo, "0" * 32)).encode())
            r = c.read_response()
            self.assertEqual(r.status, 404)
            self.assertEqual(error_code(r.body), "BLOB_UPLOAD_UNKNOWN")
            # the body was never invited: the server closes instead of waiting for it
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_within(3))
        finally:
            c.close()


class TestMount(UploadTest):
    def test_end11_mount_from_repo_is_201(self):
        data = b"mount me"
        d = self.srv.push_blob("src/repo", data)
        st, h, body = self.srv.request("POST", "/v2/dst/repo/blobs/uploads/?mount=%s&from=src/repo" % d)
        self.assertEqual(st, 201)
        self.assertEqual(h["location"], "/v2/dst/repo/blobs/" + d)
        self.assertEqual(h["docker-content-digest"], d)
        self.assert_blob(d, data, repo="dst/repo")
        # the mounted repository holds a link to the shared copy
        link = os.path.join(self.srv.root, "repos/dst/repo/_layout/blobs/sha256", d[7:])
        shared = os.path.join(self.srv.root, "blobs/sha256", d[7:])
        self.assertTrue(os.path.samefile(link, shared))

    def test_mount_unknown_digest_opens_session(self):
        d = sha256(b"nobody has this")
        st, h, body = self.srv.request("POST", "/v2/dst/repo/blobs/uploads/?mount=%s&from=src/repo" % d)
        self.assertEqual(st, 202)
        m = LOC_RE.match(h["location"])
        self.assertIsNotNone(m, h["location"])
        self.assertEqual(m.group("name"), "dst/repo")
        self.assertEqual(h["range"], "0-0")
        # and the session works
        st, h, _ = self.srv.request("PUT", "%s?digest=%s" % (h["location"], d), body=b"nobody has this")
        self.assertEqual(st, 201)
        self.assert_blob(d, b"nobody has this", repo="dst/repo")

    def test_anonymous_mount_finds_blob_anywhere(self):
        data = b"anonymous mount"
        d = self.srv.push_blob("some/where", data)
        st, h, body = self.srv.request("POST", "/v2/else/where/blobs/uploads/?mount=%s" % d)
        self.assertEqual(st, 201)
        self.assertEqual(h["location"], "/v2/else/where/blobs/" + d)
        self.assertEqual(h["docker-content-digest"], d)
        self.assert_blob(d, data, repo="else/where")

    def test_mount_invalid_digest_is_400(self):
        st, h, body = self.srv.request("POST", "/v2/dst/repo/blobs/uploads/?mount=sha256:nothex&from=a")
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "DIGEST_INVALID")

    def test_mount_invalid_from_is_name_invalid(self):
        d = self.srv.push_blob("src/repo", b"x")
        st, h, body = self.srv.request("POST", "/v2/dst/repo/blobs/uploads/?mount=%s&from=Bad/Name" % d)
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "NAME_INVALID")


class TestUploadExpiry(UploadTest):
    server_args = ("--upload-expiry", "0.3")

    def test_idle_upload_expires(self):
        loc, uid, _ = self.start_session()
        self.srv.request("PATCH", loc, body=b"abc")
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [uid])
        gone = wait_for(lambda: self.srv.request("GET", loc)[0] == 404, timeout=3.0, step=0.1)
        self.assertTrue(gone)
        st, h, body = self.srv.request("GET", loc)
        self.assertEqual(error_code(body), "BLOB_UPLOAD_UNKNOWN")
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [])
