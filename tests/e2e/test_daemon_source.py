"""`packhelper import docker://IMAGE` against a fake Engine API on a unix socket (DOCKER_HOST):
the stream in chunks of every size, the daemon's errors as one line, a stream that breaks off
(nothing kept in uploads/), bad chunk framing, and a daemon that holds the end of its response
back (its temp-dir cleanup: the import is done once the tar is)."""
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import unittest

from phtest import BIN


def add_bytes(t, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))


def docker_save_bytes(tag, layer_size):
    """A legacy docker-save tarball (one image, one layer of layer_size random bytes in a tar)."""
    lbuf = io.BytesIO()
    with tarfile.open(fileobj=lbuf, mode="w") as lt:
        add_bytes(lt, "data.bin", os.urandom(layer_size))
    layer = lbuf.getvalue()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    cid = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": cid + ".json", "RepoTags": [tag],
                            "Layers": ["aaaa/layer.tar"]}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        add_bytes(t, "aaaa/layer.tar", layer)
        add_bytes(t, cid + ".json", config)
        add_bytes(t, "manifest.json", manifest)
    return buf.getvalue()


class FakeEngine:
    """Answers every request on a unix socket with handler(conn) (one thread per connection)."""

    def __init__(self, path, handler):
        self.path = path
        self.handler = handler
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.requests = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        head = b""
        while b"\r\n\r\n" not in head:
            b = c.recv(4096)
            if not b:
                c.close()
                return
            head += b
        self.requests.append(head.split(b"\r\n")[0].decode())
        try:
            self.handler(c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


def chunked_head(c, status=200, ctype="application/x-tar"):
    c.sendall(("HTTP/1.1 %d X\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
               % (status, ctype)).encode())


def send_chunks(c, data, sizes):
    """data in chunks whose sizes cycle through sizes."""
    i = k = 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        k += 1
        part = data[i:i + n]
        c.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        i += n


class TestDaemonSource(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ph-daemon-")
        self.sockpath = os.path.join(self.tmp, "docker.sock")
        self.store = os.path.join(self.tmp, "store")
        self.engine = None

    def tearDown(self):
        if self.engine:
            self.engine.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, handler):
        self.engine = FakeEngine(self.sockpath, handler)

    def run_import(self, image="fake/img:v1", timeout=60):
        return subprocess.run([BIN, "import", "docker://" + image, "--root", self.store],
                              capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, DOCKER_HOST="unix://" + self.sockpath))

    def uploads(self):
        d = os.path.join(self.store, "uploads")
        return os.listdir(d) if os.path.isdir(d) else []

    def fails_in_one_line(self, r, text):
        """Exit 1, one line on stderr, naming text."""
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn(text, r.stderr)

    def imported_same_as_file(self, tar, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        path = os.path.join(self.tmp, "img.tar")
        with open(path, "wb") as f:
            f.write(tar)
        ref = subprocess.run([BIN, "import", path, "--root", os.path.join(self.tmp, "store2")],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(ref.returncode, 0, ref.stderr)
        self.assertEqual(r.stdout.split(), ref.stdout.split())
        self.assertEqual(self.uploads(), [])

    def test_stream_in_chunks_of_every_size_imports(self):
        # 16 KiB as the Engine sends, single bytes, and chunks larger than the reader's block
        tar = docker_save_bytes("fake/img:v1", 5 << 20)

        def h(c):
            chunked_head(c)
            send_chunks(c, tar, [16384, 1, 7, 3 << 20, 511, 65536, 2 << 20])
            c.sendall(b"0\r\n\r\n")
        self.start(h)
        r = self.run_import()
        self.imported_same_as_file(tar, r)
        self.assertEqual(self.engine.requests, ["GET /images/fake/img:v1/get HTTP/1.1"])

    def test_stream_without_chunking_imports(self):
        tar = docker_save_bytes("fake/img:v1", 3 << 20)

        def h(c):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(tar))
            c.sendall(tar)
        self.start(h)
        self.imported_same_as_file(tar, self.run_import())

    def test_done_once_the_tar_is_not_when_the_daemon_ends_its_response(self):
        # the Engine sends the tar, then removes its temp dir, then ends the chunked body
        tar = docker_save_bytes("fake/img:v1", 1 << 20)
        release = threading.Event()

        def h(c):
            chunked_head(c)
            send_chunks(c, tar, [16384])
            release.wait(20)
            c.sendall(b"0\r\n\r\n")
        self.start(h)
        t0 = time.monotonic()
        r = self.run_import()
        took = time.monotonic() - t0
        release.set()
        self.imported_same_as_file(tar, r)
        self.assertLess(took, 10, "the import waited for the end of the daemon's response")

    def test_no_such_image_is_the_daemons_message_on_one_line(self):
        def h(c):
            body = b'{"message":"reference does not exist"}'
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.start(h)
        r = self.run_import("fake/missing:v1")
        self.fails_in_one_line(r, "docker://fake/missing:v1: docker daemon: reference does not exist")

    def test_server_error_chunked_is_the_daemons_message(self):
        def h(c):
            chunked_head(c, 500, "application/json")
            send_chunks(c, b'{"message":"something broke"}', [5])
            c.sendall(b"0\r\n\r\n")
        self.start(h)
        r = self.run_import()
        self.fails_in_one_line(r, "docker daemon: something broke")

    def test_stream_that_breaks_off_fails_and_keeps_nothing(self):
        tar = docker_save_bytes("fake/img:v1", 4 << 20)

        def h(c):
            chunked_head(c)
            send_chunks(c, tar[: len(tar) // 2], [16384])
            c.shutdown(socket.SHUT_RDWR)
        self.start(h)
        r = self.run_import()
        self.fails_in_one_line(r, "transfer from the docker daemon failed")
        self.assertEqual(self.uploads(), [])

    def test_bad_chunk_framing_fails_and_keeps_nothing(self):
        tar = docker_save_bytes("fake/img:v1", 2 << 20)

        def h(c):
            chunked_head(c)
            send_chunks(c, tar[: 1 << 20], [16384])
            c.sendall(b"zz\r\n" + tar[1 << 20:])
        self.start(h)
        r = self.run_import()
        self.fails_in_one_line(r, "transfer from the docker daemon failed")
        self.assertEqual(self.uploads(), [])

    def test_no_daemon_listening_is_one_line(self):
        open(self.sockpath, "w").close()
        r = self.run_import()
        self.fails_in_one_line(r, "docker://fake/img:v1: docker daemon at " + self.sockpath)


if __name__ == "__main__":
    unittest.main()
