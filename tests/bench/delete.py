"""A DELETE of a large blob and the loop: how long an unrelated GET /v2/ waits
while the server removes a big file.  Each binary in turn gets a store in
BENCH_DIR (default: this checkout's build/, so the filesystem is the one the
store would be on), a SIZE_MIB blob pushed (the same bytes for every run), and
then a client sends GET /v2/ on one keep-alive connection the whole time while
another DELETEs the blob; the GET latencies that overlap the DELETE are
compared with those before it.  Runs alternate between the binaries, RUNS
each.

  python3 tests/bench/delete.py [--size-mib N] [--runs N] LABEL=BINARY...

e.g. old=/tmp/packhelper-before new=build/packhelper.  Prints, per binary,
the DELETE's own time and the GET latencies (median and max) idle and during
the DELETE, medians over the runs, and the ratio of each to the first."""
import argparse
import hashlib
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../e2e"))
import phtest  # noqa: E402
from phtest import Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def make_blob(path, mib):
    """mib MiB of random bytes into path; their digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    return "sha256:" + h.hexdigest()


def push(srv, path, digest, size):
    c = srv.conn(timeout=600)
    with open(path, "rb") as f:
        c.request("POST", "/v2/bench/del/blobs/uploads/?digest=" + digest, body=f,
                  headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})
        r = c.getresponse()
        r.read()
    c.close()
    assert r.status == 201, r.status


def one_run(binary, blob, digest, size, parent):
    root = tempfile.mkdtemp(prefix="ph-bench-del-", dir=parent)
    srv = Server(root=root)
    srv.own_root = True
    phtest.BIN = binary  # Server runs phtest.BIN
    srv.start()
    try:
        push(srv, blob, digest, size)
        os.sync()  # the blob's blocks on disk, as a blob pushed a while ago
        lat = []  # (start, seconds)
        stop = threading.Event()

        def getter():
            c = srv.conn()
            while not stop.is_set():
                t0 = time.monotonic()
                c.request("GET", "/v2/")
                r = c.getresponse()
                r.read()
                lat.append((t0, time.monotonic() - t0))
                time.sleep(0.0005)
            c.close()
        t = threading.Thread(target=getter)
        t.start()
        time.sleep(1.0)
        c = srv.conn(timeout=120)
        d0 = time.monotonic()
        c.request("DELETE", "/v2/bench/del/blobs/" + digest)
        r = c.getresponse()
        r.read()
        d1 = time.monotonic()
        c.close()
        assert r.status == 202, r.status
        time.sleep(0.5)
        stop.set()
        t.join()
        idle = [s for t0, s in lat if t0 + s < d0]
        during = [s for t0, s in lat if t0 < d1 and t0 + s > d0]
        return d1 - d0, idle, during
    finally:
        srv.cleanup()


def ms(v):
    return "%.2f ms" % (v * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("binaries", nargs="+", help="LABEL=BINARY")
    a = ap.parse_args()
    bins = [b.split("=", 1) for b in a.binaries]
    parent = os.environ.get("BENCH_DIR") or os.path.join(HERE, "../../build")
    os.makedirs(parent, exist_ok=True)
    blob = os.path.join(tempfile.mkdtemp(prefix="ph-bench-del-src-", dir=parent), "blob")
    print("writing a %d MiB blob under %s" % (a.size_mib, parent), file=sys.stderr)
    digest = make_blob(blob, a.size_mib)
    size = a.size_mib << 20
    res = {label: [] for label, _ in bins}
    try:
        for i in range(a.runs):
            for label, binary in bins:
                r = one_run(os.path.abspath(binary), blob, digest, size, parent)
                res[label].append(r)
                print("run %d %s: DELETE %s, GET /v2/ max during it %s (%d GETs overlapped it)" %
                      (i + 1, label, ms(r[0]), ms(max(r[2]) if r[2] else 0), len(r[2])),
                      file=sys.stderr)
    finally:
        os.unlink(blob)
        os.rmdir(os.path.dirname(blob))
    print("DELETE of a %d MiB blob, GET /v2/ on another connection meanwhile (medians of %d runs)"
          % (a.size_mib, a.runs))
    print("%-10s %12s %14s %14s %14s" % ("binary", "DELETE", "GET idle p50", "GET during max",
                                           "ratio to first"))
    first = None
    for label, _ in bins:
        rs = res[label]
        dele = statistics.median(r[0] for r in rs)
        idle = statistics.median(statistics.median(r[1]) for r in rs if r[1])
        worst = statistics.median(max(r[2]) if r[2] else 0 for r in rs)
        first = first or worst
        print("%-10s %12s %14s %14s %13.2fx" % (label, ms(dele), ms(idle), ms(worst),
                                                 worst / first if first else 0))


if __name__ == "__main__":
    main()
