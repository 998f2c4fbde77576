"""`packhelper import` of OCI layouts built here by hand: directory and tar, and what it refuses."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

from phtest import BIN, Server, sha256


def blob(root, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(root, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def make_layout(root, tag="v1"):
    """An OCI layout with one image; returns the manifest bytes."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(5000)
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": blob(root, config), "size": len(config)},
         "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": blob(root, layer), "size": len(layer)}]}
    mb = json.dumps(m, indent=1).encode()
    md = blob(root, mb)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": m["mediaType"], "digest": md,
                                                "size": len(mb),
                                                "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return mb


def run_import(src, ref, store):
    return subprocess.run([BIN, "import", src, ref, "--root", store], capture_output=True, text=True)


class TestImport(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ph-import-")
        self.layout = os.path.join(self.tmp, "layout")
        self.store = os.path.join(self.tmp, "store")
        self.manifest = make_layout(self.layout)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def served(self, ref_path):
        srv = Server(root=self.store).start()
        try:
            return srv.request("GET", ref_path)
        finally:
            srv.stop()

    def test_layout_directory_keeps_the_manifest_bytes(self):
        r = run_import(self.layout, "lay/out:v1", self.store)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["lay/out:v1", sha256(self.manifest)])
        st, h, body = self.served("/v2/lay/out/manifests/v1")
        self.assertEqual((st, body), (200, self.manifest))

    def test_layout_tarball(self):
        tar = os.path.join(self.tmp, "layout.tar")
        with tarfile.open(tar, "w") as t:
            t.add(self.layout, arcname=".")
        r = run_import(tar, "lay/tar:v1", self.store)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, _, body = self.served("/v2/lay/tar/manifests/v1")
        self.assertEqual((st, body), (200, self.manifest))

    def test_symlinked_blobs_directory_is_refused(self):
        real = os.path.join(self.tmp, "elsewhere")
        shutil.move(os.path.join(self.layout, "blobs"), real)
        os.symlink(real, os.path.join(self.layout, "blobs"))
        r = run_import(self.layout, "lay/evil:v1", self.store)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("symlink", r.stderr)

    def test_blob_that_lies_about_its_digest_is_refused_and_nothing_is_served(self):
        blobs = os.path.join(self.layout, "blobs", "sha256")
        layer = [n for n in os.listdir(blobs) if os.path.getsize(os.path.join(blobs, n)) == 5000][0]
        with open(os.path.join(blobs, layer), "r+b") as f:
            f.write(b"X")
        r = run_import(self.layout, "lay/lie:v1", self.store)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match its digest", r.stderr)
        st, _, _ = self.served("/v2/lay/lie/manifests/v1")
        self.assertEqual(st, 404)
        self.assertEqual(os.listdir(os.path.join(self.store, "uploads")), [])

    def test_truncated_tarball_is_refused(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            t.add(self.layout, arcname=".")
        tar = os.path.join(self.tmp, "cut.tar")
        with open(tar, "wb") as f:
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        r = run_import(tar, "lay/cut:v1", self.store)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("cut.tar", r.stderr)

    def test_not_a_tar(self):
        junk = os.path.join(self.tmp, "junk")
        with open(junk, "wb") as f:
            f.write(os.urandom(4096))
        r = run_import(junk, "lay/junk:v1", self.store)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a tar archive", r.stderr)


if __name__ == "__main__":
    unittest.main()
