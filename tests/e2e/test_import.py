"""`packhelper import` of OCI layouts built here by hand: directory and tar, and what it refuses.

Also what a hostile source may make an import do: shared nested indexes and many RepoTags
(walked once, bounded in time), its limits (depth, descriptors), a FIFO in a layout, a gzip
bomb (nothing written to uploads/), and control bytes in member names (escaped)."""
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import unittest
import zlib

from phtest import BIN, OCI_INDEX, OCI_MANIFEST, Server, desc, scaled, sha256


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


def run_import(src, ref, store, timeout=None, stdin=None, env=None):
    return subprocess.run([BIN, "import", src, ref, "--root", store], capture_output=True, text=True,
                          timeout=timeout, stdin=stdin, env=dict(os.environ, **(env or {})))


def make_nested(root, levels, fanout, tag="v1"):
    """An OCI layout whose index.json points at `levels` nested indexes, each listing its child
    `fanout` times (a different platform each time), above one image manifest."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(1000)
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": blob(root, config), "size": len(config)},
         "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": blob(root, layer), "size": len(layer)}]}
    child = json.dumps(m).encode()
    blob(root, child)
    child_mt = OCI_MANIFEST
    for _ in range(levels):
        d = desc(child_mt, child)
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX,
               "manifests": [dict(d, platform={"architecture": "a%d" % k, "os": "linux"})
                             for k in range(fanout)]}
        child = json.dumps(idx).encode()
        blob(root, child)
        child_mt = OCI_INDEX
    top = {"schemaVersion": 2, "manifests": [
        desc(child_mt, child, annotations={"org.opencontainers.image.ref.name": tag})]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(top, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return child


def add_bytes(t, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))


def docker_save(path, tags, config_pad=0):
    """A legacy docker-save tarball: one image (one layer) listed under every tag in tags.
    config_pad makes the config that many bytes bigger (its history)."""
    lbuf = io.BytesIO()
    with tarfile.open(fileobj=lbuf, mode="w") as lt:
        add_bytes(lt, "hello.txt", b"hello\n")
    layer = lbuf.getvalue()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "history": [{"comment": "x" * config_pad}],
                         "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}}).encode()
    cid = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": cid + ".json", "RepoTags": tags,
                            "Layers": ["aaaa/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as t:
        add_bytes(t, "aaaa/layer.tar", layer)
        add_bytes(t, cid + ".json", config)
        add_bytes(t, "manifest.json", manifest)


def write_bomb(path, name, mib, rest):
    """A gzip'd tar: member name holding mib MiB of zeros, then the tar rest.  The deflate data
    of one MiB of zeros ends in a full flush, so it is simply repeated: about 1 KiB per MiB,
    written in well under a second."""
    info = tarfile.TarInfo(name)
    info.size = mib << 20
    head = info.tobuf(tarfile.PAX_FORMAT)
    mb = bytes(1 << 20)

    def part(data, last=False):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(mib):
        crc = zlib.crc32(mb, crc)
    crc = zlib.crc32(rest, crc)
    zpart = part(mb)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        f.write(part(head))
        for _ in range(mib):
            f.write(zpart)
        f.write(part(rest, last=True))
        f.write(struct.pack("<II", crc, (len(head) + (mib << 20) + len(rest)) & 0xffffffff))


def tar_of(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        t.add(root, arcname=".")
    return buf.getvalue()


class UploadsWatcher:
    """Polls the bytes under a store's uploads/ while an import runs; max is the most seen."""

    def __init__(self, store):
        self.dir = os.path.join(store, "uploads")
        self.max = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            total = 0
            try:
                for n in os.listdir(self.dir):
                    try:
                        total += os.stat(os.path.join(self.dir, n)).st_blocks * 512
                    except OSError:
                        pass
            except OSError:
                pass
            self.max = max(self.max, total)
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.thread.join()


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

    def test_symlinked_blobs_directory_is_refused_without_openat2(self):
        # where openat2 is missing (kernels before 5.6, seccomp, qemu user
        # mode) the component walk must hold the same line
        real = os.path.join(self.tmp, "elsewhere")
        shutil.move(os.path.join(self.layout, "blobs"), real)
        os.symlink(real, os.path.join(self.layout, "blobs"))
        r = run_import(self.layout, "lay/evil:v1", self.store, env={"PACKHELPER_NO_OPENAT2": "1"})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("symlink", r.stderr)

    def test_layout_directory_imports_without_openat2(self):
        r = run_import(self.layout, "lay/walk:v1", self.store, env={"PACKHELPER_NO_OPENAT2": "1"})
        self.assertEqual(r.returncode, 0, r.stderr)

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


class TestImportBudgets(unittest.TestCase):
    """Finding 6: each digest walked once, each config parsed once, and stated limits."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ph-import-")
        self.store = os.path.join(self.tmp, "store")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_nested_indexes_that_share_children_import_in_bounded_time(self):
        # four indexes of 64 below index.json: 64^4 paths to one image manifest (the old code
        # walked every path: minutes)
        lay = os.path.join(self.tmp, "nested")
        top = make_nested(lay, 4, 64)
        t0 = time.monotonic()
        r = run_import(lay, "nest/ed:v1", self.store, timeout=20)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["nest/ed:v1", sha256(top)])
        self.assertLess(took, scaled(5.0))

    def test_serve_import_of_shared_nested_indexes_turns_ready(self):
        lay = os.path.join(self.tmp, "nested")
        top = make_nested(lay, 4, 64)
        srv = Server(root=self.store, args=["--import", lay + "=nest/ed:v1"]).start(timeout=5.0)
        try:
            st, h, body = srv.request("GET", "/v2/nest/ed/manifests/v1")
            self.assertEqual((st, body), (200, top))
        finally:
            srv.stop()

    def test_indexes_nested_past_the_depth_limit_are_refused(self):
        lay = os.path.join(self.tmp, "deep")
        make_nested(lay, 6, 1)
        r = run_import(lay, "deep/er:v1", self.store, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("nested more than 4 deep (an import limit)", r.stderr)

    def test_more_descriptors_than_the_limit_are_refused(self):
        # 4 indexes of 16384 (the most a manifest may list) = 65536 descriptors + the
        # image's 2: past the import's 65536
        lay = os.path.join(self.tmp, "wide")
        make_nested(lay, 4, 16384)
        t0 = time.monotonic()
        r = run_import(lay, "wi/de:v1", self.store, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("more than 65536 descriptors (an import limit)", r.stderr)
        self.assertLess(time.monotonic() - t0, scaled(10.0))
        self.assertEqual(os.listdir(os.path.join(self.store, "uploads")), [])

    def test_docker_save_with_many_repotags_parses_its_config_once(self):
        # an 8 MiB config under 400 tags: the old code read and parsed it once per tag (3.2 GB
        # of JSON).  The store is on tmpfs, so what is timed is the import, not the disk's syncs.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        store = tempfile.mkdtemp(prefix="ph-import-many-", dir=shm)
        self.addCleanup(shutil.rmtree, store, True)
        tar = os.path.join(self.tmp, "many.tar")
        tags = ["many/tags:t%d" % i for i in range(400)]
        docker_save(tar, tags, config_pad=8 << 20)
        t0 = time.monotonic()
        r = subprocess.run([BIN, "import", tar, "--root", store], capture_output=True,
                           text=True, timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual([l.split()[0] for l in lines], tags)
        self.assertEqual(len({l.split()[1] for l in lines}), 1)
        self.assertLess(took, scaled(5.0))

    def test_more_repotags_than_the_limit_are_refused(self):
        tar = os.path.join(self.tmp, "toomany.tar")
        docker_save(tar, ["many/tags:t%d" % i for i in range(4097)])
        r = subprocess.run([BIN, "import", tar, "--root", self.store], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("more than 4096 RepoTags (the limit)", r.stderr)
        self.assertEqual(r.stdout, "")


class TestImportHostileSources(unittest.TestCase):
    """Finding 12: a FIFO in a layout, a gzip bomb, control bytes in names."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ph-import-")
        self.store = os.path.join(self.tmp, "store")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_index_json_that_is_a_fifo_is_refused_not_waited_on(self):
        lay = os.path.join(self.tmp, "fifo")
        make_layout(lay)
        os.unlink(os.path.join(lay, "index.json"))
        os.mkfifo(os.path.join(lay, "index.json"))
        r = run_import(lay, "fi/fo:v1", self.store, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("index.json is not a regular file", r.stderr)

    def test_blob_that_is_a_fifo_is_refused_not_waited_on(self):
        lay = os.path.join(self.tmp, "fifo")
        make_layout(lay)
        blobs = os.path.join(lay, "blobs", "sha256")
        layer = [n for n in os.listdir(blobs) if os.path.getsize(os.path.join(blobs, n)) == 5000][0]
        os.unlink(os.path.join(blobs, layer))
        os.mkfifo(os.path.join(blobs, layer))
        r = run_import(lay, "fi/fo:v1", self.store, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not a regular file", r.stderr)

    def bomb(self, path, name):
        """A .tar.gz of 256 KiB holding a 256 MiB member of zeros called name, next to a
        good OCI layout that does not use it."""
        lay = os.path.join(self.tmp, "lay")
        make_layout(lay)
        write_bomb(path, name, 256, tar_of(lay))
        self.assertLess(os.path.getsize(path), 512 << 10)

    def test_gzip_bomb_file_writes_nothing_it_does_not_use(self):
        path = os.path.join(self.tmp, "bomb.tar.gz")
        self.bomb(path, "blobs/sha256/" + "0" * 64)
        os.makedirs(os.path.join(self.store, "uploads"))
        with UploadsWatcher(self.store) as w:
            r = run_import(path, "bo/mb:v1", self.store, timeout=60)
        # the layout beside it imports; the 1 GiB member is never written
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(w.max, 8 << 20, "uploads/ grew to %d bytes" % w.max)

    def test_gzip_bomb_on_a_pipe_stops_at_the_expansion_limit(self):
        path = os.path.join(self.tmp, "bomb.tar.gz")
        self.bomb(path, "junk")
        os.makedirs(os.path.join(self.store, "uploads"))
        with UploadsWatcher(self.store) as w:
            cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
            r = run_import("-", "bo/mb:v1", self.store, timeout=60, stdin=cat.stdout)
            cat.stdout.close()
            cat.wait()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("expands more than 16 times (an import limit", r.stderr)
        self.assertLess(w.max, 64 << 20, "uploads/ grew to %d bytes" % w.max)
        self.assertEqual(os.listdir(os.path.join(self.store, "uploads")), [])

    def test_member_larger_than_its_descriptor_is_refused_before_it_is_written(self):
        # a layout whose layer descriptor says 5000 bytes, but the member holds 256 MiB of
        # zeros (compressed: 256 KiB)
        lay = os.path.join(self.tmp, "lay")
        mb = make_layout(lay)
        m = json.loads(mb)
        path = os.path.join(self.tmp, "big.tar.gz")
        big = "blobs/sha256/" + m["layers"][0]["digest"][7:]
        os.unlink(os.path.join(lay, big))
        write_bomb(path, big, 256, tar_of(lay))
        os.makedirs(os.path.join(self.store, "uploads"))
        with UploadsWatcher(self.store) as w:
            r = run_import(path, "bi/g:v1", self.store, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("has 268435456 bytes but its descriptor says 5000", r.stderr)
        self.assertLess(w.max, 8 << 20, "uploads/ grew to %d bytes" % w.max)

    def gz_layout(self, lie=False):
        """A .tar.gz OCI layout with a 3 MiB layer (past what a scan keeps in memory, so it is
        fetched by a second pass); with lie, the layer's bytes differ from its digest."""
        lay = os.path.join(self.tmp, "gzlay")
        mb = make_layout(lay)
        m = json.loads(mb)
        layer = os.urandom(3 << 20)
        name = os.path.join(lay, "blobs", "sha256", m["layers"][0]["digest"][7:])
        os.unlink(name)
        ld = blob(lay, layer)
        m["layers"][0].update(digest=ld, size=len(layer))
        if lie:
            # one byte changed, whatever it was (writing a fixed "X" over a
            # random "X" was no lie, one run in 256)
            with open(os.path.join(lay, "blobs", "sha256", ld[7:]), "r+b") as f:
                f.seek(2 << 20)
                was = f.read(1)[0]
                f.seek(2 << 20)
                f.write(bytes([was ^ 0xff]))
        mb = json.dumps(m).encode()
        index = {"schemaVersion": 2, "manifests": [desc(OCI_MANIFEST, mb)]}
        blob(lay, mb)
        with open(os.path.join(lay, "index.json"), "w") as f:
            json.dump(index, f)
        path = os.path.join(self.tmp, "lay.tar.gz")
        with tarfile.open(path, "w:gz", compresslevel=1) as t:
            t.add(lay, arcname=".")
        return path, mb, ld, layer

    def test_compressed_layout_from_a_file_stdin_and_a_pipe(self):
        path, mb, ld, layer = self.gz_layout()
        for how in ("file", "stdin", "pipe"):
            store = os.path.join(self.tmp, "store-" + how)
            if how == "file":
                r = run_import(path, "gz/ip:v1", store, timeout=30)
            elif how == "stdin":
                with open(path, "rb") as f:
                    r = run_import("-", "gz/ip:v1", store, timeout=30, stdin=f)
            else:
                cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
                r = run_import("-", "gz/ip:v1", store, timeout=30, stdin=cat.stdout)
                cat.stdout.close()
                cat.wait()
            self.assertEqual(r.returncode, 0, how + ": " + r.stderr)
            self.assertEqual(r.stdout.split(), ["gz/ip:v1", sha256(mb)], how)
            with open(os.path.join(store, "blobs", "sha256", ld[7:]), "rb") as f:
                self.assertEqual(f.read(), layer, how)
            self.assertEqual(os.listdir(os.path.join(store, "uploads")), [], how)

    def test_compressed_layout_with_a_lying_layer_is_refused(self):
        path, mb, ld, layer = self.gz_layout(lie=True)
        r = run_import(path, "gz/lie:v1", self.store, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("but its descriptor says %s" % ld, r.stderr)
        self.assertEqual(os.listdir(os.path.join(self.store, "uploads")), [])

    def test_control_bytes_in_member_names_are_escaped(self):
        tar = os.path.join(self.tmp, "esc.tar")
        evil = "../\x1b]0;owned\x07\x1b[2J"
        with tarfile.open(tar, "w", format=tarfile.PAX_FORMAT) as t:
            add_bytes(t, evil, b"x")
        r = subprocess.run([BIN, "import", tar, "e/sc:v1", "--root", self.store],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertNotIn(b"\x1b", r.stderr)
        self.assertNotIn(b"\x07", r.stderr)
        self.assertIn(b"\\x1b]0;owned\\x07", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_control_bytes_in_a_missing_layer_name_are_escaped(self):
        tar = os.path.join(self.tmp, "esc2.tar")
        config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha256(b"x")]}}).encode()
        manifest = json.dumps([{"Config": "c.json", "RepoTags": ["e/sc:v1"],
                                "Layers": ["\x1b[31mred\r\nfake line"]}]).encode()
        with tarfile.open(tar, "w") as t:
            add_bytes(t, "c.json", config)
            add_bytes(t, "manifest.json", manifest)
        r = subprocess.run([BIN, "import", tar, "e/sc:v1", "--root", self.store],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertNotIn(b"\x1b", r.stderr)
        self.assertIn(b"\\x1b[31mred\\x0d\\x0afake line", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
