#!/usr/bin/env python3
"""tests/soak/soak.py - the raw-socket clients and the final verification of the soak.

Subcommands (REG is host:port of a plain-HTTP registry on loopback; every client
runs until its deadline, an absolute time.time(), and appends one event line per
operation to its events file:  "T_START T_END CLIENT OP RESULT DETAIL"):

  prep REG WORK                   push soak/big:v1 (a SOAK_BIG_MIB blob, bytes kept
                                  in WORK/big.bin) and soak/huge:v1 (a ~4 MiB manifest);
                                  prints their digests as JSON
  trickle-read REG WORK DEADLINE EVENTS    a reader that reads the big blob at a trickle
  trickle-write REG WORK DEADLINE EVENTS   a writer that trickles PATCH bodies
  abandon REG DEADLINE EVENTS              clients that vanish half-way
  nonread REG WORK DEADLINE EVENTS         clients that never read their responses
  churn REG DEADLINE EVENTS LOG            tag churn in soak/churn (LOG: begin/ack journal)
  deleter REG WORK DEADLINE EVENTS             blob and manifest deletes in soak/del
  verify REG STORE WORK                    the final checks (prints ok / not ok lines)
  report WORK                              per-client figures from the events files

Only the standard library and tests/e2e/phtest.py (hashes, media types, raw
response heads).  Every socket has a timeout; nothing connects anywhere but REG,
which must be a loopback address.  The server itself is started by run.sh
(tests/lib.sh's ph_serve_start).
"""
import hashlib
import http.client
import json
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from phtest import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, read_head, sha256  # noqa: E402

ACCEPT = ",".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
TIMEOUT = float(os.environ.get("SOAK_IO_TIMEOUT", "60"))


def split_reg(reg):
    host, _, port = reg.rpartition(":")
    host = host.strip("[]")
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("soak.py: refusing non-loopback registry %s" % reg)
    return host, int(port)


class Events:
    """One line per operation; O_APPEND writes of short lines do not interleave."""

    def __init__(self, path, client):
        self.f = open(path, "a", buffering=1)
        self.client = client

    def log(self, t0, op, result, detail=""):
        detail = " ".join(str(detail).split())[:200]
        self.f.write("%.3f %.3f %s %s %s %s\n" % (t0, time.time(), self.client, op, result, detail))


class Reg:
    """A keep-alive http.client connection that reconnects after any error."""

    def __init__(self, reg, timeout=TIMEOUT):
        self.host, self.port = split_reg(reg)
        self.timeout = timeout
        self.c = None

    def req(self, method, path, body=None, headers=None):
        """(status, headers dict lower-case, body bytes); raises OSError/HTTPException."""
        if self.c is None:
            self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.c.request(method, path, body=body, headers=headers or {})
            r = self.c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if hdrs.get("connection", "").lower() == "close":
                self.close()
            return r.status, hdrs, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None

    # ---- registry operations
    def push_blob(self, repo, data):
        """POST + PUT (monolithic); returns the digest, raises on failure."""
        d = sha256(data)
        st, h, _ = self.req("POST", "/v2/%s/blobs/uploads/" % repo, b"", {"Content-Length": "0"})
        if st != 202:
            raise RuntimeError("POST upload %s: %d" % (repo, st))
        loc = h["location"]
        sep = "&" if "?" in loc else "?"
        st, h, _ = self.req("PUT", "%s%sdigest=%s" % (loc, sep, d), data,
                            {"Content-Type": "application/octet-stream"})
        if st != 201:
            raise RuntimeError("PUT upload %s: %d" % (repo, st))
        return d

    def put_manifest(self, repo, ref, body, media_type=OCI_MANIFEST):
        return self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body, {"Content-Type": media_type})


def make_manifest(config_digest, config_size, layers, annotations=None):
    m = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": n} for d, n in layers],
    }
    if annotations:
        m["annotations"] = annotations
    return json.dumps(m, separators=(",", ":")).encode()


def make_config(layer_digests):
    return json.dumps({"architecture": "amd64", "os": "linux",
                       "rootfs": {"type": "layers", "diff_ids": layer_digests}},
                      separators=(",", ":")).encode()


def push_image(r, repo, tag, layer_blobs, annotations=None):
    """Push layers, config and manifest; returns (manifest digest, manifest bytes)."""
    layers = [(r.push_blob(repo, b), len(b)) for b in layer_blobs]
    cfg = make_config([d for d, _ in layers])
    cd = r.push_blob(repo, cfg)
    body = make_manifest(cd, len(cfg), layers, annotations)
    st, _, data = r.put_manifest(repo, tag, body)
    if st != 201:
        raise RuntimeError("PUT manifest %s:%s: %d %s" % (repo, tag, st, data[:200]))
    return sha256(body), body


def raw_connect(reg, rcvbuf=None, timeout=TIMEOUT):
    host, port = split_reg(reg)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def deadline_sleep(deadline, secs):
    time.sleep(max(0.0, min(secs, deadline - time.time())))


def errname(e):
    return type(e).__name__ + ":" + str(e)


# ---------------------------------------------------------------------------
def cmd_prep(reg, work):
    r = Reg(reg)
    big_mib = int(os.environ.get("SOAK_BIG_MIB", "32"))
    big = os.urandom(big_mib << 20)
    with open(os.path.join(work, "big.bin"), "wb") as f:
        f.write(big)
    big_manifest, _ = push_image(r, "soak/big", "v1", [big])
    # a manifest just under the 4 MiB manifest limit: what non-reading clients ask for
    pad = 4 * 1024 * 1024 - 4096
    huge_digest, huge = push_image(r, "soak/huge", "v1", [os.urandom(1024)],
                                   annotations={"soak.pad": "p" * pad})
    out = {"big_digest": sha256(big), "big_size": len(big), "big_manifest": big_manifest,
           "huge_digest": huge_digest, "huge_size": len(huge)}
    with open(os.path.join(work, "prep.json"), "w") as f:
        json.dump(out, f)
    print(json.dumps(out))


# ---------------------------------------------------------------------------
def cmd_trickle_read(reg, work, deadline, events):
    """Range GETs of the big blob read at SOAK_TRICKLE_KIBS KiB/s with a tiny
    receive buffer (the server must keep sending without holding the loop);
    every third one is a whole-blob GET abandoned part-way."""
    ev = Events(events, "trickle-read")
    prep = json.load(open(os.path.join(work, "prep.json")))
    with open(os.path.join(work, "big.bin"), "rb") as f:
        big = f.read()
    rate = int(os.environ.get("SOAK_TRICKLE_KIBS", "64")) * 1024
    step = 4096
    i = 0
    while time.time() < deadline:
        i += 1
        t0 = time.time()
        abandon = i % 3 == 0
        length = 1 << 20
        off = random.randrange(0, len(big) - length)
        op = "read-abandon" if abandon else "read-range"
        try:
            s = raw_connect(reg, rcvbuf=4096)
            with s:
                rng = "" if abandon else "Range: bytes=%d-%d\r\n" % (off, off + length - 1)
                s.sendall(("GET /v2/soak/big/blobs/%s HTTP/1.1\r\nHost: soak\r\n%s\r\n"
                           % (prep["big_digest"], rng)).encode())
                st, h, got = read_head(s)
                want_st = 200 if abandon else 206
                if st != want_st:
                    ev.log(t0, op, "error", "http %d" % st)
                    deadline_sleep(deadline, 1)
                    continue
                if abandon:
                    off, length = 0, random.randrange(64 << 10, 2 << 20)
                eof = False
                while len(got) < length and time.time() < deadline:
                    chunk = s.recv(min(step, length - len(got)))
                    if not chunk:
                        eof = True
                        break
                    got += chunk
                    time.sleep(len(chunk) / rate)
                got = got[:length]
                if got != big[off:off + len(got)]:
                    ev.log(t0, op, "CORRUPT", "bytes %d-%d differ from the blob" % (off, off + len(got) - 1))
                elif eof:
                    ev.log(t0, op, "short", "EOF after %d of %d bytes" % (len(got), length))
                else:
                    ev.log(t0, op, "ok", "%d of %d bytes%s" % (len(got), length,
                                                               "" if len(got) == length else " (the soak ended)"))
        except Exception as e:  # noqa: BLE001 - every failure is an event
            ev.log(t0, op, "error", errname(e))
            deadline_sleep(deadline, 1)


# ---------------------------------------------------------------------------
def cmd_trickle_write(reg, work, deadline, events):
    """A session whose PATCH body arrives at SOAK_TRICKLE_KIBS/4 KiB/s, then the
    closing PUT; every fourth one vanishes half-way through its PATCH.  Acked
    blobs go to WORK/trickle.acked (they must be served, byte-exact, at the end)."""
    ev = Events(events, "trickle-write")
    acked = open(os.path.join(work, "trickle.acked"), "a", buffering=1)
    rate = max(1024, int(os.environ.get("SOAK_TRICKLE_KIBS", "64")) * 1024 // 4)
    i = 0
    repo = "soak/trickle"
    while time.time() < deadline:
        i += 1
        t0 = time.time()
        abandon = i % 4 == 0
        chunked = i % 2 == 0
        data = os.urandom(random.randrange(64 << 10, 256 << 10))
        d = sha256(data)
        op = "write-abandon" if abandon else ("write-chunked" if chunked else "write")
        try:
            r = Reg(reg)
            st, h, _ = r.req("POST", "/v2/%s/blobs/uploads/" % repo, b"", {"Content-Length": "0"})
            r.close()
            if st != 202:
                ev.log(t0, op, "error", "POST http %d" % st)
                deadline_sleep(deadline, 1)
                continue
            loc = h["location"]
            s = raw_connect(reg)
            with s:
                if chunked:
                    s.sendall(("PATCH %s HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n" % loc).encode())
                else:
                    s.sendall(("PATCH %s HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n"
                               "Content-Length: %d\r\n\r\n" % (loc, len(data))).encode())
                stop = len(data) // 2 if abandon else len(data)
                pos = 0
                try:
                    while pos < stop:
                        piece = data[pos:min(stop, pos + 4096)]
                        s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                        pos += len(piece)
                        time.sleep(len(piece) / rate)
                    if chunked and not abandon:
                        s.sendall(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    # the server may have answered (507) and closed before the end
                    abandon = False
                if abandon:
                    ev.log(t0, op, "ok", "vanished after %d of %d bytes" % (stop, len(data)))
                    continue
                st, h, _ = read_head(s)
            if st == 507 and os.environ.get("SOAK_STORE_MIB"):
                # the disk is full: resume like a careful client, from the offset
                # the server reports, until space comes back (the deleter frees some)
                st, h, loc = resume_upload(reg, loc, data, deadline)
            if st != 202:
                ev.log(t0, op, "error", "PATCH http %d" % st)
                continue
            loc = h.get("location", loc)
            sep = "&" if "?" in loc else "?"
            r = Reg(reg)
            st, _, body = r.req("PUT", "%s%sdigest=%s" % (loc, sep, d), b"", {"Content-Length": "0"})
            if st != 201:
                ev.log(t0, op, "error", "PUT http %d %s" % (st, body[:100]))
                r.close()
                continue
            acked.write("%s %s %.3f\n" % (repo, d, time.time()))
            st, _, back = r.req("GET", "/v2/%s/blobs/%s" % (repo, d))
            r.close()
            if st != 200:
                ev.log(t0, op, "error", "GET after PUT http %d" % st)
            elif back != data:
                ev.log(t0, op, "CORRUPT", "GET %s returned other bytes" % d)
            else:
                ev.log(t0, op, "ok", "%d bytes" % len(data))
        except Exception as e:  # noqa: BLE001
            ev.log(t0, op, "error", errname(e))
            deadline_sleep(deadline, 1)


def resume_upload(reg, loc, data, deadline):
    """After a 507: GET the session's status, PATCH the rest from its Range with
    Content-Range, until 202 or the deadline.  (status, headers, location)."""
    st, h = 507, {}
    r = Reg(reg)
    try:
        while time.time() < deadline:
            time.sleep(1)
            st, h, _ = r.req("GET", loc)
            if st != 204:
                return st, h, loc
            loc = h.get("location", loc)
            rng = h.get("range", "0-0")
            start = int(rng.split("-")[1]) + 1 if rng.split("-")[1] and rng != "0-0" else 0
            rest = data[start:]
            st, h, _ = r.req("PATCH", loc, rest, {"Content-Type": "application/octet-stream",
                                                  "Content-Range": "%d-%d" % (start, len(data) - 1)})
            if st != 507:
                return st, h, h.get("location", loc)
    finally:
        r.close()
    return st, h, loc


# ---------------------------------------------------------------------------
def cmd_abandon(reg, deadline, events):
    """Connections that vanish: an upload session opened and left, a PATCH cut
    half-way, half a request head, half a body, a silent connection, a request
    whose response is never read.  SOAK_ABANDON_RATE per second in all; after
    every round the server must still answer GET /v2/ within 5 s."""
    ev = Events(events, "abandon")
    rate = float(os.environ.get("SOAK_ABANDON_RATE", "4"))
    held = []
    kinds = ["upload-session", "patch-cut", "half-head", "half-body", "silent", "no-read"]
    i = 0
    while time.time() < deadline:
        kind = kinds[i % len(kinds)]
        i += 1
        t0 = time.time()
        try:
            s = raw_connect(reg, rcvbuf=4096, timeout=10)
            if kind == "upload-session":
                s.sendall(b"POST /v2/soak/abandon/blobs/uploads/ HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\r\n\r\n")
                read_head(s)
                s.close()
            elif kind == "patch-cut":
                s.sendall(b"POST /v2/soak/abandon/blobs/uploads/ HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\r\n\r\n")
                st, h, _ = read_head(s)
                if st == 202:
                    s.sendall(("PATCH %s HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n"
                               "Content-Length: 65536\r\n\r\n" % h["location"]).encode() + os.urandom(10000))
                    time.sleep(0.05)
                s.close()
            elif kind == "half-head":
                s.sendall(b"GET /v2/soak/big/tags/list HTTP/1.1\r\nHost: so")
                held.append(s)
            elif kind == "half-body":
                s.sendall(b"PUT /v2/soak/abandon/manifests/x HTTP/1.1\r\nHost: soak\r\n"
                          b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                          b"Content-Length: 1000\r\n\r\n{\"schemaVersion\":2,")
                held.append(s)
            elif kind == "silent":
                held.append(s)
            else:  # no-read: ask for the big blob, read nothing, reset
                s.sendall(b"GET /v2/soak/big/manifests/v1 HTTP/1.1\r\nHost: soak\r\n\r\n"
                          b"GET /v2/soak/huge/manifests/v1 HTTP/1.1\r\nHost: soak\r\n\r\n")
                time.sleep(0.05)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            ev.log(t0, kind, "ok")
        except Exception as e:  # noqa: BLE001
            ev.log(t0, kind, "error", errname(e))
        # held connections vanish a few seconds later, oldest first
        while len(held) > 12:
            held.pop(0).close()
        if i % len(kinds) == 0:
            t1 = time.time()
            try:
                r = Reg(reg, timeout=5)
                st, _, _ = r.req("GET", "/v2/")
                r.close()
                ev.log(t1, "probe", "ok" if st == 200 else "error", "http %d" % st)
            except Exception as e:  # noqa: BLE001
                ev.log(t1, "probe", "error", errname(e))
        deadline_sleep(deadline, 1.0 / rate)
    for s in held:
        s.close()


# ---------------------------------------------------------------------------
def cmd_nonread(reg, work, deadline, events):
    """Rounds of SOAK_NONREADERS connections that each ask for the ~4 MiB
    manifest (twice, pipelined) and the big blob, with a tiny receive buffer,
    and never read; they are held SOAK_NONREAD_HOLD seconds, then closed."""
    ev = Events(events, "non-reader")
    n = int(os.environ.get("SOAK_NONREADERS", "32"))
    hold = float(os.environ.get("SOAK_NONREAD_HOLD", "10"))
    while time.time() < deadline:
        t0 = time.time()
        socks = []
        try:
            for _ in range(n):
                s = raw_connect(reg, rcvbuf=4096, timeout=10)
                socks.append(s)
                s.sendall(b"GET /v2/soak/huge/manifests/v1 HTTP/1.1\r\nHost: soak\r\n\r\n"
                          b"GET /v2/soak/huge/manifests/v1 HTTP/1.1\r\nHost: soak\r\n\r\n")
            s = raw_connect(reg, rcvbuf=4096, timeout=10)
            socks.append(s)
            prep = json.load(open(os.path.join(work, "prep.json")))
            s.sendall(("GET /v2/soak/big/blobs/%s HTTP/1.1\r\nHost: soak\r\n\r\n" % prep["big_digest"]).encode())
            deadline_sleep(deadline, hold)
            ev.log(t0, "hold", "ok", "%d connections held %.0fs" % (len(socks), time.time() - t0))
        except Exception as e:  # noqa: BLE001
            ev.log(t0, "hold", "error", errname(e))
        for s in socks:
            s.close()
        deadline_sleep(deadline, 5)


# ---------------------------------------------------------------------------
CHURN_REPO = "soak/churn"


def cmd_churn(reg, deadline, events, log):
    """Many tags moved among three manifests, deleted, and manifests deleted by
    digest (which takes their tags).  One connection, one operation at a time,
    journaled: "B seq op tag digest" before, "A seq status" after."""
    ev = Events(events, "churn")
    jl = open(log, "a", buffering=1)
    ntags = int(os.environ.get("SOAK_CHURN_TAGS", "200"))
    r = Reg(reg)
    t0 = time.time()
    # the blobs stay held by an anchor manifest that is never touched
    layer, cfg = os.urandom(2048), make_config([])
    ld, cd = r.push_blob(CHURN_REPO, layer), r.push_blob(CHURN_REPO, cfg)
    bodies = {}
    for k in range(4):
        b = make_manifest(cd, len(cfg), [(ld, len(layer))], {"soak.churn": str(k)})
        bodies[sha256(b)] = b
    digests = list(bodies)
    anchor, digests = digests[0], digests[1:]
    st, _, _ = r.put_manifest(CHURN_REPO, "anchor", bodies[anchor])
    jl.write("B 0 move anchor %s\nA 0 %d\n" % (anchor, st))
    ev.log(t0, "setup", "ok" if st == 201 else "error", "anchor http %d" % st)
    seq = 0
    while time.time() < deadline:
        seq += 1
        x = random.random()
        tag = "c%03d" % random.randrange(ntags)
        d = random.choice(digests)
        if x < 0.70:
            op, args = "move", (tag, d)
        elif x < 0.97:
            op, args = "delete-tag", (tag, "-")
        else:
            op, args = "delete-digest", ("-", d)
        jl.write("B %d %s %s %s\n" % (seq, op, args[0], args[1]))
        t0 = time.time()
        try:
            if op == "move":
                st, _, _ = r.put_manifest(CHURN_REPO, tag, bodies[d])
                good = st == 201
            else:
                st, _, _ = r.req("DELETE", "/v2/%s/manifests/%s" % (CHURN_REPO, tag if op == "delete-tag" else d))
                good = st in (202, 404)
            jl.write("A %d %d\n" % (seq, st))
            ev.log(t0, op, "ok" if good else "error", "http %d" % st)
        except Exception as e:  # noqa: BLE001
            jl.write("E %d %s\n" % (seq, type(e).__name__))
            ev.log(t0, op, "error", errname(e))
            deadline_sleep(deadline, 0.2)
    json.dump({"anchor": anchor, "digests": digests}, open(log + ".json", "w"))


def churn_expect(log):
    """tag -> set of acceptable final digests (None: absent), from the journal.
    An operation that never got its answer may or may not have happened."""
    allowed = {}
    pending = {}
    for ln in open(log):
        f = ln.split()
        if f[0] == "B":
            pending[f[1]] = f[2:]
            continue
        op, tag, d = pending.pop(f[1])
        acked = f[0] == "A"
        st = int(f[2]) if acked else 0
        if acked and op == "move" and st != 201:
            continue  # refused: nothing changed
        if acked and op != "move" and st not in (202, 404):
            continue
        if op == "move":
            allowed[tag] = {d} if acked else allowed.get(tag, {None}) | {d}
        elif op == "delete-tag":
            allowed[tag] = {None} if acked else allowed.get(tag, {None}) | {None}
        else:
            for t, s in allowed.items():
                if d in s:
                    allowed[t] = (s - {d}) | {None} if acked else s | {None}
    for _, (op, tag, d) in pending.items():  # begun, never answered (killed)
        if op == "move":
            allowed[tag] = allowed.get(tag, {None}) | {d}
        elif op == "delete-tag":
            allowed[tag] = allowed.get(tag, {None}) | {None}
        else:
            for t, s in allowed.items():
                if d in s:
                    allowed[t] = s | {None}
    return allowed


# ---------------------------------------------------------------------------
def cmd_deleter(reg, work, deadline, events):
    """Blob and manifest deletes in soak/del-*: push an image, delete the
    manifest by digest, then its blobs; mount a blob that soak/big holds and
    delete it from soak/del only (soak/big must keep it); delete a blob that
    no manifest uses.  Every answer is checked."""
    ev = Events(events, "deleter")
    prep = json.load(open(os.path.join(work, "prep.json")))
    r = Reg(reg)
    i = 0
    while time.time() < deadline:
        i += 1
        repo = "soak/del-%d" % (i % 4)
        t0 = time.time()
        try:
            blobs = [os.urandom(random.randrange(1024, 256 << 10)) for _ in range(2)]
            md, _ = push_image(r, repo, "t%d" % i, blobs)
            st, _, _ = r.req("DELETE", "/v2/%s/manifests/%s" % (repo, md))
            if st != 202:
                ev.log(t0, "delete-manifest", "error", "http %d" % st)
                continue
            st, _, _ = r.req("GET", "/v2/%s/manifests/t%d" % (repo, i))
            ev.log(t0, "delete-manifest", "ok" if st == 404 else "error", "tag after delete: http %d" % st)
            t0 = time.time()
            bad = []
            for b in blobs:
                d = sha256(b)
                st, _, _ = r.req("DELETE", "/v2/%s/blobs/%s" % (repo, d))
                if st not in (202, 404):
                    bad.append("DELETE http %d" % st)
                st, _, _ = r.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
                if st != 404:
                    bad.append("HEAD after delete http %d" % st)
            ev.log(t0, "delete-blob", "error" if bad else "ok", ",".join(bad))
            # a shared blob: deleting it from one repository leaves the other alone
            t0 = time.time()
            st, _, _ = r.req("POST", "/v2/%s/blobs/uploads/?mount=%s&from=soak/big" % (repo, prep["big_digest"]),
                             b"", {"Content-Length": "0"})
            if st == 201:
                st1, _, _ = r.req("DELETE", "/v2/%s/blobs/%s" % (repo, prep["big_digest"]))
                st2, _, _ = r.req("HEAD", "/v2/soak/big/blobs/%s" % prep["big_digest"])
                good = st1 == 202 and st2 == 200
                ev.log(t0, "delete-mounted", "ok" if good else "error", "delete %d, other repo HEAD %d" % (st1, st2))
            else:
                ev.log(t0, "delete-mounted", "error", "mount http %d" % st)
            # a blob no manifest uses
            t0 = time.time()
            d = r.push_blob(repo, os.urandom(4096))
            st, _, _ = r.req("DELETE", "/v2/%s/blobs/%s" % (repo, d))
            st2, _, _ = r.req("GET", "/v2/%s/blobs/%s" % (repo, d))
            ev.log(t0, "delete-loose-blob", "ok" if (st, st2) == (202, 404) else "error",
                   "delete %d, GET after %d" % (st, st2))
        except Exception as e:  # noqa: BLE001
            ev.log(t0, "cycle", "error", errname(e))
            deadline_sleep(deadline, 0.5)
        deadline_sleep(deadline, 0.2)


# ---------------------------------------------------------------------------
class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, good, desc, detail=""):
        if good:
            self.passed += 1
            print("ok - %s" % desc)
        else:
            self.failed += 1
            print("not ok - %s%s" % (desc, (" (%s)" % detail) if detail else ""))
        sys.stdout.flush()
        return good


def paginate(r, path, key):
    out = []
    url = path + ("&" if "?" in path else "?") + "n=100"
    for _ in range(100000):
        st, h, body = r.req("GET", url)
        if st != 200:
            raise RuntimeError("GET %s: http %d" % (url, st))
        out += json.loads(body).get(key) or []
        link = h.get("link", "")
        if not link.startswith("<"):
            return out
        url = link[1:link.index(">")]
        if url.startswith("http"):
            url = "/" + url.split("/", 3)[3]
    raise RuntimeError("pagination of %s does not end" % path)


def hash_file(path, alg):
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return alg + ":" + h.hexdigest()


def cmd_verify(reg, store, work):
    """Everything the soak promises about the store, from disk and over HTTP."""
    c = Checks()
    r = Reg(reg, timeout=120)
    problems = []

    # -- disk: every blob, and every repository's links to it
    ondisk = {}
    bad_disk = []
    for alg in ("sha256", "sha512"):
        d = os.path.join(store, "blobs", alg)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            p = os.path.join(d, name)
            got = hash_file(p, alg)
            ondisk[alg + ":" + name] = os.stat(p)
            if got != alg + ":" + name:
                bad_disk.append(name[:16])
    c.check(not bad_disk, "on disk: all %d blobs in blobs/ hash to their names" % len(ondisk),
            "%d wrong: %s" % (len(bad_disk), " ".join(bad_disk[:10])))
    holders = {}
    bad_links = []
    repos_root = os.path.join(store, "repos")
    for dirpath, dirnames, filenames in os.walk(repos_root):
        if os.path.basename(os.path.dirname(dirpath)) == "blobs" and os.path.basename(
                os.path.dirname(os.path.dirname(dirpath))) == "_layout":
            alg = os.path.basename(dirpath)
            repo = os.path.relpath(os.path.dirname(os.path.dirname(os.path.dirname(dirpath))), repos_root)
            for name in filenames:
                dg = alg + ":" + name
                stt = os.stat(os.path.join(dirpath, name))
                shared = ondisk.get(dg)
                if shared is None or (shared.st_ino, shared.st_dev) != (stt.st_ino, stt.st_dev):
                    if hash_file(os.path.join(dirpath, name), alg) != dg:
                        bad_links.append("%s@%s" % (repo, name[:12]))
                holders.setdefault(dg, repo)
    c.check(not bad_links, "on disk: every repository's blob link is the shared blob or hashes to its name",
            " ".join(bad_links[:10]))
    orphans = [d for d in ondisk if d not in holders]
    print("# %d blobs on disk, %d held by no repository" % (len(ondisk), len(orphans)))

    # -- HTTP: catalog, tags, manifests, referenced blobs
    try:
        repos = paginate(r, "/v2/_catalog", "repositories")
    except Exception as e:  # noqa: BLE001
        c.check(False, "GET /v2/_catalog", errname(e))
        repos = []
    ntags = nman = nblob = 0
    fetched = {}  # (repo, digest) -> ok
    tag_problems = []
    blob_problems = []
    served = {}  # repo -> {tag: digest}

    def get_blob(repo, dg):
        key = (repo, dg)
        if key not in fetched:
            st, _, body = r.req("GET", "/v2/%s/blobs/%s" % (repo, dg))
            if st != 200:
                fetched[key] = "http %d" % st
            elif hashlib.new(dg.split(":")[0], body).hexdigest() != dg.split(":")[1]:
                fetched[key] = "CORRUPT (%d bytes)" % len(body)
            else:
                fetched[key] = ""
        return fetched[key]

    def walk_manifest(repo, ref, depth=0):
        nonlocal nman, nblob
        st, h, body = r.req("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": ACCEPT})
        if st != 200:
            return "manifest %s: http %d" % (ref, st)
        nman += 1
        dg = sha256(body)
        if h.get("docker-content-digest", dg) != dg or (ref.startswith("sha256:") and ref != dg):
            return "manifest %s: served bytes hash to %s" % (ref, dg)
        m = json.loads(body)
        errs = []
        for desc in [m.get("config")] + (m.get("layers") or []) + (m.get("blobs") or []):
            if desc and desc.get("digest"):
                nblob += 1
                e = get_blob(repo, desc["digest"])
                if e:
                    errs.append("blob %s: %s" % (desc["digest"][7:19], e))
        for child in m.get("manifests") or []:
            if depth < 4:
                e = walk_manifest(repo, child["digest"], depth + 1)
                if e:
                    errs.append("child " + e)
        return "; ".join(errs)

    for repo in repos:
        try:
            tags = paginate(r, "/v2/%s/tags/list" % repo, "tags")
        except Exception as e:  # noqa: BLE001
            tag_problems.append("%s: tags/list %s" % (repo, errname(e)))
            continue
        served[repo] = {}
        for t in tags:
            ntags += 1
            try:
                st, h, body = r.req("GET", "/v2/%s/manifests/%s" % (repo, t), headers={"Accept": ACCEPT})
                if st != 200:
                    tag_problems.append("%s:%s http %d" % (repo, t, st))
                    continue
                served[repo][t] = sha256(body)
                e = walk_manifest(repo, t)
                if e:
                    tag_problems.append("%s:%s %s" % (repo, t, e))
            except Exception as e:  # noqa: BLE001
                tag_problems.append("%s:%s %s" % (repo, t, errname(e)))
    c.check(not tag_problems, "HTTP: every one of %d tags in %d repositories resolves to a manifest "
            "whose %d referenced blobs/manifests all exist and are byte-exact" % (ntags, len(repos), nblob + nman),
            "%d bad: %s" % (len(tag_problems), " | ".join(tag_problems[:8])))
    problems += tag_problems

    # every blob on disk that some repository holds, over HTTP
    for dg, repo in sorted(holders.items()):
        e = get_blob(repo, dg)
        if e.startswith("http 404"):
            # manifests live in blobs/ too: they are served by the manifests endpoint
            st, _, body = r.req("GET", "/v2/%s/manifests/%s" % (repo, dg), headers={"Accept": ACCEPT})
            e = "" if st == 200 and sha256(body) == dg else "blob and manifest endpoints: http %d" % st
        if e:
            blob_problems.append("%s@%s %s" % (repo, dg[7:19], e))
    c.check(not blob_problems, "HTTP: all %d held blobs on disk are served byte-exact" % len(holders),
            "%d bad: %s" % (len(blob_problems), " | ".join(blob_problems[:8])))

    # -- acknowledged pushes (append-only repositories: tags never move)
    kill = {}
    kp = os.path.join(work, "kill.json")
    if os.path.exists(kp):
        kill = json.load(open(kp))
    t_kill = kill.get("t_kill", float("inf"))
    before = after = 0
    lost = []
    if os.path.exists(os.path.join(work, "acked")):
        for ln in open(os.path.join(work, "acked")):
            f = ln.split()
            if len(f) < 4:
                continue
            repo, tag, dg, t = f[0], f[1], f[2], float(f[3])
            if t < t_kill:
                before += 1
            else:
                after += 1
            got = served.get(repo, {}).get(tag)
            if got != dg:
                lost.append("%s:%s %s (%s the kill) now %s" % (repo, tag, dg[7:19],
                                                               "before" if t < t_kill else "after", got))
    c.check(not lost, "every acknowledged push survives with its digest (%d acked before the kill -9, %d after)"
            % (before, after), "%d lost: %s" % (len(lost), " | ".join(lost[:8])))

    # -- acknowledged trickled uploads
    tlost = []
    n = 0
    if os.path.exists(os.path.join(work, "trickle.acked")):
        for ln in open(os.path.join(work, "trickle.acked")):
            repo, dg, _ = ln.split()
            n += 1
            e = get_blob(repo, dg)
            if e:
                tlost.append("%s %s" % (dg[7:19], e))
    c.check(not tlost, "all %d acknowledged trickled uploads are served byte-exact" % n, " | ".join(tlost[:8]))

    # -- tag churn: each tag is where the last acknowledged operation left it
    cl = os.path.join(work, "churn.log")
    if os.path.exists(cl):
        allowed = churn_expect(cl)
        got = dict(served.get(CHURN_REPO, {}))
        anchor_ok = got.pop("anchor", None) in allowed.pop("anchor", {None}) - {None}
        wrong = []
        for t in sorted(set(allowed) | set(got)):
            if got.get(t) not in allowed.get(t, {None}):
                wrong.append("%s=%s want %s" % (t, (got.get(t) or "absent")[7:19],
                                                 "/".join(sorted((x or "absent")[7:19] for x in allowed.get(t, {None})))))
        c.check(anchor_ok and not wrong, "tag churn: %d tags in %s match the journal of acknowledged operations "
                "(%d tagged now)" % (len(allowed), CHURN_REPO, len(got)),
                ("anchor tag missing; " if not anchor_ok else "") + " | ".join(wrong[:8]))
    print("# verify: %d repositories, %d tags, %d manifests and %d blob references walked, %d blobs on disk"
          % (len(repos), ntags, nman, nblob, len(ondisk)))
    with open(os.path.join(work, "served.json"), "w") as f:
        json.dump(served, f, sort_keys=True)
    print("verify: %d passed, %d failed" % (c.passed, c.failed))
    return 1 if c.failed else 0


# ---------------------------------------------------------------------------
def cmd_report(work):
    """Per client and operation: ok / errors, errors split into those that
    overlapped the kill -9 window (expected) and the rest."""
    kill = {}
    if os.path.exists(os.path.join(work, "kill.json")):
        kill = json.load(open(os.path.join(work, "kill.json")))
    t_kill = kill.get("t_kill", float("inf"))
    t_ready = kill.get("t_ready", t_kill)
    disk_full = bool(os.environ.get("SOAK_STORE_MIB"))  # 507s are expected on a store that fills up
    stats = {}
    kinds = {}
    unexpected = []
    for name in sorted(os.listdir(work)):
        if not name.startswith("events."):
            continue
        for ln in open(os.path.join(work, name), errors="replace"):
            f = ln.rstrip("\n").split(" ", 5)
            if len(f) < 5:
                continue
            t0, t1, client, op, result = float(f[0]), float(f[1]), f[2], f[3], f[4]
            detail = f[5] if len(f) > 5 else ""
            s = stats.setdefault((client, op), [0, 0, 0, 0.0])
            if result == "ok":
                s[0] += 1
                s[3] += t1 - t0
                continue
            in_kill = t0 <= t_ready + 2 and t1 >= t_kill
            # on a full disk, sessions whose writes failed (507) stay open for
            # the client to resume; clients that never come back fill the
            # per-address session budget, so a 429 there is the budget at work
            if disk_full and any(m in detail.lower() for m in ("507", "insufficient storage",
                                                               "no space left", "429",
                                                               "toomanyrequests")):
                s[1] += 1
                key = "disk-full %s: %s" % (result, short_kind(detail))
                kinds[key] = kinds.get(key, 0) + 1
                continue
            if in_kill:
                s[1] += 1
            else:
                s[2] += 1
                unexpected.append("%s %s %s %s" % (client, op, result, detail))
            key = "%s %s: %s" % ("kill-window" if in_kill else "UNEXPECTED", result,
                                 short_kind(detail))
            kinds[key] = kinds.get(key, 0) + 1
    print("# %-16s %-20s %7s %9s %10s %9s" % ("client", "operation", "ok", "expected", "err other", "avg ok s"))
    print("# (expected: overlapped the kill -9 window%s)" % (", or the disk was full (507)" if disk_full else ""))
    for (client, op), (ok, ek, eo, tsum) in sorted(stats.items()):
        print("# %-16s %-20s %7d %9d %10d %9.2f" % (client, op, ok, ek, eo, tsum / ok if ok else 0))
    if kinds:
        print("# errors by kind:")
        for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
            print("#   %5d  %s" % (n, k))
    with open(os.path.join(work, "unexpected.txt"), "w") as f:
        f.write("\n".join(unexpected) + "\n")
    return len(unexpected)


def short_kind(detail):
    d = detail
    for marker in ("http ", "HTTP "):
        if marker in d:
            i = d.index(marker)
            return d[max(0, i - 30):i + 8].strip()
    return d[:70]


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "prep":
        cmd_prep(a[0], a[1])
    elif cmd == "trickle-read":
        cmd_trickle_read(a[0], a[1], float(a[2]), a[3])
    elif cmd == "trickle-write":
        cmd_trickle_write(a[0], a[1], float(a[2]), a[3])
    elif cmd == "abandon":
        cmd_abandon(a[0], float(a[1]), a[2])
    elif cmd == "nonread":
        cmd_nonread(a[0], a[1], float(a[2]), a[3])
    elif cmd == "churn":
        cmd_churn(a[0], float(a[1]), a[2], a[3])
    elif cmd == "deleter":
        cmd_deleter(a[0], a[1], float(a[2]), a[3])
    elif cmd == "verify":
        return cmd_verify(a[0], a[1], a[2])
    elif cmd == "report":
        cmd_report(a[0])
        return 0
    else:
        sys.exit("soak.py: unknown command %s" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
