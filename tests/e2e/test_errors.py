"""Error answers: the JSON envelope, status + code per failure, 405, and --read-only."""
import json
import os

from phtest import ServerTest, Server, error_code, sha256, tree, desc, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER

GOOD = sha256(b"x")


class TestErrorEnvelope(ServerTest):
    def check(self, method, path, status, code, body=None, headers=None):
        st, h, got = self.srv.request(method, path, body=body, headers=headers)
        self.assertEqual(st, status, (method, path, got))
        self.assertEqual(h["content-type"], "application/json; charset=utf-8", (method, path))
        doc = json.loads(got)
        self.assertEqual(list(doc), ["errors"])
        self.assertEqual(len(doc["errors"]), 1)
        err = doc["errors"][0]
        self.assertEqual(err["code"], code, (method, path))
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        self.assertEqual(h["content-length"], str(len(got)))
        return h, err

    def test_name_invalid(self):
        for path in ("/v2/Upper/Case/tags/list", "/v2/a//b/tags/list", "/v2/a/b-/manifests/v1",
                     "/v2/-a/blobs/" + GOOD, "/v2/a..b/blobs/uploads/", "/v2/%s/tags/list" % ("a" * 256),
                     "/v2/a/_b/manifests/latest"):
            method = "POST" if path.endswith("/uploads/") else "GET"
            self.check(method, path, 400, "NAME_INVALID")

    def test_digest_invalid(self):
        for dg in ("sha256:xyz", "sha256:" + "A" * 64, "md5:d41d8cd98f00b204e9800998ecf8427e",
                   "sha256:" + "0" * 63, "sha512:" + "0" * 64, "sha256:"):
            self.check("GET", "/v2/repo/blobs/" + dg, 400, "DIGEST_INVALID")
            self.check("GET", "/v2/repo/manifests/" + dg, 400, "DIGEST_INVALID")
        self.check("POST", "/v2/repo/blobs/uploads/?digest=sha256:xyz", 400, "DIGEST_INVALID", body=b"x")

    def test_blob_unknown(self):
        h, err = self.check("GET", "/v2/repo/blobs/" + GOOD, 404, "BLOB_UNKNOWN")
        self.assertEqual(err["detail"], GOOD)
        self.check("DELETE", "/v2/repo/blobs/" + GOOD, 404, "BLOB_UNKNOWN")
        st, h, body = self.srv.request("HEAD", "/v2/repo/blobs/" + GOOD)
        self.assertEqual((st, body), (404, b""))

    def test_manifest_unknown(self):
        self.check("GET", "/v2/repo/manifests/latest", 404, "MANIFEST_UNKNOWN")
        self.check("GET", "/v2/repo/manifests/" + GOOD, 404, "MANIFEST_UNKNOWN")
        self.check("DELETE", "/v2/repo/manifests/latest", 404, "MANIFEST_UNKNOWN")
        # a reference that can be no tag is simply unknown on GET
        self.check("GET", "/v2/repo/manifests/-nope", 404, "MANIFEST_UNKNOWN")

    def test_blob_upload_unknown(self):
        for path in ("/v2/repo/blobs/uploads/" + "0" * 32, "/v2/repo/blobs/uploads/not-an-id"):
            self.check("GET", path, 404, "BLOB_UPLOAD_UNKNOWN")
            self.check("PATCH", path, 404, "BLOB_UPLOAD_UNKNOWN", body=b"abc")
            self.check("PUT", path + "?digest=" + GOOD, 404, "BLOB_UPLOAD_UNKNOWN", body=b"x")
            self.check("DELETE", path, 404, "BLOB_UPLOAD_UNKNOWN")

    def test_wrong_method_is_405_unsupported_with_allow(self):
        cases = [
            ("POST", "/v2/", "GET, HEAD"),
            ("DELETE", "/v2/_catalog", "GET, HEAD"),
            ("PUT", "/v2/repo/tags/list", "GET, HEAD"),
            ("POST", "/v2/repo/manifests/latest", "GET, HEAD, PUT, DELETE"),
            ("PATCH", "/v2/repo/manifests/latest", "GET, HEAD, PUT, DELETE"),
            ("PUT", "/v2/repo/blobs/" + GOOD, "GET, HEAD, DELETE"),
            ("POST", "/v2/repo/blobs/" + GOOD, "GET, HEAD, DELETE"),
            ("GET", "/v2/repo/blobs/uploads/", "POST"),
            ("POST", "/v2/repo/blobs/uploads/" + "0" * 32, "GET, PATCH, PUT, DELETE"),
            ("DELETE", "/v2/repo/referrers/" + GOOD, "GET, HEAD"),
            ("OPTIONS", "/v2/", "GET, HEAD"),
            ("PUT", "/readyz", "GET, HEAD"),
        ]
        for method, path, allow in cases:
            h, err = self.check(method, path, 405, "UNSUPPORTED")
            self.assertEqual(h["allow"], allow, (method, path))

    def test_unknown_endpoint_is_404(self):
        for path in ("/", "/v1/", "/v2/repo", "/v2/repo/other/thing", "/v2/repo/blobs/uploads/x/y"):
            self.check("GET", path, 404, "NOT_FOUND")

    def test_percent_encoded_name_is_decoded(self):
        self.srv.push_blob("enc/repo", b"x")
        st, h, body = self.srv.request("GET", "/v2/enc%2Frepo/blobs/" + GOOD)
        self.assertEqual((st, body), (200, b"x"))
        self.check("GET", "/v2/enc%2/blobs/" + GOOD, 404, "NOT_FOUND")


CONFIG = b'{"os":"linux"}'


class TestReadOnly(ServerTest):
    def setUp(self):
        super().setUp()
        self.layer = b"read-only layer"
        self.srv.push_blob("ro/repo", CONFIG)
        self.ld = self.srv.push_blob("ro/repo", self.layer)
        self.body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": desc(OCI_CONFIG, CONFIG),
                                "layers": [desc(OCI_LAYER, self.layer)]}).encode()
        st, h, b = self.srv.push_manifest("ro/repo", "v1", self.body)
        self.assertEqual(st, 201, b)
        # a session opened before the restart: a read-only start leaves the
        # disk alone, so its file stays (a writable start would clear it)
        st, h, _ = self.srv.request("POST", "/v2/ro/repo/blobs/uploads/")
        self.upload = h["location"]
        self.srv.stop()
        left = os.listdir(os.path.join(self.srv.root, "uploads"))
        self.ro = Server(root=self.srv.root, args=["--read-only"])
        self.addCleanup(self.ro.stop)
        self.ro.start()
        self.before = tree(self.srv.root)
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), left)
        self.assertEqual(len(left), 1)

    def test_pulls_work(self):
        st, h, body = self.ro.request("GET", "/v2/ro/repo/manifests/v1")
        self.assertEqual((st, body), (200, self.body))
        st, h, body = self.ro.request("GET", "/v2/ro/repo/blobs/" + self.ld)
        self.assertEqual((st, body), (200, self.layer))
        st, h, body = self.ro.request("HEAD", "/v2/ro/repo/manifests/" + sha256(self.body))
        self.assertEqual(st, 200)
        st, h, body = self.ro.request("GET", "/v2/ro/repo/tags/list")
        self.assertEqual(json.loads(body)["tags"], ["v1"])
        st, h, body = self.ro.request("GET", "/v2/_catalog")
        self.assertEqual(json.loads(body)["repositories"], ["ro/repo"])
        st, h, body = self.ro.request("GET", "/v2/ro/repo/referrers/" + sha256(self.body))
        self.assertEqual(st, 200)

    def test_every_write_is_405_unsupported_and_store_unchanged(self):
        new = b"new blob"
        writes = [
            ("POST", "/v2/ro/repo/blobs/uploads/", None),
            ("POST", "/v2/ro/repo/blobs/uploads/?digest=" + sha256(new), new),
            ("POST", "/v2/other/blobs/uploads/?mount=%s&from=ro/repo" % self.ld, None),
            ("PATCH", self.upload, b"chunk"),
            ("PUT", self.upload + "?digest=" + sha256(new), new),
            ("DELETE", self.upload, None),
            ("PATCH", "/v2/ro/repo/blobs/uploads/" + "0" * 32, b"chunk"),
            ("PUT", "/v2/ro/repo/manifests/v2", self.body),
            ("PUT", "/v2/ro/repo/manifests/" + sha256(self.body) + "?tag=x", self.body),
            ("DELETE", "/v2/ro/repo/manifests/v1", None),
            ("DELETE", "/v2/ro/repo/manifests/" + sha256(self.body), None),
            ("DELETE", "/v2/ro/repo/blobs/" + self.ld, None),
        ]
        for method, path, body in writes:
            st, h, got = self.ro.request(method, path, body=body,
                                         headers={"Content-Type": OCI_MANIFEST} if "manifests" in path else {})
            self.assertEqual(st, 405, (method, path, got))
            self.assertEqual(error_code(got), "UNSUPPORTED", (method, path))
            self.assertEqual(h["content-type"], "application/json; charset=utf-8")
        # still all there, byte for byte
        st, h, got = self.ro.request("GET", "/v2/ro/repo/manifests/v1")
        self.assertEqual((st, got), (200, self.body))
        self.assertEqual(self.ro.request("GET", "/v2/ro/repo/blobs/" + self.ld)[0], 200)
        self.assertEqual(self.ro.request("GET", "/v2/ro/repo/blobs/" + sha256(new))[0], 404)
        self.assertEqual(self.ro.request("GET", "/v2/other/tags/list")[0], 404)
        self.ro.stop()
        self.assertEqual(tree(self.srv.root), self.before)
