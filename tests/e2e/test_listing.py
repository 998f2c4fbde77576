"""Content discovery: tags list (end-8a/8b), /v2/_catalog, referrers (end-12a/12b)."""
import json

from phtest import (ServerTest, error_code, sha256, desc, OCI_MANIFEST, OCI_INDEX, OCI_CONFIG,
                    OCI_LAYER, OCI_EMPTY)

CONFIG = b'{"os":"linux"}'
TAGS = ["v2", "latest", "v1", "alpha", "beta", "v10", "Zeta", "1.0", "_under"]


def manifest(extra_layer=b"", **extra):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(OCI_CONFIG, CONFIG),
         "layers": [desc(OCI_LAYER, extra_layer)] if extra_layer else []}
    m.update(extra)
    return json.dumps(m).encode()


class TestTags(ServerTest):
    repo = "list/tags"

    def setUp(self):
        super().setUp()
        self.srv.push_blob(self.repo, CONFIG)
        body = manifest()
        for t in TAGS:
            st, h, b = self.srv.push_manifest(self.repo, t, body)
            self.assertEqual(st, 201, b)
        self.sorted = sorted(TAGS)  # byte order: digits, upper case, '_', lower case

    def get(self, query=""):
        st, h, body = self.srv.request("GET", "/v2/%s/tags/list%s" % (self.repo, query))
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("application/json"))
        doc = json.loads(body)
        self.assertEqual(doc["name"], self.repo)
        return doc["tags"], h.get("link")

    def test_end8a_tags_sorted(self):
        tags, link = self.get()
        self.assertEqual(tags, self.sorted)
        self.assertEqual(self.sorted[:4], ["1.0", "Zeta", "_under", "alpha"])
        self.assertIsNone(link)

    def test_end8b_n_and_link_pages_through_everything(self):
        got, query, pages = [], "?n=4", 0
        while True:
            tags, link = self.get(query)
            pages += 1
            self.assertLessEqual(len(tags), 4)
            got += tags
            if len(got) < len(self.sorted):
                self.assertEqual(link, '</v2/%s/tags/list?n=4&last=%s>; rel="next"' % (self.repo, tags[-1]))
                query = link[len("</v2/%s/tags/list" % self.repo):link.index(">")]
            else:
                self.assertIsNone(link)
                break
        self.assertEqual(got, self.sorted)
        self.assertEqual(pages, 3)

    def test_n_equal_to_remaining_has_no_link(self):
        tags, link = self.get("?n=%d" % len(TAGS))
        self.assertEqual(tags, self.sorted)
        self.assertIsNone(link)
        tags, link = self.get("?n=2&last=%s" % self.sorted[-3])
        self.assertEqual(tags, self.sorted[-2:])
        self.assertIsNone(link)

    def test_last_is_exclusive(self):
        tags, link = self.get("?last=beta")
        self.assertEqual(tags, self.sorted[self.sorted.index("beta") + 1:])
        # a last that is no tag starts after where it would sort
        tags, link = self.get("?last=m")
        self.assertEqual(tags, [t for t in self.sorted if t > "m"])
        tags, link = self.get("?last=zzz")
        self.assertEqual(tags, [])
        self.assertIsNone(link)

    def test_n_with_last(self):
        tags, link = self.get("?n=2&last=alpha")
        self.assertEqual(tags, ["beta", "latest"])
        self.assertEqual(link, '</v2/%s/tags/list?n=2&last=latest>; rel="next"' % self.repo)

    def test_bad_n_is_400(self):
        for q in ("?n=-1", "?n=x", "?n=%zz"):
            st, h, body = self.srv.request("GET", "/v2/%s/tags/list%s" % (self.repo, q))
            self.assertEqual(st, 400, q)
            self.assertEqual(error_code(body), "BAD_REQUEST", q)

    def test_unknown_repo_is_name_unknown(self):
        st, h, body = self.srv.request("GET", "/v2/no/such/repo/tags/list")
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "NAME_UNKNOWN")

    def test_repo_without_tags_lists_empty(self):
        self.srv.push_blob("only/blobs", b"x")
        st, h, body = self.srv.request("GET", "/v2/only/blobs/tags/list")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"name": "only/blobs", "tags": []})


class TestCatalog(ServerTest):
    REPOS = ["zeta", "alpha/one", "alpha", "b-c/d", "alpha/one/two", "m__n", "0digit"]

    def setUp(self):
        super().setUp()
        for r in self.REPOS:
            self.srv.push_blob(r, b"blob of " + r.encode())

    def get(self, query=""):
        st, h, body = self.srv.request("GET", "/v2/_catalog" + query)
        self.assertEqual(st, 200, body)
        doc = json.loads(body)
        self.assertEqual(list(doc), ["repositories"])
        return doc["repositories"], h.get("link")

    def test_catalog_sorted(self):
        repos, link = self.get()
        self.assertEqual(repos, sorted(self.REPOS))
        self.assertIsNone(link)

    def test_catalog_pages_with_link(self):
        s = sorted(self.REPOS)
        repos, link = self.get("?n=3")
        self.assertEqual(repos, s[:3])
        self.assertEqual(link, '</v2/_catalog?n=3&last=%s>; rel="next"' % s[2])
        repos, link = self.get("?n=3&last=%s" % s[2])
        self.assertEqual(repos, s[3:6])
        self.assertEqual(link, '</v2/_catalog?n=3&last=%s>; rel="next"' % s[5])
        repos, link = self.get("?n=3&last=%s" % s[5])
        self.assertEqual(repos, s[6:])
        self.assertIsNone(link)

    def test_catalog_last_exclusive(self):
        repos, link = self.get("?last=alpha/one")
        self.assertEqual(repos, [r for r in sorted(self.REPOS) if r > "alpha/one"])


class TestReferrers(ServerTest):
    repo = "refs/repo"

    def setUp(self):
        super().setUp()
        self.srv.push_blob(self.repo, CONFIG)
        self.srv.push_blob(self.repo, b"{}")
        self.subject = manifest()
        st, h, b = self.srv.push_manifest(self.repo, "v1", self.subject)
        self.assertEqual(st, 201, b)
        self.sd = sha256(self.subject)
        subj = desc(OCI_MANIFEST, self.subject)
        empty = {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2}
        self.sig = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "artifactType": "application/vnd.example.signature",
                               "config": empty, "layers": [empty], "subject": subj,
                               "annotations": {"org.example.signer": "alice", "n": "1"}}).encode()
        self.sbom = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": {"mediaType": "application/vnd.example.sbom.config", "digest": sha256(b"{}"), "size": 2},
                                "layers": [], "subject": subj}).encode()
        self.idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                               "artifactType": "application/vnd.example.bundle",
                               "manifests": [], "subject": subj}).encode()
        for body, mt in ((self.sig, OCI_MANIFEST), (self.sbom, OCI_MANIFEST), (self.idx, OCI_INDEX)):
            st, h, b = self.srv.push_manifest(self.repo, sha256(body), body, media_type=mt)
            self.assertEqual(st, 201, b)
            self.assertEqual(h["oci-subject"], self.sd)

    def get(self, digest, query=""):
        st, h, body = self.srv.request("GET", "/v2/%s/referrers/%s%s" % (self.repo, digest, query))
        self.assertEqual(st, 200, body)
        self.assertEqual(h["content-type"], OCI_INDEX)
        doc = json.loads(body)
        self.assertEqual(doc["schemaVersion"], 2)
        self.assertEqual(doc["mediaType"], OCI_INDEX)
        return doc["manifests"], h

    def test_end12a_referrers_list_with_artifact_type_and_annotations(self):
        refs, h = self.get(self.sd)
        self.assertNotIn("oci-filters-applied", h)
        want = [
            {"mediaType": OCI_MANIFEST, "digest": sha256(self.sig), "size": len(self.sig),
             "artifactType": "application/vnd.example.signature",
             "annotations": {"org.example.signer": "alice", "n": "1"}},
            {"mediaType": OCI_MANIFEST, "digest": sha256(self.sbom), "size": len(self.sbom),
             "artifactType": "application/vnd.example.sbom.config"},
            {"mediaType": OCI_INDEX, "digest": sha256(self.idx), "size": len(self.idx),
             "artifactType": "application/vnd.example.bundle"},
        ]
        self.assertEqual(sorted(refs, key=lambda d: d["digest"]), sorted(want, key=lambda d: d["digest"]))

    def test_end12b_artifact_type_filter(self):
        refs, h = self.get(self.sd, "?artifactType=application/vnd.example.signature")
        self.assertEqual(h["oci-filters-applied"], "artifactType")
        self.assertEqual([r["digest"] for r in refs], [sha256(self.sig)])
        refs, h = self.get(self.sd, "?artifactType=application%2Fvnd.example.bundle")
        self.assertEqual([r["digest"] for r in refs], [sha256(self.idx)])
        refs, h = self.get(self.sd, "?artifactType=application/none")
        self.assertEqual(refs, [])
        self.assertEqual(h["oci-filters-applied"], "artifactType")

    def test_unknown_digest_is_empty_index_not_404(self):
        refs, h = self.get(sha256(b"nothing refers to me"))
        self.assertEqual(refs, [])
        st, h, body = self.srv.request("GET", "/v2/never/pushed/referrers/" + self.sd)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["manifests"], [])
        self.assertEqual(h["content-type"], OCI_INDEX)

    def test_deleted_referrer_disappears(self):
        self.assertEqual(self.srv.request("DELETE", "/v2/%s/manifests/%s" % (self.repo, sha256(self.sig)))[0], 202)
        refs, h = self.get(self.sd)
        self.assertEqual(sorted(r["digest"] for r in refs), sorted([sha256(self.sbom), sha256(self.idx)]))

    def test_referrers_invalid_digest_is_400(self):
        st, h, body = self.srv.request("GET", "/v2/%s/referrers/sha256:xyz" % self.repo)
        self.assertEqual(st, 400)
        self.assertEqual(error_code(body), "DIGEST_INVALID")
