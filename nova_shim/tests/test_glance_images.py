"""Container images from a real glance-api (glance 33 from PyPI, started by
tools/glance/up.sh on loopback, no keystone): boot from Glance, snapshot
back into it, one download for ten boots, and the failures a user can act on.
"""

import io
import json
import pathlib
import socket
import subprocess
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
import uuid

from nova import conf as nova_conf
from nova import context as nova_context
from nova import exception
from nova.compute import power_state
from nova.compute import task_states
from tests import base
from tests import service

CONF = nova_conf.CONF
REPO = pathlib.Path(__file__).resolve().parents[2]


def inspect_image(ref):
    """``docker image inspect``, or None if the engine has no such image."""
    p = service.docker("image", "inspect", ref, check=False)
    return json.loads(p.stdout)[0] if p.returncode == 0 else None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GlanceImagesTestCase(base.FunctionalTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.glance_dir = tempfile.mkdtemp(prefix="novadock-glance-")
        up = subprocess.run(
            [str(REPO / "tools/glance/up.sh"), cls.glance_dir, str(_free_port()),
             cls.service.socket_path],
            capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            raise RuntimeError(f"glance-api did not start:\n{up.stderr}")
        cls.endpoint = up.stdout.strip().splitlines()[-1]
        cls.addClassCleanup(subprocess.run,
                            [str(REPO / "tools/glance/down.sh"), cls.glance_dir])
        cls.tarball = subprocess.run(["docker", "save", service.TEST_IMAGE],
                                     capture_output=True, check=True).stdout

    def setUp(self):
        super().setUp()
        CONF.set_override("api_servers", [self.endpoint], "glance")
        self.addCleanup(CONF.clear_override, "api_servers", "glance")
        self.ctxt = nova_context.RequestContext(
            user_id="novadock-user", project_id="novadock-project",
            auth_token="novadock-test-token", is_admin=True)
        self.glance_ids = []
        self.addCleanup(self._untag_all)

    def _untag_all(self):
        for gid in self.glance_ids:
            service.docker("rmi", f"novadock-glance:{gid}",
                           f"novadock-glance-store:{gid}", check=False)

    # -- Glance as a user drives it ----------------------------------------

    def glance(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        req = urllib.request.Request(self.endpoint.rstrip("/") + path, data=data,
                                     method=method)
        req.add_header("X-Auth-Token", "novadock-test-token")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if isinstance(body, (dict, list)):
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=300) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def create_image(self, data=None, container_format="docker", store="file"):
        """A Glance image in the file store, so the engine does not have it."""
        image = self.glance("POST", "/v2/images", {
            "name": f"novadock-test-{uuid.uuid4().hex[:8]}",
            "container_format": container_format, "disk_format": "raw"})
        self.glance_ids.append(image["id"])
        self.glance("PUT", f"/v2/images/{image['id']}/file",
                    self.tarball if data is None else data,
                    {"Content-Type": "application/octet-stream",
                     "X-Image-Meta-Store": store})
        return image["id"]

    def downloads(self, image_id):
        log = pathlib.Path(self.glance_dir, "access.log").read_text()
        return sum(1 for line in log.splitlines()
                   if f"GET /v2/images/{image_id}/file" in line)

    def boot(self, image_id, **kwargs):
        return self.spawn(image_meta=self.make_image_meta(image_id=image_id),
                          **kwargs)

    # -- tests -------------------------------------------------------------------

    def test_boot_from_glance_then_snapshot_and_boot_the_snapshot(self):
        image_id = self.create_image()
        self.assertIsNone(inspect_image(f"novadock-glance:{image_id}"))
        inst = self.boot(image_id)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
        self.assertEqual(1, self.downloads(image_id))
        self.assertEqual(inspect_image(f"novadock-glance:{image_id}")["Id"],
                         self.container(inst)["Image"])

        service.docker("exec", f"nova-{inst.uuid}", "sh", "-c",
                       "echo from-the-snapshot > /root/mark")
        snap = self.glance("POST", "/v2/images", {"name": "novadock-test-snap"})
        self.glance_ids.append(snap["id"])
        states = []
        self.driver.snapshot(self.ctxt, inst, snap["id"],
                             lambda **kw: states.append(kw["task_state"]))
        self.assertEqual([task_states.IMAGE_PENDING_UPLOAD,
                          task_states.IMAGE_UPLOADING], states)
        shown = self.glance("GET", f"/v2/images/{snap['id']}")
        self.assertEqual(("active", "docker", "raw"), (
            shown["status"], shown["container_format"], shown["disk_format"]))
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)

        second = self.boot(snap["id"])
        self.assertEqual("from-the-snapshot\n", service.docker(
            "exec", f"nova-{second.uuid}", "cat", "/root/mark").stdout)
        # What another host gets from Glance is a loadable docker save.
        req = urllib.request.Request(
            f"{self.endpoint.rstrip('/')}/v2/images/{snap['id']}/file",
            headers={"X-Auth-Token": "novadock-test-token"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            data = resp.read()
        load = subprocess.run(["docker", "load"], input=data, capture_output=True)
        self.assertIn(b"Loaded image", load.stdout, load.stderr)

    def test_a_move_to_another_host_carries_the_filesystem_through_glance(self):
        inst = self.boot(self.create_image())
        service.docker("exec", f"nova-{inst.uuid}", "sh", "-c",
                       "echo moved > /root/mark")
        disk_info = self.driver.migrate_disk_and_power_off(
            self.ctxt, inst, "198.18.250.250", inst.flavor, None)
        moved = json.loads(disk_info)["novadock_image"]
        self.glance_ids.append(moved)
        shown = self.glance("GET", f"/v2/images/{moved}")
        self.assertEqual(("active", "docker", "raw", "private", inst.uuid), (
            shown["status"], shown["container_format"], shown["disk_format"],
            shown["visibility"], shown["novadock_migration_of"]))
        self.assertRaises(exception.InstanceNotFound, self.driver.get_info, inst)

        # Glance serves it as a docker save tarball (here from its novadock
        # store, this engine), which another host loads and boots.
        req = urllib.request.Request(
            f"{self.endpoint.rstrip('/')}/v2/images/{moved}/file",
            headers={"X-Auth-Token": "novadock-test-token"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            with tarfile.open(fileobj=io.BytesIO(resp.read())) as tar:
                manifest = json.load(tar.extractfile("manifest.json"))
        self.assertEqual([f"novadock-glance:{moved}"], manifest[0]["RepoTags"])
        copy = self.boot(moved)
        self.assertEqual("moved\n", service.docker(
            "exec", f"nova-{copy.uuid}", "cat", "/root/mark").stdout)
        self.driver.destroy(self.ctxt, copy, None)

        # Reverted: the instance runs here again and the image is gone.
        self.driver.finish_revert_migration(self.ctxt, inst, None, None)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
        self.assertEqual("moved\n", service.docker(
            "exec", f"nova-{inst.uuid}", "cat", "/root/mark").stdout)
        with self.assertRaises(urllib.error.HTTPError) as gone:
            self.glance("GET", f"/v2/images/{moved}")
        self.assertEqual(404, gone.exception.code)

    def test_deleted_in_the_middle_of_a_move_its_image_leaves_glance(self):
        inst = self.boot(self.create_image())
        disk_info = self.driver.migrate_disk_and_power_off(
            self.ctxt, inst, "198.18.250.250", inst.flavor, None)
        moved = json.loads(disk_info)["novadock_image"]
        self.glance_ids.append(moved)
        self.assertEqual(inst.uuid, self.glance(
            "GET", f"/v2/images/{moved}")["novadock_migration_of"])

        self.driver.destroy(self.ctxt, inst, None)
        with self.assertRaises(urllib.error.HTTPError) as gone:
            self.glance("GET", f"/v2/images/{moved}")
        self.assertEqual(404, gone.exception.code)
        self.assertIsNone(inspect_image(f"novadock-glance:{moved}"))
        self.assertIsNone(service.inspect_container(f"nova-{inst.uuid}"))

    def test_ten_concurrent_boots_of_one_image_download_it_once(self):
        image_id = self.create_image()
        instances = [self.make_instance() for _ in range(10)]
        errors = []

        def boot(inst):
            try:
                self.boot(image_id, instance=inst)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=boot, args=(i,)) for i in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertEqual([], errors)
        for inst in instances:
            self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
        self.assertEqual(1, self.downloads(image_id))

    def test_images_that_cannot_boot_fail_with_the_reason(self):
        bare = self.create_image(container_format="bare")
        inst = self.make_instance()
        with self.assertRaises(exception.ImageUnacceptable) as caught:
            self.boot(bare, instance=inst)
        self.assertIn("container_format", str(caught.exception))
        self.assertIsNone(self.container(inst))

        corrupt = self.create_image(data=self.tarball[: len(self.tarball) // 2])
        with self.assertRaises(exception.ImageUnacceptable) as caught:
            self.boot(corrupt, instance=inst)
        self.assertIn("docker save", str(caught.exception))
        self.assertIsNone(self.container(inst))
        self.assertIsNone(inspect_image(f"novadock-glance:{corrupt}"))

        # Data changed in the store after Glance recorded its hash.
        tampered = self.create_image()
        stored = pathlib.Path(self.glance_dir, "images", tampered)
        # One letter of the legacy `repositories` file, which docker load
        # ignores beside manifest.json: only the hash tells.
        data = stored.read_bytes()
        legacy = b'{"novadock-test/busybox":{"latest"'
        self.assertIn(legacy, data)
        stored.write_bytes(data.replace(legacy, legacy.replace(b"box", b"bOx"), 1))
        with self.assertRaises(exception.ImageUnacceptable) as caught:
            self.boot(tampered, instance=inst)
        self.assertIn("Glance says", str(caught.exception))
        self.assertIsNone(inspect_image(f"novadock-glance:{tampered}"))
        self.assertIsNone(self.container(inst))

    def test_a_cached_image_boots_only_while_glance_lets_the_user_read_it(self):
        image_id = self.create_image()
        self.boot(image_id)
        self.glance("DELETE", f"/v2/images/{image_id}")
        self.assertIsNotNone(inspect_image(f"novadock-glance:{image_id}"),
                             "still cached on the host")
        inst = self.make_instance()
        self.assertRaises(exception.ImageNotFound, self.boot, image_id,
                          instance=inst)
        self.assertIsNone(self.container(inst))

    def test_cache_image_and_manage_image_cache(self):
        image_id = self.create_image()
        self.assertTrue(self.driver.cache_image(self.ctxt, image_id))
        self.assertFalse(self.driver.cache_image(self.ctxt, image_id))
        self.assertEqual(1, self.downloads(image_id))
        CONF.set_override("remove_unused_original_minimum_age_seconds", 0,
                          "image_cache")
        self.addCleanup(CONF.clear_override,
                        "remove_unused_original_minimum_age_seconds", "image_cache")
        self.driver.manage_image_cache(self.ctxt, [])
        self.assertIsNone(inspect_image(f"novadock-glance:{image_id}"))
