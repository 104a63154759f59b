"""Interface attach and detach on a running server."""

import time

from functional import base


class InterfaceTest(base.NovadockTestCase):

    def test_attach_detach(self):
        server = self._boot(host="host2")
        first = self.ports_of(server)
        port = self.neutron.create_port(
            {"port": {"network_id": self.neutron.network_1["id"]}})["port"]
        self.api.attach_interface(
            server["id"], {"interfaceAttachment": {"port_id": port["id"]}})
        ports = self.ports_of(server)
        self.assertEqual([p["port_id"] for p in first] + [port["id"]],
                         [p["port_id"] for p in ports])
        self.assert_nics("host2", server)  # eth2 is the new port

        self.api.detach_interface(server["id"], port["id"])
        self._wait_for_interfaces(server, len(first))
        self.assert_nics("host2", server)
        links = self.hosts["host2"].engine.exec(f"nova-{server['id']}",
                                                "ip", "-o", "link")
        self.assertNotIn(" eth2", links)
        self.assert_container("host2", server, "running")

    def _wait_for_interfaces(self, server, n):
        deadline = time.monotonic() + base.STATUS_TIMEOUT
        while len(self.ports_of(server)) != n:
            self.assertLess(time.monotonic(), deadline, "detach never finished")
            time.sleep(0.2)
