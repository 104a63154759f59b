"""One server through the user operations on one host: boot, reboots,
stop/start, pause, suspend, console log, rebuild, snapshot."""

import io
import json
import tarfile
import time

from functional import base
from functional import images


class LifecycleTest(base.NovadockTestCase):

    def test_boot_on_each_host(self):
        for host in self.HOSTS:
            server = self._boot(host=host)
            self.assertEqual(host, self.host_of(server))
            self.assert_container(host, server, "running")
            self.assert_nics(host, server)
            other = "host2" if host == "host1" else "host1"
            self.assertIsNone(self.container(other, server))

    def test_reboot_soft_and_hard(self):
        server = self._boot(host="host1")
        for kind in ("SOFT", "HARD"):
            before = self.assert_container("host1", server)["State"]
            self._action(server, {"reboot": {"type": kind}})
            server = self._wait_status(server, "ACTIVE", **{
                "OS-EXT-STS:task_state": None})
            after = self.assert_container("host1", server)["State"]
            # A new main process, with its interfaces plugged again.
            self.assertNotEqual(before["Pid"], after["Pid"], kind)
            self.assertNotEqual(before["StartedAt"], after["StartedAt"], kind)
            self.assert_nics("host1", server)

    def test_stop_start(self):
        server = self._boot(host="host2")
        self._action(server, {"os-stop": None})
        server = self._wait_status(server, "SHUTOFF")
        self.assert_container("host2", server, "exited")
        self._action(server, {"os-start": None})
        server = self._wait_status(server, "ACTIVE")
        self.assert_container("host2", server, "running")
        self.assert_nics("host2", server)

    def test_pause_unpause(self):
        server = self._boot(host="host1")
        self._action(server, {"pause": None})
        server = self._wait_status(server, "PAUSED")
        self.assert_container("host1", server, "paused")
        self._action(server, {"unpause": None})
        server = self._wait_status(server, "ACTIVE")
        self.assert_container("host1", server, "running")
        self.assert_nics("host1", server)

    def test_suspend_resume(self):
        server = self._boot(host="host2")
        self._action(server, {"suspend": None})
        server = self._wait_status(server, "SUSPENDED")
        c = self.assert_container("host2", server, "paused")
        self.assertEqual(2, c["HostConfig"]["CpuShares"])
        self._action(server, {"resume": None})
        server = self._wait_status(server, "ACTIVE")
        c = self.assert_container("host2", server, "running")
        self.assertEqual(server["flavor"]["vcpus"] * 1024,
                         c["HostConfig"]["CpuShares"])
        self.assert_nics("host2", server)

    def test_console_log(self):
        server = self._boot(host="host1")
        name = f"nova-{server['id']}"
        # A line written by the main process's stdout after boot, too.
        self.hosts["host1"].engine.exec(name, "sh", "-c",
                                        "echo hello-console > /proc/1/fd/1")
        out = self._action(server, {"os-getConsoleOutput": {"length": 50}})
        out = out["output"]
        self.assertIn("booted", out)
        self.assertIn("hello-console", out)

    def test_rebuild(self):
        server = self._boot(host="host2")
        before = self.assert_container("host2", server)
        self.write_marker("host2", server)
        self._action(server, {"rebuild": {"imageRef": images.REBUILD_IMAGE_ID}})
        server = self._wait_status(server, "ACTIVE",
                                   **{"OS-EXT-STS:task_state": None})
        self.assertEqual(images.REBUILD_IMAGE_ID, server["image"]["id"])
        after = self.assert_container("host2", server, "running")
        # A new container with a fresh filesystem from the new image, and the
        # same network identity.
        self.assertNotEqual(before["Id"], after["Id"])
        self.assertIsNone(self.read_marker("host2", server))
        self.assert_nics("host2", server)

    def test_snapshot_and_boot_it(self):
        server = self._boot(host="host1")
        self.write_marker("host1", server, "snapshotted")
        resp = self._action(server, {"createImage": {"name": "snap"}})
        image_id = resp["image_id"]
        deadline = time.monotonic() + base.STATUS_TIMEOUT
        while self.glance.images[image_id].get("status") != "active":
            self.assertLess(time.monotonic(), deadline, "snapshot never active")
            time.sleep(0.2)
        server = self._wait_status(server, "ACTIVE",
                                   **{"OS-EXT-STS:task_state": None})
        self.assert_container("host1", server, "running")
        # What reached Glance is a `docker save` tarball of the container.
        image = self.glance.images[image_id]
        self.assertEqual(("docker", "raw"),
                         (image["container_format"], image["disk_format"]))
        data = self.glance.image_data(image_id)
        self.assertTrue(data, "no image data reached Glance")
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
        self.assertEqual(1, len(manifest))
        # Booted on the host that took it (the other one would need a Glance
        # endpoint to download it from): the file is there.
        copy = self._boot(host="host1", image=image_id)
        self.assert_container("host1", copy, "running")
        self.assertEqual("snapshotted", self.read_marker("host1", copy))
        self.assert_nics("host1", copy)
