"""One server through the user operations on one host: boot, reboots,
stop/start, pause, suspend, console log, rebuild, snapshot."""

import base64
import hashlib
import io
import json
import os
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

    def test_config_drive_holds_user_data_metadata_and_the_network(self):
        seed = "/var/lib/cloud/seed/config_drive/openstack/latest"
        user_data = b"#!/bin/sh\necho configured-by-user-data\n\xff"
        server = self._boot(host="host1", metadata={"role": "web"},
                            user_data=base64.b64encode(user_data).decode())
        name = f"nova-{server['id']}"
        engine = self.hosts["host1"].engine
        # Byte for byte, made by Nova's own metadata code.
        got = engine.exec(name, "sha256sum", f"{seed}/user_data").split()[0]
        self.assertEqual(hashlib.sha256(user_data).hexdigest(), got)
        meta = json.loads(engine.exec(name, "cat", f"{seed}/meta_data.json"))
        self.assertEqual(server["id"], meta["uuid"])
        self.assertEqual({"role": "web"}, meta["meta"])
        net = json.loads(engine.exec(name, "cat", f"{seed}/network_data.json"))
        eth1 = engine.exec(name, "cat", "/sys/class/net/eth1/address").strip()
        self.assertIn(eth1, [link["ethernet_mac_address"] for link in net["links"]])
        # Read-only for the container.
        p = engine.docker("exec", name, "sh", "-c", f"echo x > {seed}/user_data",
                          check=False)
        self.assertNotEqual(0, p.returncode)
        # A rebuild with new user data gives the new data.
        second = base64.b64encode(b"second").decode()
        self._action(server, {"rebuild": {"imageRef": images.IMAGE_ID,
                                          "user_data": second}})
        server = self._wait_status(server, "ACTIVE", **{"OS-EXT-STS:task_state": None})
        self.assertEqual("second", engine.exec(name, "cat", f"{seed}/user_data"))
        host_dir = os.path.join(self.hosts["host1"].tmpdir, "config-drive",
                                server["id"])
        self.assertTrue(os.path.isdir(host_dir))
        self._delete_server(server)
        self.assertFalse(os.path.exists(host_dir), "delete leaves no drive")
