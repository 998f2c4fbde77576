"""Budgets: every resource a client can make the server spend has a limit, an
error the client sees, and this test.  Connections (total, per peer),
descriptors, buffered memory, the kernel's send buffers, transfer rate; plus
responses that are always whole (a head never promises a body that does not
follow)."""
import json
import os
import re
import resource
import socket
import subprocess
import threading
import time

from phtest import (BIN, ServerTest, Server, RawConn, error_code, sha256, wait_for, desc, read_head,
                    OCI_MANIFEST, OCI_CONFIG, OCI_EMPTY)

GET_BASE = b"GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n"
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_kib(srv):
    return proc_status(srv.proc.pid, "VmRSS")


def nfds(srv):
    return len(os.listdir("/proc/%d/fd" % srv.proc.pid))


def cpu_seconds(srv):
    with open("/proc/%d/stat" % srv.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def big_manifest(config_digest, size, **extra):
    """An image manifest of about size bytes (the bulk in an annotation)."""
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(CONFIG)},
         "layers": [], "annotations": {"pad": "x" * size}}
    m.update(extra)
    return json.dumps(m).encode()


def connect_from(srv, source, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", srv.port))
    return s


def hold_served(test, n):
    """n connections that each got 200 for GET /v2/ and stay open."""
    held = []
    for _ in range(n):
        c = RawConn(test.srv)
        c.send(GET_BASE)
        test.assertEqual(c.read_response().status, 200)
        held.append(c)
    return held


def answers(srv, timeout=5.0):
    """Does a new connection get 200 for GET /v2/?"""
    c = RawConn(srv, timeout=timeout)
    try:
        c.send(GET_BASE)
        return c.read_response().status == 200
    except (OSError, EOFError):
        return False
    finally:
        c.close()


def read_response(s):
    status, headers, rest = read_head(s)
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n]


class TestNonReadingClients(ServerTest):
    """Finding 4: clients that never read must not pin a copy of the body each."""
    server_args = ("--max-conns-per-peer", "400")

    # 300, not the audit's 1,000: each stalled socket also pins its send
    # buffer in the kernel (1 MiB, --max-sndbuf; 4 MiB, tcp_wmem's max, before
    # the cap), and 1,000 of them near the host's tcp_mem limit, which stalls
    # every socket on the machine (other tests' included)
    def test_300_non_readers_of_a_4mib_manifest_keep_rss_bounded(self):
        cd = self.srv.push_blob("big/man", CONFIG)
        body = big_manifest(cd, 4 * 1024 * 1024 - 1024)
        st, h, b = self.srv.push_manifest("big/man", "v1", body)
        self.assertEqual(st, 201, b)
        before = rss_kib(self.srv)
        conns = []
        try:
            req = b"GET /v2/big/man/manifests/v1 HTTP/1.1\r\nHost: t\r\nAccept: " + OCI_MANIFEST.encode() + b"\r\n\r\n"
            for _ in range(300):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", self.srv.port))
                s.sendall(req)
                conns.append(s)
            # every request is being answered (or has been) before we measure
            time.sleep(1.0)
            after = rss_kib(self.srv)
            # a copy each would be 1.2 GiB; references cost a few KiB each
            self.assertLess(after - before, 64 * 1024, "RSS grew by %d KiB" % (after - before))
            # the server still serves others meanwhile
            st, h, b = self.srv.request("GET", "/v2/")
            self.assertEqual(st, 200)
            # and a reader gets the whole body
            st, h, b = self.srv.request("GET", "/v2/big/man/manifests/v1", headers={"Accept": OCI_MANIFEST})
            self.assertEqual((st, b), (200, body))
        finally:
            for s in conns:
                s.close()


def server_skmem(port):
    """[(tb, w)] of the server's established sockets on port, from `ss -tm`:
    tb is the send buffer's size (sk_sndbuf), w the bytes queued in it."""
    out = subprocess.run(["ss", "-tmnH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    return [(int(tb), int(w)) for tb, w in re.findall(r"\btb(\d+),.*?\bw(\d+)", out)]


class TestKernelSendBuffers(ServerTest):
    """A client that never reads a blob fills its connection's send buffer in
    the kernel; without a cap the kernel grows it to tcp_wmem's max (4 MiB by
    default) on every such socket.  --max-sndbuf (1 MiB by default) caps each:
    `ss` shows the server's sockets full to the cap and no further."""
    NCLIENTS = 8

    def stall(self, srv, cap):
        data = os.urandom(16 << 20)
        d = srv.push_blob("snd/buf", data)
        conns = []
        try:
            for _ in range(self.NCLIENTS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", srv.port))
                s.sendall(("GET /v2/snd/buf/blobs/%s HTTP/1.1\r\nHost: t\r\n\r\n" % d).encode())
                conns.append(s)
            # until every send buffer is as full as it will get
            full = lambda: (lambda m: len(m) == self.NCLIENTS and all(w >= cap // 2 for _, w in m))(
                server_skmem(srv.port))
            wait_for(full, timeout=10)
            mem = server_skmem(srv.port)
            self.assertEqual(len(mem), self.NCLIENTS, mem)
            for tb, w in mem:
                self.assertLessEqual(tb, cap, mem)
                # the kernel queues while below the size: one packet past it at most
                self.assertLessEqual(w, cap + (64 << 10), mem)
                self.assertGreaterEqual(w, cap // 2, mem)  # it did fill up
            # the server answers others meanwhile, and a reader gets the whole blob
            st, _, body = srv.request("GET", "/v2/snd/buf/blobs/" + d)
            self.assertEqual((st, sha256(body)), (200, d))
        finally:
            for s in conns:
                s.close()

    def test_each_non_reader_pins_at_most_1mib_of_send_buffer_by_default(self):
        self.stall(self.srv, 1 << 20)

    def test_max_sndbuf_sets_the_cap(self):
        srv = Server(args=["--max-sndbuf", "256K"])
        self.addCleanup(srv.cleanup)
        srv.start()
        self.stall(srv, 256 << 10)

    def test_max_sndbuf_values_are_checked(self):
        for v in ("-1", "4K", "1X", ""):
            p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--root", self.srv.root,
                                "--max-sndbuf", v], capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, (v, p.stderr))
            self.assertIn("--max-sndbuf", p.stderr)


class TestWholeResponses(ServerTest):
    """Finding 7: a response larger than the output buffer is sent whole."""
    repo = "ref/big"

    def push_referrers(self, n, pad):
        cd = self.srv.push_blob(self.repo, CONFIG)
        subject = big_manifest(cd, 10)
        st, _, b = self.srv.push_manifest(self.repo, "subject", subject)
        self.assertEqual(st, 201, b)
        sd = sha256(subject)
        self.srv.push_blob(self.repo, b"{}")
        for i in range(n):
            m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.test",
                 "config": desc(OCI_EMPTY, b"{}"), "layers": [],
                 "subject": {"mediaType": OCI_MANIFEST, "digest": sd, "size": len(subject)},
                 "annotations": {"pad": ("%d" % i) * pad}}
            body = json.dumps(m).encode()
            st, _, b = self.srv.push_manifest(self.repo, sha256(body), body)
            self.assertEqual(st, 201, b)
        return sd

    def test_referrers_over_the_output_buffer_are_sent_whole(self):
        sd = self.push_referrers(3, 3 * 1024 * 1024)
        c = RawConn(self.srv, timeout=20)
        try:
            c.send(("GET /v2/%s/referrers/%s HTTP/1.1\r\nHost: t\r\n\r\n" % (self.repo, sd)).encode())
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(len(r.body), int(r.header("content-length")))
            idx = json.loads(r.body)
            self.assertEqual(len(idx["manifests"]), 3)
            # the connection is still in step: a second request is answered
            c.send(GET_BASE)
            self.assertEqual(c.read_response().status, 200)
        finally:
            c.close()


class TestBufferBudget(ServerTest):
    """--max-buffered: response and request bodies held in memory, server-wide."""
    server_args = ("--max-buffered", "4M")
    repo = "ref/budget"

    def test_response_over_the_budget_is_503_not_a_broken_body(self):
        sd = TestWholeResponses.push_referrers(self, 3, 3 * 1024 * 1024)
        st, h, body = self.srv.request("GET", "/v2/%s/referrers/%s" % (self.repo, sd))
        self.assertEqual(st, 503)
        self.assertEqual(error_code(body), "UNAVAILABLE")
        self.assertEqual(h["retry-after"], "1")
        self.assertEqual(len(body), int(h["content-length"]))

    def test_manifest_body_over_the_budget_is_refused_before_it_is_read(self):
        cd = self.srv.push_blob(self.repo, CONFIG)
        # eight concurrent 1 MiB manifest bodies that never finish: the budget
        # of 4 MiB lets some in and refuses the rest at once
        body = big_manifest(cd, 1024 * 1024)
        conns, statuses = [], []
        try:
            for _ in range(8):
                c = RawConn(self.srv)
                c.send(("PUT /v2/%s/manifests/t HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
                        "Content-Length: %d\r\n\r\n" % (self.repo, OCI_MANIFEST, len(body))).encode()
                       + body[:len(body) - 1])
                conns.append(c)
            for c in conns:
                c.sock.settimeout(0.5)
                try:
                    statuses.append(c.read_response().status)
                except (socket.timeout, EOFError):
                    statuses.append(None)  # still reading its body: admitted
            self.assertIn(503, statuses)
            self.assertIn(None, statuses)
        finally:
            for c in conns:
                c.close()
        st, h, b = self.srv.request("GET", "/v2/")
        self.assertEqual(st, 200)
        # with the hogs gone, the same PUT goes through
        st, h, b = self.srv.push_manifest(self.repo, "t", body)
        self.assertEqual(st, 201, b)


class TestMultiRangeBudgets(ServerTest):
    """A multipart/byteranges answer holds its list of ranges (16 bytes each,
    up to 1024 ranges) against --max-buffered, and is judged by the body
    timeout like any response."""
    server_args = ("--max-buffered", "12K", "--body-timeout", "2")

    def test_range_list_over_the_budget_is_503_and_the_server_goes_on(self):
        d = self.srv.push_blob("mr/budget", os.urandom(4096))
        path = "/v2/mr/budget/blobs/" + d
        st, h, body = self.srv.request("GET", path, headers={"Range": "bytes=0-9,20-29"})
        self.assertEqual(st, 206)
        many = "bytes=" + ",".join("%d-%d" % (i, i) for i in range(1024))
        st, h, body = self.srv.request("GET", path, headers={"Range": many})
        self.assertEqual(st, 503)
        self.assertEqual(error_code(body), "UNAVAILABLE")
        self.assertEqual(h["retry-after"], "1")
        self.assertEqual(len(body), int(h["content-length"]))
        # the same ranges asked with HEAD hold nothing: answered
        st, h, body = self.srv.request("HEAD", path, headers={"Range": many})
        self.assertEqual(st, 206)
        st, h, body = self.srv.request("GET", path, headers={"Range": "bytes=0-9,20-29"})
        self.assertEqual(st, 206)

    def test_multirange_reader_that_stops_reading_is_cut_by_the_body_timeout(self):
        data = os.urandom(8 * 1024 * 1024)
        d = self.srv.push_blob("mr/slow", data)
        step = len(data) // 16
        rng = "bytes=" + ",".join("%d-%d" % (i * step, (i + 1) * step - 1) for i in range(16))
        c = RawConn(self.srv, rcvbuf=4096)
        try:
            c.send(("GET /v2/mr/slow/blobs/%s HTTP/1.1\r\nHost: t\r\nRange: %s\r\n\r\n"
                    % (d, rng)).encode())
            status, _, headers = c.read_head()
            self.assertEqual(status, 206)
            want = int(dict(headers)["content-length"])
            time.sleep(4)  # read nothing for twice the body timeout
            got = len(c.buf)
            c.sock.settimeout(5)
            try:
                while True:
                    chunk = c.sock.recv(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
            except ConnectionResetError:
                pass
            self.assertLess(got, want)
            st, _, _ = self.srv.request("GET", "/v2/")
            self.assertEqual(st, 200)
        finally:
            c.close()


class TestPerPeerConnections(ServerTest):
    """Finding 5: one peer cannot hold every connection slot."""
    server_args = ("--max-conns-per-peer", "5")

    def test_sixth_connection_from_one_peer_gets_429_others_still_served(self):
        mine = hold_served(self, 5)
        try:
            extra = RawConn(self.srv)
            r = extra.read_response()
            self.assertEqual(r.status, 429)
            self.assertEqual(r.reason, "Too Many Requests")
            self.assertEqual(error_code(r.body), "TOOMANYREQUESTS")
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(extra.closed_within(2))
            extra.close()
            # another address on the loopback is another peer
            s = connect_from(self.srv, "127.0.0.2")
            try:
                s.sendall(GET_BASE)
                self.assertEqual(read_response(s)[0], 200)
            finally:
                s.close()
            # one of mine goes: a new one from the same peer is let in
            mine.pop().close()

            self.assertTrue(wait_for(lambda: answers(self.srv), timeout=3))
        finally:
            for c in mine:
                c.close()


class TestConnectionLimit(ServerTest):
    """Finding 1: at the connection limit new clients get an answer, not silence."""
    server_args = ("--max-conns", "8")

    def test_ninth_connection_is_refused_with_503_and_the_server_keeps_serving(self):
        held = hold_served(self, 8)
        try:
            t0 = cpu_seconds(self.srv)
            for _ in range(200):
                c = RawConn(self.srv)
                r = c.read_response()
                self.assertEqual(r.status, 503)
                self.assertEqual(error_code(r.body), "UNAVAILABLE")
                self.assertEqual(r.header("retry-after"), "1")
                c.close()
            self.assertLess(cpu_seconds(self.srv) - t0, 1.0)
            # a slot is free once the server has read the close, which may
            # come after it accepts the next client (the same epoll batch)
            held.pop().close()
            self.assertTrue(wait_for(lambda: answers(self.srv), timeout=3))
        finally:
            for c in held:
                c.close()
        # 200 refusals: a bounded number of log lines, not one each
        refused = [l for l in self.srv.output().splitlines() if "refused" in l]
        self.assertLessEqual(len(refused), 2 * 10 + 2, "\n".join(refused[:5]))


class TestOutOfDescriptors(ServerTest):
    """Finding 1: when descriptors run out the server refuses politely, pauses
    the listener instead of spinning, and resumes when one comes back."""
    LIMIT = 40

    def setUp(self):
        lim = self.LIMIT

        def low_nofile():
            resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))
        # --max-conns past what the descriptors allow: the only way to reach
        # EMFILE for real, since the default limit keeps clear of it
        self.srv = Server(args=("--max-conns", "100"))
        self.addCleanup(lambda: self.srv.cleanup())
        import subprocess
        orig = subprocess.Popen

        def popen(*a, **kw):
            kw["preexec_fn"] = low_nofile
            return orig(*a, **kw)
        subprocess.Popen = popen
        try:
            self.srv.start()
        finally:
            subprocess.Popen = orig

    def test_emfile_pauses_the_listener_refuses_politely_and_recovers(self):
        held = []
        try:
            # fill the descriptor table with served connections
            while True:
                c = RawConn(self.srv, timeout=2)
                try:
                    c.send(GET_BASE)
                    r = c.read_response()
                except (OSError, EOFError):
                    c.close()
                    break
                if r.status != 200:
                    self.assertEqual(r.status, 503)
                    self.assertEqual(error_code(r.body), "UNAVAILABLE")
                    c.close()
                    break
                held.append(c)
                self.assertLess(len(held), self.LIMIT, "never ran out of descriptors")
            # the server is at EMFILE now; pending clients wait, the server idles
            waiting = [socket.create_connection(("127.0.0.1", self.srv.port)) for _ in range(5)]
            t0 = cpu_seconds(self.srv)
            time.sleep(2.0)
            self.assertLess(cpu_seconds(self.srv) - t0, 0.5, "the server spins at EMFILE")
            for w in waiting:
                w.close()
            # descriptors come back: a new client is served again
            for c in held[:10]:
                c.close()
            del held[:10]

            self.assertTrue(wait_for(lambda: answers(self.srv, timeout=2), timeout=5))
        finally:
            for c in held:
                c.close()
        lines = [l for l in self.srv.output().splitlines() if "descriptor" in l]
        self.assertLess(len(lines), 30, "log flood: %d lines" % len(lines))


class TestMinimumRate(ServerTest):
    """Finding 5: a trickle that makes progress is still cut (min rate)."""

    def test_one_byte_every_two_seconds_is_cut_and_others_are_served(self):
        st, h, _ = self.srv.request("POST", "/v2/slow/rate/blobs/uploads/")
        self.assertEqual(st, 202)
        c = RawConn(self.srv)
        cut = threading.Event()

        def trickle():
            try:
                c.send(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n"
                        % h["location"]).encode())
                for _ in range(30):
                    c.send(b"x")
                    time.sleep(2)
            except OSError:
                cut.set()
        t = threading.Thread(target=trickle, daemon=True)
        t0 = time.monotonic()
        t.start()
        try:
            # default: 1024 bytes/s judged over 10 s windows (the body timeout
            # of 60 s alone would never fire: every byte is progress)
            self.assertTrue(c.closed_within(25), "trickling client never cut")
            self.assertLess(time.monotonic() - t0, 25)
            st, _, _ = self.srv.request("GET", "/v2/")
            self.assertEqual(st, 200)
        finally:
            c.close()
        self.assertIn("under the minimum rate", self.srv.output())


class TestPipelining(ServerTest):
    """Finding 11: an actively pipelining client is never cut with 408."""
    server_args = ("--header-timeout", "0.5")

    def test_continuous_pipelining_past_the_header_timeout(self):
        c = RawConn(self.srv, timeout=5)
        try:
            # each send finishes the previous request and starts the next, so
            # a partial head is always buffered; runs for 3x the header timeout
            c.send(b"GET /v2/ HTTP/1.1\r\nHo")
            t0 = time.monotonic()
            n = 0
            while time.monotonic() - t0 < 1.5:
                c.send(b"st: t\r\n\r\nGET /v2/ HTTP/1.1\r\nHo")
                r = c.read_response()
                self.assertEqual(r.status, 200)
                n += 1
                time.sleep(0.1)
            c.send(b"st: t\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)
            self.assertGreater(n, 5)
        finally:
            c.close()


class TestHTTPDetails(ServerTest):
    """Finding 13: reason phrases and Connection option lists."""

    def test_417_has_its_reason_phrase(self):
        c = RawConn(self.srv)
        try:
            c.send(b"POST /v2/r/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nExpect: magic\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.reason), (417, "Expectation Failed"))
        finally:
            c.close()

    def test_connection_close_in_a_list_is_honoured(self):
        for value in ("close, x", "x, close", "keep-alive, close", "Upgrade,CLOSE"):
            c = RawConn(self.srv)
            try:
                c.send(b"GET /v2/ HTTP/1.1\r\nHost: t\r\nConnection: " + value.encode() + b"\r\n\r\n" + GET_BASE)
                r = c.read_response()
                self.assertEqual(r.status, 200, value)
                self.assertEqual(r.header("connection"), "close", value)
                self.assertTrue(c.closed_within(2), value)
                self.assertEqual(c.buf, b"", value)
            finally:
                c.close()


class TestUploadSessionOptions(ServerTest):
    """--max-uploads-per-peer and --max-uploads reach the store."""
    server_args = ("--max-uploads-per-peer", "3", "--max-uploads", "4")

    def test_session_limits_follow_the_options(self):
        def post(source):
            s = connect_from(self.srv, source)
            try:
                s.sendall(b"POST /v2/opt/up/blobs/uploads/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
                st, h, body = read_response(s)
                return st, body
            finally:
                s.close()
        self.assertEqual([post("127.0.0.1")[0] for _ in range(3)], [202] * 3)
        st, body = post("127.0.0.1")
        self.assertEqual((st, error_code(body)), (429, "TOOMANYREQUESTS"))
        self.assertEqual(post("127.0.0.2")[0], 202)
        st, body = post("127.0.0.3")  # the total of 4 is reached
        self.assertEqual((st, error_code(body)), (429, "TOOMANYREQUESTS"))
