"""Nova's own virt-driver conformance suite, against the real service.

``_VirtDriverTestCase`` swallows NotImplementedError and logs
"<driver> does not implement <method> required for test <test>" instead:
those lines are the driver's gaps. Besides nova's own log capture, they are
appended to the file named by ``$NOVADOCK_GAPS_FILE`` (tools/run-conformance.sh
counts them from there).

Run it serially: the suite counts every instance on the host.
"""

import logging
import os

from nova import exception
from nova import test
from nova.tests.unit.virt import test_virt_drivers
import nova.virt.novadock  # noqa: F401  (registers [novadock] options)
from tests import service
from tests import spec

SUITE_IMAGE_ID = "cedef40a-ed67-4d10-800e-17455edce175"  # nova's fake glance
# The bridge of the OVS VIF in nova.tests.unit.utils.get_test_network_info().
SUITE_BRIDGE = "br0"


class _GapFileHandler(logging.Handler):
    def __init__(self, path):
        super().__init__(logging.ERROR)
        self.path = path

    def emit(self, record):
        msg = record.getMessage()
        if "does not implement" in msg:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(msg.replace("\n", " ") + "\n")


_STALE_REMOVED = False


def _remove_stale_suite_containers():
    """Containers an interrupted earlier run of this suite left behind (the
    suite counts every instance on the host): those of the suite's image."""
    global _STALE_REMOVED
    if not _STALE_REMOVED:
        service.remove_containers_for_uuids([SUITE_IMAGE_ID])
        _STALE_REMOVED = True


class NovadockConformanceTestCase(test_virt_drivers._VirtDriverTestCase,
                                  test.TestCase):
    driver_module = "nova.virt.novadock.DockerDriver"

    def setUp(self):
        svc = service.get_service()
        service.ensure_ovs_bridge(SUITE_BRIDGE)
        _remove_stale_suite_containers()
        super().setUp()
        self.flags(socket_path=svc.socket_path, group="novadock")
        # Nova's metadata code needs what the suite's fake instances lack.
        self.flags(config_drive=False, group="novadock")
        self.api = spec.ValidatingClient()
        self.connection._api = self.api
        # init_host starts the driver's event listener: stop it with the test.
        self.addCleanup(self.connection.cleanup_host, "myhostname")
        self.addCleanup(
            lambda: service.remove_containers_for_uuids(self.api.spawned_uuids))
        ref = service.tag_test_image(SUITE_IMAGE_ID)
        self.addCleanup(service.untag, ref)
        gaps = os.environ.get("NOVADOCK_GAPS_FILE")
        if gaps:
            handler = _GapFileHandler(gaps)
            logger = logging.getLogger(test_virt_drivers.__name__)
            logger.addHandler(handler)
            self.addCleanup(logger.removeHandler, handler)

    # nova's two live-migration tests are the only ones of the suite not
    # wrapped in catch_notimplementederror, and they use libvirt/fake driver
    # internals (LibvirtLiveMigrateData, ``active_migrations``). Run the same
    # calls the driver-neutral way, so a missing method is counted as a gap
    # like everywhere else in the suite instead of erroring.

    @test_virt_drivers.catch_notimplementederror
    def test_live_migration(self):
        instance_ref, network_info = self._get_running_instance()
        self.connection.live_migration(self.ctxt, instance_ref, "otherhost",
                                       lambda *a, **b: None,
                                       lambda *a, **b: None)

    @test_virt_drivers.catch_notimplementederror
    def test_live_migration_force_complete(self):
        instance_ref, network_info = self._get_running_instance()
        self.connection.live_migration_force_complete(instance_ref)

    # The suite resizes to "dest_host", another host: the filesystem would
    # then travel as a Glance image, and the suite has no Glance (tested in
    # test_glance_images; without Glance the move rolls back, test_instances).
    # The same call, to this host, as Nova makes it with
    # allow_resize_to_same_host.
    @test_virt_drivers.catch_notimplementederror
    def test_migrate_disk_and_power_off(self):
        from nova.tests.unit import utils as test_utils

        instance_ref, network_info = self._get_running_instance()
        flavor_ref = test_utils.get_test_flavor()
        self.connection.migrate_disk_and_power_off(
            self.ctxt, instance_ref, self.connection.get_host_ip_addr(),
            flavor_ref, network_info)
        self.assertRaises(exception.InstanceNotFound,
                          self.connection.get_info, instance_ref)

    # The suite's test VIF carries 10.0.0.x and 2001:b105:f00d:: addresses;
    # plugged for real, they would appear on the test bridge. The same VIF is
    # used, renumbered into the benchmarking ranges the project's tests keep to.
    def _get_running_instance(self, obj=True):
        from nova.tests.unit import utils as test_utils

        original = test_utils.get_test_network_info

        def renumbered(count=1):
            return _renumber(original(count))

        test_utils.get_test_network_info = renumbered
        try:
            return super()._get_running_instance(obj=obj)
        finally:
            test_utils.get_test_network_info = original


_RENUMBER = {
    "10.0.0.": "198.18.100.",
    "192.168.122.": "198.18.101.",
    "2001:b105:f00d:": "2001:2:0:100:",
    "2001:dead:beef:": "2001:2:0:101:",
}


def _renumber(network_info):
    """The same network_info with every address moved into 198.18.0.0/15
    (IPv6: 2001:2::/48, the IPv6 benchmarking range)."""
    def fix(value):
        if isinstance(value, str):
            for old, new in _RENUMBER.items():
                if value.startswith(old):
                    return new + value[len(old):]
        return value

    for vif in network_info:
        for subnet in vif["network"]["subnets"]:
            subnet["cidr"] = fix(subnet["cidr"])
            for ip in list(subnet["ips"]) + list(subnet["dns"]):
                ip["address"] = fix(ip["address"])
            if subnet["gateway"] is not None:
                subnet["gateway"]["address"] = fix(subnet["gateway"]["address"])
            if "dhcp_server" in subnet.get("meta", {}):
                subnet["meta"]["dhcp_server"] = fix(subnet["meta"]["dhcp_server"])
    return network_info
