"""Lifecycle events: what Nova hears when a container changes state, through
the driver's one streaming request to the real service."""

import os
import signal
import time
from unittest import mock

from nova import conf as nova_conf
from nova.compute import power_state
from nova.virt import event as virtevent
from nova.virt.novadock import events
from tests import base
from tests import service

CONF = nova_conf.CONF
# Long enough that a reboot on a loaded machine is not taken for a stop.
DELAY = 3.0


class LifecycleEventTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        CONF.set_override("lifecycle_event_delay", DELAY, "novadock")
        self.addCleanup(CONF.clear_override, "lifecycle_event_delay", "novadock")
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

    def test_a_reboot_does_not_tell_nova_the_instance_stopped(self):
        inst = self.spawn()
        self.wait_transition(inst, virtevent.EVENT_LIFECYCLE_STARTED)
        del self.heard[:]
        self.driver.reboot(self.ctxt, inst, None, "HARD")
        # The stop and start may reach the service as one state (running):
        # then nothing at all is heard, which is as right.
        time.sleep(DELAY + 1)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
        self.assertNotIn(virtevent.EVENT_LIFECYCLE_STOPPED, self.transitions(inst))

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
        CONF.set_override("lifecycle_event_delay", 0.0, "novadock")
        self.addCleanup(CONF.clear_override, "lifecycle_event_delay", "novadock")
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
