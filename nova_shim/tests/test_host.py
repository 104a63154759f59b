"""Host-level calls: loading, init_host, resources, inventory, the wire."""

import http.client
import importlib.metadata
import ipaddress
import json
import os
import socket
import uuid

import os_resource_classes as orc

from nova import exception
from nova.compute import provider_tree
from nova.virt import driver as virt_driver
from nova.virt import fake
from nova.virt import novadock
from nova.virt.novadock import client as novadock_client
from tests import base
from tests import spec


def mem_total_mb():
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


class LoadingTestCase(base.FunctionalTestCase):

    def test_loaded_by_nova(self):
        drv = virt_driver.load_compute_driver(fake.FakeVirtAPI(),
                                              "novadock.DockerDriver")
        self.assertIsInstance(drv, novadock.DockerDriver)
        self.assertIsInstance(drv, virt_driver.ComputeDriver)

    def test_wheel_ships_only_our_package(self):
        files = {str(f) for f in importlib.metadata.files("novadock-nova-driver")}
        self.assertIn("nova/virt/novadock/driver.py", files)
        self.assertNotIn("nova/__init__.py", files)
        self.assertNotIn("nova/virt/__init__.py", files)

    def test_claims_nothing_before_init_host(self):
        self.assertEqual(virt_driver.ComputeDriver.capabilities,
                         self.driver.capabilities)
        self.assertIsNot(virt_driver.ComputeDriver.capabilities,
                         self.driver.capabilities)

    def test_init_host_takes_service_capabilities(self):
        self.driver.init_host("testhost")
        ops = [op for op, _ in self.api.operations]
        self.assertEqual(["getVersion", "getCapabilities"], ops)
        caps = self.api.get_capabilities()
        for key, value in caps.items():
            self.assertIs(value, self.driver.capabilities[key], key)
        for key in virt_driver.ComputeDriver.capabilities:
            self.assertIn(key, self.driver.capabilities)
            if key not in caps:
                self.assertFalse(self.driver.capabilities[key], key)
        # The base class's dictionary is untouched.
        self.assertFalse(any(virt_driver.ComputeDriver.capabilities.values()))


class HostTestCase(base.FunctionalTestCase):

    def test_version(self):
        v = self.api.get_version()
        self.assertEqual("1", v["api_version"])
        out = base.service.docker("version", "--format",
                                  "{{.Server.Version}}").stdout.strip()
        self.assertEqual(out, v["docker_version"])

    def test_nodes_and_host_figures(self):
        nodes = self.driver.get_available_nodes()
        self.assertEqual(1, len(nodes))
        self.assertTrue(nodes[0])
        self.assertEqual(nodes, self.driver.get_available_nodes(refresh=True))
        ip = ipaddress.ip_address(self.driver.get_host_ip_addr())
        self.assertEqual(4, ip.version)
        uptime = self.driver.get_host_uptime()
        self.assertIsInstance(uptime, str)
        self.assertIn("up", uptime)
        self.assertIn("load average", uptime)

    def test_available_resource(self):
        node = self.driver.get_available_nodes()[0]
        res = self.driver.get_available_resource(node)
        self.assertEqual(os.cpu_count(), res["vcpus"])
        total = mem_total_mb()
        self.assertLessEqual(abs(res["memory_mb"] - total), max(64, total // 50),
                             f"memory_mb {res['memory_mb']} vs MemTotal {total}")
        self.assertEqual("docker", res["hypervisor_type"])
        self.assertIsInstance(res["hypervisor_version"], int)
        self.assertEqual(node, res["hypervisor_hostname"])
        self.assertGreater(res["local_gb"], 0)
        self.assertLessEqual(res["memory_mb_used"], res["memory_mb"])
        self.assertIsInstance(json.loads(res["cpu_info"]), dict)
        self.assertTrue(any("docker" in si for si in res["supported_instances"]))

    def test_cpu_stats(self):
        stats = self.driver.get_host_cpu_stats()
        for key in ("kernel", "idle", "user", "iowait", "frequency"):
            self.assertIsInstance(stats[key], int, key)
        self.assertGreater(stats["idle"] + stats["user"] + stats["kernel"], 0)

    def _tree(self):
        node = self.driver.get_available_nodes()[0]
        tree = provider_tree.ProviderTree()
        tree.new_root(node, str(uuid.uuid4()))
        return node, tree

    def test_update_provider_tree_new_node(self):
        node, tree = self._tree()
        self.driver.update_provider_tree(tree, node)
        inv = tree.data(node).inventory
        self.assertEqual(os.cpu_count(), inv[orc.VCPU]["total"])
        total = mem_total_mb()
        self.assertLessEqual(abs(inv[orc.MEMORY_MB]["total"] - total),
                             max(64, total // 50))
        self.assertGreater(inv[orc.DISK_GB]["total"], 0)
        ratios = virt_driver.ComputeDriver._get_allocation_ratios({})
        for rc in (orc.VCPU, orc.MEMORY_MB, orc.DISK_GB):
            item = inv[rc]
            self.assertEqual(1, item["min_unit"], rc)
            self.assertEqual(1, item["step_size"], rc)
            self.assertLessEqual(item["max_unit"], item["total"], rc)
            # nova.conf sets no ratio: Nova's initial_*_allocation_ratio,
            # but 64 for vCPUs (CPU weights, not cores: see the README).
            want = 64.0 if rc == orc.VCPU else ratios[rc]
            self.assertEqual(want, item["allocation_ratio"], rc)

    def test_update_provider_tree_reports_the_engines_traits(self):
        node, tree = self._tree()
        # One that no longer holds (an engine moved off btrfs, say) goes;
        # Nova's and the operator's own traits stay.
        tree.add_traits(node, "CUSTOM_NOVADOCK_GONE", "COMPUTE_NET_ATTACH_INTERFACE")
        self.driver.update_provider_tree(tree, node)
        traits = tree.data(node).traits
        # The tests' engine: btrfs with quotas and userns-remap
        # (tools/lib/dockerd.sh).
        self.assertIn("CUSTOM_NOVADOCK_ROOT_DISK_LIMIT", traits)
        self.assertIn("CUSTOM_NOVADOCK_USERNS_REMAP", traits)
        self.assertNotIn("CUSTOM_NOVADOCK_GONE", traits)
        self.assertIn("COMPUTE_NET_ATTACH_INTERFACE", traits)

    def test_update_provider_tree_keeps_placement_ratios(self):
        node, tree = self._tree()
        self.driver.update_provider_tree(tree, node)
        inv = tree.data(node).inventory
        wanted = {orc.VCPU: 3.5, orc.MEMORY_MB: 1.25, orc.DISK_GB: 2.0}
        changed = {rc: dict(inv[rc], allocation_ratio=r) for rc, r in wanted.items()}
        tree.update_inventory(node, changed)
        self.driver.update_provider_tree(tree, node)
        inv = tree.data(node).inventory
        for rc, item in changed.items():
            self.assertEqual(item["allocation_ratio"], inv[rc]["allocation_ratio"],
                             rc)
        ops = [op for op, _ in self.api.operations[-2:]]
        self.assertEqual(["computeInventory", "getHostTraits"], ops)


class WireTestCase(base.FunctionalTestCase):
    """The service's answers to requests the driver would never send."""

    def raw(self, data):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(self.service.socket_path)
            s.sendall(data)
            resp = http.client.HTTPResponse(s, method="POST")
            resp.begin()
            return resp.status, resp.getheader("Content-Type"), resp.read()
        finally:
            s.close()

    def test_malformed_json_gets_json_error(self):
        body = b'{"instance": {"uuid": '
        status, ctype, data = self.raw(
            b"POST /v1/instances HTTP/1.1\r\nHost: novadock\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body)
        self.assertEqual(400, status, data)
        decoded = spec.validator().validate_response(
            "POST", "/v1/instances", status, data, ctype)
        self.assertEqual("BadRequest", decoded["error"]["code"])
        self.assertTrue(decoded["error"]["message"])

    def test_invalid_request_is_invalid_input(self):
        # Bypass the spec check on our side: the service must refuse it too.
        plain = novadock_client.NovadockClient(self.service.socket_path)
        inst = self.spawn()
        self.assertRaises(exception.InvalidInput, plain.request, "POST",
                          f"/v1/instances/{inst.uuid}/reboot", {"type": "WARM"})
        self.assertRaises(exception.InvalidInput, plain.request, "GET",
                          "/v1/instances/not-a-uuid")

    def test_unknown_route_is_json_error(self):
        plain = novadock_client.NovadockClient(self.service.socket_path)
        with self.assertRaises(exception.NovaException) as cm:
            plain.request("GET", "/v1/no-such-thing")
        self.assertEqual("NoSuchRoute", cm.exception.novadock_code)
        self.assertEqual(404, cm.exception.novadock_status)
