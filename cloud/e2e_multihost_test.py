"""End-to-end: a cloud of two compute hosts on one machine
(`cloud/up.sh --computes 2`), checked as a user and an operator see it:
the scheduler spreads servers over the hosts, and servers move between
them through Nova's API (migrate with confirm and revert, resize, evacuate).

After each move the server keeps its name, addresses (its eth1 answers the
host on the instances' network), metadata and, where its disk travels
(migrate, resize), the file written before the move; the source host keeps
nothing of it: no container, no OVS port, no exported image, and Glance no
migration image. Evacuation rebuilds from the image (no shared storage, as
any Nova host without it), then the old host, back up, removes what was
evacuated away. Run like cloud/e2e_test.py (the cloud venv's python, after
`source <openrc>` as admin); prints one line per check and "N passed, N
failed".
"""

import json
import os
import socket
import subprocess
import sys
import uuid

import openstack

# The e2e suite's own helpers (same folder, run as scripts).
from e2e_test import Failed, check, new_member, ping, run_checks, sh, wait_for

RUN = uuid.uuid4().hex[:6]
CLOUD_DIR = os.environ.get("NOVADOCK_CLOUD_DIR", "/opt/novadock-cloud")
SUPERVISOR = f"{CLOUD_DIR}/etc/supervisor/supervisord.conf"
STATUS_TIMEOUT = 300
LABEL_UUID = "org.openstack.nova.instance-uuid"
MARKER = "/e2e-written-before-the-move"


def host_index(host):
    """cloud/lib/computes.sh's numbering: the machine's name is host 1,
    "<name>-I" host I."""
    base = socket.gethostname()
    if host == base:
        return 1
    return int(host.removeprefix(base + "-"))


def docker(host, *args, check_rc=True):
    i = host_index(host)
    url = ("unix:///var/run/docker.sock" if i == 1
           else f"unix:///run/novadock-cloud/docker-{i}/docker.sock")
    return sh("docker", "-H", url, *args, check_rc=check_rc)


def bridge(host):
    i = host_index(host)
    return "br-int" if i == 1 else f"br-int{i}"


def programs(host):
    """The supervised programs of a compute host (and its "cable", the
    patch between its provider bridge and br-ex)."""
    i = host_index(host)
    if i == 1:
        return {"compute": "nova-compute", "cable": None}
    return {"compute": f"nova-compute-{i}", "cable": (f"nd-{i}-to-ex", f"br-ex{i}", f"nd-ex-to-{i}")}


def supervisorctl(*args):
    return sh("supervisorctl", "-c", SUPERVISOR, *args, check_rc=False)


class MultiHost:
    def __init__(self):
        self.conn = openstack.connect()
        self.net = self.conn.network.find_network("private", ignore_missing=False)
        self.image = self.conn.image.find_image("busybox", ignore_missing=False)
        self.tiny = self.conn.compute.find_flavor("m1.tiny", ignore_missing=False)
        self.small = self.conn.compute.create_flavor(
            name=f"e2e-mh-small-{RUN}", ram=512, vcpus=1, disk=1)
        self.hosts = sorted(
            s.host for s in self.conn.compute.services(binary="nova-compute"))
        check(len(self.hosts) >= 2,
              f"this suite needs two compute hosts (cloud/up.sh --computes 2): {self.hosts}")
        self.sg = self.conn.network.create_security_group(
            name=f"e2e-mh-{RUN}", description="ICMP from anywhere (multi-host e2e)")
        self.conn.network.create_security_group_rule(
            security_group_id=self.sg.id, direction="ingress", ethertype="IPv4",
            protocol="icmp")
        self.servers = []
        self.cleanup = []  # callables, run in reverse after the servers' deletion
        self.cut_cable = None
        self.stopped_compute = None
        self.forced_down = None

    def finish(self):
        if self.cut_cable:
            self.plug_cable(self.cut_cable)
        if self.stopped_compute:
            supervisorctl("start", self.stopped_compute)
        if self.forced_down:
            self.force_down(self.forced_down, False)
        for s in self.servers:
            self.conn.compute.delete_server(s, ignore_missing=True)
        for s in self.servers:
            try:
                self.conn.compute.wait_for_delete(s, wait=120)
            except Exception as e:  # noqa: BLE001 - reported, the rest goes on
                print(f"cleanup: {s.id} not deleted: {e}", file=sys.stderr)
        for undo in reversed(self.cleanup):
            try:
                undo()
            except Exception as e:  # noqa: BLE001 - reported, the rest goes on
                print(f"cleanup: {e}", file=sys.stderr)
        self.conn.network.delete_security_group(self.sg, ignore_missing=True)
        self.conn.compute.delete_flavor(self.small, ignore_missing=True)

    # -- helpers --------------------------------------------------------------

    def boot(self, name, host=None, conn=None, sg=None, **kw):
        # An admin may name the host ("nova:<host>"), as for a host's evacuation.
        if host:
            kw["availability_zone"] = f"nova:{host}"
        server = (conn or self.conn).compute.create_server(
            name=name, image_id=self.image.id, flavor_id=self.tiny.id,
            networks=[{"uuid": self.net.id}],
            security_groups=[{"name": "default"}, {"name": (sg or self.sg).name}],
            metadata={"E2E_RUN": RUN, "ROLE": name}, **kw)
        self.servers.append(server)
        return server

    def member(self):
        """A project of its own and its member (not admin), with a group
        that lets ICMP in: whose servers the admin moves."""
        conn, _ = new_member(self.conn, f"e2e-mh-{RUN}", self.cleanup)
        sg = conn.network.create_security_group(name=f"e2e-mh-member-{RUN}", description="ICMP")
        self.cleanup.append(lambda: self.conn.network.delete_security_group(sg.id, ignore_missing=True))
        conn.network.create_security_group_rule(
            security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="icmp")
        return conn, sg

    def wait_status(self, server, status, timeout=STATUS_TIMEOUT):
        def probe():
            s = self.conn.compute.get_server(server.id)
            if s.status == "ERROR":
                raise Failed(f"{s.name} went to ERROR: {s.fault}")
            return s if s.status == status and s.task_state is None else None

        return wait_for(f"{server.name} {status}", timeout, probe)

    def ips(self, server_id):
        return sorted(ip["ip_address"] for p in self.conn.network.ports(device_id=server_id)
                      for ip in p.fixed_ips)

    def container(self, host, server_id):
        out = docker(host, "ps", "-a", "--no-trunc", "--filter", f"label={LABEL_UUID}={server_id}",
                     "--format", "{{.Names}} {{.State}}")
        return out.split()

    def ovs_ports(self, host, server_id):
        out = sh("ovs-vsctl", "--bare", "--columns=name", "find", "Interface",
                 f"external_ids:vm-uuid={server_id}")
        ports = out.split()
        return [p for p in ports if sh("ovs-vsctl", "port-to-br", p, check_rc=False).strip() == bridge(host)]

    def write_marker(self, server, host):
        docker(host, "exec", f"nova-{server.id}", "sh", "-c", f"echo {RUN} > {MARKER}")

    def snapshot(self, server):
        """What the user must find again after a move."""
        s = self.conn.compute.get_server(server.id)
        return {"name": s.name, "ips": self.ips(s.id), "metadata": dict(s.metadata)}

    def assert_moved(self, server, before, dest, source, disk_kept=True):
        s = self.conn.compute.get_server(server.id)
        check(s.compute_host == dest, f"{s.name} on {s.compute_host}, not {dest}")
        now = self.snapshot(s)
        check(now == before, f"{s.name} changed in the move: {before} -> {now}")
        state = self.container(dest, s.id)
        check(state == [f"nova-{s.id}", "running"], f"{s.name}'s container on {dest}: {state}")
        if disk_kept:
            got = docker(dest, "exec", f"nova-{s.id}", "cat", MARKER, check_rc=False).strip()
            check(got == RUN, f"{s.name}: the file written before the move reads {got!r}")
        for ip in before["ips"]:
            check(wait_for(f"{s.name}'s {ip} answers after the move", 60, lambda ip=ip: ping(ip)),
                  f"{ip} does not answer")
        check(self.ovs_ports(dest, s.id), f"{s.name} has no OVS port on {bridge(dest)}")
        self.assert_nothing_left(s, source)

    def assert_nothing_left(self, server, host):
        def clean():
            return (not self.container(host, server.id) and not self.ovs_ports(host, server.id))

        wait_for(f"{server.name}: nothing left on {host}", 60, clean)
        tags = docker(host, "images", "--format", "{{.Repository}}:{{.Tag}}")
        left = [t for t in tags.split() if server.id in t]
        check(not left, f"images of {server.name} left on {host}: {left}")
        glance = [i.name for i in self.conn.image.images() if server.id in (i.name or "")]
        check(not glance, f"migration images of {server.name} left in Glance: {glance}")

    def force_down(self, host, down):
        # Through the CLI, as an operator does (Nova's API 2.11+).
        argv = ("openstack", "--os-compute-api-version", "2.11", "compute", "service", "set",
                "--down" if down else "--up", host, "nova-compute")
        def done():
            p = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
            return p.returncode == 0

        wait_for(" ".join(argv[3:]), 60, done)
        self.forced_down = host if down else None

    def cut(self, host):
        """Fences a host from the instances' network: its provider bridge's
        patch to br-ex goes, as a cable pulled from a dead machine (its
        containers still run: no engine of this machine really dies)."""
        port, _, _ = programs(host)["cable"]
        sh("ovs-vsctl", "del-port", port)
        self.cut_cable = host

    def plug_cable(self, host):
        port, br, peer = programs(host)["cable"]
        sh("ovs-vsctl", "--may-exist", "add-port", br, port, "--", "set", "Interface", port,
           "type=patch", f"options:peer={peer}")
        self.cut_cable = None

    def other(self, host):
        return next(h for h in self.hosts if h != host)

    # -- checks ---------------------------------------------------------------

    def test_six_at_once_spread_three_and_three(self):
        """Nova's weighers (free RAM first) on two equal hosts: 3 and 3."""
        first = self.boot(f"e2e-mh-spread-{RUN}", min_count=6, max_count=6)
        def listed():
            found = list(self.conn.compute.servers(details=True, name=f"^e2e-mh-spread-{RUN}"))
            return found if len(found) == 6 else None

        servers = wait_for("six servers listed", 60, listed)
        self.servers += [s for s in servers if s.id != first.id]
        placed = {}
        for s in servers:
            s = self.wait_status(s, "ACTIVE")
            placed.setdefault(s.compute_host, []).append(s)
        counts = {h: len(v) for h, v in placed.items()}
        check(sorted(counts.values()) == [3, 3], f"placement: {counts}")
        for host, ss in placed.items():
            for s in ss:
                check(self.container(host, s.id) == [f"nova-{s.id}", "running"],
                      f"{s.name} has no running container on {host}")
        # Each host is its own resource provider, holding what its own
        # servers use (every server here is an m1.tiny, "demo" too).
        for host in self.hosts:
            rps = list(self.conn.placement.resource_providers(name=host))
            check(len(rps) == 1, f"resource providers named {host}: {rps}")
            usages = self.conn.placement.get(
                f"/resource_providers/{rps[0].id}/usages").json()["usages"]
            on_host = list(self.conn.compute.servers(all_projects=True, compute_host=host))
            want = len(on_host) * self.tiny.ram
            check(usages.get("MEMORY_MB") == want,
                  f"{host}: placement holds {usages} for {len(on_host)} servers (want {want} MB)")
        for s in servers:
            self.conn.compute.delete_server(s)
        for s in servers:
            self.conn.compute.wait_for_delete(s, wait=120)
            self.servers = [x for x in self.servers if x.id != s.id]

    def _migrate(self, name, confirm, owner=None):
        """The admin migrates; the confirm or revert is the owner's (a
        project member's, when given), as in a cloud where the admin moves
        servers off a host and their users confirm."""
        conn, sg = owner or (self.conn, self.sg)
        server = self.wait_status(self.boot(name, conn=conn, sg=sg), "ACTIVE")
        source = server.compute_host
        self.write_marker(server, source)
        before = self.snapshot(server)
        self.conn.compute.migrate_server(server)
        server = self.wait_status(server, "VERIFY_RESIZE")
        dest = server.compute_host
        check(dest != source, f"migrated to the same host {dest}")
        if confirm:
            conn.compute.confirm_server_resize(server)
            server = self.wait_status(server, "ACTIVE")
            self.assert_moved(server, before, dest, source)
        else:
            conn.compute.revert_server_resize(server)
            server = self.wait_status(server, "ACTIVE")
            self.assert_moved(server, before, source, dest)

    def test_migrate_and_confirm(self):
        # A member's server: the filesystem's Glance image belongs to the
        # server's project, so the member's confirm deletes it.
        self._migrate(f"e2e-mh-migrate-{RUN}", confirm=True, owner=self.member())

    def test_migrate_and_revert(self):
        self._migrate(f"e2e-mh-revert-{RUN}", confirm=False)

    def test_resize_to_the_other_host(self):
        server = self.wait_status(self.boot(f"e2e-mh-resize-{RUN}"), "ACTIVE")
        source = server.compute_host
        self.write_marker(server, source)
        before = self.snapshot(server)
        self.conn.compute.resize_server(server, self.small.id)
        server = self.wait_status(server, "VERIFY_RESIZE")
        self.conn.compute.confirm_server_resize(server)
        server = self.wait_status(server, "ACTIVE")
        dest = server.compute_host
        check(dest != source, f"resized on the same host {dest} (allow_resize_to_same_host is off)")
        self.assert_moved(server, before, dest, source)
        memory = json.loads(docker(dest, "inspect", f"nova-{server.id}"))[0]["HostConfig"]["Memory"]
        check(memory == 512 * 1024 * 1024, f"memory limit after the resize: {memory}")

    def test_evacuate_then_the_old_host_cleans_up(self):
        # Off the second host: the machine's own (host 1) holds the provider
        # bridge every host is cabled to, so only another host can be fenced.
        dead = self.hosts[1] if host_index(self.hosts[1]) > 1 else self.hosts[0]
        server = self.wait_status(self.boot(f"e2e-mh-evacuate-{RUN}", host=dead), "ACTIVE")
        check(server.compute_host == dead, f"booted on {server.compute_host}, not {dead}")
        before = self.snapshot(server)
        compute = programs(dead)["compute"]
        supervisorctl("stop", compute)
        self.stopped_compute = compute
        self.cut(dead)
        self.force_down(dead, True)
        self.conn.compute.evacuate_server(server)
        # From API 2.95 on (the SDK's default) an evacuated server comes up
        # stopped, as Nova documents; its user starts it.
        def rebuilt():
            s = self.conn.compute.get_server(server.id)
            settled = s.status in ("ACTIVE", "SHUTOFF") and s.task_state is None
            return s if settled and s.compute_host != dead else None

        server = wait_for(f"{server.name} rebuilt elsewhere", STATUS_TIMEOUT, rebuilt)
        if server.status == "SHUTOFF":
            self.conn.compute.start_server(server)
            server = self.wait_status(server, "ACTIVE")
        dest = server.compute_host
        # Rebuilt from its image: its disk stayed on the dead host.
        s = self.conn.compute.get_server(server.id)
        check(s.compute_host == dest and self.snapshot(s) == before,
              f"{s.name} changed in the evacuation: {before} -> {self.snapshot(s)}")
        check(self.container(dest, s.id) == [f"nova-{s.id}", "running"],
              f"no running container on {dest}")
        for ip in before["ips"]:
            check(wait_for(f"{ip} answers on {dest}", 60, lambda ip=ip: ping(ip)), f"{ip} silent")
        # The dead host's engine still holds the old container until its
        # nova-compute is back.
        check(self.container(dead, s.id), f"the old container on {dead} went before its host came back")
        self.plug_cable(dead)
        supervisorctl("start", compute)
        self.stopped_compute = None
        self.force_down(dead, False)
        self.assert_nothing_left(s, dead)
        for ip in before["ips"]:
            wait_for(f"{ip} answers once {dead} is back", 60, lambda ip=ip: ping(ip))


def main():
    # A move takes each server through Glance and both engines: minutes.
    return run_checks(MultiHost(), "multi-host e2e")


if __name__ == "__main__":
    sys.exit(main())
