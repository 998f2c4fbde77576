"""Manifests (end-3, end-7, end-9): push, pull by tag and digest, exact bytes,
media types, artifacts, subject, tag parameters, validation, Accept, DELETE."""
import json

from phtest import (ServerTest, Server, RawConn, assert_trashed, error_code, sha256, sha512, desc,
                    OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER, OCI_EMPTY,
                    DOCKER_MANIFEST, DOCKER_LIST, DOCKER_CONFIG, DOCKER_LAYER)

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER1 = b"layer one bytes"
LAYER2 = b"layer two bytes"


def image(config_mt=OCI_CONFIG, layer_mt=OCI_LAYER, mt=OCI_MANIFEST, layers=(LAYER1, LAYER2), **extra):
    m = {"schemaVersion": 2, "mediaType": mt, "config": desc(config_mt, CONFIG),
         "layers": [desc(layer_mt, l) for l in layers]}
    m.update(extra)
    return json.dumps(m).encode()


class ManifestTest(ServerTest):
    repo = "man/ifest"

    def push_blobs(self, repo=None, blobs=(CONFIG, LAYER1, LAYER2)):
        for b in blobs:
            self.srv.push_blob(repo or self.repo, b)

    def put(self, ref, body, mt=OCI_MANIFEST, repo=None, query=""):
        return self.srv.req("PUT", "/v2/%s/manifests/%s%s" % (repo or self.repo, ref, query), body=body,
                            headers={"Content-Type": mt} if mt else {})

    def assert_pull(self, ref, body, mt, repo=None):
        st, h, got = self.srv.request("GET", "/v2/%s/manifests/%s" % (repo or self.repo, ref))
        self.assertEqual(st, 200, got)
        self.assertEqual(got, body)
        self.assertEqual(h["content-type"], mt)
        self.assertEqual(h["docker-content-digest"], sha256(body))
        self.assertEqual(h["content-length"], str(len(body)))

    def assert_unknown(self, ref, repo=None):
        for method in ("GET", "HEAD"):
            st, h, got = self.srv.request(method, "/v2/%s/manifests/%s" % (repo or self.repo, ref))
            self.assertEqual(st, 404, (method, ref))
            if method == "GET":
                self.assertEqual(error_code(got), "MANIFEST_UNKNOWN")


class TestPushPull(ManifestTest):
    def test_end7_put_by_tag_then_get_by_tag_and_digest_exact_bytes(self):
        self.push_blobs()
        # odd whitespace, CRLFs, tabs and key order: the bytes must come back unchanged
        body = ('{\r\n\t"layers" : [ %s ,\n  %s],\n "config":{"size":%d , "digest":"%s",'
                '"mediaType":"%s"},   "mediaType":"%s",\n"schemaVersion" :2 ,'
                '"annotations":{"z":"1","a":"\\u00e9"}}\n\n') % (
            json.dumps(desc(OCI_LAYER, LAYER1), indent=3), json.dumps(desc(OCI_LAYER, LAYER2)),
            len(CONFIG), sha256(CONFIG), OCI_CONFIG, OCI_MANIFEST)
        body = body.encode()
        r = self.put("v1", body)
        self.assertEqual(r.status, 201, r.body)
        d = sha256(body)
        self.assertEqual(r.header("docker-content-digest"), d)
        self.assertEqual(r.header("location"), "/v2/%s/manifests/%s" % (self.repo, d))
        self.assertIsNone(r.header("oci-subject"))
        self.assert_pull("v1", body, OCI_MANIFEST)
        self.assert_pull(d, body, OCI_MANIFEST)

    def test_end3_head_manifest_has_length_digest_and_no_body(self):
        self.push_blobs()
        body = image()
        self.assertEqual(self.put("v1", body).status, 201)
        c = RawConn(self.srv)
        try:
            c.send(("HEAD /v2/%s/manifests/v1 HTTP/1.1\r\nHost: t\r\n\r\n"
                    "HEAD /v2/%s/manifests/%s HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n" % (self.repo, self.repo, sha256(body))).encode())
            for _ in range(2):
                r = c.read_response(head_request=True)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("content-length"), str(len(body)))
                self.assertEqual(r.header("content-type"), OCI_MANIFEST)
                self.assertEqual(r.header("docker-content-digest"), sha256(body))
            self.assertEqual(c.read_response().body, b"{}")
        finally:
            c.close()

    def test_content_type_is_pushed_type_for_each_manifest_kind(self):
        self.push_blobs(blobs=(CONFIG, LAYER1, LAYER2))
        oci = image()
        docker = image(config_mt=DOCKER_CONFIG, layer_mt=DOCKER_LAYER, mt=DOCKER_MANIFEST)
        plat = {"architecture": "amd64", "os": "linux"}
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                            "manifests": [desc(OCI_MANIFEST, oci, platform=plat)]}).encode()
        mlist = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST,
                            "manifests": [desc(DOCKER_MANIFEST, docker, platform=plat)]}).encode()
        for tag, body, mt in (("oci", oci, OCI_MANIFEST), ("docker", docker, DOCKER_MANIFEST),
                              ("index", index, OCI_INDEX), ("list", mlist, DOCKER_LIST)):
            r = self.put(tag, body, mt=mt)
            self.assertEqual(r.status, 201, (tag, r.body))
            self.assert_pull(tag, body, mt)
            self.assert_pull(sha256(body), body, mt)
            st, h, _ = self.srv.request("HEAD", "/v2/%s/manifests/%s" % (self.repo, tag))
            self.assertEqual(h["content-type"], mt)

    def test_index_without_mediatype_takes_content_type(self):
        self.push_blobs()
        child = image()
        self.assertEqual(self.put(sha256(child), child).status, 201)
        body = json.dumps({"schemaVersion": 2, "manifests": [desc(OCI_MANIFEST, child)]}).encode()
        self.assertEqual(self.put("idx", body, mt=OCI_INDEX).status, 201)
        self.assert_pull("idx", body, OCI_INDEX)

    def test_artifact_manifest_with_empty_config(self):
        empty = b"{}"
        self.srv.push_blob(self.repo, empty)
        sbom = b'{"spdxVersion":"SPDX-2.3"}'
        self.srv.push_blob(self.repo, sbom)
        body = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom.v1",
            "config": {"mediaType": OCI_EMPTY, "digest": sha256(empty), "size": 2, "data": "e30="},
            "layers": [desc("application/spdx+json", sbom)],
            "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}).encode()
        r = self.put("sbom", body)
        self.assertEqual(r.status, 201, r.body)
        self.assert_pull("sbom", body, OCI_MANIFEST)
        st, h, got = self.srv.request("GET", "/v2/%s/blobs/%s" % (self.repo, sha256(empty)))
        self.assertEqual((st, got), (200, b"{}"))
        self.assertEqual(sha256(empty), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")

    def test_subject_pointing_at_missing_manifest_is_accepted(self):
        self.push_blobs()
        missing = sha256(b"a manifest that was never pushed")
        body = image(subject={"mediaType": OCI_MANIFEST, "digest": missing, "size": 123},
                     artifactType="application/vnd.example.sig")
        r = self.put(sha256(body), body)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.header("oci-subject"), missing)
        self.assert_pull(sha256(body), body, OCI_MANIFEST)

    def test_put_by_digest_with_tag_params(self):
        self.push_blobs()
        body = image()
        d = sha256(body)
        r = self.put(d, body, query="?tag=alpha&tag=beta")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.all("oci-tag"), ["alpha", "beta"])
        self.assertEqual(r.header("docker-content-digest"), d)
        self.assertEqual(r.header("location"), "/v2/%s/manifests/%s" % (self.repo, d))
        st, h, got = self.srv.request("GET", "/v2/%s/tags/list" % self.repo)
        self.assertEqual(json.loads(got), {"name": self.repo, "tags": ["alpha", "beta"]})
        self.assert_pull("alpha", body, OCI_MANIFEST)
        self.assert_pull("beta", body, OCI_MANIFEST)

    def test_put_by_digest_with_invalid_tag_param_is_400(self):
        self.push_blobs()
        body = image()
        r = self.put(sha256(body), body, query="?tag=-bad")
        self.assertEqual(r.status, 400)
        self.assertEqual(error_code(r.body), "MANIFEST_INVALID")
        self.assert_unknown(sha256(body))

    def test_sha512_manifest_by_digest(self):
        self.push_blobs()
        body = image()
        d = sha512(body)
        r = self.put(d, body)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.header("docker-content-digest"), d)
        self.assertEqual(r.header("location"), "/v2/%s/manifests/%s" % (self.repo, d))
        st, h, got = self.srv.request("GET", "/v2/%s/manifests/%s" % (self.repo, d))
        self.assertEqual((st, got), (200, body))
        self.assertEqual(h["docker-content-digest"], d)
        self.assertEqual(h["content-type"], OCI_MANIFEST)

    def test_retag_moves_tag_and_keeps_old_by_digest(self):
        self.push_blobs()
        one = image(layers=(LAYER1,))
        two = image(layers=(LAYER2,))
        self.assertEqual(self.put("latest", one).status, 201)
        self.assertEqual(self.put("latest", two).status, 201)
        self.assert_pull("latest", two, OCI_MANIFEST)
        self.assert_pull(sha256(one), one, OCI_MANIFEST)

    def test_index_with_missing_children_is_rejected_by_default(self):
        child = sha256(b"child not here")
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                           "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": 14}]}).encode()
        r = self.put("sparse", body, mt=OCI_INDEX)
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(error_code(r.body), "MANIFEST_BLOB_UNKNOWN")
        self.assertIn(child, json.loads(r.body)["errors"][0]["detail"])
        self.assert_unknown("sparse")

    def test_image_with_a_missing_layer_is_rejected_by_default(self):
        # as registry:2 does: the pusher that forgot a layer learns it now
        self.push_blobs(blobs=(CONFIG, LAYER1))
        body = image()
        r = self.put("sparse", body)
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(error_code(r.body), "MANIFEST_BLOB_UNKNOWN")
        self.assertIn(sha256(LAYER2), json.loads(r.body)["errors"][0]["detail"])
        self.assert_unknown("sparse")
        self.assert_unknown(sha256(body))
        # once the layer is there, the same manifest goes in
        self.push_blobs(blobs=(LAYER2,))
        self.assertEqual(self.put("sparse", body).status, 201)

    def test_foreign_layer_need_not_be_held(self):
        self.push_blobs(blobs=(CONFIG,))
        m = json.loads(image(layers=()))
        m["layers"] = [desc(OCI_LAYER, b"elsewhere", urls=["https://example.invalid/l"])]
        body = json.dumps(m).encode()
        self.assertEqual(self.put("foreign", body).status, 201)


class TestSparse(ManifestTest):
    """serve --allow-sparse: a partial mirror keeps what it has."""
    server_args = ("--allow-sparse",)

    def test_sparse_index_with_missing_children_is_accepted(self):
        child = sha256(b"child not here")
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                           "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": 14}]}).encode()
        r = self.put("sparse", body, mt=OCI_INDEX)
        self.assertEqual(r.status, 201, r.body)
        self.assert_pull("sparse", body, OCI_INDEX)

    def test_sparse_image_with_missing_layers_is_accepted(self):
        self.push_blobs(blobs=(CONFIG,))
        body = image()
        r = self.put("sparse", body)
        self.assertEqual(r.status, 201, r.body)
        self.assert_pull("sparse", body, OCI_MANIFEST)

    def test_config_is_still_required(self):
        r = self.put("noconfig", image())
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(error_code(r.body), "MANIFEST_BLOB_UNKNOWN")


class TestValidation(ManifestTest):
    def test_manifest_over_4mib_is_413_json(self):
        self.push_blobs()
        big = image(annotations={"pad": "x" * (4 * 1024 * 1024)})
        self.assertGreater(len(big), 4 * 1024 * 1024)
        r = self.put("big", big)
        self.assertEqual(r.status, 413)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        self.assertEqual(error_code(r.body), "MANIFEST_INVALID")
        self.assert_unknown("big")

    def test_manifest_of_exactly_4mib_is_accepted(self):
        self.push_blobs()
        base = image(annotations={"pad": ""})
        body = image(annotations={"pad": "x" * (4 * 1024 * 1024 - len(base))})
        self.assertEqual(len(body), 4 * 1024 * 1024)
        r = self.put("edge", body)
        self.assertEqual(r.status, 201, r.body)
        self.assert_pull("edge", body, OCI_MANIFEST)

    def test_manifest_over_4mib_with_expect_is_413_without_100_continue(self):
        n = 4 * 1024 * 1024 + 1
        c = RawConn(self.srv)
        try:
            c.send(("PUT /v2/%s/manifests/big HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
                    "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (self.repo, OCI_MANIFEST, n)).encode())
            r = c.read_response()
            self.assertEqual(r.status, 413)
            self.assertEqual(error_code(r.body), "MANIFEST_INVALID")
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_within(3))
            self.assertEqual(c.buf, b"")  # nothing else, in particular no 100 Continue
        finally:
            c.close()

    def chunked_put(self, tag, body, pieces):
        c = RawConn(self.srv)
        try:
            c.send(("PUT /v2/%s/manifests/%s HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" % (self.repo, tag, OCI_MANIFEST)).encode())
            step = (len(body) + pieces - 1) // pieces
            for i in range(0, len(body), step):
                part = body[i:i + step]
                c.send(b"%x\r\n%s\r\n" % (len(part), part))
            c.send(b"0\r\n\r\n")
            r = c.read_response()
            return r, c.closed_within(3) if r.status != 201 else None
        finally:
            c.close()

    def test_chunked_manifest_put(self):
        self.push_blobs()
        body = image()
        r, _ = self.chunked_put("chunked", body, 7)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.header("docker-content-digest"), sha256(body))
        self.assert_pull("chunked", body, OCI_MANIFEST)

    def test_chunked_manifest_over_4mib_is_413(self):
        self.push_blobs()
        big = image(annotations={"pad": "y" * (4 * 1024 * 1024)})
        r, closed = self.chunked_put("bigchunked", big, 5)
        self.assertEqual(r.status, 413)
        self.assertEqual(error_code(r.body), "MANIFEST_INVALID")
        self.assertEqual(r.header("connection"), "close")
        self.assertTrue(closed)
        self.assert_unknown("bigchunked")

    def test_invalid_json_is_manifest_invalid(self):
        for body in (b"{not json", b"", b"[]", b'{"schemaVersion":2,"mediaType":"%s","config":' % OCI_MANIFEST.encode(),
                     b'{"schemaVersion":1}'):
            r = self.put("bad", body)
            self.assertEqual(r.status, 400, body)
            self.assertEqual(error_code(r.body), "MANIFEST_INVALID", body)
        self.assert_unknown("bad")

    def test_content_type_mismatch_with_body_mediatype_is_400(self):
        self.push_blobs()
        body = image()
        r = self.put("mismatch", body, mt=OCI_INDEX)
        self.assertEqual(r.status, 400)
        self.assertEqual(error_code(r.body), "MANIFEST_INVALID")
        self.assert_unknown("mismatch")

    def test_missing_config_blob_is_manifest_blob_unknown(self):
        self.srv.push_blob(self.repo, LAYER1)
        body = image(layers=(LAYER1,))
        r = self.put("noconfig", body)
        self.assertEqual(r.status, 404)
        self.assertEqual(error_code(r.body), "MANIFEST_BLOB_UNKNOWN")
        self.assert_unknown("noconfig")
        # a config held only by another repository does not count
        self.srv.push_blob("other/repo", CONFIG)
        r = self.put("noconfig", body)
        self.assertEqual(error_code(r.body), "MANIFEST_BLOB_UNKNOWN")

    def test_put_by_digest_with_other_body_is_digest_invalid(self):
        self.push_blobs()
        body = image()
        wrong = sha256(body + b" ")
        r = self.put(wrong, body)
        self.assertEqual(r.status, 400)
        self.assertEqual(error_code(r.body), "DIGEST_INVALID")
        self.assert_unknown(wrong)
        self.assert_unknown(sha256(body))

    def test_put_invalid_tag_is_400(self):
        self.push_blobs()
        for tag in ("-dash", "a" * 129, ".dot"):
            r = self.put(tag, image())
            self.assertEqual(r.status, 400, tag)
            self.assertEqual(error_code(r.body), "MANIFEST_INVALID", tag)


class TestAccept(ManifestTest):
    def setUp(self):
        super().setUp()
        self.push_blobs()
        self.body = image()
        self.assertEqual(self.put("v1", self.body).status, 201)

    def get(self, *accepts):
        c = RawConn(self.srv)
        try:
            head = "GET /v2/%s/manifests/v1 HTTP/1.1\r\nHost: t\r\n" % self.repo
            head += "".join("Accept: %s\r\n" % a for a in accepts)
            c.send((head + "\r\n").encode())
            return c.read_response()
        finally:
            c.close()

    def test_accept_excluding_type_is_manifest_unknown(self):
        r = self.get(DOCKER_MANIFEST + ", " + DOCKER_LIST)
        self.assertEqual(r.status, 404)
        self.assertEqual(error_code(r.body), "MANIFEST_UNKNOWN")
        r = self.get(OCI_MANIFEST + ";q=0")
        self.assertEqual(r.status, 404)

    def test_accept_wildcards_and_lists(self):
        for accepts in (["*/*"], ["application/*"], [DOCKER_MANIFEST + ", " + OCI_MANIFEST],
                        [OCI_MANIFEST + "; q=0.5"], []):
            r = self.get(*accepts)
            self.assertEqual(r.status, 200, accepts)
            self.assertEqual(r.body, self.body)
            self.assertEqual(r.header("content-type"), OCI_MANIFEST)

    def test_multiple_accept_headers_are_combined(self):
        r = self.get(DOCKER_MANIFEST, DOCKER_LIST, OCI_INDEX, OCI_MANIFEST)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.body)
        r = self.get(DOCKER_MANIFEST, DOCKER_LIST)
        self.assertEqual(r.status, 404)


class TestDelete(ManifestTest):
    def test_end9_delete_manifest_by_digest_removes_tags(self):
        self.push_blobs()
        body = image()
        d = sha256(body)
        self.assertEqual(self.put(d, body, query="?tag=t1&tag=t2").status, 201)
        st, h, got = self.srv.request("DELETE", "/v2/%s/manifests/%s" % (self.repo, d))
        self.assertEqual((st, got), (202, b""))
        self.assert_unknown(d)
        self.assert_unknown("t1")
        self.assert_unknown("t2")
        st, h, got = self.srv.request("GET", "/v2/%s/tags/list" % self.repo)
        self.assertEqual(json.loads(got)["tags"], [])
        st, h, got = self.srv.request("DELETE", "/v2/%s/manifests/%s" % (self.repo, d))
        self.assertEqual(st, 404)
        self.assertEqual(error_code(got), "MANIFEST_UNKNOWN")
        # its blobs stay
        for b in (CONFIG, LAYER1, LAYER2):
            self.assertEqual(self.srv.request("GET", "/v2/%s/blobs/%s" % (self.repo, sha256(b)))[0], 200)

    def test_delete_by_digest_leaves_the_removal_of_its_file_to_the_trash_thread(self):
        self.push_blobs()
        body = image()
        d = sha256(body)
        self.assertEqual(self.put(d, body).status, 201)
        assert_trashed(self, self.srv, lambda: self.srv.request(
            "DELETE", "/v2/%s/manifests/%s" % (self.repo, d)), d)
        self.assert_unknown(d)
        for b in (CONFIG, LAYER1, LAYER2):
            self.assertEqual(self.srv.request("GET", "/v2/%s/blobs/%s" % (self.repo, sha256(b)))[0], 200)

    def test_end9_delete_tag_keeps_manifest(self):
        self.push_blobs()
        body = image()
        self.assertEqual(self.put("keep", body).status, 201)
        self.assertEqual(self.put("drop", body).status, 201)
        st, h, got = self.srv.request("DELETE", "/v2/%s/manifests/drop" % self.repo)
        self.assertEqual((st, got), (202, b""))
        self.assert_unknown("drop")
        self.assert_pull("keep", body, OCI_MANIFEST)
        self.assert_pull(sha256(body), body, OCI_MANIFEST)
        st, h, got = self.srv.request("GET", "/v2/%s/tags/list" % self.repo)
        self.assertEqual(json.loads(got)["tags"], ["keep"])
        st, h, got = self.srv.request("DELETE", "/v2/%s/manifests/drop" % self.repo)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(got), "MANIFEST_UNKNOWN")

    def test_blob_delete_of_a_manifest_is_refused_and_restart_still_works(self):
        self.push_blobs()
        body = image()
        d = sha256(body)
        self.assertEqual(self.put("v1", body).status, 201)
        # the manifest's bytes are a blob of the repository's layout...
        st, h, got = self.srv.request("GET", "/v2/%s/blobs/%s" % (self.repo, d))
        self.assertEqual((st, got), (200, body))
        # ...but they go only with the manifest
        st, h, got = self.srv.request("DELETE", "/v2/%s/blobs/%s" % (self.repo, d))
        self.assertEqual(st, 405)
        self.assertEqual(error_code(got), "UNSUPPORTED")
        self.assertEqual(h["allow"], "GET, HEAD")
        self.srv.stop()
        srv2 = Server(root=self.srv.root).start()
        try:
            self.srv, old = srv2, self.srv
            self.assert_pull("v1", body, OCI_MANIFEST)
            self.assertEqual(self.srv.request("DELETE", "/v2/%s/manifests/%s" % (self.repo, d))[0], 202)
            st, h, got = self.srv.request("GET", "/v2/%s/blobs/%s" % (self.repo, d))
            self.assertEqual(st, 404)
        finally:
            srv2.stop()
            self.srv = old

    def assert_pulls_everything(self, repo, tag, body):
        self.assert_pull(tag, body, OCI_MANIFEST, repo=repo)
        m = json.loads(body)
        for dsc in [m["config"]] + m["layers"]:
            st, h, got = self.srv.request("GET", "/v2/%s/blobs/%s" % (repo, dsc["digest"]))
            self.assertEqual(st, 200, (repo, dsc))
            self.assertEqual(sha256(got), dsc["digest"])
            self.assertEqual(len(got), dsc["size"])

    def test_delete_manifest_keeps_other_manifest_sharing_layers_same_repo(self):
        self.push_blobs()
        self.srv.push_blob(self.repo, b"extra layer")
        one = image(layers=(LAYER1, LAYER2))
        two = image(layers=(LAYER1, LAYER2, b"extra layer"))
        self.assertEqual(self.put("one", one).status, 201)
        self.assertEqual(self.put("two", two).status, 201)
        self.assertEqual(self.srv.request("DELETE", "/v2/%s/manifests/%s" % (self.repo, sha256(one)))[0], 202)
        self.assert_unknown("one")
        self.assert_pulls_everything(self.repo, "two", two)

    def test_delete_in_one_repo_keeps_mounted_copy_in_another(self):
        self.push_blobs(repo="src/a")
        body = image()
        self.assertEqual(self.put("v1", body, repo="src/a").status, 201)
        for b in (CONFIG, LAYER1, LAYER2):
            st, h, _ = self.srv.request("POST", "/v2/dst/b/blobs/uploads/?mount=%s&from=src/a" % sha256(b))
            self.assertEqual(st, 201)
        self.assertEqual(self.put("v1", body, repo="dst/b").status, 201)
        # delete everything in src/a: the manifest and every blob
        self.assertEqual(self.srv.request("DELETE", "/v2/src/a/manifests/%s" % sha256(body))[0], 202)
        for b in (CONFIG, LAYER1, LAYER2):
            self.assertEqual(self.srv.request("DELETE", "/v2/src/a/blobs/%s" % sha256(b))[0], 202)
        self.assert_unknown("v1", repo="src/a")
        self.assertEqual(self.srv.request("GET", "/v2/src/a/blobs/%s" % sha256(LAYER1))[0], 404)
        self.assert_pulls_everything("dst/b", "v1", body)
        # and still after a restart
        self.srv.stop()
        srv2 = Server(root=self.srv.root).start()
        try:
            self.srv, old = srv2, self.srv
            self.assert_pulls_everything("dst/b", "v1", body)
            self.assert_unknown("v1", repo="src/a")
        finally:
            srv2.stop()
            self.srv = old
