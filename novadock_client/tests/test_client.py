"""novadock_client against a real ``novadock serve`` (started with its own
test support) and, for what a real service never answers, against a socket
of the test's own that answers malformed HTTP."""

import atexit
import os
import pathlib
import socket
import tempfile
import unittest
import uuid

import novadock_client
from novadock_client import testing

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "novadock"


def _start():
    svc = testing.Service(os.environ.get("NOVADOCK_BIN") or DEFAULT_BIN,
                          "novadock-client-tests")
    atexit.register(svc.stop)
    return svc.start()


def service():
    return testing.once("novadock_client", _start).alive()


class RealServiceTestCase(unittest.TestCase):

    def setUp(self):
        self.svc = service()
        self.client = novadock_client.Client(self.svc.socket_path, 30)

    def test_json_call(self):
        version = self.client.call("GET", "/v1/version")
        self.assertIsInstance(version, dict)
        self.assertEqual([], self.client.call("GET", "/v1/instances")["instances"])

    def test_error_body_is_typed(self):
        with self.assertRaises(novadock_client.ServiceError) as cm:
            self.client.call("GET", "/v1/no-such-thing")
        e = cm.exception
        self.assertEqual("NoSuchRoute", e.code)
        self.assertEqual(404, e.status)
        self.assertTrue(e.message)
        self.assertIn(e.message, str(e))
        self.assertIn("/v1/no-such-thing", str(e))

    def test_invalid_input_keeps_service_message(self):
        with self.assertRaises(novadock_client.ServiceError) as cm:
            self.client.call("GET", "/v1/instances/not-a-uuid")
        self.assertEqual(400, cm.exception.status)
        self.assertIn(cm.exception.code, ("InvalidInput", "BadRequest"))
        self.assertTrue(cm.exception.message)

    def test_download_of_missing_image(self):
        with self.assertRaises(novadock_client.ServiceError) as cm:
            self.client.download(f"/v1/images/{uuid.uuid4()}/data")
        self.assertEqual("ImageNotFound", cm.exception.code)
        self.assertEqual(404, cm.exception.status)

    def test_upload_of_garbage_gets_the_reason(self):
        image_id = uuid.uuid4()
        chunks = (b"not a tarball " * 1000 for _ in range(3))
        with self.assertRaises(novadock_client.ServiceError) as cm:
            self.client.upload(
                "PUT", f"/v1/images/{image_id}/data?hashing_algo=sha256", chunks)
        self.assertEqual(400, cm.exception.status)
        self.assertTrue(cm.exception.message)

    def test_translate_hook(self):
        seen = []

        def translate(e):
            seen.append(e)
            return KeyError(e.code)
        c = novadock_client.Client(self.svc.socket_path, 30, translate=translate)
        with self.assertRaises(KeyError):
            c.call("GET", "/v1/no-such-thing")
        self.assertIsInstance(seen[0], novadock_client.ServiceError)


class TransportTestCase(unittest.TestCase):

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.path = os.path.join(tmp.name, "novadock.sock")

    def _server(self, answer):
        """A socket that reads one request and sends ``answer`` (bytes) or
        nothing (None)."""
        def handler(conn):
            conn.recv(65536)
            if answer is not None:
                conn.sendall(answer)
                conn.shutdown(socket.SHUT_WR)
        self.addCleanup(testing.serve_once(self.path, handler))

    def _call_fails(self, answer, exc_type, timeout=5):
        """The exception a call raises when the socket answers ``answer``
        (None: nothing at all; no server when the test set none up)."""
        if answer is not False:
            self._server(answer)
        c = novadock_client.Client(self.path, timeout)
        with self.assertRaises(exc_type) as cm:
            c.call("GET", "/v1/version")
        return cm.exception

    def test_missing_socket(self):
        e = self._call_fails(False, novadock_client.TransportError)
        self.assertFalse(e.connected)
        self.assertFalse(e.timed_out)
        self.assertIsInstance(e.cause, FileNotFoundError)
        self.assertIn(self.path, str(e))

    def test_timeout(self):
        e = self._call_fails(None, novadock_client.TransportError, timeout=0.3)
        self.assertTrue(e.timed_out)
        self.assertTrue(e.connected)
        self.assertIn("0.3", str(e))

    def test_2xx_that_is_not_json(self):
        e = self._call_fails(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             b"Connection: close\r\n\r\nhello",
                             novadock_client.MalformedAnswer)
        self.assertEqual(200, e.status)
        self.assertIn("not JSON", str(e))

    def test_error_that_is_not_the_services(self):
        e = self._call_fails(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\n"
                             b"Connection: close\r\n\r\nproxy error",
                             novadock_client.ServiceError)
        self.assertIsNone(e.code)
        self.assertEqual(502, e.status)
        self.assertIn("proxy error", e.message)
        self.assertIn("not JSON", e.message)

    def test_json_error_without_error_document(self):
        e = self._call_fails(b"HTTP/1.1 500 Oops\r\nContent-Length: 8\r\n"
                             b"Connection: close\r\n\r\n{\"a\": 1}",
                             novadock_client.ServiceError)
        self.assertIsNone(e.code)
        self.assertIn("no error document", e.message)

    def test_garbage_instead_of_http(self):
        e = self._call_fails(b"SSH-2.0-OpenSSH\r\n",
                             novadock_client.TransportError)
        self.assertTrue(e.connected)

    def test_truncated_download(self):
        self._server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                     b"Connection: close\r\n\r\nonly this")
        c = novadock_client.Client(self.path, 5)
        chunks, length = c.download("/v1/images/x/data")
        self.assertEqual(100, length)
        with self.assertRaises(novadock_client.TransportError) as cm:
            b"".join(chunks)
        self.assertIn("100", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
