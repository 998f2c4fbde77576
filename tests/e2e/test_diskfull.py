"""A full disk and a read-only disk, for real: the store lives on a small tmpfs
(the tests run as root) that a filler file fills.  Every write path answers a
clear error with the spec's JSON, leaves nothing corrupt (every blob's bytes
match its digest; HEAD never claims a blob whose bytes are wrong) and recovers
fully once space is back (issue 7, finding 2 and the disk-full section)."""
import hashlib
import json
import time
import os
import shutil
import subprocess
import tempfile
import unittest

from phtest import BIN, Server, RawConn, sha256, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER, desc

MiB = 1024 * 1024
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def manifest(*layers):
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(OCI_CONFIG, CONFIG),
                       "layers": [desc(OCI_LAYER, l) for l in layers]}).encode()


def send(srv, method, path, body=b"", headers=None, chunked=False):
    """One request on a raw connection; a server that answers before taking the
    whole body (and closes) still has its answer read."""
    c = RawConn(srv, timeout=10)
    try:
        head = "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" % (method, path)
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        if chunked:
            head += "Transfer-Encoding: chunked\r\n\r\n"
            data = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                            for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
        else:
            head += "Content-Length: %d\r\n\r\n" % len(body)
            data = body
        try:
            c.send(head.encode() + data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return c.read_response(head_request=(method == "HEAD"))
    finally:
        c.close()


class DiskTest(unittest.TestCase):
    SIZE = 8 * MiB

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="ph-store-disk-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % self.SIZE, "tmpfs", self.mnt], check=True)
        self.addCleanup(self._unmount)
        self.root = os.path.join(self.mnt, "store")
        self.filler = os.path.join(self.mnt, "filler")
        self.srv = None

    def _unmount(self):
        if self.srv:
            self.srv.cleanup()
        subprocess.run(["umount", "-l", self.mnt], check=False)
        os.rmdir(self.mnt)

    def start(self, args=()):
        self.srv = Server(root=self.root, args=args).start()
        return self.srv

    def restart(self):
        rc, _ = self.srv.stop()
        self.assertEqual(rc, 0)
        return self.start()

    def fill(self, leave=0):
        """Fill the disk, then give back `leave` bytes."""
        chunk = b"\0" * 65536
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError:
                pass
        with open(self.filler, "r+b") as f:
            f.seek(0, 2)
            f.truncate(max(0, f.tell() - leave))

    def free(self):
        os.unlink(self.filler)

    def assert_507(self, r):
        self.assertEqual(r.status, 507, r.body)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        err = json.loads(r.body)["errors"][0]
        self.assertIn("code", err)
        self.assertIn("no space", err["message"])

    def assert_nothing_corrupt(self, repo=None):
        """Every blob file holds the bytes its name says, and the server serves them so."""
        for alg in ("sha256", "sha512"):
            d = os.path.join(self.root, "blobs", alg)
            for name in os.listdir(d):
                with open(os.path.join(d, name), "rb") as f:
                    data = f.read()
                self.assertEqual(hashlib.new(alg, data).hexdigest(), name, "blob %s:%s is corrupt" % (alg, name))
                if repo:
                    r = send(self.srv, "GET", "/v2/%s/blobs/%s:%s" % (repo, alg, name))
                    if r.status == 200:
                        self.assertEqual(hashlib.new(alg, r.body).hexdigest(), name)

    def assert_absent(self, repo, digest):
        self.assertEqual(send(self.srv, "HEAD", "/v2/%s/blobs/%s" % (repo, digest)).status, 404)
        self.assertFalse(os.path.exists(os.path.join(self.root, "blobs", "sha256", digest.split(":")[1])))

    def session(self, repo):
        r = send(self.srv, "POST", "/v2/%s/blobs/uploads/" % repo)
        self.assertEqual(r.status, 202)
        return r.header("location")


class TestUploadsOnFullDisk(DiskTest):
    def test_patch_enospc_then_resume_from_range_gives_the_right_bytes(self):
        """The audit's scenario: a PATCH hits ENOSPC part-way, the client resumes
        from the Range the status reports, the closing PUT succeeds: the blob
        must be exactly the bytes of its digest."""
        s = self.start()
        data = os.urandom(3 * MiB)
        loc = self.session("full/app")
        first = 400 * 1024
        r = send(s, "PATCH", loc, data[:first], {"Content-Range": "0-%d" % (first - 1)})
        self.assertEqual(r.status, 202)
        self.fill(leave=1 * MiB)
        r = send(s, "PATCH", loc, data[first:], {"Content-Range": "%d-%d" % (first, len(data) - 1)})
        self.assert_507(r)
        # the session is exactly as before the failed request, file included
        r = send(s, "GET", loc)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("range"), "0-%d" % (first - 1))
        self.assertEqual(os.path.getsize(os.path.join(self.root, "uploads", loc.rsplit("/", 1)[1])), first)
        self.free()
        end = int(r.header("range").split("-")[1]) + 1
        r = send(s, "PATCH", loc, data[end:], {"Content-Range": "%d-%d" % (end, len(data) - 1)})
        self.assertEqual(r.status, 202)
        r = send(s, "PUT", loc + "?digest=" + sha256(data))
        self.assertEqual(r.status, 201, r.body)
        r = send(s, "GET", "/v2/full/app/blobs/" + sha256(data))
        self.assertEqual(r.status, 200)
        self.assertEqual(sha256(r.body), sha256(data))
        self.assert_nothing_corrupt("full/app")

    def test_audit_resume_never_serves_wrong_bytes(self):
        """The same scenario judged only by its outcome: whatever Range the
        server reports, resuming from it never yields a blob whose bytes differ
        from its digest (HEAD and GET)."""
        s = self.start()
        data = os.urandom(3 * MiB)
        loc = self.session("full/app")
        self.assertEqual(send(s, "PATCH", loc, data[:1000], {"Content-Range": "0-999"}).status, 202)
        self.fill(leave=1 * MiB)
        self.assert_507(send(s, "PATCH", loc, data[1000:], {"Content-Range": "1000-%d" % (len(data) - 1)}))
        self.free()
        end = int(send(s, "GET", loc).header("range").split("-")[1]) + 1
        self.assertEqual(send(s, "PATCH", loc, data[end:], {"Content-Range": "%d-%d" % (end, len(data) - 1)}).status, 202)
        r = send(s, "PUT", loc + "?digest=" + sha256(data))
        if r.status == 201 or send(s, "HEAD", "/v2/full/app/blobs/" + sha256(data)).status == 200:
            r = send(s, "GET", "/v2/full/app/blobs/" + sha256(data))
            self.assertEqual(sha256(r.body), sha256(data), "the blob's bytes are not its digest")
        self.assert_nothing_corrupt("full/app")

    def test_streamed_and_chunked_patch(self):
        s = self.start()
        data = os.urandom(2 * MiB)
        for chunked in (False, True):
            loc = self.session("full/app")
            self.fill(leave=512 * 1024)
            r = send(s, "PATCH", loc, data, chunked=chunked)
            self.assert_507(r)
            self.assertEqual(send(s, "GET", loc).header("range"), "0-0")
            self.assertEqual(os.path.getsize(os.path.join(self.root, "uploads", loc.rsplit("/", 1)[1])), 0)
            self.free()
            r = send(s, "PATCH", loc, data, chunked=chunked)
            self.assertEqual(r.status, 202)
            r = send(s, "PUT", loc + "?digest=" + sha256(data))
            self.assertEqual(r.status, 201)
            self.assert_nothing_corrupt("full/app")
            send(s, "DELETE", "/v2/full/app/blobs/" + sha256(data))

    def test_monolithic_post(self):
        s = self.start()
        data = os.urandom(2 * MiB)
        self.fill(leave=512 * 1024)
        r = send(s, "POST", "/v2/full/app/blobs/uploads/?digest=" + sha256(data), data)
        self.assert_507(r)
        self.assert_absent("full/app", sha256(data))
        self.assertEqual(os.listdir(os.path.join(self.root, "uploads")), [])
        self.free()
        r = send(s, "POST", "/v2/full/app/blobs/uploads/?digest=" + sha256(data), data)
        self.assertEqual(r.status, 201)
        self.assert_nothing_corrupt("full/app")

    def test_put_with_body(self):
        s = self.start()
        data = os.urandom(2 * MiB)
        loc = self.session("full/app")
        head = data[:1000]
        self.assertEqual(send(s, "PATCH", loc, head).status, 202)
        self.fill(leave=512 * 1024)
        r = send(s, "PUT", loc + "?digest=" + sha256(data), data[1000:])
        self.assert_507(r)
        self.assert_absent("full/app", sha256(data))
        self.assertEqual(send(s, "GET", loc).header("range"), "0-999")
        self.free()
        r = send(s, "PUT", loc + "?digest=" + sha256(data), data[1000:])
        self.assertEqual(r.status, 201, r.body)
        self.assert_nothing_corrupt("full/app")

    def test_server_keeps_serving_and_survives_restart(self):
        s = self.start()
        kept = os.urandom(100000)
        self.assertEqual(send(s, "POST", "/v2/full/app/blobs/uploads/?digest=" + sha256(kept), kept).status, 201)
        self.fill()
        for _ in range(3):
            self.assert_507(send(s, "POST", "/v2/full/app/blobs/uploads/?digest=" + sha256(b"x" * 9000),
                                 b"x" * 9000))
        r = send(s, "GET", "/v2/full/app/blobs/" + sha256(kept))
        self.assertEqual((r.status, r.body), (200, kept))
        self.free()
        self.restart()
        r = send(self.srv, "GET", "/v2/full/app/blobs/" + sha256(kept))
        self.assertEqual((r.status, r.body), (200, kept))
        self.assert_nothing_corrupt("full/app")


class TestManifestsOnFullDisk(DiskTest):
    def push_image(self, s, repo, tag):
        layer = os.urandom(3000)
        for b in (CONFIG, layer):
            self.assertEqual(send(s, "POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(b)), b).status, 201)
        m = manifest(layer)
        r = send(s, "PUT", "/v2/%s/manifests/%s" % (repo, tag), m, {"Content-Type": OCI_MANIFEST})
        return r, m

    def tags(self, s, repo="full/app"):
        return json.loads(send(s, "GET", "/v2/%s/tags/list" % repo).body)["tags"]

    def test_new_manifest(self):
        s = self.start()
        r, m1 = self.push_image(s, "full/app", "v1")
        self.assertEqual(r.status, 201)
        layer = os.urandom(3000)
        self.assertEqual(send(s, "POST", "/v2/full/app/blobs/uploads/?digest=" + sha256(layer), layer).status, 201)
        m2 = manifest(layer)
        self.fill()
        self.assert_507(send(s, "PUT", "/v2/full/app/manifests/v2", m2, {"Content-Type": OCI_MANIFEST}))
        for ref in ("v2", sha256(m2)):
            self.assertEqual(send(s, "GET", "/v2/full/app/manifests/" + ref).status, 404, ref)
        self.assertEqual(self.tags(s), ["v1"])
        self.free()
        self.restart()
        s = self.srv
        self.assertEqual(self.tags(s), ["v1"])
        self.assertEqual(send(s, "GET", "/v2/full/app/manifests/v1").body, m1)
        self.assertEqual(send(s, "PUT", "/v2/full/app/manifests/v2", m2, {"Content-Type": OCI_MANIFEST}).status, 201)
        self.restart()
        self.assertEqual(self.tags(self.srv), ["v1", "v2"])
        self.assertEqual(send(self.srv, "GET", "/v2/full/app/manifests/v2").body, m2)
        self.assert_nothing_corrupt("full/app")

    def test_refused_tags_stay_507_across_second_boundaries(self):
        """Keep tagging on a full disk for a few seconds: every refusal is 507.
        The first log line of each second used to clobber errno between the
        store's warning and the handler, so one refusal a second came out 500."""
        s = self.start()
        r, m = self.push_image(s, "full/sec", "v0")
        self.assertEqual(r.status, 201)
        self.fill()
        statuses = {}
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < 3.5:
            i += 1
            r = send(s, "PUT", "/v2/full/sec/manifests/s%05d" % i, m, {"Content-Type": OCI_MANIFEST})
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.status != 201:
                self.assert_507(r)
            time.sleep(0.005)
        self.assertIn(507, statuses)
        self.assertEqual(set(statuses) - {201, 507}, set(), statuses)

    def test_tags_until_the_journal_hits_enospc(self):
        """Tag until the journal cannot grow: the refused tag is 507 and absent,
        every acknowledged one is served, also after a restart on the full disk
        (the journal is replayed, nothing half-written), and after space is back."""
        s = self.start()
        r, m = self.push_image(s, "full/app", "v0")
        self.assertEqual(r.status, 201)
        self.fill()
        ok, refused = ["v0"], None
        for i in range(1, 5000):
            r = send(s, "PUT", "/v2/full/app/manifests/t%04d" % i, m, {"Content-Type": OCI_MANIFEST})
            if r.status == 201:
                ok.append("t%04d" % i)
                continue
            self.assert_507(r)
            refused = "t%04d" % i
            break
        self.assertIsNotNone(refused, "the journal never filled the disk")
        self.assertEqual(send(s, "GET", "/v2/full/app/manifests/" + refused).status, 404)
        self.assertEqual(self.tags(s), sorted(ok))
        self.restart()   # on the still-full disk: compaction cannot run, the journal is replayed
        self.assertEqual(self.tags(self.srv), sorted(ok))
        self.free()
        self.assertEqual(send(self.srv, "PUT", "/v2/full/app/manifests/" + refused, m,
                              {"Content-Type": OCI_MANIFEST}).status, 201)
        self.restart()
        self.assertEqual(self.tags(self.srv), sorted(ok + [refused]))
        with open(os.path.join(self.root, "repos/full/app/_layout/index.json")) as f:
            names = [e["annotations"]["org.opencontainers.image.ref.name"] for e in json.load(f)["manifests"]]
        self.assertEqual(sorted(names), sorted(ok + [refused]))
        self.assert_nothing_corrupt("full/app")

    def test_tag_and_manifest_delete(self):
        s = self.start()
        r, m = self.push_image(s, "full/app", "v1")
        self.assertEqual(send(s, "PUT", "/v2/full/app/manifests/v2", m, {"Content-Type": OCI_MANIFEST}).status, 201)
        self.fill()
        r = send(s, "DELETE", "/v2/full/app/manifests/v1")
        if r.status == 507:
            self.assertEqual(send(s, "GET", "/v2/full/app/manifests/v1").status, 200)
        else:
            self.assertEqual(r.status, 202)
            self.assertEqual(send(s, "GET", "/v2/full/app/manifests/v1").status, 404)
        want = ["v1", "v2"] if r.status == 507 else ["v2"]
        self.assertEqual(self.tags(s), want)
        self.restart()
        self.assertEqual(self.tags(self.srv), want)
        self.free()
        self.assertEqual(send(self.srv, "DELETE", "/v2/full/app/manifests/" + sha256(m)).status, 202)
        self.restart()
        self.assertEqual(send(self.srv, "GET", "/v2/full/app/tags/list").status, 200)
        self.assertEqual(self.tags(self.srv), [])


class TestNewRepositoryOnFullDisk(DiskTest):
    def test_mount_into_new_repository(self):
        """Creating a repository writes its layout: on a full disk that fails
        part-way, and the half-made layout is no repository, now or after a restart."""
        s = self.start()
        data = os.urandom(5000)
        d = sha256(data)
        self.assertEqual(send(s, "POST", "/v2/full/app/blobs/uploads/?digest=" + d, data).status, 201)
        self.fill()
        self.assert_507(send(s, "POST", "/v2/full/new/blobs/uploads/?mount=%s&from=full/app" % d))
        self.assertEqual(send(s, "HEAD", "/v2/full/new/blobs/" + d).status, 404)
        self.assertEqual(json.loads(send(s, "GET", "/v2/_catalog").body)["repositories"], ["full/app"])
        self.free()
        self.restart()
        self.assertEqual(json.loads(send(self.srv, "GET", "/v2/_catalog").body)["repositories"], ["full/app"])
        self.assertEqual(send(self.srv, "POST", "/v2/full/new/blobs/uploads/?mount=%s&from=full/app" % d).status, 201)
        self.restart()
        r = send(self.srv, "GET", "/v2/full/new/blobs/" + d)
        self.assertEqual((r.status, r.body), (200, data))
        self.assert_nothing_corrupt("full/new")


class TestImportOnFullDisk(DiskTest):
    SIZE = 4 * MiB

    def make_layout(self):
        lay = tempfile.mkdtemp(prefix="ph-store-layout-")
        self.addCleanup(shutil.rmtree, lay, True)
        os.makedirs(os.path.join(lay, "blobs", "sha256"))

        def blob(data):
            d = hashlib.sha256(data).hexdigest()
            with open(os.path.join(lay, "blobs", "sha256", d), "wb") as f:
                f.write(data)
            return "sha256:" + d
        layer = os.urandom(2 * MiB)
        blob(CONFIG)
        blob(layer)
        m = manifest(layer)
        md = blob(m)
        with open(os.path.join(lay, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": len(m),
                       "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)
        with open(os.path.join(lay, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        return lay, m

    def test_serve_import_onto_full_disk_fails_with_one_line(self):
        lay, m = self.make_layout()
        os.makedirs(self.root)
        self.fill(leave=1 * MiB)
        # the copy path: served in place (the default for a directory) it
        # writes a record of a few hundred bytes per blob, and fits
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--root", self.root,
                            "--import-mode", "copy", "--import", lay + "=imp/app:v1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        errors = [l for l in p.stderr.splitlines() if "error" in l or "failed" in l]
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertIn("space", errors[0])
        # nothing partial: no repository, no blob, no temporary file
        self.assertEqual(os.listdir(os.path.join(self.root, "uploads")), [])
        self.assertEqual(os.listdir(os.path.join(self.root, "blobs", "sha256")), [])
        self.free()
        self.start(args=("--import-mode", "copy", "--import", lay + "=imp/app:v1"))
        self.assertEqual(send(self.srv, "GET", "/v2/imp/app/manifests/v1").body, m)
        self.assert_nothing_corrupt("imp/app")

    def test_serve_import_in_place_needs_no_room_for_the_layers(self):
        """In place, a 2 MiB layer goes into a store with 1 MiB free: only its record is written."""
        lay, m = self.make_layout()
        os.makedirs(self.root)
        self.fill(leave=1 * MiB)
        self.start(args=("--import-mode", "in-place", "--import", lay + "=imp/app:v1"))
        self.assertEqual(send(self.srv, "GET", "/v2/imp/app/manifests/v1").body, m)
        layer = json.loads(m)["layers"][0]["digest"]
        r = send(self.srv, "GET", "/v2/imp/app/blobs/" + layer)
        self.assertEqual((r.status, "sha256:" + hashlib.sha256(r.body).hexdigest()), (200, layer))
        self.assert_nothing_corrupt("imp/app")

    def test_import_command_onto_full_disk(self):
        lay, m = self.make_layout()
        os.makedirs(self.root)
        self.fill(leave=1 * MiB)
        p = subprocess.run([BIN, "import", lay, "imp/app:v1", "--root", self.root],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(os.listdir(os.path.join(self.root, "blobs", "sha256")), [])
        self.free()
        p = subprocess.run([BIN, "import", lay, "imp/app:v1", "--root", self.root],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)


class TestReadOnlyDisk(DiskTest):
    def test_remount_read_only(self):
        s = self.start()
        kept = os.urandom(50000)
        self.assertEqual(send(s, "POST", "/v2/ro/app/blobs/uploads/?digest=" + sha256(kept), kept).status, 201)
        self.assertEqual(send(s, "POST", "/v2/ro/app/blobs/uploads/?digest=" + sha256(CONFIG), CONFIG).status, 201)
        loc = self.session("ro/app")
        subprocess.run(["mount", "-o", "remount,ro", self.mnt], check=True)
        try:
            for r in (send(s, "POST", "/v2/ro/app/blobs/uploads/"),
                      send(s, "POST", "/v2/ro/app/blobs/uploads/?digest=" + sha256(b"new"), b"new"),
                      send(s, "PATCH", loc, b"more"),
                      send(s, "PUT", "/v2/ro/app/manifests/v1", manifest(kept), {"Content-Type": OCI_MANIFEST})):
                # EROFS is a storage failure: 507, saying why
                self.assertEqual(r.status, 507, r.body)
                self.assertEqual(json.loads(r.body)["errors"][0]["message"],
                                 "the registry's storage is read-only")
            r = send(s, "GET", "/v2/ro/app/blobs/" + sha256(kept))
            self.assertEqual((r.status, r.body), (200, kept))
            self.assertEqual(send(s, "GET", "/v2/ro/app/manifests/v1").status, 404)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", self.mnt], check=True)
        self.assertEqual(send(s, "GET", loc).header("range"), "0-0")
        self.assertEqual(send(s, "PATCH", loc, b"more").status, 202)
        self.assertEqual(send(s, "PUT", loc + "?digest=" + sha256(b"more")).status, 201)
        self.restart()
        self.assert_nothing_corrupt("ro/app")


if __name__ == "__main__":
    unittest.main()
