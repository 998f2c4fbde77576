#!/usr/bin/env python3
"""mk/oci-image.py - one multi-platform OCI layout tarball from docker-save
tarballs, one per platform (`make image` writes build/packhelper-oci.tar).

    mk/oci-image.py OUT.tar REF.NAME PLATFORM=SAVE.tar [PLATFORM=SAVE.tar ...]

PLATFORM is os/architecture[/variant] (linux/amd64, linux/arm64/v8); SAVE.tar
holds exactly one image (docker save of one tag, either docker layout). The
result:

    oci-layout, index.json -> one image index (annotated with REF.NAME, e.g.
    bot-bottle/packhelper:latest) -> one image manifest per PLATFORM, in the
    order given, each naming its platform -> config + gzip layers

A nested index, as `docker buildx build --output type=oci` writes it: the
layout holds one reference, so `packhelper push` (and skopeo, crane, regctl)
push the whole tree as one multi-platform tag; an index.json listing the
manifests directly would be one reference per platform.

The config is docker's bytes unchanged, so the published config digest is the
local image ID. Its architecture and os must be PLATFORM's: an image built
for the wrong platform (`docker import --platform` makes amd64 whatever it is
told) is refused, not published. Each layer must hash to its diff_id; it is
compressed with gzip level 9 and mtime 0, and the tarball itself has fixed
owners, modes and times and sorted members: the same docker images give the
same bytes. Stdlib only; everything is held in memory (an image of a few
MiB: packhelper's, not a general tool).
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def die(msg):
    sys.stderr.write("oci-image: %s\n" % msg)
    sys.exit(1)


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Blobs:
    """The layout's blobs/sha256, by digest."""

    def __init__(self):
        self.v = {}

    def add(self, data, media_type):
        d = digest(data)
        self.v[d] = data
        return {"mediaType": media_type, "digest": d, "size": len(data)}


def member(tar, name, what):
    try:
        f = tar.extractfile(name)
    except KeyError:
        f = None
    if f is None:
        die("%s: no file %s" % (what, name))
    return f.read()


def parse_platform(s):
    parts = s.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        die("platform %r is not os/architecture[/variant]" % s)
    p = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        p["variant"] = parts[2]
    return p


def image_manifest(blobs, platform, path):
    """The manifest descriptor (with its platform) of the one image in path."""
    with tarfile.open(path) as tar:
        items = json.loads(member(tar, "manifest.json", path))
        if not isinstance(items, list) or len(items) != 1:
            die("%s: manifest.json must list exactly one image" % path)
        item = items[0]
        config = member(tar, item["Config"], path)
        base = os.path.basename(item["Config"])
        want = "sha256:" + (base[:-5] if base.endswith(".json") else base)
        if digest(config) != want:
            die("%s: the config %s hashes to %s" % (path, item["Config"], digest(config)))
        conf = json.loads(config)
        got = "%s/%s" % (conf.get("os"), conf.get("architecture"))
        if got != "%s/%s" % (platform["os"], platform["architecture"]):
            die("%s: the image is %s, not %s/%s" %
                (path, got, platform["os"], platform["architecture"]))
        diff_ids = conf.get("rootfs", {}).get("diff_ids", [])
        if len(diff_ids) != len(item["Layers"]):
            die("%s: %d layers, %d diff_ids" % (path, len(item["Layers"]), len(diff_ids)))
        layers = []
        for name, diff_id in zip(item["Layers"], diff_ids):
            data = member(tar, name, path)
            if digest(data) != diff_id:
                die("%s: layer %s is %s, its diff_id %s" % (path, name, digest(data), diff_id))
            gz = gzip.compress(data, compresslevel=9, mtime=0)
            layers.append(blobs.add(gz, MT_LAYER_GZIP))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": blobs.add(config, MT_CONFIG),
        "layers": layers,
    }
    desc = blobs.add(canonical(manifest), MT_MANIFEST)
    desc["platform"] = platform
    return desc


def tar_add(tar, name, data=None):
    ti = tarfile.TarInfo(name)
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    if data is None:
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        tar.addfile(ti)
    else:
        ti.mode = 0o644
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))


def main(argv):
    if len(argv) < 4 or any("=" not in a for a in argv[3:]):
        die("usage: mk/oci-image.py OUT.tar REF.NAME PLATFORM=SAVE.tar [PLATFORM=SAVE.tar ...]")
    out, ref_name = argv[1], argv[2]
    blobs = Blobs()
    manifests = []
    for arg in argv[3:]:
        plat, path = arg.split("=", 1)
        manifests.append(image_manifest(blobs, parse_platform(plat), path))
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}
    top = blobs.add(canonical(index), MT_INDEX)
    top["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    layout = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [top]}

    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar_add(tar, "oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
        tar_add(tar, "index.json", canonical(layout))
        tar_add(tar, "blobs/")
        tar_add(tar, "blobs/sha256/")
        for d in sorted(blobs.v):
            tar_add(tar, "blobs/sha256/" + d[7:], blobs.v[d])
    os.replace(tmp, out)
    print(top["digest"])


if __name__ == "__main__":
    main(sys.argv)
