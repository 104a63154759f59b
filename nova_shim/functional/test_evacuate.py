"""Evacuate off a dead host, and Nova's clean-up when that host comes back."""

from functional import base


class EvacuateTest(base.NovadockTestCase):

    def test_evacuate_then_source_comes_back(self):
        server = self._boot(host="host1")
        service_id = self._compute_service("host1")["id"]
        self.computes["host1"].stop()
        self.admin_api.put_service_force_down(service_id, True)

        self._action(server, {"evacuate": {}})
        server = self._wait_status(server, "ACTIVE", **{
            "OS-EXT-SRV-ATTR:host": "host2", "OS-EXT-STS:task_state": None})
        self.assert_container("host2", server, "running")
        self.assert_nics("host2", server)
        # host1's compute is down: its container is still there.
        self.assertIsNotNone(self.container("host1", server))

        # Back up: init_host destroys what was evacuated away.
        self._restart_host("host1")
        self.admin_api.put_service_force_down(service_id, False)
        self.assert_no_container("host1", server)
        server = self._wait_status(server, "ACTIVE",
                                   **{"OS-EXT-SRV-ATTR:host": "host2"})
        self.assert_container("host2", server, "running")
        self.assert_nics("host2", server)
