"""Shared set-up of the functional tests: the real service, the driver loaded
the way nova-compute loads it, every exchange checked against the spec."""

import random
import time
import unittest
import uuid

from nova import context as nova_context
from nova import objects
from nova.virt import driver as virt_driver
from nova.virt import fake
import nova.virt.novadock  # noqa: F401  (registers [novadock] options)
from nova.virt.novadock import conf as novadock_conf
from tests import service
from tests import spec

objects.register_all()
CONF = novadock_conf.CONF


class FunctionalTestCase(unittest.TestCase):
    """One driver against the one service of this test process."""

    image_id = None  # set per class: the Glance image id the tests spawn

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.service = service.get_service()
        cls.image_id = str(uuid.uuid4())
        cls.image_ref = service.tag_test_image(cls.image_id)

    @classmethod
    def tearDownClass(cls):
        service.untag(cls.image_ref)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        CONF.set_override("socket_path", self.service.socket_path, "novadock")
        self.addCleanup(CONF.clear_override, "socket_path", "novadock")
        # Nova's metadata code needs a database these in-memory instances
        # lack; the functional harness tests the config drive.
        CONF.set_override("config_drive", False, "novadock")
        self.addCleanup(CONF.clear_override, "config_drive", "novadock")
        self.ctxt = nova_context.get_admin_context()
        self.driver = virt_driver.load_compute_driver(
            fake.FakeVirtAPI(), "novadock.DockerDriver")
        self.api = spec.ValidatingClient()
        self.driver._api = self.api
        self.addCleanup(self._remove_spawned)

    def _remove_spawned(self):
        # As Nova would: destroy, which also removes the VIFs; then make sure.
        for inst_uuid in self.api.spawned_uuids:
            try:
                self.driver.destroy(self.ctxt, objects.Instance(uuid=inst_uuid), None)
            except Exception:  # noqa: BLE001 - the docker cleanup below still runs
                pass
        service.remove_containers_for_uuids(self.api.spawned_uuids)

    # -- building Nova objects --------------------------------------------------

    def make_instance(self, memory_mb=64, vcpus=1, extra_specs=None,
                      metadata=None, hostname="novadock-test",
                      flavor_name="m.test"):
        inst_uuid = str(uuid.uuid4())
        flavor = objects.Flavor(
            name=flavor_name, flavorid=flavor_name, memory_mb=memory_mb,
            vcpus=vcpus, root_gb=1, ephemeral_gb=0, swap=0,
            extra_specs=dict(extra_specs or {}))
        return objects.Instance(
            self.ctxt, id=random.randint(1, 2**31 - 1), uuid=inst_uuid,
            hostname=hostname, display_name=hostname,
            project_id="proj-" + inst_uuid[:8], user_id="user-" + inst_uuid[:8],
            metadata=dict(metadata or {}), flavor=flavor,
            image_ref=self.image_id, system_metadata={})

    def make_image_meta(self, image_id=None, name="novadock-test-image",
                        **properties):
        return objects.ImageMeta.from_dict({
            "id": image_id or self.image_id,
            "name": name,
            "container_format": "docker",
            "disk_format": "raw",
            "properties": properties,
        })

    def spawn(self, instance=None, image_meta=None, network_info=None,
              power_on=True, **kwargs):
        instance = instance or self.make_instance(**kwargs)
        self.driver.spawn(self.ctxt, instance, image_meta or self.make_image_meta(),
                          [], None, {}, network_info=network_info,
                          power_on=power_on)
        return instance

    # -- what the user sees ----------------------------------------------------------

    def container(self, instance):
        return service.inspect_container(f"nova-{instance.uuid}")

    def wait_for(self, predicate, timeout=20.0, what="condition"):
        deadline = time.monotonic() + timeout
        value = predicate()
        while not value and time.monotonic() < deadline:
            time.sleep(0.2)
            value = predicate()
        self.assertTrue(value, f"timed out after {timeout} s waiting for {what}")
        return value
