"""Lifecycle events: what Nova hears when a container changes state, through
the driver's one streaming request. The driver only translates the service's
lines and reconnects; the STOPPED hold-back is the service's (tests/events.rs).
"""

import os
import shutil
import signal
import tempfile
import time
import unittest
from unittest import mock

from novadock_client import testing

from nova import conf as nova_conf
from nova.compute import power_state
from nova.virt import event as virtevent
from nova.virt.novadock import events
from tests import base
from tests import service

CONF = nova_conf.CONF
# The shared service's hold-back of STOPPED (tests/service.py).
DELAY = service.LIFECYCLE_EVENT_DELAY
UUID = "9a8a1d3e-8f0c-4b8e-9d6c-0c3a2c1f6b01"


class TranslationTestCase(unittest.TestCase):
    """Lines of a stand-in service: each becomes Nova's event as it comes."""

    LINES = [
        b'{"event":"heartbeat"}',
        b'{"event":"started","uuid":"%s","power_state":1}' % UUID.encode(),
        b'{"event":"stopped","uuid":"%s","power_state":4}' % UUID.encode(),
        b'{"event":"lagged","missed":3}',
        b'not json',
        b'{"event":"paused","uuid":"%s","power_state":3}' % UUID.encode(),
        b'{"event":"resumed","uuid":"%s","power_state":1}' % UUID.encode(),
        b'{"event":"suspended","uuid":"%s","power_state":7}' % UUID.encode(),
        b'{"event":"some-later-kind","uuid":"%s"}' % UUID.encode(),
        b'{"event":"stopped","uuid":"%s","power_state":4}' % UUID.encode(),
    ]
    EXPECTED = [
        virtevent.EVENT_LIFECYCLE_STARTED,
        virtevent.EVENT_LIFECYCLE_STOPPED,
        virtevent.EVENT_LIFECYCLE_PAUSED,
        virtevent.EVENT_LIFECYCLE_RESUMED,
        virtevent.EVENT_LIFECYCLE_SUSPENDED,
        virtevent.EVENT_LIFECYCLE_STOPPED,
    ]

    def setUp(self):
        super().setUp()
        tmp = tempfile.mkdtemp(prefix="novadock-events-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        self.path = os.path.join(tmp, "novadock.sock")
        self.requests = []

        def handler(conn):
            self.requests.append(conn.recv(4096))
            conn.sendall(b"HTTP/1.1 200 OK\r\n"
                         b"Content-Type: application/x-ndjson\r\n"
                         b"Connection: close\r\n\r\n"
                         + b"".join(line + b"\n" for line in self.LINES))
        self.addCleanup(testing.serve_once(self.path, handler))

    def _listen(self, emit):
        listener = events.EventListener(emit, socket_path=self.path)
        listener.start()
        self.addCleanup(listener.stop)
        return listener

    def _wait(self, heard, n):
        deadline = time.monotonic() + 5
        while len(heard) < n and time.monotonic() < deadline:
            time.sleep(0.02)

    def test_each_line_becomes_novas_event_at_once(self):
        heard = []
        with self.assertLogs("nova.virt.novadock.events", "WARNING") as logs:
            self._listen(heard.append)
            self._wait(heard, len(self.EXPECTED))
            # Nothing else comes: no event is held back or made up.
            time.sleep(0.3)
        self.assertEqual(self.EXPECTED, [e.transition for e in heard])
        self.assertEqual({UUID}, {e.uuid for e in heard})
        self.assertTrue(all(isinstance(e, virtevent.LifecycleEvent) for e in heard))
        self.assertTrue(self.requests[0].startswith(b"GET /v1/events HTTP/1.1"),
                        self.requests)
        said = "\n".join(r.getMessage() for r in logs.records)
        self.assertIn("Missed 3 lifecycle events", said)
        self.assertIn("not JSON", said)

    def test_a_failing_emit_does_not_stop_the_stream(self):
        heard = []

        def emit(event):
            heard.append(event)
            if len(heard) == 1:
                raise RuntimeError("Nova could not handle it")
        with self.assertLogs("nova.virt.novadock.events", "ERROR"):
            self._listen(emit)
            self._wait(heard, len(self.EXPECTED))
        self.assertEqual(self.EXPECTED, [e.transition for e in heard])


class LifecycleEventTestCase(base.FunctionalTestCase):
    """Through the real service."""

    def setUp(self):
        super().setUp()
        self.heard = []
        self.driver.register_event_listener(self.heard.append)
        self.driver.init_host("novadock-test")
        self.addCleanup(self.driver.cleanup_host, "novadock-test")
        self.assertTrue(self.driver._events.connected.wait(10),
                        "the driver opened the event stream")

    def transitions(self, instance):
        return [e.transition for e in self.heard if e.uuid == instance.uuid]

    def wait_transition(self, instance, transition, timeout=10.0):
        self.wait_for(lambda: transition in self.transitions(instance),
                      timeout=timeout, what=f"{transition} for {instance.uuid}")

    def test_a_container_killed_from_outside_is_reported_stopped(self):
        inst = self.spawn()
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_STARTED)
        t0 = time.monotonic()
        service.docker("kill", f"nova-{inst.uuid}")
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_STOPPED, timeout=10)
        self.assertLess(time.monotonic() - t0, DELAY + 5, "within seconds")
        self.assertEqual(power_state.SHUTDOWN,
                         self.driver.get_info(inst).state)

    def test_a_driver_stopped_and_started_again_at_once_still_hears(self):
        # As nova-compute's restart does with the same driver: the old
        # thread may still sit in a read when the new one starts.
        self.driver.cleanup_host("novadock-test")
        self.driver.init_host("novadock-test")
        inst = self.spawn()
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_STARTED)
        self.driver.pause(inst)
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_PAUSED)

    def test_pause_suspend_and_resume_are_heard(self):
        inst = self.spawn()
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_STARTED)
        self.driver.pause(inst)
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_PAUSED)
        self.driver.unpause(inst)
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_RESUMED)
        del self.heard[:]
        self.driver.suspend(self.ctxt, inst)
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_SUSPENDED)
        self.driver.resume(self.ctxt, inst, None)
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_RESUMED)


class EventStreamReconnectTestCase(base.FunctionalTestCase):
    """A service of its own, killed with SIGKILL and started again."""

    def setUp(self):
        super().setUp()
        self.own = service.NovadockService().start()
        self.addCleanup(self.own.stop)
        CONF.set_override("socket_path", self.own.socket_path, "novadock")
        self.heard = []
        self.driver.register_event_listener(self.heard.append)
        self.driver.init_host("novadock-test")
        self.addCleanup(self.driver.cleanup_host, "novadock-test")
        self.assertTrue(self.driver._events.connected.wait(10))

    def test_the_driver_reconnects_after_the_service_restarts(self):
        inst = self.spawn()
        self.own.restart()
        self.wait_for(lambda: self.driver._events.connected.is_set(),
                      timeout=15, what="the event stream to reconnect")
        # Nothing was lost: the restarted service rebuilt its state from Docker.
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
        service.docker("pause", f"nova-{inst.uuid}")
        self.wait_for(
            lambda: virtevent.EVENT_LIFECYCLE_PAUSED in [
                e.transition for e in self.heard if e.uuid == inst.uuid],
            timeout=10, what="PAUSED after the restart")
        self.assertEqual(power_state.PAUSED, self.driver.get_info(inst).state)

    def test_the_driver_reconnects_after_the_service_stops_cleanly(self):
        # A SIGTERM ends the service's streams (it does not wait for them):
        # the driver sees the stream end and follows the next service.
        t0 = time.monotonic()
        self.own.restart(signal.SIGTERM)
        self.assertLess(time.monotonic() - t0, 10,
                        "the service stopped without waiting for the stream")
        self.wait_for(lambda: self.driver._events.connected.is_set(),
                      timeout=15, what="the event stream to reconnect")
        inst = self.spawn()
        self.wait_for(
            lambda: virtevent.EVENT_LIFECYCLE_STARTED in [
                e.transition for e in self.heard if e.uuid == inst.uuid],
            timeout=10, what="STARTED from the new service")

    def _kill_service(self):
        os.kill(self.own.proc.pid, signal.SIGKILL)
        self.own.proc.wait(timeout=15)

    def test_an_outage_is_logged_once_and_retried_with_backoff(self):
        # The real delays (1 s doubling to 10 s) scaled down twenty times.
        delays = [
            mock.patch.object(events, "RECONNECT_DELAY", 0.05),
            mock.patch.object(events, "RECONNECT_DELAY_MAX", 0.4, create=True)]
        for p in delays:
            p.start()
            self.addCleanup(p.stop)
        with self.assertLogs("nova.virt.novadock.events", "DEBUG") as logs:
            self._kill_service()
            time.sleep(2.5)
            lost = [r for r in logs.records if "event stream" in r.getMessage()]
            warned = [r for r in lost if r.levelname == "WARNING"]
            # Without back-off: an attempt (and a warning) every 0.05 s.
            self.assertEqual(1, len(warned), [r.getMessage() for r in lost])
            self.assertTrue(3 <= len(lost) <= 12, len(lost))
            self.assertIn(self.own.socket_path, warned[0].getMessage())

            self.own._launch()  # back on the same socket
            self.wait_for(lambda: self.driver._events.connected.is_set(),
                          timeout=5, what="the event stream back within the cap")
            # A second outage is logged again, and retried from the shortest
            # delay: several attempts within the cap of one.
            before = len(logs.records)
            self._kill_service()
            time.sleep(0.7)
            again = [r for r in logs.records[before:]
                     if "event stream" in r.getMessage()]
            self.assertEqual(1, len([r for r in again if r.levelname == "WARNING"]),
                             [r.getMessage() for r in again])
            self.assertGreaterEqual(len(again), 3, [r.getMessage() for r in again])
        self.own._launch()


if __name__ == "__main__":
    unittest.main()
