"""network_info as the driver marshals it: an OVS VIF reaches the container
(eth1, the VIF's MAC and address) and the OVS port Neutron's agent looks for.
Needs Open vSwitch (the tests' private one, see service.py)."""

import contextlib
import subprocess
import uuid

from nova import conf as nova_conf
from nova import exception
from nova.compute import power_state
from nova.network import model as network_model
from tests import base
from tests import service

BRIDGE = service.OVS_BRIDGE
CONF = nova_conf.CONF


def ovs_vif(port_id, mac, address, cidr="198.18.7.0/24", gateway="198.18.7.1"):
    subnet = network_model.Subnet(
        cidr=cidr, gateway=network_model.IP(address=gateway, type="gateway"),
        ips=[network_model.FixedIP(address=address)], dns=[], routes=[])
    network = network_model.Network(
        id=str(uuid.uuid4()), bridge=BRIDGE, label="novadock-test",
        subnets=[subnet], meta={"mtu": 1400})
    return network_model.VIF(
        id=port_id, address=mac, network=network, type="ovs",
        devname=("tap" + port_id)[:14], ovs_interfaceid=port_id,
        details={"port_filter": True, "bridge_name": BRIDGE}, active=True,
        vnic_type="normal")


class NetworkTestBase(base.FunctionalTestCase):
    """Helpers for tests with VIFs: Open vSwitch must be there."""


    def setUp(self):
        super().setUp()
        if not self.service.ovsdb:
            self.fail("Open vSwitch is not installed: tools/setup-dev.sh installs it")

    def port_external_ids(self, devname):
        p = self.service.ovs_vsctl("--if-exists", "get", "Interface", devname,
                                   "external_ids", check=False)
        return p.stdout.strip()

    def in_container(self, inst, *cmd):
        return service.docker("exec", f"nova-{inst.uuid}", *cmd).stdout


class NetworkTestCase(NetworkTestBase):

    def test_ovs_vif_plugged_kept_across_power_cycle_and_removed(self):
        port_id = str(uuid.uuid4())
        mac = "fa:16:3e:00:%02x:%02x" % (uuid.uuid4().int % 256, 7)
        vif = ovs_vif(port_id, mac, "198.18.7.10")
        network_info = network_model.NetworkInfo([vif])
        inst = self.spawn(network_info=network_info)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)

        ids = self.port_external_ids(vif["devname"])
        self.assertIn(port_id, ids)
        self.assertIn(inst.uuid, ids)
        self.assertIn(mac, ids)
        self.assertIn(vif["devname"], self.service.ovs_vsctl(
            "list-ports", BRIDGE).stdout.split())
        self.assertEqual(mac, self.in_container(
            inst, "cat", "/sys/class/net/eth1/address").strip())
        self.assertIn("198.18.7.10/24", self.in_container(
            inst, "ip", "-4", "addr", "show", "eth1"))

        # A new process, a new network namespace: plugged again.
        self.driver.power_off(inst)
        self.driver.power_on(self.ctxt, inst, network_info)
        self.assertEqual(mac, self.in_container(
            inst, "cat", "/sys/class/net/eth1/address").strip())
        self.driver.reboot(self.ctxt, inst, network_info, "HARD")
        self.assertIn("198.18.7.10/24", self.in_container(
            inst, "ip", "-4", "addr", "show", "eth1"))

        self.driver.destroy(self.ctxt, inst, network_info)
        self.assertIsNone(self.container(inst))
        self.assertNotIn(vif["devname"], self.service.ovs_vsctl(
            "list-ports", BRIDGE).stdout.split())
        self.assertEqual("", self.port_external_ids(vif["devname"]))

    def test_attach_and_detach_interface(self):
        inst = self.spawn()
        port_id = str(uuid.uuid4())
        mac = "fa:16:3e:00:%02x:%02x" % (uuid.uuid4().int % 256, 8)
        vif = ovs_vif(port_id, mac, "198.18.7.20")
        self.driver.attach_interface(self.ctxt, inst, self.make_image_meta(), vif)
        self.assertIn(port_id, self.port_external_ids(vif["devname"]))
        self.assertEqual(mac, self.in_container(
            inst, "cat", "/sys/class/net/eth1/address").strip())
        op, status = self.api.operations[-1]
        self.assertEqual(("attachInterface", 201), (op, status))

        self.driver.detach_interface(self.ctxt, inst, vif)
        self.assertEqual("", self.port_external_ids(vif["devname"]))
        self.assertNotIn("eth1", self.in_container(inst, "ls", "/sys/class/net"))
        self.driver.detach_interface(self.ctxt, inst, vif)  # not attached: fine


class _NeutronVirtAPI:
    """Stands in for nova-compute's virtapi, i.e. for Neutron's events (the
    one thing outside this machine): records what the driver waits for and
    answers as Neutron would, or never."""

    def __init__(self, neutron_answers):
        self.neutron_answers = neutron_answers
        self.waited_for = []

    @contextlib.contextmanager
    def wait_for_instance_event(self, instance, event_names, timeout=300,
                                error_callback=None):
        self.waited_for.append((list(event_names), timeout))
        yield
        if event_names and not self.neutron_answers:
            raise exception.InstanceEventTimeout()


class VifPluggedEventsTestCase(NetworkTestBase):

    def _down_vif(self, host):
        port_id = str(uuid.uuid4())
        vif = ovs_vif(port_id, "fa:16:3e:00:%02x:%02x" % (host, 9),
                      f"198.18.7.{host}")
        vif["active"] = False
        return vif

    def test_spawn_waits_for_network_vif_plugged_of_down_ports(self):
        self.driver.virtapi = _NeutronVirtAPI(neutron_answers=True)
        down = self._down_vif(30)
        inst = self.spawn(network_info=network_model.NetworkInfo([down]))
        self.assertEqual(
            [([("network-vif-plugged", down["id"])], CONF.vif_plugging_timeout)],
            self.driver.virtapi.waited_for)
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)

    def test_no_event_from_neutron_fails_the_boot_and_leaves_nothing(self):
        self.driver.virtapi = _NeutronVirtAPI(neutron_answers=False)
        down = self._down_vif(31)
        inst = self.make_instance()
        self.assertRaises(
            exception.VirtualInterfaceCreateException, self.spawn,
            instance=inst, network_info=network_model.NetworkInfo([down]))
        self.assertIsNone(self.container(inst))
        self.assertEqual("", self.port_external_ids(down["devname"]))

    def test_not_fatal_when_configured_so(self):
        CONF.set_override("vif_plugging_is_fatal", False)
        self.addCleanup(CONF.clear_override, "vif_plugging_is_fatal")
        self.driver.virtapi = _NeutronVirtAPI(neutron_answers=False)
        inst = self.spawn(
            network_info=network_model.NetworkInfo([self._down_vif(32)]))
        self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)


class DiagnosticsTestCase(NetworkTestBase):

    def test_diagnostics_show_cpu_memory_and_the_vif_traffic(self):
        port_id = str(uuid.uuid4())
        vif = ovs_vif(port_id, "fa:16:3e:00:50:01", "198.18.7.80")
        inst = self.spawn(network_info=network_model.NetworkInfo([vif]),
                          memory_mb=80)
        # Traffic out of eth1 (ARP and a TCP SYN; ping would need NET_RAW,
        # which containers do not get): counted as the instance's tx.
        self.in_container(inst, "sh", "-c",
                          "nc -w 1 198.18.7.1 80 </dev/null >/dev/null 2>&1; true")
        diags = self.driver.get_instance_diagnostics(inst)
        self.assertEqual("running", diags.state)
        self.assertEqual(80, diags.memory_details.maximum)
        self.assertGreater(diags.memory_details.used, 0)
        self.assertGreater(diags.cpu_details[0].time, 0)
        self.assertEqual(["fa:16:3e:00:50:01"],
                         [n.mac_address for n in diags.nic_details])
        self.assertGreaterEqual(diags.nic_details[0].tx_packets, 1)
        legacy = self.driver.get_diagnostics(inst)
        self.assertGreaterEqual(legacy[f"{vif['devname']}_tx_packets"], 1)


class PlugVifsTestCase(NetworkTestBase):

    def test_plug_vifs_at_start_up_restores_a_lost_interface(self):
        vif = ovs_vif(str(uuid.uuid4()), "fa:16:3e:00:60:01", "198.18.7.90")
        network_info = network_model.NetworkInfo([vif])
        inst = self.spawn(network_info=network_info)
        self.driver.plug_vifs(inst, network_info)  # all there: nothing changes
        subprocess.run(["ip", "link", "del", vif["devname"]], check=True)
        self.assertNotIn("eth1", self.in_container(inst, "ls", "/sys/class/net"))
        self.driver.plug_vifs(inst, network_info)
        self.assertEqual("fa:16:3e:00:60:01", self.in_container(
            inst, "cat", "/sys/class/net/eth1/address").strip())
        self.assertIn(inst.uuid, self.port_external_ids(vif["devname"]))

    def test_a_vif_that_cannot_be_plugged_is_a_plug_failure(self):
        inst = self.spawn()
        vif = ovs_vif(str(uuid.uuid4()), "fa:16:3e:00:60:02", "198.18.7.91")
        vif["type"] = "binding_failed"
        self.assertRaises(exception.VirtualInterfacePlugException,
                          self.driver.plug_vifs, inst,
                          network_model.NetworkInfo([vif]))

    def test_a_container_removed_behind_novas_back_is_a_plug_failure(self):
        # nova-compute's start-up check puts the instance in ERROR on this
        # exception; any other one would stop nova-compute.
        vif = ovs_vif(str(uuid.uuid4()), "fa:16:3e:00:60:03", "198.18.7.92")
        network_info = network_model.NetworkInfo([vif])
        inst = self.spawn(network_info=network_info)
        subprocess.run(["docker", "rm", "-f", f"nova-{inst.uuid}"], check=True,
                       capture_output=True)
        with self.assertRaises(exception.VirtualInterfacePlugException) as cm:
            self.driver.plug_vifs(inst, network_info)
        self.assertIn("no container on this host", str(cm.exception))


class RebuildTestCase(NetworkTestBase):
    """Nova's rebuild (and evacuate on the new host) for a driver without its
    own: destroy, then spawn the new image with the same network_info."""

    def test_rebuild_keeps_identity_and_network_with_the_new_image(self):
        vif = ovs_vif(str(uuid.uuid4()), "fa:16:3e:00:70:01", "198.18.7.95")
        network_info = network_model.NetworkInfo([vif])
        inst = self.spawn(network_info=network_info)
        # The new image: the old one plus a file.
        self.in_container(inst, "sh", "-c", "echo new-image > /root/which")
        new_id = str(uuid.uuid4())
        service.docker("commit", f"nova-{inst.uuid}", f"novadock-glance:{new_id}")
        self.addCleanup(service.docker, "rmi", f"novadock-glance:{new_id}",
                        check=False)
        old_container = self.container(inst)["Id"]

        self.driver.destroy(self.ctxt, inst, network_info)
        self.driver.spawn(self.ctxt, inst, self.make_image_meta(image_id=new_id),
                          [], None, {}, network_info=network_info)

        after = self.container(inst)
        self.assertNotEqual(old_container, after["Id"])
        self.assertEqual(inst.uuid,
                         after["Config"]["Labels"]["org.openstack.nova.instance-uuid"])
        self.assertEqual(new_id,
                         after["Config"]["Labels"]["org.openstack.nova.image-id"])
        self.assertEqual("new-image\n", self.in_container(inst, "cat", "/root/which"))
        self.assertEqual("fa:16:3e:00:70:01", self.in_container(
            inst, "cat", "/sys/class/net/eth1/address").strip())
        self.assertIn("198.18.7.95/24", self.in_container(
            inst, "ip", "-4", "addr", "show", "eth1"))
        self.assertIn(inst.uuid, self.port_external_ids(vif["devname"]))
