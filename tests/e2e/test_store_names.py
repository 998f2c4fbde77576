"""One name grammar and one limit, from the router to the store's start-up
walk: a repository the registry accepts is still there after a restart
(issue 7, finding 9)."""
import json

from phtest import ServerTest, Server, error_code, sha256, desc, OCI_MANIFEST, OCI_CONFIG

NAME_MAX = 255                      # REF_NAME_MAX
COMPONENTS_MAX = (NAME_MAX + 1) // 2  # "a/a/.../a"
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def deep(n):
    return "/".join(["a"] * n)


class TestDeepNames(ServerTest):
    def push(self, name, tag):
        self.srv.push_blob(name, CONFIG)
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(OCI_CONFIG, CONFIG),
                        "layers": []}).encode()
        return self.srv.push_manifest(name, tag, m), m

    def test_name_at_the_limit_survives_a_restart(self):
        names = [deep(65), deep(COMPONENTS_MAX), "x" * NAME_MAX, "b/" + "c" * (NAME_MAX - 2)]
        bodies = {}
        for name in names:
            self.assertLessEqual(len(name), NAME_MAX)
            (st, _, body), m = self.push(name, "v1")
            self.assertEqual(st, 201, (name, body))
            bodies[name] = m
        rc, _ = self.srv.stop()
        self.assertEqual(rc, 0)
        self.srv = Server(root=self.srv.root).start()
        self.srv.own_root = True
        for name in names:
            st, _, body = self.srv.request("GET", "/v2/%s/manifests/v1" % name)
            self.assertEqual((st, body), (200, bodies[name]), name[:20])
            st, _, _ = self.srv.request("HEAD", "/v2/%s/blobs/%s" % (name, sha256(CONFIG)))
            self.assertEqual(st, 200)
        cat = json.loads(self.srv.request("GET", "/v2/_catalog?n=1000")[2])["repositories"]
        self.assertEqual(sorted(cat), sorted(names))

    def test_one_past_the_limit_is_name_invalid(self):
        for name in (deep(COMPONENTS_MAX + 1), "x" * (NAME_MAX + 1)):
            st, _, body = self.srv.request("POST", "/v2/%s/blobs/uploads/" % name)
            self.assertEqual(st, 400)
            self.assertEqual(error_code(body), "NAME_INVALID")
            st, _, body = self.srv.push_manifest(name, "v1", b"{}")
            self.assertEqual(st, 400)
            self.assertEqual(error_code(body), "NAME_INVALID")
