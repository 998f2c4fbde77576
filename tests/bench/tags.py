"""Tag writes at scale: time per manifest PUT with N tags in the repository, and
the latency of an unrelated GET /v2/ while one client tags in a loop.

  PACKHELPER=build/packhelper python3 tests/bench/tags.py [NTAGS]

The N tags are written into index.json before the server starts (pushing them
one by one would take minutes on the old code)."""
import http.client
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../e2e"))
from phtest import Server, desc, seed_tags, time_tag_puts, OCI_MANIFEST, OCI_CONFIG  # noqa: E402

NTAGS = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
CONFIG = b'{"architecture":"amd64","os":"linux"}'
M = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(OCI_CONFIG, CONFIG),
                "layers": []}).encode()


def main():
    srv = Server().start()
    srv.push_blob("bench/tags", CONFIG)
    st, _, _ = srv.push_manifest("bench/tags", "seed", M)
    assert st == 201
    srv.stop()
    seed_tags(srv.root, "bench/tags", M, ["t%05d" % i for i in range(NTAGS)])
    srv = Server(root=srv.root).start()
    try:
        times = time_tag_puts(srv, "bench/tags", M, ["new%d" % i for i in range(200)])
        print("manifest PUT at %d tags: median %.2f ms, p90 %.2f ms" %
              (NTAGS, 1000 * statistics.median(times), 1000 * sorted(times)[int(len(times) * 0.9)]))

        stop = threading.Event()

        def tagger():
            tc = srv.conn()
            i = 0
            while not stop.is_set():
                tc.request("PUT", "/v2/bench/tags/manifests/loop%d" % i, body=M,
                           headers={"Content-Type": OCI_MANIFEST})
                tc.getresponse().read()
                i += 1
        th = threading.Thread(target=tagger)
        th.start()
        time.sleep(0.2)
        g = srv.conn()
        lat = []
        for _ in range(200):
            t0 = time.monotonic()
            g.request("GET", "/v2/")
            g.getresponse().read()
            lat.append(time.monotonic() - t0)
            time.sleep(0.005)
        stop.set()
        th.join()
        print("GET /v2/ while tagging: median %.2f ms, p90 %.2f ms, max %.2f ms" %
              (1000 * statistics.median(lat), 1000 * sorted(lat)[int(len(lat) * 0.9)], 1000 * max(lat)))
    finally:
        srv.cleanup()


if __name__ == "__main__":
    main()
