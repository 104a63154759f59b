"""The client's own failure modes, against real sockets (no service needed)."""

import os
import socket
import tempfile
import unittest

from novadock_client import testing

from nova import exception
from nova.virt.novadock import client as novadock_client
from nova.virt.novadock import errors


class ErrorTableTestCase(unittest.TestCase):

    def test_codes(self):
        table = {
            "InstanceNotFound": exception.InstanceNotFound,
            "ImageNotFound": exception.ImageNotFound,
            "InstanceExists": exception.InstanceExists,
            "InstanceInvalidState": exception.InstanceInvalidState,
            "SpawnFailed": exception.BuildAbortException,
            "InvalidInput": exception.InvalidInput,
            "BadRequest": exception.InvalidInput,
            "DockerUnavailable": exception.HypervisorUnavailable,
            "InstanceNotReady": exception.InstanceNotReady,
            "ConsoleTypeUnavailable": exception.ConsoleTypeUnavailable,
            "ConsolePortRangeExhausted":
                exception.SocketPortRangeExhaustedException,
        }
        for code, cls in table.items():
            exc = errors.to_exception(code, f"the {code} message %(x)s", 400)
            self.assertIs(cls, type(exc), code)
            self.assertEqual(f"the {code} message %(x)s", str(exc))
            self.assertEqual(code, exc.novadock_code)

    def test_other_codes_are_nova_exceptions(self):
        for code in ("Internal", "NoSuchRoute", "MethodNotAllowed", "Whatever"):
            exc = errors.to_exception(code, "boom", 500)
            self.assertIsInstance(exc, exception.NovaException)
            self.assertIn("boom", str(exc))
            self.assertIn(code, str(exc))


class UnreachableTestCase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, "novadock.sock")

    def test_missing_socket(self):
        c = novadock_client.NovadockClient(self.path)
        with self.assertRaises(exception.HypervisorUnavailable) as cm:
            c.get_version()
        self.assertIn(self.path, str(cm.exception))

    def test_nobody_listening(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path)
        s.close()
        c = novadock_client.NovadockClient(self.path)
        with self.assertRaises(exception.HypervisorUnavailable) as cm:
            c.get_version()
        self.assertIn(self.path, str(cm.exception))

    def _server(self, handler):
        self.addCleanup(testing.serve_once(self.path, handler))

    def test_timeout_names_socket(self):
        self._server(lambda conn: conn.recv(65536))
        c = novadock_client.NovadockClient(self.path, api_timeout=0.3)
        with self.assertRaises(exception.NovaException) as cm:
            c.list_instances()
        self.assertIn(self.path, str(cm.exception))
        self.assertIn("0.3", str(cm.exception))

    def test_non_json_answer(self):
        def handler(conn):
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n"
                         b"Connection: close\r\n\r\nhello")
        self._server(handler)
        c = novadock_client.NovadockClient(self.path)
        with self.assertRaises(exception.NovaException) as cm:
            c.get_host()
        self.assertIn("not JSON", str(cm.exception))

    def test_dropped_connection(self):
        def closing(conn):
            conn.recv(65536)
            conn.shutdown(socket.SHUT_RDWR)
        self._server(closing)
        c = novadock_client.NovadockClient(self.path, api_timeout=5)
        with self.assertRaises(exception.HypervisorUnavailable) as cm:
            c.get_host()
        self.assertIn(self.path, str(cm.exception))
