"""Serving in place (serve --import-mode): a docker-save tarball (both layouts), an OCI layout
directory and an uncompressed OCI layout tarball are served from the file itself, verified
before the ready line; a source that changes is refused, not served; a restart with and without
the source; re-attaching by importing again; --import-mode copy and in-place; gc, DELETE,
cross-repository mounts and uploads of blobs held in place."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import unittest

from phtest import BIN, OCI_MANIFEST, Server, error_code, scaled, sha256

CONFIG_MT = "application/vnd.oci.image.config.v1+json"
LAYER_MT = "application/vnd.oci.image.layer.v1.tar"


def add_bytes(t, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1
    t.addfile(info, io.BytesIO(data))


def layers_and_config(sizes):
    layers = [os.urandom(n) for n in sizes]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256(l) for l in layers]}}).encode()
    return layers, config


def docker_save_legacy(path, tag, sizes=(300000, 70000, 5000)):
    """<id>/layer.tar members, manifest.json last (as docker save writes it)."""
    layers, config = layers_and_config(sizes)
    cid = hashlib.sha256(config).hexdigest()
    with tarfile.open(path, "w") as t:
        for k, layer in enumerate(layers):
            add_bytes(t, "l%d/layer.tar" % k, layer)
        add_bytes(t, cid + ".json", config)
        add_bytes(t, "manifest.json", json.dumps([{"Config": cid + ".json", "RepoTags": [tag],
                                                   "Layers": ["l%d/layer.tar" % k
                                                              for k in range(len(layers))]}]).encode())
    return layers, config


def docker_save_blobs(path, tag, sizes=(200000, 6000)):
    """The Docker >= 25 layout: blobs/sha256/<hex>, manifest.json naming them, index.json."""
    layers, config = layers_and_config(sizes)
    names = ["blobs/sha256/" + sha256(x)[7:] for x in layers + [config]]
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": CONFIG_MT, "digest": sha256(config), "size": len(config)},
         "layers": [{"mediaType": LAYER_MT, "digest": sha256(l), "size": len(l)} for l in layers]}
    mb = json.dumps(m).encode()
    with tarfile.open(path, "w") as t:
        for name, data in zip(names, layers + [config]):
            add_bytes(t, name, data)
        add_bytes(t, "blobs/sha256/" + sha256(mb)[7:], mb)
        add_bytes(t, "index.json", json.dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": sha256(mb), "size": len(mb),
             "annotations": {"org.opencontainers.image.ref.name": tag}}]}).encode())
        add_bytes(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_bytes(t, "manifest.json", json.dumps([{"Config": names[-1], "RepoTags": [tag],
                                                   "Layers": names[:-1]}]).encode())
    return layers, config


def oci_layout_dir(root, tag, sizes=(150000, 9000)):
    layers, config = layers_and_config(sizes)
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)

    def blob(data):
        with open(os.path.join(root, "blobs", "sha256", sha256(data)[7:]), "wb") as f:
            f.write(data)
    for x in layers + [config]:
        blob(x)
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": CONFIG_MT, "digest": sha256(config), "size": len(config)},
         "layers": [{"mediaType": LAYER_MT, "digest": sha256(l), "size": len(l)} for l in layers]}
    mb = json.dumps(m).encode()
    blob(mb)
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": sha256(mb), "size": len(mb),
             "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return layers, config


def store_files(store, sub):
    out = []
    for dp, _, fs in os.walk(os.path.join(store, sub)):
        out += [os.path.join(dp, f) for f in fs]
    return out


class InPlace(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ph-inplace-")
        self.store = os.path.join(self.tmp, "store")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, *args):
        srv = Server(root=self.store, args=list(args))
        self.servers.append(srv)
        return srv.start(timeout=20)

    def pull(self, srv, repo, tag):
        """The manifest and every blob, checked against their digests; returns the blobs."""
        st, h, mb = srv.request("GET", "/v2/%s/manifests/%s" % (repo, tag),
                                headers={"Accept": OCI_MANIFEST})
        self.assertEqual(st, 200, mb)
        m = json.loads(mb)
        out = {}
        for d in [m["config"]] + m["layers"]:
            st, h, body = srv.request("GET", "/v2/%s/blobs/%s" % (repo, d["digest"]))
            self.assertEqual(st, 200, body[:300])
            self.assertEqual(sha256(body), d["digest"])
            self.assertEqual(len(body), d["size"])
            out[d["digest"]] = body
        return out

    def assert_no_copies(self, layers):
        """No layer's bytes were written into the store: only records."""
        blobs = {os.path.basename(p) for p in store_files(self.store, "blobs")}
        for l in layers:
            self.assertNotIn(sha256(l)[7:], blobs)
        recs = {os.path.basename(p) for p in store_files(self.store, "inplace")}
        for l in layers:
            self.assertIn(sha256(l)[7:], recs)

    # ---- the three kinds of source ----

    def test_docker_save_legacy_served_from_the_tarball(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, config = docker_save_legacy(tar, "app:v1")
        srv = self.serve("--import", tar + "=app:v1")
        blobs = self.pull(srv, "app", "v1")
        self.assertEqual(set(blobs), {sha256(x) for x in layers + [config]})
        self.assert_no_copies(layers)
        self.assertIn("verified in place", srv.output())
        # Range requests come from the right place in the tarball
        d = sha256(layers[0])
        st, h, body = srv.request("GET", "/v2/app/blobs/" + d, headers={"Range": "bytes=1000-1999"})
        self.assertEqual(st, 206)
        self.assertEqual(body, layers[0][1000:2000])
        self.assertEqual(h["content-range"], "bytes 1000-1999/%d" % len(layers[0]))
        st, h, body = srv.request("GET", "/v2/app/blobs/" + sha256(layers[2]),
                                  headers={"Range": "bytes=-10"})
        self.assertEqual((st, body), (206, layers[2][-10:]))
        st, h, _ = srv.request("HEAD", "/v2/app/blobs/" + d)
        self.assertEqual((st, h["content-length"]), (200, str(len(layers[0]))))

    def test_docker_save_blobs_layout_served_from_the_tarball(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, config = docker_save_blobs(tar, "app:v2")
        srv = self.serve("--import", tar + "=app:v2", "--import-mode", "in-place")
        self.pull(srv, "app", "v2")
        self.assert_no_copies(layers)

    def test_oci_layout_directory_served_from_its_files(self):
        lay = os.path.join(self.tmp, "layout")
        layers, config = oci_layout_dir(lay, "v3")
        srv = self.serve("--import", lay + "=lay:v3", "--import-mode", "in-place")
        self.pull(srv, "lay", "v3")
        self.assert_no_copies(layers)
        rec = open(os.path.join(self.store, "inplace", "sha256", sha256(layers[0])[7:])).read()
        self.assertIn(os.path.realpath(os.path.join(lay, "blobs", "sha256", sha256(layers[0])[7:])),
                      rec)

    def test_oci_layout_tarball_served_from_the_tarball(self):
        lay = os.path.join(self.tmp, "layout")
        layers, _ = oci_layout_dir(lay, "v4")
        tar = os.path.join(self.tmp, "oci.tar")
        with tarfile.open(tar, "w") as t:
            t.add(lay, arcname=".")
        srv = self.serve("--import", tar + "=oci:v4")
        self.pull(srv, "oci", "v4")
        self.assert_no_copies(layers)

    # ---- verified before ready ----

    def test_a_lying_layer_fails_before_ready(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, _ = docker_save_legacy(tar, "app:v1")
        data = bytearray(open(tar, "rb").read())
        at = data.index(layers[1][:64]) + 100
        data[at] ^= 0xff
        open(tar, "wb").write(bytes(data))
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--root", self.store,
                            "--import", tar + "=app:v1"], capture_output=True, text=True,
                           timeout=scaled(30))
        self.assertEqual(r.returncode, 1)
        self.assertNotIn('"ready":true', r.stdout)
        self.assertIn("diff_id says " + sha256(layers[1]), r.stderr)

    # ---- a source that changes ----

    def test_a_tarball_modified_after_import_is_refused_not_served(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, config = docker_save_legacy(tar, "app:v1")
        srv = self.serve("--import", tar + "=app:v1")
        d = sha256(layers[0])
        self.assertEqual(srv.request("GET", "/v2/app/blobs/" + d)[0], 200)
        # same size, one byte different: mtime and ctime move
        time.sleep(0.01)
        with open(tar, "r+b") as f:
            f.seek(700)
            b = f.read(1)
            f.seek(700)
            f.write(bytes([b[0] ^ 0xff]))
        st, h, body = srv.request("GET", "/v2/app/blobs/" + d)
        self.assertEqual(st, 404)
        self.assertEqual(error_code(body), "BLOB_UNKNOWN")
        self.assertIn("changed after it was verified", body.decode())
        self.assertIn("changed since its blobs were verified", srv.output())
        # every blob of that source is gone, HEAD included, and so is the image
        self.assertEqual(srv.request("HEAD", "/v2/app/blobs/" + sha256(layers[2]))[0], 404)
        self.assertEqual(srv.request("GET", "/v2/app/manifests/v1")[0], 404)
        self.assertEqual(json.loads(srv.request("GET", "/v2/app/tags/list")[2])["tags"], [])

    def test_a_source_changed_by_a_same_size_rewrite_at_start_up_is_refused(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, _ = docker_save_legacy(tar, "app:v1")
        r = subprocess.run([BIN, "import", tar, "app:v1", "--root", self.store,
                            "--import-mode", "in-place"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = open(tar, "rb").read()
        time.sleep(0.01)
        with open(tar, "wb") as f:  # rewritten whole, same bytes even: the identity moved
            f.write(data)
        srv = self.serve()
        self.assertEqual(srv.request("GET", "/v2/app/blobs/" + sha256(layers[0]))[0], 404)
        self.assertEqual(srv.request("GET", "/v2/app/manifests/v1")[0], 404)
        self.assertIn("changed since its blobs were verified", srv.output())

    # ---- restart ----

    def test_restart_with_and_without_the_tarball_and_reattach(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, config = docker_save_legacy(tar, "app:v1")
        srv = self.serve("--import", tar + "=app:v1")
        # a second repository with its own blob, which needs no source
        srv.push_image("other", "x", layers=(b"pushed-layer",))
        srv.stop()
        # with the tarball: everything, as it was
        srv = self.serve()
        self.pull(srv, "app", "v1")
        srv.stop()
        # without: the image is absent (not listed, not served); the rest is there
        moved = tar + ".away"
        os.rename(tar, moved)
        srv = self.serve()
        self.assertEqual(srv.request("GET", "/v2/app/manifests/v1")[0], 404)
        self.assertEqual(json.loads(srv.request("GET", "/v2/app/tags/list")[2])["tags"], [])
        self.assertEqual(srv.request("GET", "/v2/app/blobs/" + sha256(layers[0]))[0], 404)
        self.assertEqual(srv.request("GET", "/v2/other/manifests/x")[0], 200)
        self.assertIn("is gone", srv.output())
        srv.stop()
        # the records are kept; importing the same bytes again attaches them
        self.assertEqual(len(store_files(self.store, "inplace")), 4)
        os.rename(moved, tar)
        srv = self.serve("--import", tar + "=app:v1")
        self.pull(srv, "app", "v1")
        self.assertEqual(json.loads(srv.request("GET", "/v2/app/tags/list")[2])["tags"], ["v1"])

    def test_a_new_copy_at_the_same_path_reattaches(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, _ = docker_save_legacy(tar, "app:v1")
        data = open(tar, "rb").read()
        srv = self.serve("--import", tar + "=app:v1")
        srv.stop()
        os.unlink(tar)
        with open(tar, "wb") as f:
            f.write(data)  # another inode, same bytes
        srv = self.serve("--import", tar + "=app:v1")
        self.pull(srv, "app", "v1")
        self.assert_no_copies(layers)  # attached in place, not copied
        srv.stop()
        srv = self.serve()  # and that holds across a restart
        self.pull(srv, "app", "v1")
        self.assert_no_copies(layers)

    # ---- modes ----

    def test_import_mode_copy_is_self_contained(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, _ = docker_save_legacy(tar, "app:v1")
        srv = self.serve("--import", tar + "=app:v1", "--import-mode", "copy")
        self.assertEqual(store_files(self.store, "inplace"), [])
        os.unlink(tar)
        self.pull(srv, "app", "v1")
        self.assertIn("copied", srv.output())

    def test_import_mode_in_place_refuses_what_cannot_be(self):
        tar = os.path.join(self.tmp, "img.tar")
        docker_save_legacy(tar, "app:v1")
        gz = tar + ".gz"
        with open(tar, "rb") as f, gzip.open(gz, "wb") as g:
            g.write(f.read())
        for src, stdin, why in ((gz, None, "is compressed"), ("-", open(tar, "rb"), "stdin")):
            r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--root", self.store,
                                "--import-mode", "in-place", "--import", src + "=app:v1"],
                               stdin=stdin, capture_output=True, text=True, timeout=scaled(30))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(why, r.stderr)
            self.assertIn("cannot be served in place", r.stderr)
        r = subprocess.run([BIN, "serve", "--import-mode", "sideways"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        # auto copies what cannot be served in place
        srv = self.serve("--import", gz + "=app:v1")
        self.pull(srv, "app", "v1")
        self.assertEqual(store_files(self.store, "inplace"), [])

    # ---- the registry's other paths over blobs held in place ----

    def test_mount_delete_and_gc_never_touch_the_source(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, config = docker_save_legacy(tar, "app:v1")
        before = open(tar, "rb").read()
        srv = self.serve("--import", tar + "=app:v1")
        d = sha256(layers[1])
        st, h, _ = srv.request("POST", "/v2/copy/blobs/uploads/?mount=%s&from=app" % d)
        self.assertEqual(st, 201)
        st, h, body = srv.request("GET", "/v2/copy/blobs/" + d)
        self.assertEqual((st, body), (200, layers[1]))
        self.assertEqual(srv.request("DELETE", "/v2/copy/blobs/" + d)[0], 202)
        self.assertEqual(srv.request("GET", "/v2/copy/blobs/" + d)[0], 404)
        self.assertEqual(srv.request("GET", "/v2/app/blobs/" + d)[0], 200)
        # the last holder lets go: the record goes, the tarball stays
        st, h, _ = srv.request("GET", "/v2/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        self.assertEqual(srv.request("DELETE", "/v2/app/manifests/" + h["docker-content-digest"])[0], 202)
        self.assertEqual(srv.request("DELETE", "/v2/app/blobs/" + d)[0], 202)
        self.assertFalse(os.path.exists(os.path.join(self.store, "inplace", "sha256", d[7:])))
        srv.stop()
        r = subprocess.run([BIN, "gc", "--root", self.store, "--grace", "0"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(store_files(self.store, "inplace"), [])
        self.assertEqual(open(tar, "rb").read(), before)  # the source's bytes, not only its size
        self.assertIn("removed 3 blobs", r.stdout)

    def test_an_upload_of_a_blob_whose_source_is_gone_makes_it_a_file(self):
        tar = os.path.join(self.tmp, "img.tar")
        layers, config = docker_save_legacy(tar, "app:v1")
        srv = self.serve("--import", tar + "=app:v1")
        srv.stop()
        os.unlink(tar)
        srv = self.serve()
        self.assertEqual(srv.request("GET", "/v2/app/manifests/v1")[0], 404)
        # a pusher sees the blobs absent, pushes them: the image is whole again
        for x in layers + [config]:
            srv.push_blob("app", x)
        self.pull(srv, "app", "v1")
        self.assertEqual(store_files(self.store, "inplace"), [])
        srv.stop()
        srv = self.serve()
        self.pull(srv, "app", "v1")


if __name__ == "__main__":
    unittest.main()
