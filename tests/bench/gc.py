"""Online garbage collection at scale: how long a collection of a big store stalls
the loop.  A store with NBLOBS blobs in one repository - a fifth referenced by
NBLOBS/25 manifests (a config and 4 layers each), the rest unreferenced - is
written straight to disk, then served with --gc-interval 8s --gc-grace 0; a
client sends GET /v2/ on one keep-alive connection the whole time and the
latencies during the collection are compared with those before it.

  PACKHELPER=build/packhelper python3 tests/bench/gc.py [NBLOBS]

Prints the collection's own line (steps, the longest step) and the GET
latency: median, p99 and max, idle and during the collection."""
import os
import re
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../e2e"))
from phtest import Server, seed_store  # noqa: E402

NBLOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
REPO = "bench/gc"


def seed(root, nblobs):
    """A fifth of nblobs in images (a config and 4 layers each), the rest garbage."""
    nimages = nblobs // 25
    seed_store(root, REPO, nimages, nblobs - nimages * 5)
    return nblobs - nimages * 5


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def main():
    srv = Server()
    t0 = time.monotonic()
    garbage = seed(srv.root, NBLOBS)
    os.sync()  # a store at rest, not one ext4 is still writing back
    print("seeded %d blobs (%d unreferenced) in %.1f s" % (NBLOBS, garbage, time.monotonic() - t0))
    srv.args = ["--gc-interval", "8s", "--gc-grace", "0"]
    t0 = time.monotonic()
    srv.start(timeout=60)
    print("started (the store loaded) in %.2f s; the collection starts 8 s after the start" %
          (time.monotonic() - t0))
    try:
        lat = []          # (monotonic time, seconds)
        stop = threading.Event()

        def getter():
            c = srv.conn()
            while not stop.is_set():
                t = time.monotonic()
                c.request("GET", "/v2/")
                c.getresponse().read()
                lat.append((t, time.monotonic() - t))
        def cpu():
            with open("/proc/%d/stat" % srv.proc.pid) as f:
                v = f.read().rsplit(")", 1)[1].split()
            return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
        th = threading.Thread(target=getter)
        th.start()
        cpu0 = cpu()
        deadline = time.monotonic() + 120
        line = None
        while time.monotonic() < deadline and not line:
            m = re.search(r"gc: removed [1-9].*", srv.output())
            line = m and m.group(0)
            seen = time.monotonic()
            time.sleep(0.02)
        cpu1 = cpu()
        stop.set()
        th.join()
        assert line, srv.output()[-2000:]
        print(line)
        print("server CPU from start to the end of the collection: %.2f s (the GETs included)" % (cpu1 - cpu0))
        # the collection ended at most a poll (20 ms) before it was seen, and
        # took as long as its line says
        took = float(re.search(r" in ([0-9.]+) ms", line).group(1)) / 1000
        start = seen - took - 0.03
        during = [d for t, d in lat if start <= t <= seen]
        before = [d for t, d in lat if t < start - 0.05]
        for name, v in (("idle", before), ("during gc", during)):
            if v:
                print("GET /v2/ %-9s: %6d requests, median %.3f ms, p99 %.3f ms, max %.3f ms" %
                      (name, len(v), 1000 * statistics.median(v), 1000 * pct(v, 0.99), 1000 * max(v)))
        with os.scandir(os.path.join(srv.root, "blobs/sha256")) as it:
            left = sum(1 for _ in it)
        print("blob files left: %d (expected %d)" % (left, NBLOBS // 25 * 6))
    finally:
        srv.cleanup()


if __name__ == "__main__":
    main()
