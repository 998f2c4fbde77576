"""The API base, and the server's life: start, answer, stop on SIGTERM quickly."""
import json
import re
import signal
import threading
import time

import phtest
from phtest import ServerTest, Server, error_code


class TestBase(ServerTest):
    def test_v2_base_answers_200_with_api_version_header(self):
        st, h, body = self.srv.request("GET", "/v2/")
        self.assertEqual(st, 200)
        self.assertEqual(h["docker-distribution-api-version"], "registry/2.0")
        self.assertEqual(body, b"{}")

    def test_unknown_path_is_404_json(self):
        st, h, body = self.srv.request("GET", "/nope")
        self.assertEqual(st, 404)
        self.assertTrue(h["content-type"].startswith("application/json"))
        error_code(body)

    def test_sigterm_exits_zero_within_a_second(self):
        # an idle keep-alive connection must not hold the shutdown up
        c = self.srv.conn()
        c.request("GET", "/v2/")
        c.getresponse().read()
        rc, secs = self.srv.stop(signal.SIGTERM)
        self.assertEqual(rc, 0)
        self.assertLess(secs, 1.0)

    def test_sigint_exits_zero(self):
        rc, secs = self.srv.stop(signal.SIGINT)
        self.assertEqual(rc, 0)
        self.assertLess(secs, 1.0)


class TestStart(ServerTest):
    def test_restart_serves_committed_content(self):
        body, digest = self.srv.push_image("restart/me", "v1")
        self.srv.stop()
        srv2 = Server(root=self.srv.root).start()
        try:
            st, h, got = srv2.request("GET", "/v2/restart/me/manifests/v1")
            self.assertEqual(st, 200)
            self.assertEqual(got, body)
            self.assertEqual(h["docker-content-digest"], digest)
        finally:
            srv2.stop()

    def test_a_taken_port_is_not_mistaken_for_ours(self):
        # the harness itself: a second server handed the first one's port fails
        # to bind, and start() must not take the first server's /readyz for its
        # own (it used to: tests then talked to another test's server)
        taken = [self.srv.port]
        orig = phtest.free_port
        phtest.free_port = lambda: taken.pop() if taken else orig()
        other = Server()
        try:
            other.start()
            self.assertNotEqual(other.port, self.srv.port)
            self.assertIsNone(other.proc.poll())
            other.push_blob("mine/only", b"other's")
            st, _, body = self.srv.request("GET", "/v2/_catalog")
            self.assertEqual(json.loads(body), {"repositories": []})
        finally:
            phtest.free_port = orig
            other.cleanup()

    def test_reading_the_log_while_the_server_writes_it_loses_nothing(self):
        # the harness itself: output() shares the server's open log file; a
        # seek to read it moved the offset the server writes at, and lines
        # were overwritten (about half of them here)
        done = threading.Event()

        def reader():
            while not done.wait(0.001):
                self.srv.output()
        t = threading.Thread(target=reader)
        t.start()
        try:
            for i in range(300):
                self.srv.request("GET", "/v2/log%d/tags/list" % i)
        finally:
            done.set()
            t.join()
        self.srv.stop()
        got = re.findall(r'"GET /v2/log(\d+)/tags/list" 404 ', self.srv.output())
        self.assertEqual([int(i) for i in got], list(range(300)))
