"""SHA-256 paths (issue 9): `packhelper version` names the one in use, PACKHELPER_SHA256=bearssl
forces BearSSL's, =avx2 the AVX2 path on x86-64, and the server verifies uploads on each (whole, and in uneven PATCH chunks
whose boundaries fall inside the 64-byte blocks)."""
import os
import platform
import random
import subprocess
import unittest

from phtest import BIN, ELF, Server, sha256

EM_X86_64, EM_AARCH64 = 62, 183


def binary_machine():
    with open(ELF, "rb") as f:
        head = f.read(20)
    return int.from_bytes(head[18:20], "little")


def cpu_flags(key):
    """The words after 'KEY :' on the first such line of /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":")[0].strip() == key:
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def expected_hw():
    """What the binary should pick on this machine: x86-64 with sha_ni and sse4_1 -> sha-ni,
    else with avx2 and bmi2 -> avx2; an AArch64 binary under qemu-user (whose every CPU model has SHA2) or on an AArch64 host
    whose cpuinfo lists sha2 -> armv8; otherwise BearSSL."""
    m = binary_machine()
    if m == EM_X86_64:
        flags = cpu_flags("flags")
        if {"sha_ni", "sse4_1"} <= flags:
            return "sha-ni"
        return "avx2" if {"avx2", "bmi2"} <= flags else "bearssl"
    if m == EM_AARCH64:
        if platform.machine() != "aarch64":
            return "armv8"
        return "armv8" if "sha2" in cpu_flags("Features") else "bearssl"
    return "bearssl"


def version_sha(env):
    e = dict(os.environ)
    e.pop("PACKHELPER_SHA256", None)
    e.update(env)
    out = subprocess.run([BIN, "version"], env=e, capture_output=True, text=True, check=True).stdout
    lines = [l for l in out.splitlines() if l.startswith("sha256: ")]
    assert len(lines) == 1, out
    return lines[0][len("sha256: "):]


class TestSha256Paths(unittest.TestCase):
    def test_version_names_the_path_and_the_switch_forces_bearssl(self):
        self.assertEqual(version_sha({}), expected_hw())
        self.assertEqual(version_sha({"PACKHELPER_SHA256": "bearssl"}), "bearssl")
        self.assertEqual(version_sha({"PACKHELPER_SHA256": "auto"}), expected_hw())
        # =avx2: that path wherever the CPU has it (x86-64), else the default
        has_avx2 = binary_machine() == EM_X86_64 and {"avx2", "bmi2"} <= cpu_flags("flags")
        self.assertEqual(version_sha({"PACKHELPER_SHA256": "avx2"}), "avx2" if has_avx2 else expected_hw())

    def test_uploads_verify_on_both_paths(self):
        rnd = random.Random(9)
        data = bytes(rnd.getrandbits(8) for _ in range(300_001))
        for env in ({"PACKHELPER_SHA256": ""}, {"PACKHELPER_SHA256": "avx2"}, {"PACKHELPER_SHA256": "bearssl"}):
            with self.subTest(env=env):
                srv = Server(env=env)
                self.addCleanup(srv.cleanup)
                srv.start()
                repo = "sha/paths"
                d = srv.push_blob(repo, data)
                self.assertEqual(d, sha256(data))
                # chunked: uneven PATCHes, then the closing PUT with the digest
                st, h, _ = srv.request("POST", "/v2/%s/blobs/uploads/" % repo)
                self.assertEqual(st, 202)
                loc, off = h["location"], 0
                part = data[:100_000] + b"x"  # another blob than the one above
                for n in (1, 63, 65, 4095, 7, 50_000, 129):
                    st, h, _ = srv.request("PATCH", loc, body=part[off:off + n],
                                           headers={"Content-Range": "%d-%d" % (off, off + n - 1)})
                    self.assertEqual(st, 202)
                    loc, off = h["location"], off + n
                st, h, _ = srv.request("PATCH", loc, body=part[off:],
                                       headers={"Content-Range": "%d-%d" % (off, len(part) - 1)})
                self.assertEqual(st, 202)
                loc = h["location"]
                sep = "&" if "?" in loc else "?"
                st, h, _ = srv.request("PUT", loc + sep + "digest=" + sha256(part))
                self.assertEqual(st, 201)
                self.assertEqual(h["docker-content-digest"], sha256(part))
                # a wrong digest is still refused
                wrong = "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(b"other"))
                st, _, _ = srv.request("POST", wrong, body=data)
                self.assertEqual(st, 400)
                for dg, body in ((d, data), (sha256(part), part)):
                    st, h, got = srv.request("GET", "/v2/%s/blobs/%s" % (repo, dg))
                    self.assertEqual(st, 200)
                    self.assertEqual(got, body)


if __name__ == "__main__":
    unittest.main()
