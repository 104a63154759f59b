"""The serial console as Nova's compute manager and nova-serialproxy use it:
get_serial_console gives a ConsoleSerial, and its TCP port is a shell."""

import socket
import time

from nova import exception
from nova.console import type as console_type
from tests import base
from tests import service


def read_until(sock, needle, timeout=20.0):
    """Bytes from the console until ``needle`` appears (nova-serialproxy
    relays them as they come)."""
    deadline = time.monotonic() + timeout
    seen = b""
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} within {timeout} s: {seen!r}")
        sock.settimeout(left)
        chunk = sock.recv(8192)
        if not chunk:
            raise AssertionError(f"console closed before {needle!r}: {seen!r}")
        seen += chunk
    return seen


class SerialConsoleTestCase(base.FunctionalTestCase):

    def connect(self, console):
        sock = socket.create_connection((console.host, console.port), timeout=10)
        self.addCleanup(sock.close)
        return sock

    def test_serial_console_is_a_shell_in_the_container(self):
        inst = self.spawn()
        console = self.driver.get_serial_console(self.ctxt, inst)
        self.assertIsInstance(console, console_type.ConsoleSerial)
        self.assertEqual("127.0.0.1", console.host)
        low, high = (int(p) for p in service.SERIAL_PORT_RANGE.split(":"))
        self.assertTrue(low <= console.port <= high, console.port)
        # nova-serialproxy validates its token by asking again.
        again = self.driver.get_serial_console(self.ctxt, inst)
        self.assertEqual(console.port, again.port)

        sock = self.connect(console)
        sock.sendall(b"echo novadock-$((6*7))\r")
        read_until(sock, b"\r\nnovadock-42\r\n")

        # Stopped: no console, and Nova's API answers 409 (InstanceNotReady).
        self.driver.power_off(inst, timeout=0)
        sock.settimeout(10)
        rest = b""
        while chunk := sock.recv(8192):
            rest += chunk
        self.assertRaises(exception.InstanceNotReady,
                          self.driver.get_serial_console, self.ctxt, inst)
        with self.assertRaises(OSError):
            socket.create_connection((console.host, console.port), timeout=5)

    def test_image_property_from_system_metadata(self):
        # Nova drops image properties it does not know from image_meta; the
        # instance's system metadata keeps them as image_<name>.
        inst = self.make_instance()
        inst.system_metadata = {
            "image_novadock_console_command":
                "/bin/sh -c 'echo own-console; exec /bin/sh'"}
        self.spawn(inst)
        sock = self.connect(self.driver.get_serial_console(self.ctxt, inst))
        read_until(sock, b"own-console")

    def test_missing_instance(self):
        inst = self.make_instance()
        self.assertRaises(exception.InstanceNotFound,
                          self.driver.get_serial_console, self.ctxt, inst)
