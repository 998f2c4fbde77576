"""Helpers for end-to-end tests: run the real packhelper binary, talk raw HTTP to it.

Every test drives the binary named by $PACKHELPER over a real loopback socket.
Server is the one way to start a packhelper server from Python; the other
Python harnesses (tests/push/helper.py, tests/oneshot/helper.py,
tests/soak/soak.py) import this module (sys.path) instead of keeping their own.

  python3 tests/e2e/phtest.py port    print a free loopback port (tests/lib.sh)
"""
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("PACKHELPER", os.path.join(os.path.dirname(__file__), "../../build/packhelper"))
# The executable file itself, for tests that read it: BIN may be a wrapper
# script that runs it (tests/arm64.sh's through qemu-aarch64-static).
ELF = os.environ.get("PACKHELPER_ELF") or BIN

# PH_TIME_SCALE (default 1): how many times slower than natively the binary
# under test runs; `make test-arm64` sets it for qemu user emulation.  What is
# multiplied (scaled) is a budget for the binary's own work (start-up, an
# import, a PUT), which slows down by that factor, so a bound scaled with it
# still tells fast code from slow code.  Delays the server keeps by the clock
# (its timeouts, its one-second tick) are not scaled.
TIME_SCALE = float(os.environ.get("PH_TIME_SCALE") or 1)


def scaled(seconds):
    """seconds of the binary's own work, times PH_TIME_SCALE."""
    return seconds * TIME_SCALE


def free_port():
    """A free loopback TCP port, chosen below the kernel's ephemeral range: a busy
    machine has thousands of TIME-WAIT sockets in it, and a port the kernel hands
    out to a client in between is not free for long."""
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            hi = min(hi, int(f.read().split()[0]) - 1)
    except OSError:
        pass
    for _ in range(200):
        p = random.randint(lo, hi)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))  # no SO_REUSEADDR: TIME-WAIT counts as busy
            except OSError:
                continue
        return p
    raise OSError("no free loopback port in %d-%d" % (lo, hi))


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
        """Start on a free port; ready once this process has announced it on
        stdout ({"ready":true,"listen":"127.0.0.1:PORT",...}) and GET /readyz
        answers 200.  The answer alone is not enough: a server of another test
        that bound the same port first would give it while ours is still on
        its way to "Address in use" (under emulation, a while).  A port lost
        that way is given up for another (3 tries).  timeout: seconds natively
        (scaled)."""
        for attempt in range(3):
            if self._start_on(free_port(), scaled(timeout), last=attempt == 2):
                return self
        raise AssertionError("not reached")

    def _start_on(self, port, timeout, last):
        """True once ready; False if the port was taken (and not last); raises otherwise."""
        self.port = port
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:%d" % self.port, "--root", self.root] + self.args,
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        announced = '{"ready":true,"listen":"127.0.0.1:%d"' % self.port
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # EADDRINUSE: "Address in use" (musl), "Address already in use" (glibc: ASan)
                out = self.output()
                lost = any("listen on 127.0.0.1:%d: %s" % (port, m) in out
                           for m in ("Address in use", "Address already in use"))
                if not last and lost:
                    self.log.close()
                    return False
                raise RuntimeError("packhelper exited early:\n" + self.output())
            # the socket listens before the store is loaded: wait for an answer
            try:
                if announced in self.output():
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                        if s.recv(64).startswith(b"HTTP/1.1 200 "):
                            return True
            except OSError:
                pass
            time.sleep(0.01)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("packhelper did not listen in time:\n" + self.output())

    def output(self):
        """The server's stdout and stderr so far.  Read with pread, never seek
        and read: the server writes through the same open file, so moving its
        offset would make the server's next lines overwrite earlier ones."""
        if not self.log:
            return ""
        out = b""
        while True:
            chunk = os.pread(self.log.fileno(), 1 << 20, len(out))
            if not chunk:
                return out.decode("utf-8", "replace")
            out += chunk

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

    def sanitizer_report(self):
        """The sanitizer's complaint in the log (an ASan/UBSan build), or None."""
        out = self.output()
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if marker in out:
                at = out.rfind("\n", 0, out.index(marker)) + 1
                return out[at:][:3000]
        return None

    def cleanup(self):
        self.stop()
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        report = self.sanitizer_report()
        if report:
            raise AssertionError("sanitizer report from packhelper:\n" + report)

    # ---- HTTP ----
    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        """One request on a fresh connection; returns (status, headers dict (lowercase), body bytes)."""
        r = self.req(method, path, body, headers)
        return r.status, dict(r.headers), r.body

    def req(self, method, path, body=None, headers=None):
        """Like request, but returns a RawResponse that keeps repeated headers."""
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return RawResponse(r.status, r.reason, [(k.lower(), v) for k, v in r.getheaders()], data)
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
        # a cleanup, not tearDown: it runs even when the rest of a setUp fails
        self.srv = Server(args=self.server_args)
        self.addCleanup(lambda: self.srv.cleanup())  # whichever server self.srv is by then
        self.srv.start()


# ---- raw HTTP over one socket (pipelining, odd framing, Expect, timeouts) ----

class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (lowercase name, value), in order
        self.body = body

    def header(self, name):
        vals = self.all(name)
        return vals[0] if vals else None

    def all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]


class RawConn:
    """One TCP connection; send raw bytes, read HTTP responses one by one."""

    def __init__(self, srv, timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", srv.port))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def read_head(self):
        """Read a status line and headers; returns (status, reason, headers list)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        proto, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        assert proto == "HTTP/1.1", lines[0]
        headers = []
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        return int(status), reason, headers

    def read_response(self, head_request=False):
        """Read one whole response (not 1xx); the body by Content-Length."""
        status, reason, headers = self.read_head()
        lengths = [v for k, v in headers if k == "content-length"]
        n = 0 if (head_request or status in (204, 304) or status < 200) else int(lengths[0]) if lengths else 0
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return RawResponse(status, reason, headers, body)

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def closed_within(self, seconds):
        """True if the server closes (EOF or reset) within seconds, reading and
        keeping whatever else arrives; False on timeout."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk

    def close(self):
        self.sock.close()


def read_head(s, limit=65536):
    """Read a response head from a raw socket: (status, headers dict (lowercase),
    the bytes after the head). Raises ConnectionError on EOF or a head over limit."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("EOF in response head")
        buf += chunk
        if len(buf) > limit:
            raise ConnectionError("response head too long")
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, rest


def wait_for(pred, timeout=3.0, step=0.02):
    """Poll pred() until it is true (returns its value) or timeout (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


class DirWatch:
    """inotify on one directory (ctypes, no module needed): the (event, name)
    pairs of files moved in and removed there, in order, from the moment it is
    made.  The kernel queues them, so nothing a quick thread does in between
    is missed: how a test sees a file pass through uploads/ (the trash)."""
    MOVED_TO, DELETE = 0x80, 0x200

    def __init__(self, path):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, os.fsencode(path), self.MOVED_TO | self.DELETE) < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)
        self.events = []

    def poll(self):
        """Read what is queued; every event so far."""
        import struct
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return self.events
            at = 0
            while at + 16 <= len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, at)
                name = buf[at + 16:at + 16 + n].rstrip(b"\0").decode()
                at += 16 + n
                for bit, what in ((self.MOVED_TO, "moved_to"), (self.DELETE, "delete")):
                    if mask & bit:
                        self.events.append((what, name))

    def close(self):
        os.close(self.fd)


def assert_trashed(test, srv, delete, digest):
    """delete() (a DELETE answering 202) takes digest's file out of blobs/ at
    once, through uploads/ (a gc-* name), where another thread removes it."""
    path = os.path.join(srv.root, "blobs/sha256", digest[7:])
    test.assertTrue(os.path.exists(path))
    watch = DirWatch(os.path.join(srv.root, "uploads"))
    try:
        test.assertEqual(delete()[0], 202)
        test.assertFalse(os.path.exists(path))

        def removed():
            ev = watch.poll()
            moved = [n for what, n in ev if what == "moved_to"]
            return moved and all(("delete", n) in ev for n in moved)
        ok = wait_for(removed, timeout=scaled(5))
        test.assertTrue(ok, "the file did not pass through uploads/: %r" % watch.events)
        test.assertTrue(all(n.startswith("gc-") for what, n in watch.events), watch.events)
    finally:
        watch.close()
    test.assertEqual([n for n in os.listdir(os.path.join(srv.root, "uploads")) if n[0] != "."], [])
    fds = "/proc/%d/fd" % srv.proc.pid
    held = [os.readlink(os.path.join(fds, f)) for f in os.listdir(fds)]
    test.assertEqual([h for h in held if h.startswith(srv.root) and "(deleted)" in h], [])


def seed_tags(root, repo, manifest, names):
    """Make REPO in the (stopped) store at root hold one tag per name, each on
    manifest: written into index.json, faster than pushing thousands."""
    entries = [{"mediaType": OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": n}} for n in names]
    with open(os.path.join(root, "repos", repo, "_layout/index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": entries}, f)


def seed_store(root, repo, nimages, ngarbage, layers=4):
    """Write REPO into the (stopped) store at root straight onto disk, as
    packhelper lays it out - faster than pushing thousands of blobs: nimages
    tagged images (t0, t1, ...; a config and `layers` layers each) and
    ngarbage blobs that no manifest references.  Returns (images, garbage):
    images is a list of (tag, manifest bytes, {digest: bytes}), garbage a
    {digest: bytes}."""
    lay = os.path.join(root, "repos", repo, "_layout")
    for d in ("blobs/sha256", "uploads", "repos"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.makedirs(os.path.join(lay, "blobs/sha256"), exist_ok=True)
    with open(os.path.join(lay, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        p = os.path.join(root, "blobs/sha256", h)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
        os.link(p, os.path.join(lay, "blobs/sha256", h))
        return "sha256:" + h

    images, entries, garbage = [], [], {}
    for i in range(nimages):
        blobs = {}
        cfg = b'{"architecture":"amd64","os":"linux","seed":%d}' % i
        blobs[put(cfg)] = cfg
        descs = []
        for j in range(layers):
            data = b"seeded layer %d/%d " % (i, j) + os.urandom(32)
            d = put(data)
            blobs[d] = data
            descs.append({"mediaType": OCI_LAYER, "digest": d, "size": len(data)})
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                        "layers": descs}).encode()
        put(m)
        tag = "t%d" % i
        images.append((tag, m, blobs))
        entries.append({"mediaType": OCI_MANIFEST, "digest": sha256(m), "size": len(m),
                        "annotations": {"org.opencontainers.image.ref.name": tag}})
    for i in range(ngarbage):
        data = b"seeded garbage %d " % i + os.urandom(32)
        garbage[put(data)] = data
    with open(os.path.join(lay, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": entries}, f)
    return images, garbage


def time_tag_puts(srv, repo, manifest, names):
    """PUT manifest under each name on one connection; the seconds each took.
    Every answer must be 201 (AssertionError otherwise)."""
    c = srv.conn()
    times = []
    try:
        for n in names:
            t0 = time.monotonic()
            c.request("PUT", "/v2/%s/manifests/%s" % (repo, n), body=manifest,
                      headers={"Content-Type": OCI_MANIFEST})
            r = c.getresponse()
            r.read()
            assert r.status == 201, (n, r.status)
            times.append(time.monotonic() - t0)
    finally:
        c.close()
    return times


def tree(root):
    """{relative path: bytes} of every file under root (for 'the store is unchanged')."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def desc(media_type, data, **extra):
    d = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    d.update(extra)
    return d


if __name__ == "__main__":
    if sys.argv[1:] == ["port"]:
        print(free_port())
        sys.exit(0)
    sys.exit("usage: phtest.py port")
