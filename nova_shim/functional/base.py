"""Nova's in-process functional harness (API, conductor, scheduler, placement,
Neutron and Glance fixtures) with two real nova-compute services, host1 and
host2, each running the real novadock driver against its own real novadock
service and dockerd.

Every test checks what the API says and what the host's engine has.
"""

import atexit
import os
import sys
import time
from unittest import mock
import uuid
import warnings

import fixtures
from sqlalchemy import exc as sa_exc

from functional import hosts as hosts_mod
from functional import images
from functional import network
from nova import context as nova_context
from nova import objects
from nova import test
from nova.compute import power_state
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import fixtures as func_fixtures
from nova.tests.functional import integrated_helpers
from nova.virt import driver as virt_driver
import nova.virt.novadock  # noqa: F401  (registers the [novadock] options)

GLANCE_TAG = "novadock-glance:{}"
MB = 1024 * 1024
NODE_NAMESPACE = uuid.UUID("5f0d4b8e-6a53-4f3e-9d7e-8c1f2b6a9e01")
# Bounds on every wait, in seconds.
STATUS_TIMEOUT = 60.0
EVENT_TIMEOUT = 30.0

_TAGGED = False


def _tag_images(hosts):
    """The engine copy of the fixture's images on every host, once per
    process; untagged again at exit."""
    global _TAGGED
    if _TAGGED:
        return
    refs = [GLANCE_TAG.format(i) for i in (images.IMAGE_ID, images.REBUILD_IMAGE_ID,
                                           images.DYING_IMAGE_ID)]
    for h in hosts.values():
        for ref in refs:
            h.engine.tag(hosts_mod.TEST_IMAGE, ref)
        atexit.register(lambda e=h.engine: [e.untag(r) for r in refs])
    _TAGGED = True


def bind_driver(driver, socket_path, node_uuid):
    """Make one driver the driver of one host, as its own machine would.

    - The driver reads ``[novadock] socket_path`` per call, but every compute
      service of this process shares one CONF: set the path the client and
      the event listener prefer over CONF.
    - Nova's node identity (``nova.virt.node``, the compute_id file) is one
      per process here: give each host its own node uuid.
    """
    driver._api._socket_path = socket_path
    driver._events._socket_path = socket_path
    node_uuid = str(node_uuid)
    real_resources = driver.get_available_resource
    driver.get_nodenames_by_uuid = (
        lambda refresh=False: {node_uuid: driver.get_available_nodes()[0]})
    driver.get_available_resource = (
        lambda nodename: dict(real_resources(nodename), uuid=node_uuid))


class NovadockTestCase(test.TestCase, integrated_helpers.PlacementInstanceHelperMixin):
    """_IntegratedTestBase's set-up with the address-safe fixtures and two
    novadock computes."""

    REQUIRES_LOCKING = True
    CAST_AS_CALL = True
    microversion = "2.94"  # evacuate keeps the server ACTIVE below 2.95
    HOSTS = ("host1", "host2")

    def setUp(self):
        super().setUp()
        # nova's WarningsFixture makes SQLAlchemy deprecations errors, and the
        # SQLAlchemy 2.1 that pip picks deprecates noload(), used by nova 34.
        warnings.filterwarnings("ignore", message=r"The noload\(\) option",
                                category=sa_exc.SADeprecationWarning)
        self.hosts = hosts_mod.get_hosts()
        _tag_images(self.hosts)
        self._uuids = set()
        self._base_images = set()
        # Registered first, so it runs last: after the computes stopped.
        self.addCleanup(self._clean_hosts)

        self.flags(compute_driver="novadock.DockerDriver")
        # pip puts the wheel's api-paste.ini under the venv, not beside nova.
        self.flags(api_paste_config=os.path.join(sys.prefix, "etc/nova/api-paste.ini"),
                   group="wsgi")
        if self.CAST_AS_CALL:
            self.useFixture(nova_fixtures.CastAsCallFixture(self))
        self.placement = self.useFixture(func_fixtures.PlacementFixture()).api
        self.neutron = self.useFixture(network.NeutronFixture(self))
        self.glance = self.useFixture(images.GlanceFixture(self))
        self._base_images = set(self.glance.images)
        self.policy = self.useFixture(nova_fixtures.RealPolicyFixture())
        self.notifier = self.useFixture(nova_fixtures.NotificationFixture(self))

        # host1's engine is the machine's, shared with other test runs: their
        # containers must not make Nova refuse a "new host with instances".
        self.useFixture(fixtures.MockPatch(
            "nova.compute.manager.ComputeManager._sanity_check_new_host"))
        self.flags(transport_url=self.cell_mappings["cell1"].transport_url)
        self.addCleanup(self.start_service("conductor").stop)
        self.addCleanup(self.start_service("scheduler").stop)
        for name in self.HOSTS:
            self._start_host(name)
        self.addCleanup(self._stop_computes)

        self.api_fixture = self.useFixture(
            nova_fixtures.OSAPIFixture(api_version="v2.1"))
        self.api = self.admin_api = self.api_fixture.admin_api
        self.api.microversion = self.microversion

        self.flavor_small = self._create_flavor(name="nd.small", memory_mb=128,
                                                vcpu=1, disk=0)
        self.flavor_big = self._create_flavor(name="nd.big", memory_mb=192,
                                              vcpu=2, disk=0)

    # -- compute services -------------------------------------------------------

    def _start_host(self, name):
        with self._host_driver(name):
            return self._start_compute(name)

    def _restart_host(self, name):
        """A new nova-compute on the host (new manager, new driver), as a
        real restart would be."""
        with self._host_driver(name):
            compute = self.restart_compute_service(self.computes[name],
                                                   keep_hypervisor_state=False)
        self.computes[name] = compute
        return compute

    def _host_driver(self, name):
        """While a compute service of ``name`` starts: its driver is bound to
        the host before init_host runs."""
        real_load = virt_driver.load_compute_driver
        socket_path = self.hosts[name].socket_path

        def load(virtapi, compute_driver=None):
            drv = real_load(virtapi, compute_driver)
            bind_driver(drv, socket_path, uuid.uuid5(NODE_NAMESPACE, name))
            return drv
        return mock.patch("nova.virt.driver.load_compute_driver", side_effect=load)

    def _stop_computes(self):
        for compute in self.computes.values():
            compute.stop()

    def _compute_service(self, name):
        return self.admin_api.get_services(host=name, binary="nova-compute")[0]

    def driver(self, name):
        return self.computes[name].manager.driver

    # -- servers ------------------------------------------------------------------

    def _boot(self, host=None, flavor=None, image=images.IMAGE_ID, name=None,
              **extra):
        body = self._build_server(
            name=name, image_uuid=image,
            flavor_id=(flavor or self.flavor_small),
            networks=[{"uuid": self.neutron.network_1["id"]}], host=host)
        body.update(extra)
        server = self.api.post_server({"server": body})
        self._uuids.add(server["id"])
        return self._wait_status(server, "ACTIVE")

    def _wait_status(self, server, status, timeout=STATUS_TIMEOUT, **params):
        """The server once it has ``status`` (and ``params``), failing with the
        last state seen (and any fault) after ``timeout`` s."""
        expected = dict(params, status=status)
        deadline = time.monotonic() + timeout
        while True:
            server = self.api.get_server(server["id"])
            if all(server.get(k) == v for k, v in expected.items()):
                return server
            if time.monotonic() > deadline:
                self.fail(f"server {server['id']} did not reach {expected} within "
                          f"{timeout:g} s: status {server['status']}, task "
                          f"{server.get('OS-EXT-STS:task_state')}, host "
                          f"{server.get('OS-EXT-SRV-ATTR:host')}, fault "
                          f"{server.get('fault')}\n{self._logs()}")
            time.sleep(0.2)

    def _action(self, server, body):
        return self.api.post_server_action(server["id"], body)

    @staticmethod
    def host_of(server):
        return server["OS-EXT-SRV-ATTR:host"]

    def _logs(self):
        return "\n".join(f"--- novadock serve {h.name} (last lines):\n{h.log_tail(15)}"
                         for h in self.hosts.values())

    # -- what the engines have ---------------------------------------------------------

    def container(self, host, server):
        return self.hosts[host].engine.inspect(f"nova-{server['id']}")

    def assert_container(self, host, server, state="running", memory_mb=None):
        """The instance's container on ``host`` in ``state`` (running, paused,
        exited), with the memory limit of the server's flavor (or
        ``memory_mb``); returns docker inspect."""
        c = self.container(host, server)
        self.assertIsNotNone(c, f"no container nova-{server['id']} on {host}")
        self.assertEqual(state, c["State"]["Status"], f"container on {host}")
        self.assertEqual(state == "paused", c["State"]["Paused"])
        self.assertEqual(state in ("running", "paused"), c["State"]["Running"])
        memory_mb = memory_mb or server["flavor"]["ram"]
        self.assertEqual(memory_mb * MB, c["HostConfig"]["Memory"], "memory limit")
        return c

    def assert_no_container(self, host, server):
        self.assertEqual([], self.hosts[host].engine.containers_of([server["id"]]),
                         f"{host} still has a container of {server['id']}")
        self.assertEqual([], self.hosts[host].switch.ports_of(server["id"]),
                         f"{host} still has OVS ports of {server['id']}")

    def count_containers(self, host, server):
        return len(self.hosts[host].engine.containers_of([server["id"]]))

    def ports_of(self, server):
        """The server's Neutron ports in attachment order, from the API."""
        return self.api.get_port_interfaces(server["id"])

    def assert_nics(self, host, server):
        """eth1, eth2, ... inside the container carry the MAC and every fixed
        IP of the server's ports, and host has their OVS ports."""
        name = f"nova-{server['id']}"
        engine = self.hosts[host].engine
        ports = self.ports_of(server)
        self.assertTrue(ports, "the server has no ports")
        for i, port in enumerate(ports, start=1):
            dev = f"eth{i}"
            mac = engine.exec(name, "cat", f"/sys/class/net/{dev}/address").strip()
            self.assertEqual(port["mac_addr"], mac, dev)
            addrs = engine.exec(name, "ip", "-o", "addr", "show", "dev", dev)
            for ip in port["fixed_ips"]:
                self.assertIn(f" {ip['ip_address']}/", addrs, dev)
        tap_names = {f"tap{p['port_id']}"[:14] for p in ports}
        self.assertEqual(sorted(tap_names),
                         self.hosts[host].switch.ports_of(server["id"]))

    def wait_driver_state(self, host, server, state, timeout=EVENT_TIMEOUT):
        """Poll the host's driver (the service's view) until it reports state."""
        inst = self._instance(server)
        deadline = time.monotonic() + timeout
        while True:
            got = self.driver(host).get_info(inst).state
            if got == state:
                return
            if time.monotonic() > deadline:
                self.fail(f"{host}'s driver reports {power_state.STATE_MAP[got]}, "
                          f"not {power_state.STATE_MAP[state]}, after {timeout:g} s")
            time.sleep(0.2)

    def _instance(self, server):
        return objects.Instance.get_by_uuid(nova_context.get_admin_context(),
                                            server["id"])

    # -- cleanup ---------------------------------------------------------------------

    def _clean_hosts(self):
        """Whatever this test's instances left on the engines and switches,
        and the images their snapshots or migrations tagged."""
        for h in self.hosts.values():
            ids = h.engine.containers_of(self._uuids)
            if ids:
                h.engine.docker("rm", "-f", "-v", *ids, check=False)
            h.engine.remove_images_of(self._uuids)
            h.switch.remove_ports_of(self._uuids)
            made = self.glance.created_ids if hasattr(self, "glance") else set()
            for image_id in made - self._base_images:
                h.engine.untag(GLANCE_TAG.format(image_id))

    # -- inside the container ---------------------------------------------------------

    def write_marker(self, host, server, text="novadock"):
        """A file in the container's own filesystem, to follow it around."""
        self.hosts[host].engine.exec(f"nova-{server['id']}", "sh", "-c",
                                     f"echo {text} > /root/marker")

    def read_marker(self, host, server):
        p = self.hosts[host].engine.docker(
            "exec", f"nova-{server['id']}", "cat", "/root/marker", check=False)
        return p.stdout.strip() if p.returncode == 0 else None
