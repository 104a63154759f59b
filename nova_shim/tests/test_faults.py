"""The service killed with SIGKILL while spawns are in flight, then started
again: the instances whose spawn returned run with their network, the others
are cleaned up by Nova's ordinary destroy, and nothing is left behind."""

import os
import threading
import time
import uuid

from nova import conf as nova_conf
from nova.compute import power_state
from nova.network import model as network_model
from tests import base
from tests import service
from tests.test_network import BRIDGE
from tests.test_network import ovs_vif

CONF = nova_conf.CONF
SPAWNS = 6


class ServiceCrashTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.own = service.NovadockService().start()
        self.addCleanup(self.own.stop)
        CONF.set_override("socket_path", self.own.socket_path, "novadock")

    def ports(self):
        return self.service.ovs_vsctl("list-ports", BRIDGE).stdout.split()

    def test_sigkill_during_spawns_loses_nothing_and_leaves_nothing(self):
        work = []
        for i in range(SPAWNS):
            port = str(uuid.uuid4())
            vif = ovs_vif(port, "fa:16:3e:00:%02x:%02x" % (0x40, i),
                          f"198.18.7.{60 + i}")
            work.append((self.make_instance(), network_model.NetworkInfo([vif])))
        failed, lock = [], threading.Lock()

        def spawn(inst, nw):
            try:
                self.spawn(instance=inst, network_info=nw)
            except Exception:  # noqa: BLE001 - the service died under it
                with lock:
                    failed.append((inst, nw))

        threads = [threading.Thread(target=spawn, args=w) for w in work]
        half = SPAWNS // 2
        for t in threads[:half]:
            t.start()
            time.sleep(0.1)
        self.own.restart()  # SIGKILL, then a fresh start on the same config
        for t in threads[half:]:
            t.start()
        for t in threads:
            t.join(120)
        self.assertTrue(failed, "the kill caught spawns in flight")
        self.assertFalse([inst for inst, _ in failed
                          if inst.uuid in {i.uuid for i, _ in work[half:]}],
                         "every spawn after the restart worked")

        # Nova destroys an instance whose spawn failed.
        for inst, nw in failed:
            self.driver.destroy(self.ctxt, inst, nw)
        ok = [w for w in work if w not in failed]
        ports = self.ports()
        for inst, nw in ok:
            self.assertEqual(power_state.RUNNING, self.driver.get_info(inst).state)
            self.assertEqual(nw[0]["address"], service.docker(
                "exec", f"nova-{inst.uuid}", "cat",
                "/sys/class/net/eth1/address").stdout.strip())
            self.assertIn(nw[0]["devname"], ports)
        for inst, nw in failed:
            self.assertIsNone(self.container(inst), "no container left")
            self.assertNotIn(nw[0]["devname"], ports, "no OVS port left")
            self.assertFalse(os.path.exists(f"/sys/class/net/{nw[0]['devname']}"),
                             "no veth left")
        listed = set(self.driver.list_instance_uuids())
        self.assertTrue({inst.uuid for inst, _ in ok} <= listed)
        self.assertFalse({inst.uuid for inst, _ in failed} & listed)
