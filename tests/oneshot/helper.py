#!/usr/bin/env python3
"""tests/oneshot/helper.py - craft image archives and feed slow streams.

Every archive is derived from a legacy `docker save` tarball (what Docker
Engine 20.10 writes: <id>/layer.tar, <id>.json config, manifest.json,
repositories).

  helper.py v25 SRC OUT [--lie]  the Docker >= 25 layout of SRC: an OCI layout
                                 (oci-layout, index.json, blobs/sha256/...) plus
                                 manifest.json naming blobs/sha256/<hex>.
                                 --lie: one layer blob's bytes no longer match
                                 its name (same size).
  helper.py ocidir SRC DIR       a plain OCI layout directory (no manifest.json)
  helper.py flip SRC OUT         one byte of one layer.tar changed (diff_id mismatch)
  helper.py drop SRC OUT         one layer.tar member left out
  helper.py feed FILE GATE MIBPS FRACTION
                                 copy FILE to stdout at MIBPS MiB/s; after
                                 FRACTION of it, create GATE.held and wait until
                                 GATE exists (at most 120 s), then send the rest.
"""
import hashlib
import io
import json
import os
import sys
import tarfile
import time

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def read_legacy(path):
    """members (in order) as (TarInfo, bytes or None), and manifest.json."""
    out = []
    with tarfile.open(path) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            out.append((m, data))
    files = {m.name: d for m, d in out if d is not None}
    return out, json.loads(files["manifest.json"]), files


def add(t, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = 0
    t.addfile(ti, io.BytesIO(data))


def add_dir(t, name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    t.addfile(ti)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def flip(b, where=None):
    b = bytearray(b)
    i = len(b) // 2 if where is None else where
    b[i] ^= 0x5A
    return bytes(b)


def oci_parts(src):
    """The blobs (hex -> bytes) and descriptors of an OCI rendering of each
    image of a legacy archive, plus the manifest.json of the >= 25 layout."""
    _, mj, files = read_legacy(src)
    blobs, index, newmj = {}, [], []
    for item in mj:
        cfg = files[item["Config"]]
        blobs[sha(cfg)] = cfg
        layers = []
        for ln in item["Layers"]:
            lb = files[ln]
            blobs[sha(lb)] = lb
            layers.append({"mediaType": OCI_LAYER_TAR, "digest": "sha256:" + sha(lb), "size": len(lb)})
        man = json.dumps({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + sha(cfg), "size": len(cfg)},
            "layers": layers,
        }, separators=(",", ":")).encode()
        blobs[sha(man)] = man
        tags = item.get("RepoTags") or []
        for tag in tags or [None]:
            d = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + sha(man), "size": len(man)}
            if tag:
                d["annotations"] = {"io.containerd.image.name": "docker.io/library/" + tag,
                                    "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[1]}
            index.append(d)
        newmj.append({"Config": "blobs/sha256/" + sha(cfg), "RepoTags": tags,
                      "Layers": ["blobs/sha256/" + l["digest"][7:] for l in layers]})
    idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index},
                     separators=(",", ":")).encode()
    return blobs, idx, newmj, [l["digest"][7:] for l in layers]


def cmd_v25(src, out, lie=False):
    blobs, idx, mj, layer_hexes = oci_parts(src)
    if lie:
        # the largest layer's bytes change; its name (the old digest) stays
        victim = max(layer_hexes, key=lambda h: len(blobs[h]))
        blobs[victim] = flip(blobs[victim], len(blobs[victim]) - 2000)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        add_dir(t, "blobs")
        add_dir(t, "blobs/sha256")
        for h, b in blobs.items():
            add(t, "blobs/sha256/" + h, b, 0o444)
        add(t, "index.json", idx)
        add(t, "manifest.json", json.dumps(mj, separators=(",", ":")).encode())
        add(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    os.chmod(out, 0o644)


def cmd_ocidir(src, out):
    blobs, idx, _, _ = oci_parts(src)
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    for h, b in blobs.items():
        with open(os.path.join(out, "blobs", "sha256", h), "wb") as f:
            f.write(b)
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(idx)
    with open(os.path.join(out, "oci-layout"), "wb") as f:
        f.write(b'{"imageLayoutVersion":"1.0.0"}')
    for root, dirs, fs in os.walk(out):
        os.chmod(root, 0o755)
        for n in fs:
            os.chmod(os.path.join(root, n), 0o644)


def rewrite(src, out, change):
    members, mj, _ = read_legacy(src)
    target = mj[0]["Layers"][len(mj[0]["Layers"]) // 2]  # a middle layer
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        for m, data in members:
            if m.name == target:
                data = change(data)
                if data is None:
                    continue
                m.size = len(data)
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    os.chmod(out, 0o644)
    print(target)


def cmd_feed(path, gate, mibps, fraction):
    chunk = 64 * 1024
    rate = float(mibps) * 1048576
    out = sys.stdout.buffer
    with open(path, "rb") as f:
        data = f.read()
    hold = int(len(data) * float(fraction))
    t0, sent = time.monotonic(), 0
    try:
        while sent < hold:
            n = min(chunk, hold - sent)
            out.write(data[sent:sent + n])
            out.flush()
            sent += n
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        with open(gate + ".held", "w") as f:
            f.write("held\n")
        deadline = time.monotonic() + 120
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        out.write(data[sent:])
        out.flush()
    except BrokenPipeError:
        sys.exit(1)


def main(a):
    if len(a) >= 3 and a[0] == "v25":
        cmd_v25(a[1], a[2], "--lie" in a[3:])
    elif len(a) == 3 and a[0] == "ocidir":
        cmd_ocidir(a[1], a[2])
    elif len(a) == 3 and a[0] == "flip":
        rewrite(a[1], a[2], lambda d: flip(d))
    elif len(a) == 3 and a[0] == "drop":
        rewrite(a[1], a[2], lambda d: None)
    elif len(a) == 5 and a[0] == "feed":
        cmd_feed(*a[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
