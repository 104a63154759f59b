"""A container stopped behind Nova's back: found by the power-state periodic,
and reported at once by the driver's event stream."""

from functional import base
from nova import context as nova_context
from nova.compute import power_state


class PowerSyncTest(base.NovadockTestCase):
    # The periodic holds the instance's lock while it asks the compute to
    # stop it: a cast in real life, a deadlock if casts become calls.
    CAST_AS_CALL = False

    def test_sync_power_states_after_outside_stop(self):
        server = self._boot(host="host1")
        # Nova handles no lifecycle event of host1 (its driver discards
        # them, as with [workarounds] handle_virt_lifecycle_events = false):
        # only the periodic may act.
        self.driver("host1").register_event_listener(None)
        self.hosts["host1"].engine.docker("stop", f"nova-{server['id']}")
        self.wait_driver_state("host1", server, power_state.SHUTDOWN)
        self.assertEqual("ACTIVE", self.api.get_server(server["id"])["status"])

        self.computes["host1"].manager._sync_power_states(
            nova_context.get_admin_context())
        server = self._wait_status(server, "SHUTOFF", timeout=base.EVENT_TIMEOUT)
        self.assert_container("host1", server, "exited")

    def test_lifecycle_event_after_outside_kill(self):
        # No periodic runs in this harness (periodic_enable is off): only the
        # driver's event stream can tell Nova (host2's service holds STOPPED
        # back 1 s, functional/hosts.py).
        server = self._boot(host="host2")
        self.hosts["host2"].engine.docker("kill", f"nova-{server['id']}")
        server = self._wait_status(server, "SHUTOFF", timeout=base.EVENT_TIMEOUT)
        self.assert_container("host2", server, "exited")
        # And it can be started again.
        self._action(server, {"os-start": None})
        server = self._wait_status(server, "ACTIVE")
        self.assert_container("host2", server, "running")
        self.assert_nics("host2", server)
