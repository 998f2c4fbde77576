"""Helpers for end-to-end tests: run the real packhelper binary, talk raw HTTP to it.

Every test drives the binary named by $PACKHELPER over a real loopback socket.
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("PACKHELPER", os.path.join(os.path.dirname(__file__), "../../build/packhelper"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


class Server:
    """A packhelper serve process on a free loopback port with its own store."""

    def __init__(self, root=None, args=(), env=None):
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="ph-e2e-")
        self.args = list(args)
        self.env = env
        self.proc = None
        self.port = None
        self.log = None

    def start(self, timeout=5.0):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:%d" % self.port, "--root", self.root] + self.args,
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("packhelper exited early:\n" + self.output())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("packhelper did not listen in time:\n" + self.output())

    def output(self):
        if not self.log:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signal the server, wait, and return (exit code, seconds it took)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None, 0.0)
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc, time.monotonic() - t0

    def cleanup(self):
        self.stop()
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- HTTP ----
    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        """One request on a fresh connection; returns (status, headers dict (lowercase), body bytes)."""
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def raw(self, data, timeout=5.0, read_until_close=True):
        """Send raw bytes, return everything the server answers until it closes (or timeout)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
                if not read_until_close:
                    break
            return out
        finally:
            s.close()

    # ---- registry operations ----
    def push_blob(self, repo, data):
        d = sha256(data)
        st, h, _ = self.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data)
        assert st == 201, (st, h)
        return d

    def push_manifest(self, repo, ref, body, media_type="application/vnd.oci.image.manifest.v1+json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        st, h, data = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body,
                                   headers={"Content-Type": media_type})
        return st, h, data

    def push_image(self, repo, tag, layers=(b"layer-one", b"layer-two"), config=b'{"architecture":"amd64","os":"linux"}'):
        """Push config + layers + an OCI manifest; return (manifest bytes, manifest digest)."""
        cd = self.push_blob(repo, config)
        descs = []
        for layer in layers:
            ld = self.push_blob(repo, layer)
            descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)})
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
             "layers": descs}
        body = json.dumps(m).encode()
        st, h, data = self.push_manifest(repo, tag, body)
        assert st == 201, (st, data)
        return body, sha256(body)


def error_code(body):
    """The first error code of a distribution-spec error envelope."""
    return json.loads(body)["errors"][0]["code"]


class ServerTest(unittest.TestCase):
    """A test case with a fresh server per test (self.srv)."""
    server_args = ()

    def setUp(self):
        self.srv = Server(args=self.server_args).start()

    def tearDown(self):
        self.srv.cleanup()
