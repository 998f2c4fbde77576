"""Garbage collection: online (serve --gc-interval) and offline (packhelper gc).

What goes (blobs no manifest of their repository references, once older than
the grace period; upload leftovers; untagged manifests when asked) and what
never does (anything a manifest references, a push in flight, a blob a pusher
just found, a live upload session); exact byte counts; --dry-run; the lock
that keeps gc off a store a server holds; clean restarts after a collection."""
import json
import os
import re
import subprocess
import threading
import time

from phtest import (BIN, Server, ServerTest, desc, seed_store, sha256, tree, wait_for,
                    OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, OCI_EMPTY)

CONFIG = b'{"architecture":"amd64","os":"linux"}'
GC_LINE = re.compile(r"gc: (?:would remove|removed) (\d+) blobs? \((\d+) bytes\) from (\d+) "
                     r"repositor(?:y|ies) \((\d+) links?\), (\d+) untagged manifests?, "
                     r"(\d+) upload leftovers? \((\d+) bytes\)")


def manifest(*layers, config=CONFIG, **extra):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(OCI_CONFIG, config),
         "layers": [desc(OCI_LAYER, l) for l in layers]}
    m.update(extra)
    return json.dumps(m).encode()


def counts(line):
    """The numbers of a gc summary line: blobs, bytes, repos, links, manifests,
    uploads, upload bytes."""
    m = GC_LINE.search(line)
    assert m, line
    return dict(zip(("blobs", "bytes", "repos", "links", "manifests", "uploads", "upload_bytes"),
                    map(int, m.groups())))


def gc_lines(srv):
    return [l for l in srv.output().splitlines() if GC_LINE.search(l)]


def wait_gc_runs(srv, n, timeout=10.0):
    """Wait until the server logged n collections; their lines."""
    wait_for(lambda: len(gc_lines(srv)) >= n, timeout=timeout, step=0.05)
    lines = gc_lines(srv)
    assert len(lines) >= n, "%d collections, %d wanted:\n%s" % (len(lines), n, srv.output()[-3000:])
    return lines


def gc(root, *args, timeout=60):
    """packhelper gc --root ROOT ARGS; the completed process (text)."""
    return subprocess.run([BIN, "gc", "--root", root] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def blob_files(root):
    """{digest: bytes} of ROOT/blobs."""
    out = {}
    for alg in os.listdir(os.path.join(root, "blobs")):
        for name in os.listdir(os.path.join(root, "blobs", alg)):
            with open(os.path.join(root, "blobs", alg, name), "rb") as f:
                out["%s:%s" % (alg, name)] = f.read()
    return out


def links(root, repo):
    d = os.path.join(root, "repos", repo, "_layout/blobs/sha256")
    return {"sha256:" + n for n in os.listdir(d)} if os.path.isdir(d) else set()


class GcTest(ServerTest):
    def restart(self, args=()):
        rc, _ = self.srv.stop()
        self.assertEqual(rc, 0, self.srv.output()[-2000:])
        self.srv = Server(root=self.srv.root, args=args).start()
        self.srv.own_root = True
        return self.srv

    def assert_blob(self, repo, data, srv=None):
        st, h, body = (srv or self.srv).request("GET", "/v2/%s/blobs/%s" % (repo, sha256(data)))
        self.assertEqual((st, body), (200, data))

    def assert_no_blob(self, repo, data, srv=None):
        st, _, _ = (srv or self.srv).request("GET", "/v2/%s/blobs/%s" % (repo, sha256(data)))
        self.assertEqual(st, 404)

    def assert_store_verified(self):
        """Every blob file holds the bytes its name says, and no uploads/gc-*
        file is left once the trash thread caught up."""
        for d, data in blob_files(self.srv.root).items():
            self.assertEqual(sha256(data), d)
        up = os.path.join(self.srv.root, "uploads")
        self.assertTrue(wait_for(lambda: not [n for n in os.listdir(up) if n.startswith("gc-")],
                                 timeout=5), os.listdir(up))

    def assert_clean_log(self, srv):
        bad = [l for l in srv.output().splitlines() if " warn " in l or " error " in l]
        self.assertEqual(bad, [])


class TestOnline(GcTest):
    def test_unreferenced_blobs_go_and_referenced_ones_stay_byte_exact(self):
        s = self.srv
        l1, l2, l3 = os.urandom(5000), os.urandom(7000), os.urandom(9000)
        x = b"pushed, never used"
        for b in (CONFIG, l1, l2, l3, x):
            s.push_blob("gc/app", b)
        v1, v2 = manifest(l1, l2), manifest(l1, l3)
        self.assertEqual(s.push_manifest("gc/app", "v1", v1)[0], 201)
        self.assertEqual(s.push_manifest("gc/app", "v2", v2)[0], 201)
        self.assertEqual(s.request("POST", "/v2/gc/other/blobs/uploads/?mount=%s&from=gc/app" % sha256(x))[0],
                         201)
        self.assertEqual(s.request("DELETE", "/v2/gc/app/manifests/" + sha256(v2))[0], 202)
        files = blob_files(s.root)
        self.assertIn(sha256(l3), files)

        # links found at start-up count from the start: with no grace they go
        # at the first collection
        s = self.restart(["--gc-interval", "1s", "--gc-grace", "0"])
        line = wait_gc_runs(s, 1)[0]
        self.assertEqual(counts(line), {"blobs": 2, "bytes": len(l3) + len(x), "repos": 2, "links": 3,
                                        "manifests": 0, "uploads": 0, "upload_bytes": 0}, line)
        self.assert_no_blob("gc/app", l3)
        self.assert_no_blob("gc/app", x)
        self.assert_no_blob("gc/other", x)
        for b in (CONFIG, l1, l2):
            self.assert_blob("gc/app", b)
        st, _, body = s.request("GET", "/v2/gc/app/manifests/v1")
        self.assertEqual((st, body), (200, v1))
        left = blob_files(s.root)
        self.assertEqual(set(files) - set(left), {sha256(l3), sha256(x)})
        self.assertEqual(links(s.root, "gc/app"), {sha256(b) for b in (CONFIG, l1, l2, v1)})
        self.assertEqual(links(s.root, "gc/other"), set())
        self.assert_store_verified()

        # a restart after the collection loads cleanly and serves the same
        s = self.restart()
        self.assert_clean_log(s)
        for b in (CONFIG, l1, l2):
            self.assert_blob("gc/app", b)
        self.assert_no_blob("gc/app", l3)
        self.assertEqual(s.request("GET", "/v2/gc/app/manifests/v1")[2], v1)
        self.assertEqual(json.loads(s.request("GET", "/v2/gc/app/tags/list")[2])["tags"], ["v1"])

    def test_grace_period_keeps_a_push_in_flight_and_a_blob_a_pusher_found(self):
        grace = 6.0
        s = self.srv = self.restart(["--gc-interval", "1s", "--gc-grace", "%gs" % grace])
        cfg, layer = b'{"os":"linux","in":"flight"}', os.urandom(20000)
        found, idle = b"found by a HEAD", b"nobody asks for this"
        t0 = time.monotonic()
        for b in (cfg, layer, found, idle):
            s.push_blob("gc/push", b)
        # two collections run (the second wholly after the uploads) while the
        # push is in flight; it finishes within the grace period
        wait_gc_runs(s, len(gc_lines(s)) + 2)
        self.assertLess(time.monotonic() - t0, grace - 1.0, "the collections came too late to tell")
        body = manifest(layer, config=cfg)
        st, _, err = s.push_manifest("gc/push", "v1", body)
        self.assertEqual(st, 201, err)
        self.assert_blob("gc/push", layer)
        self.assertEqual(s.request("GET", "/v2/gc/push/manifests/v1")[2], body)
        # a pusher checks a blob with HEAD and, finding it, skips it: the
        # grace period starts again for it
        time.sleep(max(0.0, t0 + grace / 2 + 0.5 - time.monotonic()))
        self.assertEqual(s.request("HEAD", "/v2/gc/push/blobs/" + sha256(found))[0], 200)
        t_head = time.monotonic()
        # the untouched one goes once older than the grace period, not before
        # (watched on disk: a GET would count as asking for it)
        self.assertTrue(wait_for(lambda: sha256(idle) not in links(s.root, "gc/push"),
                                 timeout=grace + 5, step=0.05))
        gone = time.monotonic()
        self.assert_no_blob("gc/push", idle)
        self.assertGreaterEqual(gone - t0, grace - 0.1)
        self.assertLess(gone - t_head, grace, "the collection came too late to tell")
        self.assert_blob("gc/push", found)
        st, _, err = s.push_manifest("gc/push", "v2", manifest(found, config=cfg))
        self.assertEqual(st, 201, err)
        self.assert_blob("gc/push", found)
        self.assert_blob("gc/push", layer)

    def test_collecting_while_clients_push_in_a_loop_never_removes_what_is_referenced(self):
        rc, _ = self.srv.stop()
        self.assertEqual(rc, 0)
        # a big repository, so each collection takes many steps and the
        # pushes land in its mark and its sweep; the pushers reuse some of its
        # unreferenced blobs (found with HEAD, as a pusher does)
        images, garbage = seed_store(self.srv.root, "gc/load", 150, 1500)
        s = self.srv = Server(root=self.srv.root, args=["--gc-interval", "1s", "--gc-grace", "1s"])
        s.own_root = True
        s.start(timeout=30)
        pool = list(garbage.items())
        lock = threading.Lock()
        failures, pushed = [], []
        stop = threading.Event()

        def pusher(n):
            c = s.conn(timeout=30)

            def req(method, path, body=None, headers=None):
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                return r.status, r.read()

            i = 0
            try:
                while not stop.is_set():
                    with lock:
                        reuse = pool.pop() if pool else None
                    own = b"pusher %d image %d " % (n, i) + os.urandom(3000)
                    cfg = b'{"os":"linux","pusher":%d,"i":%d}' % (n, i)
                    layers = [own] + ([reuse[1]] if reuse else [])
                    for b in [cfg] + layers:
                        if req("HEAD", "/v2/gc/load/blobs/" + sha256(b))[0] == 200:
                            continue
                        st, _ = req("POST", "/v2/gc/load/blobs/uploads/?digest=" + sha256(b), b)
                        if st != 201:
                            failures.append(("upload", n, i, st))
                    body = manifest(*layers, config=cfg)
                    tag = "p%d-%d" % (n, i)
                    st, err = req("PUT", "/v2/gc/load/manifests/" + tag, body, {"Content-Type": OCI_MANIFEST})
                    if st != 201:
                        failures.append(("manifest PUT", tag, st, err[:300]))
                        continue
                    st, got = req("GET", "/v2/gc/load/manifests/" + tag)
                    if (st, got) != (200, body):
                        failures.append(("manifest GET", tag, st))
                    for b in [cfg] + layers:
                        st, got = req("GET", "/v2/gc/load/blobs/" + sha256(b))
                        if (st, got) != (200, b):
                            failures.append(("blob GET", tag, sha256(b), st))
                    # and make garbage: every other image is deleted again
                    if i % 2:
                        st, _ = req("DELETE", "/v2/gc/load/manifests/" + sha256(body))
                        if st != 202:
                            failures.append(("DELETE", tag, st))
                    else:
                        pushed.append((tag, body, [cfg] + layers))
                    i += 1
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(("exception", n, repr(e)))
            finally:
                c.close()

        threads = [threading.Thread(target=pusher, args=(n,)) for n in range(3)]
        before = len(gc_lines(s))
        for t in threads:
            t.start()
        time.sleep(6)
        stop.set()
        for t in threads:
            t.join(60)
        self.assertEqual(failures, [])
        lines = gc_lines(s)[before:]
        self.assertGreaterEqual(len(lines), 2, s.output()[-3000:])
        self.assertGreater(sum(counts(l)["links"] for l in lines), 500, lines)
        self.assertGreater(len(pushed), 20)
        # every image still tagged pulls byte-exact: the seeded ones too
        for tag, body, blobs in pushed:
            self.assertEqual(s.request("GET", "/v2/gc/load/manifests/" + tag)[2], body)
            for b in blobs:
                self.assert_blob("gc/load", b)
        for tag, body, blobs in images:
            self.assertEqual(s.request("GET", "/v2/gc/load/manifests/" + tag)[2], body)
            for b in blobs.values():
                self.assert_blob("gc/load", b)
        # the files, once nothing collects any more (the last deletes are
        # garbage being collected), and after a restart, which clears what
        # the trash had not removed yet
        rc, _ = s.stop()
        self.assertEqual(rc, 0)
        for d, data in blob_files(s.root).items():
            self.assertEqual(sha256(data), d)
        s = self.srv = Server(root=s.root).start()
        s.own_root = True
        self.assert_store_verified()
        self.assert_clean_log(s)
        for tag, body, blobs in pushed[-5:]:
            self.assertEqual(s.request("GET", "/v2/gc/load/manifests/" + tag)[2], body)

    def test_upload_leftovers_go_live_sessions_and_imports_stay(self):
        s = self.srv = self.restart(["--gc-interval", "1s", "--gc-grace", "0"])
        st, h, _ = s.request("POST", "/v2/gc/up/blobs/uploads/")
        self.assertEqual(st, 202)
        loc = h["location"]
        self.assertEqual(s.request("PATCH", loc, body=b"first half ",
                                   headers={"Content-Type": "application/octet-stream"})[0], 202)
        up = os.path.join(s.root, "uploads")
        with open(os.path.join(up, "0123456789abcdef" * 2), "wb") as f:
            f.write(b"leftover")
        with open(os.path.join(up, "import-" + "ab" * 16), "wb") as f:
            f.write(b"an import's")
        n = len(gc_lines(s))
        self.assertTrue(wait_for(lambda: not os.path.exists(os.path.join(up, "0123456789abcdef" * 2)),
                                 timeout=5))
        line = [l for l in wait_gc_runs(s, n + 1)[n:] if counts(l)["uploads"]][0]
        self.assertEqual((counts(line)["uploads"], counts(line)["upload_bytes"]), (1, len(b"leftover")))
        self.assertTrue(os.path.exists(os.path.join(up, "import-" + "ab" * 16)))
        data = b"first half second half"
        st, _, _ = s.request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(data),
                             body=b"second half")
        self.assertEqual(st, 201)
        self.assert_blob("gc/up", data)

    def test_untagged_manifests_go_online_when_asked(self):
        s = self.srv
        s.push_blob("gc/tags", CONFIG)
        old_layer, new_layer = os.urandom(3000), os.urandom(3000)
        s.push_blob("gc/tags", old_layer)
        s.push_blob("gc/tags", new_layer)
        old, new = manifest(old_layer), manifest(new_layer)
        self.assertEqual(s.push_manifest("gc/tags", "latest", old)[0], 201)
        self.assertEqual(s.push_manifest("gc/tags", "latest", new)[0], 201)  # old is untagged now
        s = self.restart(["--gc-interval", "1s", "--gc-grace", "0", "--gc-delete-untagged"])
        line = wait_gc_runs(s, 1)[0]
        self.assertEqual(counts(line)["manifests"], 1, line)
        self.assertEqual(s.request("GET", "/v2/gc/tags/manifests/" + sha256(old))[0], 404)
        self.assertEqual(s.request("GET", "/v2/gc/tags/manifests/latest")[2], new)
        self.assert_no_blob("gc/tags", old_layer)
        self.assert_blob("gc/tags", new_layer)
        s = self.restart()
        self.assert_clean_log(s)
        self.assertEqual(s.request("GET", "/v2/gc/tags/manifests/" + sha256(old))[0], 404)
        self.assertEqual(s.request("GET", "/v2/gc/tags/manifests/latest")[2], new)

    def test_gc_of_no_store_creates_none(self):
        missing = os.path.join(self.srv.root, "no-such-store")
        p = gc(missing)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no store at", p.stderr)
        self.assertFalse(os.path.exists(missing))
        self.assertEqual(subprocess.run([BIN, "gc", "--grace", "forever"], capture_output=True).returncode, 2)

    def test_options_are_checked(self):
        for args, msg in ((["--read-only", "--gc-interval", "1s"], "never collected"),
                          (["--gc-grace", "1m"], "need --gc-interval"),
                          (["--gc-delete-untagged"], "need --gc-interval"),
                          (["--gc-interval", "soon"], "expected a duration")):
            p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--root", self.srv.root] + args,
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(msg, p.stderr)


class TestOffline(GcTest):
    def setUp(self):
        super().setUp()
        s = self.srv
        self.layer, self.gone, self.loose = os.urandom(4000), os.urandom(6000), b"a loose blob"
        for b in (CONFIG, self.layer, self.gone, self.loose):
            s.push_blob("gc/off", b)
        self.kept = manifest(self.layer)
        self.dropped = manifest(self.layer, self.gone)
        self.assertEqual(s.push_manifest("gc/off", "v1", self.kept)[0], 201)
        self.assertEqual(s.push_manifest("gc/off", "v2", self.dropped)[0], 201)
        self.assertEqual(s.request("DELETE", "/v2/gc/off/manifests/" + sha256(self.dropped))[0], 202)
        # an upload left open when the server stops
        st, h, _ = s.request("POST", "/v2/gc/off/blobs/uploads/")
        self.assertEqual(s.request("PATCH", h["location"], body=b"half",
                                   headers={"Content-Type": "application/octet-stream"})[0], 202)
        rc, _ = s.stop()
        self.assertEqual(rc, 0)

    def test_dry_run_removes_nothing_and_says_what_a_run_removes(self):
        root = self.srv.root
        before = tree(root)
        p = gc(root, "--dry-run", "--grace", "0")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(tree(root), before)
        want = {"blobs": 2, "bytes": len(self.gone) + len(self.loose), "repos": 1, "links": 2,
                "manifests": 0, "uploads": 1, "upload_bytes": 4}
        summary = p.stdout.splitlines()[-1]
        self.assertTrue(summary.startswith("gc: would remove "), summary)
        self.assertEqual(counts(summary), want)
        self.assertIn("would remove link gc/off@%s\n" % sha256(self.gone), p.stdout)
        self.assertIn("would remove blob %s (%d bytes)\n" % (sha256(self.loose), len(self.loose)), p.stdout)
        self.assertRegex(p.stdout, r"would remove upload leftover uploads/[0-9a-f]{32} \(4 bytes\)\n")

        files = blob_files(root)
        p = gc(root, "--grace", "0")
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = p.stdout.splitlines()[-1]
        self.assertTrue(summary.startswith("gc: removed "), summary)
        self.assertEqual(counts(summary), want)
        left = blob_files(root)
        self.assertEqual(set(files) - set(left), {sha256(self.gone), sha256(self.loose)})
        self.assertEqual(sum(len(files[d]) for d in set(files) - set(left)), want["bytes"])
        self.assertEqual(os.listdir(os.path.join(root, "uploads")), [])
        # nothing left to do, and the store serves what it kept
        self.assertEqual(counts(gc(root, "--grace", "0").stdout)["links"], 0)
        s = self.srv = Server(root=root).start()
        s.own_root = True
        self.assert_clean_log(s)
        self.assertEqual(s.request("GET", "/v2/gc/off/manifests/v1")[2], self.kept)
        for b in (CONFIG, self.layer):
            self.assert_blob("gc/off", b)
        self.assert_no_blob("gc/off", self.gone)

    def test_default_grace_keeps_what_was_just_pushed(self):
        p = gc(self.srv.root)
        self.assertEqual(p.returncode, 0, p.stderr)
        c = counts(p.stdout.splitlines()[-1])
        # the links are minutes old at most: only the upload leftover goes
        self.assertEqual((c["links"], c["blobs"], c["uploads"]), (0, 0, 1))
        self.assertIn(sha256(self.gone), blob_files(self.srv.root))

    def test_untagged_manifests_go_unless_something_kept_names_them(self):
        s = self.srv = Server(root=self.srv.root).start()
        s.own_root = True
        la, lb, lc = b"layer of a", b"layer of b", b"layer of c"
        for b in (CONFIG, la, lb, lc, b"{}"):
            s.push_blob("gc/u", b)
        a, b_, c = manifest(la), manifest(lb), manifest(lc)
        self.assertEqual(s.push_manifest("gc/u", "a", a)[0], 201)
        self.assertEqual(s.push_manifest("gc/u", sha256(b_), b_)[0], 201)   # untagged
        self.assertEqual(s.push_manifest("gc/u", sha256(c), c)[0], 201)     # untagged child
        idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                          "manifests": [desc(OCI_MANIFEST, c)]}).encode()
        self.assertEqual(s.push_manifest("gc/u", "multi", idx, media_type=OCI_INDEX)[0], 201)

        def referrer(subject, what):
            return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x." + what,
                               "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
                               "layers": [], "subject": desc(OCI_MANIFEST, subject)}).encode()
        sig_a, sig_b = referrer(a, "sig-a"), referrer(b_, "sig-b")
        for r in (sig_a, sig_b):
            self.assertEqual(s.push_manifest("gc/u", sha256(r), r)[0], 201)
        rc, _ = s.stop()
        self.assertEqual(rc, 0)
        p = gc(s.root, "--grace", "0", "--delete-untagged")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(counts(p.stdout.splitlines()[-1])["manifests"], 2, p.stdout)
        self.assertIn("removed untagged manifest gc/u@%s" % sha256(b_), p.stdout)
        self.assertIn("removed untagged manifest gc/u@%s" % sha256(sig_b), p.stdout)
        s = self.srv = Server(root=s.root).start()
        s.own_root = True
        self.assert_clean_log(s)
        for m in (b_, sig_b):
            self.assertEqual(s.request("GET", "/v2/gc/u/manifests/" + sha256(m))[0], 404)
        for m in (a, c, idx, sig_a):
            self.assertEqual(s.request("GET", "/v2/gc/u/manifests/" + sha256(m))[2], m)
        self.assert_no_blob("gc/u", lb)
        for b in (la, lc, b"{}"):
            self.assert_blob("gc/u", b)
        refs = json.loads(s.request("GET", "/v2/gc/u/referrers/" + sha256(a))[2])["manifests"]
        self.assertEqual([r["digest"] for r in refs], [sha256(sig_a)])


class TestLock(GcTest):
    def test_a_store_in_use_by_a_server_is_refused(self):
        s = self.srv
        s.push_blob("gc/lock", b"unreferenced")
        before = tree(s.root)
        for args in ((), ("--dry-run",), ("--grace", "0")):
            p = gc(s.root, *args)
            self.assertEqual(p.returncode, 1, (args, p.stdout, p.stderr))
            self.assertIn("is in use by another process (pid %d)" % s.proc.pid, p.stderr)
            self.assertEqual(p.stdout, "")
        # nor a second server (whose start-up would clear its uploads)
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--root", s.root],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("in use by another process", p.stderr)
        self.assertEqual(tree(s.root), before)
        self.assert_blob("gc/lock", b"unreferenced")
        rc, _ = s.stop()
        self.assertEqual(rc, 0)
        p = gc(s.root, "--grace", "0")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(counts(p.stdout)["blobs"], 1)


if __name__ == "__main__":
    import unittest
    unittest.main()
