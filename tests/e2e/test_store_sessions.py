"""Upload sessions are bounded (total and per client address) and hold no file
descriptor between requests (issue 7, finding 1, the store's part)."""
import json
import os
import socket

from phtest import ServerTest, Server, RawConn, error_code, sha256, wait_for

PER_OWNER = 256   # STORE_MAX_UPLOADS_PER_OWNER_DEFAULT
TOTAL = 1024      # STORE_MAX_UPLOADS_DEFAULT


class SourceConn(RawConn):
    """A RawConn from a chosen loopback source address (127.0.0.N is another peer)."""

    def __init__(self, srv, source="127.0.0.1", timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", srv.port))
        self.buf = b""


def post_sessions(srv, n, source="127.0.0.1", repo="lim/app"):
    """Open n sessions on one keep-alive connection; returns the responses."""
    c = SourceConn(srv, source)
    out = []
    try:
        req = ("POST /v2/%s/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n" % repo).encode()
        batch = 64
        for i in range(0, n, batch):
            k = min(batch, n - i)
            c.send(req * k)
            for _ in range(k):
                out.append(c.read_response())
    finally:
        c.close()
    return out


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class TestSessionBounds(ServerTest):
    def test_per_peer_limit_gives_429_and_server_still_serves(self):
        s = self.srv
        idle_fds = fd_count(s.proc.pid)
        rs = post_sessions(s, PER_OWNER + 3)
        self.assertEqual([r.status for r in rs[:PER_OWNER]], [202] * PER_OWNER)
        for r in rs[PER_OWNER:]:
            self.assertEqual(r.status, 429, r.body)
            self.assertTrue(r.header("content-type").startswith("application/json"))
            env = json.loads(r.body)
            self.assertEqual(env["errors"][0]["code"], "TOOMANYREQUESTS")
            self.assertIn("upload sessions", env["errors"][0]["detail"])
        # N open sessions do not hold N descriptors
        self.assertEqual(len(os.listdir(os.path.join(s.root, "uploads"))), PER_OWNER)
        self.assertLess(fd_count(s.proc.pid), idle_fds + 8)
        # the server still serves: reads, and a monolithic push from another peer
        self.assertEqual(s.request("GET", "/v2/")[0], 200)
        other = post_sessions(s, 1, source="127.0.0.2")
        self.assertEqual(other[0].status, 202)
        # finishing one of the first peer's sessions frees a slot for it
        loc = rs[0].header("location")
        data = b"finish me"
        st, _, _ = s.request("PUT", loc + "?digest=" + sha256(data), body=data)
        self.assertEqual(st, 201)
        self.assertEqual(post_sessions(s, 1)[0].status, 202)
        self.assertEqual(post_sessions(s, 1)[0].status, 429)
        # a cancelled session frees its slot too
        st, _, _ = s.request("DELETE", rs[1].header("location"))
        self.assertEqual(st, 204)
        self.assertEqual(post_sessions(s, 1)[0].status, 202)

    def test_monolithic_post_counts_only_while_open(self):
        s = self.srv
        post_sessions(s, PER_OWNER)
        # the bound applies to a monolithic POST too (it is a session until its body is in)
        data = b"mono"
        st, _, body = s.request("POST", "/v2/lim/app/blobs/uploads/?digest=" + sha256(data), body=data)
        self.assertEqual(st, 429)
        self.assertEqual(error_code(body), "TOOMANYREQUESTS")

    def test_total_limit(self):
        s = self.srv
        for i in range(TOTAL // PER_OWNER):
            rs = post_sessions(s, PER_OWNER, source="127.0.0.%d" % (i + 2))
            self.assertEqual({r.status for r in rs}, {202})
        rs = post_sessions(s, 1, source="127.0.0.%d" % (TOTAL // PER_OWNER + 2))
        self.assertEqual(rs[0].status, 429)
        self.assertEqual(error_code(rs[0].body), "TOOMANYREQUESTS")
        self.assertLess(fd_count(s.proc.pid), 64)
        self.assertEqual(s.request("GET", "/v2/")[0], 200)

    def test_chunked_upload_across_requests_reopens_the_file(self):
        s = self.srv
        rs = post_sessions(s, 1)
        loc = rs[0].header("location")
        parts = [os.urandom(70000), os.urandom(1), os.urandom(123457)]
        off = 0
        for p in parts:
            st, h, _ = s.request("PATCH", loc, body=p, headers={
                "Content-Range": "%d-%d" % (off, off + len(p) - 1), "Content-Type": "application/octet-stream"})
            self.assertEqual(st, 202)
            off += len(p)
            self.assertEqual(h["range"], "0-%d" % (off - 1))
        data = b"".join(parts)
        st, _, _ = s.request("PUT", loc + "?digest=" + sha256(data))
        self.assertEqual(st, 201)
        st, _, body = s.request("GET", "/v2/lim/app/blobs/" + sha256(data))
        self.assertEqual((st, sha256(body)), (200, sha256(data)))


class TestSessionExpiry(ServerTest):
    server_args = ("--upload-expiry", "0.5")

    def test_expired_sessions_free_their_slots(self):
        s = self.srv
        rs = post_sessions(s, PER_OWNER + 1)
        self.assertEqual(rs[-1].status, 429)
        self.assertTrue(wait_for(lambda: os.listdir(os.path.join(s.root, "uploads")) == [], timeout=5.0, step=0.1))
        self.assertEqual({r.status for r in post_sessions(s, PER_OWNER)}, {202})
