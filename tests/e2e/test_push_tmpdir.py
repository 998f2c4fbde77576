"""`packhelper push` keeps its temporary files (a streamed source's copies,
compressed layers) in a directory of its own under $TMPDIR, and removes it
whole: after a push, a failed load, or a failed upload, $TMPDIR is as it was."""
import os
import shutil
import subprocess
import tempfile
import unittest

import test_import as ti
from phtest import BIN, OCI_MANIFEST, Server, free_port


class TestPushTmpdir(unittest.TestCase):
    def setUp(self):
        self.srv = Server().start()
        self.work = tempfile.mkdtemp(prefix="ph-e2e-push-")
        self.tmp = os.path.join(self.work, "tmp")
        os.mkdir(self.tmp)
        self.tar = os.path.join(self.work, "image.tar")
        ti.docker_save(self.tar, ["app:v1"])

    def tearDown(self):
        self.srv.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)

    def push(self, port, *args, stdin_path=None):
        env = dict(os.environ, TMPDIR=self.tmp)
        with open(stdin_path or os.devnull, "rb") as f:
            return subprocess.run([BIN, "push", "--insecure", "--timeout", "20s"] + list(args)
                                  + ["127.0.0.1:%d/push/app:v1" % port],
                                  stdin=f, capture_output=True, text=True, env=env, timeout=60)

    def assertTmpdirEmpty(self, what):
        self.assertEqual(os.listdir(self.tmp), [], what + ": push left files in its TMPDIR")

    def test_push_from_stdin_with_compression_leaves_nothing(self):
        # stdin is copied into temporary files; gzip writes one more per layer
        p = self.push(self.srv.port, "--compression", "gzip", "-", stdin_path=self.tar)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.srv.req("GET", "/v2/push/app/manifests/v1",
                                      headers={"Accept": OCI_MANIFEST}).status, 200)
        self.assertTmpdirEmpty("after a push from stdin")

    def test_push_of_a_file_leaves_nothing(self):
        p = self.push(self.srv.port, "--compression", "gzip", self.tar)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTmpdirEmpty("after a push of a tarball")

    def test_failed_upload_leaves_nothing(self):
        # the image loads (its files in TMPDIR), then no registry answers
        port = free_port()
        p = self.push(port, "--compression", "gzip", "-", stdin_path=self.tar)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, r"^packhelper: push: ")
        self.assertTmpdirEmpty("after a failed upload")

    def test_failed_load_leaves_nothing(self):
        with open(self.tar, "rb") as f:
            data = f.read()
        cut = os.path.join(self.work, "cut.tar")
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        p = self.push(self.srv.port, "-", stdin_path=cut)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTmpdirEmpty("after a truncated stdin")

    def test_unusable_tmpdir_is_one_clear_line(self):
        env = dict(os.environ, TMPDIR=os.path.join(self.work, "absent"))
        p = subprocess.run([BIN, "push", "--insecure", self.tar, "127.0.0.1:%d/push/app:v1" % self.srv.port],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"cannot create a scratch directory in .*absent")


if __name__ == "__main__":
    unittest.main()
