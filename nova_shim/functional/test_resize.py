"""Resize and cold migration: on the same host, and to the other host (the
container's filesystem travels with it)."""

from functional import base


class SameHostResizeTest(base.NovadockTestCase):
    """host2 disabled and allow_resize_to_same_host: the resize stays on host1."""

    def setUp(self):
        super().setUp()
        self.flags(allow_resize_to_same_host=True)
        self.admin_api.put_service(self._compute_service("host2")["id"],
                                   {"status": "disabled"})

    def _resize(self):
        server = self._boot(host="host1")
        self.write_marker("host1", server, "resized")
        self._action(server, {"resize": {"flavorRef": self.flavor_big}})
        server = self._wait_status(server, "VERIFY_RESIZE")
        self.assertEqual("host1", self.host_of(server))
        self.assert_container("host1", server, "running", memory_mb=192)
        self.assertEqual("resized", self.read_marker("host1", server))
        self.assert_nics("host1", server)
        return server

    def test_resize_confirm(self):
        server = self._resize()
        self._action(server, {"confirmResize": None})
        server = self._wait_status(server, "ACTIVE")
        self.assertEqual(192, server["flavor"]["ram"])
        self.assert_container("host1", server, "running", memory_mb=192)
        # The set-aside container is gone.
        self.assertEqual(1, self.count_containers("host1", server))
        self.assertEqual("resized", self.read_marker("host1", server))

    def test_resize_revert(self):
        server = self._resize()
        self._action(server, {"revertResize": None})
        server = self._wait_status(server, "ACTIVE")
        self.assertEqual(128, server["flavor"]["ram"])
        self.assert_container("host1", server, "running", memory_mb=128)
        self.assertEqual(1, self.count_containers("host1", server))
        self.assertEqual("resized", self.read_marker("host1", server))
        self.assert_nics("host1", server)


class ColdMigrationTest(base.NovadockTestCase):
    """host1 -> host2 (allow_resize_to_same_host is off)."""

    def _move(self, body, memory_mb):
        server = self._boot(host="host1")
        self.write_marker("host1", server, "travelled")
        self._action(server, body)
        server = self._wait_status(server, "VERIFY_RESIZE")
        self.assertEqual("host2", self.host_of(server))
        self.assert_container("host2", server, "running", memory_mb=memory_mb)
        self.assertEqual("travelled", self.read_marker("host2", server))
        self.assert_nics("host2", server)
        return server

    def test_resize_to_other_host_confirm(self):
        server = self._move({"resize": {"flavorRef": self.flavor_big}}, 192)
        self._action(server, {"confirmResize": None})
        server = self._wait_status(server, "ACTIVE")
        self.assert_no_container("host1", server)
        self.assert_container("host2", server, "running", memory_mb=192)
        self.assertEqual("travelled", self.read_marker("host2", server))

    def test_migrate_revert(self):
        server = self._move({"migrate": None}, 128)
        self._action(server, {"revertResize": None})
        server = self._wait_status(server, "ACTIVE",
                                   **{"OS-EXT-SRV-ATTR:host": "host1"})
        self.assert_container("host1", server, "running", memory_mb=128)
        self.assertEqual("travelled", self.read_marker("host1", server))
        self.assert_nics("host1", server)
        self.assert_no_container("host2", server)
