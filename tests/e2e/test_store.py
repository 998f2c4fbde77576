"""The store on disk: persistence across restarts, crash safety (kill -9 in the
middle of uploads), and the per-repository OCI image layout."""
import hashlib
import json
import os
import signal
import time

from phtest import (ServerTest, Server, RawConn, error_code, sha256, sha512, desc, wait_for,
                    OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER, OCI_EMPTY)

CONFIG = b'{"architecture":"arm64","os":"linux"}'


def image(*layers, **extra):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(OCI_CONFIG, CONFIG),
         "layers": [desc(OCI_LAYER, l) for l in layers]}
    m.update(extra)
    return json.dumps(m, indent=1).encode()


def blob_files(root):
    """{digest: bytes} of every file under ROOT/blobs; fails on anything else there."""
    out = {}
    for alg in sorted(os.listdir(os.path.join(root, "blobs"))):
        for name in os.listdir(os.path.join(root, "blobs", alg)):
            with open(os.path.join(root, "blobs", alg, name), "rb") as f:
                out["%s:%s" % (alg, name)] = f.read()
    return out


class StoreTest(ServerTest):
    def restart(self, args=(), clean=True):
        rc, _ = self.srv.stop()
        if clean:
            self.assertEqual(rc, 0)
        self.srv = Server(root=self.srv.root, args=args).start()
        self.srv.own_root = True  # tearDown removes the shared root
        return self.srv

    def wait_compacted(self):
        """index.json catches up with the journal of tag changes once writes
        pause (2 s): wait until the journal is empty."""
        jdir = os.path.join(self.srv.root, "journal")
        self.assertTrue(wait_for(lambda: not os.path.isdir(jdir) or os.listdir(jdir) == [],
                                 timeout=6.0, step=0.1), os.listdir(jdir))

    def assert_blobs_verified(self):
        """Every file under ROOT/blobs holds exactly the bytes its name says."""
        files = blob_files(self.srv.root)
        for d, data in files.items():
            alg = d.split(":")[0]
            self.assertEqual("%s:%s" % (alg, hashlib.new(alg, data).hexdigest()), d)
        return files


class TestPersistence(StoreTest):
    def test_restart_serves_everything(self):
        s = self.srv
        s.push_blob("p/app", CONFIG)
        l1 = os.urandom(300000)
        s.push_blob("p/app", l1)
        v1 = image(l1)
        self.assertEqual(s.push_manifest("p/app", "v1", v1)[0], 201)
        self.assertEqual(s.push_manifest("p/app", "latest", v1)[0], 201)
        s.push_blob("p/app", b"{}")
        sig = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.sig",
                          "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
                          "layers": [], "subject": desc(OCI_MANIFEST, v1),
                          "annotations": {"who": "me"}}).encode()
        self.assertEqual(s.push_manifest("p/app", sha256(sig), sig)[0], 201)
        idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc(OCI_MANIFEST, v1)]}).encode()
        self.assertEqual(s.push_manifest("p/app", "multi", idx, media_type=OCI_INDEX)[0], 201)
        self.assertEqual(s.request("DELETE", "/v2/p/app/manifests/latest")[0], 202)
        big512 = b"sha512 content" * 10
        st, h, _ = s.request("POST", "/v2/p/other/blobs/uploads/?digest=" + sha512(big512), body=big512)
        self.assertEqual(st, 201)
        self.assertEqual(s.request("POST", "/v2/p/mounted/blobs/uploads/?mount=%s&from=p/app" % sha256(l1))[0], 201)

        def snapshot(srv):
            snap = {}
            for path in ("/v2/_catalog", "/v2/p/app/tags/list", "/v2/p/app/manifests/v1",
                         "/v2/p/app/manifests/multi", "/v2/p/app/manifests/latest",
                         "/v2/p/app/manifests/" + sha256(sig), "/v2/p/app/referrers/" + sha256(v1),
                         "/v2/p/app/blobs/" + sha256(l1), "/v2/p/app/blobs/" + sha256(CONFIG),
                         "/v2/p/other/blobs/" + sha512(big512), "/v2/p/mounted/blobs/" + sha256(l1),
                         "/v2/p/mounted/tags/list", "/v2/p/other/blobs/" + sha256(l1)):
                st, h, body = srv.request("GET", path)
                snap[path] = (st, h.get("content-type"), h.get("docker-content-digest"), body)
            return snap

        before = snapshot(s)
        self.assertEqual(before["/v2/p/app/manifests/v1"][3], v1)
        self.assertEqual(before["/v2/p/app/manifests/latest"][0], 404)
        self.assertEqual(before["/v2/p/other/blobs/" + sha256(l1)][0], 404)
        self.assertEqual(json.loads(before["/v2/_catalog"][3])["repositories"], ["p/app", "p/mounted", "p/other"])
        self.assertEqual(json.loads(before["/v2/p/app/tags/list"][3])["tags"], ["multi", "v1"])
        self.assertEqual(len(json.loads(before["/v2/p/app/referrers/" + sha256(v1)][3])["manifests"]), 1)
        self.restart()
        self.assertEqual(snapshot(self.srv), before)
        self.assert_blobs_verified()

    def test_manifest_of_exactly_the_maximum_size_survives_a_restart(self):
        """A manifest of exactly MANIFEST_MAX (4 MiB) bytes is accepted, so a
        restart must load it again (the bounded read once refused a file of
        exactly its maximum, and the manifest was skipped as missing)."""
        s = self.srv
        s.push_blob("p/max", CONFIG)
        base = image(annotations={"pad": ""})
        body = image(annotations={"pad": "x" * (4 * 1024 * 1024 - len(base))})
        self.assertEqual(len(body), 4 * 1024 * 1024)
        self.assertEqual(s.push_manifest("p/max", "v1", body)[0], 201)
        self.restart()
        st, h, got = self.srv.request("GET", "/v2/p/max/manifests/v1")
        self.assertEqual(st, 200)
        self.assertEqual(got, body)


class TestCrash(StoreTest):
    def test_kill_9_during_streamed_upload_leaves_nothing(self):
        s = self.srv
        committed = s.push_blob("crash/repo", b"committed before the crash")
        total = 64 * 1024 * 1024
        data = os.urandom(1024 * 1024)
        # a streamed PATCH and a monolithic POST, both cut off by the crash
        st, h, _ = s.request("POST", "/v2/crash/repo/blobs/uploads/")
        loc = h["location"]
        uid = loc.rsplit("/", 1)[1]
        patch = RawConn(s)
        patch.send(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (loc, total)).encode())
        fake = sha256(b"the full blob that never arrives")
        post = RawConn(s)
        post.send(("POST /v2/crash/repo/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length: %d\r\n\r\n" % (fake, total)).encode())
        for _ in range(8):
            patch.send(data)
            post.send(data)
        up = os.path.join(s.root, "uploads")
        grown = wait_for(lambda: len(os.listdir(up)) == 2 and
                         all(os.path.getsize(os.path.join(up, f)) >= 4 * len(data) for f in os.listdir(up)),
                         timeout=5)
        self.assertTrue(grown, os.listdir(up))
        self.assertIn(uid, os.listdir(up))
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(5)
        self.assertEqual(s.proc.returncode, -signal.SIGKILL)
        patch.close()
        post.close()

        self.restart(clean=False)
        self.assertEqual(os.listdir(up), [])
        files = self.assert_blobs_verified()
        self.assertEqual(set(files), {committed})
        st, h, body = self.srv.request("GET", loc)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UPLOAD_UNKNOWN")
        st, h, body = self.srv.request("GET", "/v2/crash/repo/blobs/" + fake)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UNKNOWN")
        self.assertEqual(self.srv.request("HEAD", "/v2/crash/repo/blobs/" + fake)[0], 404)
        st, h, body = self.srv.request("GET", "/v2/crash/repo/blobs/" + committed)
        self.assertEqual((st, body), (200, b"committed before the crash"))
        # and the store takes new uploads normally
        d = self.srv.push_blob("crash/repo", data)
        st, h, body = self.srv.request("GET", "/v2/crash/repo/blobs/" + d)
        self.assertEqual((st, body), (200, data))

    def test_orphan_blob_from_interrupted_commit_is_removed_at_start(self):
        self.srv.push_blob("crash/repo", b"kept")
        orphan = b"renamed into blobs/ but never linked into a repository"
        od = sha256(orphan)
        self.srv.stop()
        with open(os.path.join(self.srv.root, "blobs/sha256", od[7:]), "wb") as f:
            f.write(orphan)
        with open(os.path.join(self.srv.root, "uploads", "0123456789abcdef0123456789abcdef"), "wb") as f:
            f.write(b"half an upload")
        # a DELETE's or gc's file the trash thread had not removed yet (a crash)
        with open(os.path.join(self.srv.root, "uploads", "gc-0123456789abcdef0123456789abcdef"), "wb") as f:
            f.write(b"a deleted blob")
        self.restart()
        self.assertFalse(os.path.exists(os.path.join(self.srv.root, "blobs/sha256", od[7:])))
        self.assertEqual(os.listdir(os.path.join(self.srv.root, "uploads")), [])
        self.assertEqual(self.srv.request("GET", "/v2/crash/repo/blobs/" + od)[0], 404)
        st, h, _ = self.srv.request("POST", "/v2/other/blobs/uploads/?mount=" + od)
        self.assertEqual(st, 202)  # nothing to mount: a fresh session
        self.assertEqual(self.srv.request("GET", "/v2/crash/repo/blobs/" + sha256(b"kept"))[0], 200)


class TestLayout(StoreTest):
    def read_layout(self, repo):
        base = os.path.join(self.srv.root, "repos", repo, "_layout")
        with open(os.path.join(base, "oci-layout"), "rb") as f:
            layout = json.loads(f.read())
        with open(os.path.join(base, "index.json"), "rb") as f:
            index = json.loads(f.read())
        return base, layout, index

    def test_store_is_an_oci_image_layout_per_repository(self):
        s = self.srv
        l1, l2 = b"first layer", b"second layer"
        for b in (CONFIG, l1, l2):
            s.push_blob("lay/out", b)
        one, two = image(l1), image(l1, l2)
        self.assertEqual(s.push_manifest("lay/out", "v1", one)[0], 201)
        self.assertEqual(s.push_manifest("lay/out", "latest", one)[0], 201)
        self.assertEqual(s.push_manifest("lay/out", sha256(two), two)[0], 201)  # untagged
        s.push_blob("lay", b"parent repo blob")  # "lay" and "lay/out" are both repositories
        self.wait_compacted()

        base, layout, index = self.read_layout("lay/out")
        self.assertEqual(layout, {"imageLayoutVersion": "1.0.0"})
        self.assertEqual(index["schemaVersion"], 2)
        self.assertEqual(index["mediaType"], OCI_INDEX)
        ref = "org.opencontainers.image.ref.name"
        self.assertEqual(index["manifests"], [
            {"mediaType": OCI_MANIFEST, "digest": sha256(one), "size": len(one), "annotations": {ref: "latest"}},
            {"mediaType": OCI_MANIFEST, "digest": sha256(one), "size": len(one), "annotations": {ref: "v1"}},
            {"mediaType": OCI_MANIFEST, "digest": sha256(two), "size": len(two)},
        ])
        # every blob and manifest of the repository is in its layout, linked to the shared copy
        want = {sha256(b)[7:]: b for b in (CONFIG, l1, l2, one, two)}
        self.assertEqual(sorted(os.listdir(os.path.join(base, "blobs/sha256"))), sorted(want))
        for hexd, data in want.items():
            p = os.path.join(base, "blobs/sha256", hexd)
            with open(p, "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertTrue(os.path.samefile(p, os.path.join(self.srv.root, "blobs/sha256", hexd)))
        pbase, playout, pindex = self.read_layout("lay")
        self.assertEqual(pindex["manifests"], [])
        self.assertEqual(os.listdir(os.path.join(pbase, "blobs/sha256")), [sha256(b"parent repo blob")[7:]])

        # deleting a tag and a manifest rewrites index.json
        self.assertEqual(s.request("DELETE", "/v2/lay/out/manifests/latest")[0], 202)
        self.assertEqual(s.request("DELETE", "/v2/lay/out/manifests/" + sha256(two))[0], 202)
        self.wait_compacted()
        base, layout, index = self.read_layout("lay/out")
        self.assertEqual(index["manifests"], [
            {"mediaType": OCI_MANIFEST, "digest": sha256(one), "size": len(one), "annotations": {ref: "v1"}}])
        self.assertFalse(os.path.exists(os.path.join(base, "blobs/sha256", sha256(two)[7:])))
        self.assertFalse(os.path.exists(os.path.join(self.srv.root, "blobs/sha256", sha256(two)[7:])))
        # no temporary files left around
        leftovers = [os.path.join(d, f) for d, _, fs in os.walk(self.srv.root) for f in fs if f.endswith(".tmp")]
        self.assertEqual(leftovers, [])

    def test_layout_index_is_what_a_restart_loads(self):
        s = self.srv
        s.push_blob("edit/me", CONFIG)
        one = image()
        self.assertEqual(s.push_manifest("edit/me", "v1", one)[0], 201)
        s.stop()
        # retag by editing the layout's index.json by hand, as an OCI tool would
        base = os.path.join(s.root, "repos/edit/me/_layout")
        with open(os.path.join(base, "index.json")) as f:
            index = json.load(f)
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "renamed"
        with open(os.path.join(base, "index.json"), "w") as f:
            json.dump(index, f)
        self.restart()
        st, h, body = self.srv.request("GET", "/v2/edit/me/tags/list")
        self.assertEqual(json.loads(body)["tags"], ["renamed"])
        st, h, body = self.srv.request("GET", "/v2/edit/me/manifests/renamed")
        self.assertEqual((st, body), (200, one))
