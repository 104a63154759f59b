"""Faults under running servers: nova-compute restarted, host2's dockerd
restarted, the novadock service killed with SIGKILL (with servers, and in the
middle of a boot). Afterwards every server has the status Nova had, its
container the matching Docker state, running ones their NICs, and no
container, veth or OVS port is left without its server."""

import time

from functional import base
from functional import hosts as hosts_mod
from functional import images
from nova import context as nova_context
from nova.compute import power_state
from nova.tests.functional.api import client

# Bound on waiting for an engine or service to come back.
RECOVER_TIMEOUT = 30.0


class RestartTestCase(base.NovadockTestCase):

    def setUp(self):
        super().setUp()
        # Every port Nova creates in this test, deleted ones too: their host
        # ends must be gone with their servers.
        self._taps = set()
        real_create = self.neutron.create_port

        def create_port(body=None):
            port = real_create(body)
            self._taps.add(f"tap{port['port']['id']}"[:14])
            return port
        self.neutron.create_port = create_port

    def _servers_on(self, host):
        """This test's servers that Nova has on ``host``."""
        found = []
        for uuid in self._uuids:
            try:
                server = self.api.get_server(uuid)
            except client.OpenStackApiNotFoundException:
                continue
            if self.host_of(server) == host:
                found.append(server)
        return found

    def assert_no_orphans(self, host):
        """On ``host``, this test's containers, OVS ports and host-side veths
        are exactly those of this test's servers there."""
        h = self.hosts[host]
        servers = self._servers_on(host)
        # One container per server (a set-aside resize one would be extra).
        self.assertCountEqual(
            [s["id"] for s in servers],
            [h.engine.inspect(cid)["Config"]["Labels"][hosts_mod.LABEL_UUID]
             for cid in h.engine.containers_of(self._uuids)],
            f"containers on {host}")
        taps = {s["id"]: {f"tap{p['port_id']}"[:14] for p in self.ports_of(s)}
                for s in servers}
        ovs = {u: set(h.switch.ports_of(u)) for u in self._uuids}
        self.assertEqual({u: taps.get(u, set()) for u in self._uuids}, ovs,
                         f"OVS ports on {host}")
        # A stopped container's veth went with its network namespace.
        live = {s["id"] for s in servers
                if s["OS-EXT-STS:power_state"] in (
                    power_state.RUNNING, power_state.PAUSED,
                    power_state.SUSPENDED)}
        expected = set().union(*(taps[u] for u in live)) if live else set()
        self.assertEqual(expected, h.links() & self._taps, f"veths on {host}")

    def _status(self, server, status, power):
        server = self._wait_status(server, status, **{
            "OS-EXT-STS:task_state": None, "OS-EXT-STS:power_state": power})
        return server

    def _wait_listener(self, host):
        """The host's driver follows the service's event stream again."""
        self.assertTrue(self.hosts[host].alive())
        self.assertTrue(self.driver(host)._events.connected.wait(RECOVER_TIMEOUT),
                        f"{host}'s driver did not reconnect to the event stream")


class ComputeRestartTest(RestartTestCase):

    def test_restart_keeps_every_state(self):
        # Nova restarts what should run but does not (a host reboot).
        self.flags(resume_guests_state_on_host_boot=True)
        host = "host2"
        active = self._boot(host=host, name="active")
        stopped_out = self._boot(host=host, name="stopped-outside")
        shutoff = self._boot(host=host, name="shutoff")
        self._action(shutoff, {"os-stop": None})
        shutoff = self._status(shutoff, "SHUTOFF", power_state.SHUTDOWN)
        paused = self._boot(host=host, name="paused")
        self._action(paused, {"pause": None})
        paused = self._status(paused, "PAUSED", power_state.PAUSED)
        suspended = self._boot(host=host, name="suspended")
        self._action(suspended, {"suspend": None})
        suspended = self._status(suspended, "SUSPENDED", power_state.SUSPENDED)
        before = {s["id"]: self.container(host, s)
                  for s in (active, paused, suspended)}

        self.computes[host].stop()
        # While compute is down: a container stops (as on a host reboot).
        self.hosts[host].engine.docker("stop", "-t", "1", f"nova-{stopped_out['id']}")
        self._restart_host(host)

        active = self._status(active, "ACTIVE", power_state.RUNNING)
        self.assert_container(host, active, "running")
        self.assert_nics(host, active)
        stopped_out = self._status(stopped_out, "ACTIVE", power_state.RUNNING)
        self.assert_container(host, stopped_out, "running")
        self.assert_nics(host, stopped_out)
        shutoff = self._status(shutoff, "SHUTOFF", power_state.SHUTDOWN)
        self.assert_container(host, shutoff, "exited")
        paused = self._status(paused, "PAUSED", power_state.PAUSED)
        self.assert_container(host, paused, "paused")
        suspended = self._status(suspended, "SUSPENDED", power_state.SUSPENDED)
        self.assertEqual(2, self.assert_container(host, suspended, "paused")
                         ["HostConfig"]["CpuShares"])
        # Nothing that ran was restarted by the restart.
        for s in (active, paused, suspended):
            self.assertEqual(before[s["id"]]["State"]["StartedAt"],
                             self.container(host, s)["State"]["StartedAt"])
        self.assert_no_orphans(host)

        # And they still take actions.
        self._action(paused, {"unpause": None})
        paused = self._status(paused, "ACTIVE", power_state.RUNNING)
        self.assert_nics(host, paused)
        self._action(shutoff, {"os-start": None})
        shutoff = self._status(shutoff, "ACTIVE", power_state.RUNNING)
        self.assert_nics(host, shutoff)
        self.assert_no_orphans(host)

    def test_vifs_removed_while_down_come_back(self):
        host = "host1"
        no_port = self._boot(host=host, name="ovs-port-deleted")
        no_veth = self._boot(host=host, name="veth-deleted")
        self.computes[host].stop()
        h = self.hosts[host]
        # Behind Nova's back: an OVS port, and a veth (its container end, eth1,
        # goes with it).
        (port,) = h.switch.ports_of(no_port["id"])
        h.switch.vsctl("del-port", port)
        (veth,) = h.switch.ports_of(no_veth["id"])
        hosts_mod.run(["ip", "link", "del", veth])
        self.assertEqual([], h.switch.ports_of(no_port["id"]))
        self.assertNotIn("eth1", h.engine.exec(f"nova-{no_veth['id']}",
                                               "ip", "-o", "link"))

        self._restart_host(host)
        for s in (no_port, no_veth):
            s = self._status(s, "ACTIVE", power_state.RUNNING)
            self.assert_container(host, s, "running")
            self.assert_nics(host, s)
        self.assert_no_orphans(host)

    def test_a_container_removed_while_down_is_an_error_not_a_dead_compute(self):
        host = "host1"
        gone = self._boot(host=host, name="container-removed")
        kept = self._boot(host=host, name="kept")
        self.computes[host].stop()
        self.hosts[host].engine.docker("rm", "-f", f"nova-{gone['id']}")

        # nova-compute starts (an exception from plug_vifs other than a plug
        # failure would stop it): the lost server is in ERROR, the other runs.
        self._restart_host(host)
        gone = self._wait_status(gone, "ERROR")
        kept = self._status(kept, "ACTIVE", power_state.RUNNING)
        self.assert_container(host, kept, "running")
        self.assert_nics(host, kept)
        (svc,) = self.api.get_services(binary="nova-compute", host=host)
        self.assertEqual("up", svc["state"])

        # Deleting the lost server takes its OVS port with it.
        self.api.delete_server(gone["id"])
        self._wait_until_deleted(gone)
        self.assert_no_orphans(host)


class DockerdRestartTest(RestartTestCase):
    # The power-state periodic casts a stop while holding the instance lock:
    # a deadlock if casts become calls.
    CAST_AS_CALL = False

    def test_dockerd_restart_keeps_servers(self):
        # host2's service holds STOPPED back 1 s (functional/hosts.py): a
        # STOPPED the restart made up would reach Nova in the test.
        host = "host2"
        running = self._boot(host=host, name="running")
        shutoff = self._boot(host=host, name="shutoff")
        self._action(shutoff, {"os-stop": None})
        shutoff = self._status(shutoff, "SHUTOFF", power_state.SHUTDOWN)
        before = self.container(host, running)["State"]

        self.addCleanup(hosts_mod.ensure_second_dockerd)
        url = hosts_mod.restart_second_dockerd()
        self.assertEqual(self.hosts[host].engine.url, url)
        # Live-restore: the same process, never stopped.
        after = self.assert_container(host, running, "running")["State"]
        self.assertEqual((before["Pid"], before["StartedAt"]),
                         (after["Pid"], after["StartedAt"]))
        self.assert_container(host, shutoff, "exited")
        self.assert_nics(host, running)

        # The service follows the new dockerd: its view matches the engine's.
        self.wait_driver_state(host, running, power_state.RUNNING)
        self.wait_driver_state(host, shutoff, power_state.SHUTDOWN)
        self.computes[host].manager._sync_power_states(
            nova_context.get_admin_context())
        # Longer than host2's lifecycle_event_delay: any event has been handled.
        time.sleep(3)
        running = self._status(running, "ACTIVE", power_state.RUNNING)
        shutoff = self._status(shutoff, "SHUTOFF", power_state.SHUTDOWN)
        self.assert_container(host, running, "running")
        self.assert_nics(host, running)
        self.assert_no_orphans(host)

        self._action(running, {"os-stop": None})
        running = self._status(running, "SHUTOFF", power_state.SHUTDOWN)
        self.assert_container(host, running, "exited")
        self._action(running, {"os-start": None})
        running = self._status(running, "ACTIVE", power_state.RUNNING)
        self.assert_container(host, running, "running")
        self.assert_nics(host, running)
        self._action(shutoff, {"os-start": None})
        shutoff = self._status(shutoff, "ACTIVE", power_state.RUNNING)
        self.assert_nics(host, shutoff)
        self.assert_no_orphans(host)


class ServiceKillTest(RestartTestCase):
    # A boot must be in flight when the service dies: the API may not wait
    # for it.
    CAST_AS_CALL = False

    def _kill_service(self, host):
        h = self.hosts[host]
        self.addCleanup(lambda: h.alive() or h.start())
        self.assertEqual(-9, h.kill())
        # The driver notices: its stream ended with the process.
        events = self.driver(host)._events
        deadline = time.monotonic() + RECOVER_TIMEOUT
        while events.connected.is_set():
            self.assertLess(time.monotonic(), deadline,
                            f"{host}'s driver never lost the event stream")
            time.sleep(0.05)

    def test_kill_with_servers_then_reboot(self):
        host = "host2"
        server = self._boot(host=host)
        before = self.container(host, server)["State"]
        self._kill_service(host)
        self.hosts[host].start()
        self._wait_listener(host)

        server = self._status(server, "ACTIVE", power_state.RUNNING)
        after = self.assert_container(host, server, "running")["State"]
        self.assertEqual(before["Pid"], after["Pid"])
        self.assert_nics(host, server)
        self.wait_driver_state(host, server, power_state.RUNNING)

        self._action(server, {"reboot": {"type": "SOFT"}})
        server = self._status(server, "ACTIVE", power_state.RUNNING)
        after = self.assert_container(host, server, "running")["State"]
        self.assertNotEqual(before["StartedAt"], after["StartedAt"])
        self.assert_nics(host, server)
        self.assert_no_orphans(host)

    def test_kill_during_boot(self):
        host = "host2"
        h = self.hosts[host]
        body = self._build_server(
            name="killed-boot", image_uuid=images.IMAGE_ID,
            flavor_id=self.flavor_small,
            networks=[{"uuid": self.neutron.network_1["id"]}], host=host)
        server = self.api.post_server({"server": body})
        self._uuids.add(server["id"])
        # The service is creating the container: kill it now.
        deadline = time.monotonic() + base.STATUS_TIMEOUT
        while not h.engine.containers_of([server["id"]]):
            self.assertLess(time.monotonic(), deadline, "no container ever created")
            time.sleep(0.02)
        self._kill_service(host)
        h.start()
        self._wait_listener(host)

        # Ends somewhere, never BUILD forever.
        deadline = time.monotonic() + base.STATUS_TIMEOUT
        while True:
            server = self.api.get_server(server["id"])
            if (server["status"] in ("ERROR", "ACTIVE")
                    and server["OS-EXT-STS:task_state"] is None):
                break
            self.assertLess(time.monotonic(), deadline,
                            f"boot stuck in {server['status']}/"
                            f"{server['OS-EXT-STS:task_state']}\n{self._logs()}")
            time.sleep(0.2)
        if server["status"] == "ACTIVE":
            self.assert_container(host, server, "running")
            self.assert_nics(host, server)
            self.assert_no_orphans(host)

        self.api.delete_server(server["id"])
        self._wait_until_deleted(server)
        # An ERROR server whose build failed has no host: the API deletes it
        # alone, and the container the killed service had created stays until
        # Nova's reaper (running_deleted_instance_action=reap, a periodic
        # every 30 min) destroys it. Run it now.
        self.computes[host].manager._cleanup_running_deleted_instances(
            nova_context.get_admin_context())
        self.assert_no_orphans(host)
