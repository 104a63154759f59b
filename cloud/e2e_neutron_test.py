"""End-to-end: Neutron's Open vSwitch agent and security groups on the
one-machine cloud, checked as a user would from outside a container (the
host on the provider network, and a container in another security group).

Boots A and B in the project's default security group and P in a group of
its own, then checks: the default group keeps outsiders off A's TCP 8080
while B reaches it; a rule opens the port and deleting it closes it again;
port security drops traffic from a changed IP or MAC until it is disabled
on the port; the agent's, the service's and dockerd's restarts keep
connectivity (B reaches A during the last two) and the groups; a port no
agent can wire (the agent stopped, or a network on a physical network no
host is mapped to) fails the boot with the reason. Run like
cloud/e2e_test.py (the cloud venv's python, after `source <openrc>`
as admin); prints one line per check and "N passed, N failed".
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import openstack

# The e2e suite's own helpers (same folder, run as scripts).
from e2e_test import (
    SOCKET,
    Failed,
    Skipped,
    check,
    container,
    run_checks,
    service_answers,
    sh,
    wait_for,
)

RUN = uuid.uuid4().hex[:6]
# The cloud's Neutron backend (cloud/up.sh's NOVADOCK_CLOUD_NEUTRON).
BACKEND = os.environ.get("NOVADOCK_CLOUD_NEUTRON", "ovs")
DRIVER = {"ovs": "openvswitch", "ovn": "ovn"}[BACKEND]
AGENT = {"ovs": "Open vSwitch agent", "ovn": "OVN Controller agent"}[BACKEND]
OVN_CTL = "/usr/share/ovn/scripts/ovn-ctl"
CLOUD_DIR = os.environ.get("NOVADOCK_CLOUD_DIR", "/opt/novadock-cloud")
LOG = f"{CLOUD_DIR}/log"
SUPERVISOR = f"{CLOUD_DIR}/etc/supervisor/supervisord.conf"
STATUS_TIMEOUT = 180
PAGE = "reached-through-the-security-group"
# cloud/lib/common.sh's CLOUD_UNWIRED_PHYSNET.
UNWIRED_PHYSNET = "physnet-unwired"



def restart_dockerd():
    """Stops the machine's dockerd by its PID and starts it again with the
    same command line (live-restore keeps the containers running), as an
    operator's upgrade would; the cloud's PID file follows it."""
    with open("/var/run/docker.pid") as f:
        pid = int(f.read().strip())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    os.kill(pid, signal.SIGTERM)
    wait_for(f"dockerd {pid} gone", 60, lambda: not os.path.exists(f"/proc/{pid}"))
    pid_file = f"{CLOUD_DIR}/run/dockerd.pid"
    ours = os.path.exists(pid_file)
    log = f"{LOG}/dockerd.log" if ours else "/var/log/novadock-ci-dockerd.log"
    with open(log, "ab") as out:
        new = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                               start_new_session=True)
    if ours:
        with open(pid_file, "w") as f:
            f.write(f"{new.pid}\n")
    wait_for("dockerd answers again", 60,
             lambda: sh("docker", "info", check_rc=False).strip() != "")


def supervisorctl(*args):
    return sh("supervisorctl", "-c", SUPERVISOR, *args)


def netns(server_id, *cmd):
    """Runs the host's COMMAND in the container's network namespace (what
    root inside the container could do; the container itself has no
    NET_ADMIN): (returncode, output). /sys stays the host's."""
    pid = container(server_id)["State"]["Pid"]
    p = subprocess.run(["nsenter", "-t", str(pid), "-n", *cmd], check=False,
                       capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode()


def http_from_host(ip):
    return PAGE in sh("curl", "-s", "-m", "2", f"http://{ip}:8080/", check_rc=False)


class Prober(threading.Thread):
    """Fetches A's page from B's namespace (by PID: no Docker needed) every
    half second until stopped; counts the fetches that failed."""

    def __init__(self, pid, ip):
        super().__init__(daemon=True)
        self.pid, self.ip = pid, ip
        self.tries = self.failures = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            p = subprocess.run(["nsenter", "-t", str(self.pid), "-n", "curl", "-s", "-m", "5",
                                f"http://{self.ip}:8080/"], check=False, capture_output=True)
            self.tries += 1
            self.failures += PAGE not in p.stdout.decode(errors="replace")
            self.stopped.wait(0.5)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(30)


def http_from(server_id, ip):
    rc, out = netns(server_id, "curl", "-s", "-m", "2", f"http://{ip}:8080/")
    return rc == 0 and PAGE in out


def stays_closed(what, probe, tries=3):
    """PROBE fails TRIES times in a row (each try has its own timeout)."""
    for _ in range(tries):
        check(not probe(), f"{what}: got through")


class Neutron:
    def __init__(self):
        self.conn = openstack.connect()
        self.flavor = self.conn.compute.find_flavor("m1.tiny", ignore_missing=False)
        self.net = self.conn.network.find_network("private", ignore_missing=False)
        self.image = self.conn.image.find_image("busybox", ignore_missing=False)
        self.default_sg = self.conn.network.find_security_group(
            "default", project_id=self.conn.current_project_id, ignore_missing=False)
        self.servers = []
        self.groups = []
        self.rules = []
        self.networks = []

    def boot(self, name, groups, **kw):
        s = self.conn.compute.create_server(
            name=f"{name}-{RUN}", image_id=self.image.id, flavor_id=self.flavor.id,
            networks=[{"uuid": self.net.id}],
            security_groups=[{"name": g} for g in groups], **kw)
        self.servers.append(s.id)
        return s

    def active(self, server):
        def probe():
            s = self.conn.compute.get_server(server.id)
            if s.status == "ERROR":
                raise Failed(f"server {s.id} went ERROR: {s.fault}")
            return s if s.status == "ACTIVE" and not s.task_state else None
        return wait_for(f"server {server.id} ACTIVE", STATUS_TIMEOUT, probe)

    def port_of(self, server_id):
        ports = list(self.conn.network.ports(device_id=server_id))
        check(len(ports) == 1, f"ports of {server_id}: {ports}")
        return ports[0]

    def serve_page(self, server_id):
        sh("docker", "exec", "-d", f"nova-{server_id}", "sh", "-c",
           f"mkdir -p /www && echo {PAGE} > /www/index.html && httpd -f -p 8080 -h /www")

    def agent_alive(self, want=True):
        agents = list(self.conn.network.agents(agent_type=AGENT))
        return agents and all(a.is_alive == want for a in agents)

    # The checks, in order; each later one relies on the earlier ones.

    def test_boot_waits_for_the_agent(self):
        probe_sg = self.conn.network.create_security_group(
            name=f"e2e-outsider-{RUN}", description="no ingress rules: an outsider")
        self.groups.append(probe_sg.id)
        a = self.boot("e2e-sg-a", ["default"])
        b = self.boot("e2e-sg-b", ["default"])
        p = self.boot("e2e-sg-outsider", [probe_sg.name])
        self.a, self.b, self.p = (self.active(s) for s in (a, b, p))
        for s in (self.a, self.b, self.p):
            port = self.port_of(s.id)
            check(port.status == "ACTIVE", f"port {port.id} {port.status}")
            check(DRIVER in json.dumps(port.binding_vif_details.get("bound_drivers")),
                  f"port {port.id} not bound by {DRIVER}: {port.binding_vif_details}")
        # Nova went on only after Neutron said the port is wired: the
        # driver's line about network-vif-plugged comes before nova-compute's
        # "Took ... to spawn" for that instance.
        port_a = self.port_of(self.a.id).id
        with open(f"{LOG}/nova-compute.log", errors="replace") as f:
            lines = f.read().splitlines()
        plugged = [i for i, line in enumerate(lines)
                   if "network-vif-plugged" in line and port_a in line and "wired" in line]
        spawned = [i for i, line in enumerate(lines)
                   if self.a.id in line and "to spawn the instance" in line]
        check(plugged and spawned and plugged[-1] < spawned[-1],
              f"no network-vif-plugged for {port_a} before the spawn ended "
              f"(lines {plugged}, {spawned})")
        self.ip = {s.id: self.port_of(s.id).fixed_ips[0]["ip_address"]
                   for s in (self.a, self.b, self.p)}
        for s in (self.a, self.b):
            self.serve_page(s.id)

    def test_default_group_keeps_outsiders_out(self):
        ip_a = self.ip[self.a.id]
        # A serves the page (seen from inside), yet neither the host nor
        # the outsider's container gets it.
        wait_for("A's httpd up inside", 30, lambda: PAGE in sh(
            "docker", "exec", f"nova-{self.a.id}", "sh", "-c",
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 8080", check_rc=False))
        stays_closed(f"host -> A {ip_a}:8080", lambda: http_from_host(ip_a))
        stays_closed(f"outsider -> A {ip_a}:8080", lambda: http_from(self.p.id, ip_a))

    def test_same_group_reaches_each_other(self):
        ip_a, ip_b = self.ip[self.a.id], self.ip[self.b.id]
        wait_for(f"B -> A {ip_a}:8080", 30, lambda: http_from(self.b.id, ip_a))
        wait_for(f"A -> B {ip_b}:8080", 30, lambda: http_from(self.a.id, ip_b))

    def test_rule_opens_then_closes_the_port(self):
        ip_a = self.ip[self.a.id]
        rc = subprocess.run(
            ["openstack", "security", "group", "rule", "create", "--protocol", "tcp",
             "--dst-port", "8080", "-f", "value", "-c", "id", self.default_sg.id],
            check=False, capture_output=True, timeout=120)
        check(rc.returncode == 0, f"rule create: {rc.stderr.decode()[-300:]}")
        rule = rc.stdout.decode().strip()
        self.rules.append(rule)
        wait_for(f"host -> A {ip_a}:8080 with the rule", 30, lambda: http_from_host(ip_a))
        wait_for(f"outsider -> A {ip_a}:8080 with the rule", 30,
                 lambda: http_from(self.p.id, ip_a))
        sh("openstack", "security", "group", "rule", "delete", rule)
        self.rules.remove(rule)
        wait_for(f"host -> A {ip_a}:8080 closed again", 30, lambda: not http_from_host(ip_a))
        stays_closed(f"host -> A {ip_a}:8080 after the rule's delete",
                     lambda: http_from_host(ip_a))
        stays_closed(f"outsider -> A {ip_a}:8080 after the rule's delete",
                     lambda: http_from(self.p.id, ip_a))

    def test_port_security_stops_spoofing(self):
        p, gw = self.p.id, self.net_gateway()
        own_ip = self.ip[p]
        spoofed = ".".join(own_ip.split(".")[:3] + ["250"])

        def ping_gw():
            return netns(p, "ping", "-c", "1", "-W", "2", gw)[0] == 0

        wait_for(f"outsider pings the gateway {gw}", 30, ping_gw)
        own_mac = self.port_of(p).mac_address
        # Another IP on eth1.
        netns(p, "ip", "addr", "del", f"{own_ip}/24", "dev", "eth1")
        netns(p, "ip", "addr", "add", f"{spoofed}/24", "dev", "eth1")
        netns(p, "ip", "neigh", "flush", "dev", "eth1")
        stays_closed(f"ping from the spoofed {spoofed}", ping_gw)
        netns(p, "ip", "addr", "del", f"{spoofed}/24", "dev", "eth1")
        netns(p, "ip", "addr", "add", f"{own_ip}/24", "dev", "eth1")
        netns(p, "ip", "route", "replace", "default", "via", gw, "dev", "eth1")
        wait_for("ping again from the port's own IP", 30, ping_gw)
        # Another MAC on eth1 (the host forgets the old one, so that without
        # port security its reply would find the new MAC).
        netns(p, "ip", "link", "set", "eth1", "address", "fa:16:3e:66:66:66")
        sh("ip", "neigh", "flush", "dev", "nd-cloud-gw")
        stays_closed("ping from the spoofed MAC", ping_gw)
        netns(p, "ip", "link", "set", "eth1", "address", own_mac)
        netns(p, "ip", "route", "replace", "default", "via", gw, "dev", "eth1")
        wait_for("ping again from the port's own MAC", 30, ping_gw)
        # Port security off on the port: the spoofed address gets through.
        port = self.port_of(p)
        sh("openstack", "port", "set", "--no-security-group", "--disable-port-security", port.id)
        netns(p, "ip", "addr", "del", f"{own_ip}/24", "dev", "eth1")
        netns(p, "ip", "addr", "add", f"{spoofed}/24", "dev", "eth1")
        netns(p, "ip", "route", "replace", "default", "via", gw, "dev", "eth1")
        wait_for(f"ping from {spoofed} without port security", 30, ping_gw)

    def net_gateway(self):
        subnet = self.conn.network.get_subnet(self.net.subnet_ids[0])
        return subnet.gateway_ip

    def _still_holds(self, after):
        ip_a = self.ip[self.a.id]
        wait_for(f"B -> A after {after}", 60, lambda: http_from(self.b.id, ip_a))
        stays_closed(f"host -> A {ip_a}:8080 after {after}", lambda: http_from_host(ip_a))

    def test_agent_restart_keeps_connectivity_and_groups(self):
        if BACKEND == "ovn":
            sh(OVN_CTL, "restart_controller")
        else:
            supervisorctl("restart", "neutron-openvswitch-agent")
        wait_for("the agent alive again", 120, self.agent_alive)
        self._still_holds(f"the restart of the {AGENT}")

    def _uninterrupted(self, what, restart):
        """B keeps reaching A while RESTART runs, not only afterwards."""
        b_pid = container(self.b.id)["State"]["Pid"]
        with Prober(b_pid, self.ip[self.a.id]) as p:
            restart()
            time.sleep(2)
        print(f"    B -> A during {what}: {p.tries - p.failures}/{p.tries} fetches")
        check(p.tries >= 3 and p.failures == 0,
              f"B -> A failed {p.failures} of {p.tries} times during {what}")

    def test_service_restart_keeps_connectivity_and_groups(self):
        def restart():
            supervisorctl("restart", "novadock")
            wait_for(f"the service answers on {SOCKET}", 60, service_answers)
        self._uninterrupted("the novadock service's restart", restart)
        self._still_holds("the novadock service's restart")

    def test_dockerd_restart_keeps_connectivity_and_groups(self):
        started = {sid: container(sid)["State"]["StartedAt"]
                   for sid in (self.a.id, self.b.id)}
        self._uninterrupted("dockerd's restart", restart_dockerd)
        for sid, at in started.items():
            c = container(sid)
            check(c and c["State"]["Running"] and c["State"]["StartedAt"] == at,
                  f"{sid} did not keep running through dockerd's restart")
        self._still_holds("dockerd's restart")
        for sid in started:
            s = self.conn.compute.get_server(sid)
            check(s.status == "ACTIVE", f"{sid} is {s.status} after dockerd's restart")

    def _boot_fails_unwired(self, name, net_id):
        s = self.conn.compute.create_server(
            name=f"{name}-{RUN}", image_id=self.image.id, flavor_id=self.flavor.id,
            networks=[{"uuid": net_id}], security_groups=[{"name": "default"}])
        self.servers.append(s.id)
        s = wait_for(f"server {s.id} ERROR", STATUS_TIMEOUT, lambda: (
            x := self.conn.compute.get_server(s.id)).status == "ERROR" and x)
        fault = (s.fault or {}).get("message", "")
        print(f"    fault: {fault}")
        # Nova reschedules a failed binding, as with any driver (another
        # host's agent may be alive): on one host the fault says the
        # retries ran out, and nova-compute's log says why.
        with open(f"{LOG}/nova-compute.log", errors="replace") as f:
            why = [line for line in f if s.id in line and "PortBindingFailed" in line]
        check(why, f"no PortBindingFailed for {s.id} in nova-compute's log")
        check(fault, "no fault")
        check(container(s.id) is None, "a container was left for the unwired boot")
        ports = list(self.conn.network.ports(device_id=s.id))
        check(not ports, f"ports left bound to {s.id}: {[p.id for p in ports]}")

    def test_port_on_an_unmapped_network_fails_the_boot(self):
        # A network on a physical network this host's agent (or chassis)
        # has no bridge for: Neutron cannot bind the port on this host.
        net = self.conn.network.create_network(
            name=f"e2e-unwired-{RUN}", provider_network_type="flat",
            provider_physical_network=UNWIRED_PHYSNET)
        self.networks.append(net.id)
        self.conn.network.create_subnet(
            network_id=net.id, ip_version=4, cidr="198.19.250.0/24", enable_dhcp=False)
        self._boot_fails_unwired("e2e-unmapped", net.id)

    def test_unwired_port_fails_the_boot(self):
        # No agent on the host: Neutron cannot bind the port; the boot ends
        # in ERROR with Neutron's reason and leaves no container behind.
        if BACKEND == "ovn":
            # OVN binds to a chassis whether or not its ovn-controller runs;
            # the port then never comes up and the boot fails only after
            # vif_plugging_timeout (300 s): too long for CI. The driver's
            # side of that path is nova_shim/tests/test_network.py's; the
            # check above fails a boot on OVN the quick way.
            raise Skipped("on ovn: OVN binds a port to a stopped chassis; the boot "
                          "would fail after vif_plugging_timeout (300 s)")
        supervisorctl("stop", "neutron-openvswitch-agent")
        try:
            wait_for("Neutron sees the agent down", 90, lambda: self.agent_alive(False))
            self._boot_fails_unwired("e2e-unwired", self.net.id)
        finally:
            supervisorctl("start", "neutron-openvswitch-agent")
            wait_for("the agent alive again", 120, self.agent_alive)

    def finish(self):
        for rule in self.rules:
            self.conn.network.delete_security_group_rule(rule, ignore_missing=True)
        for sid in self.servers:
            self.conn.compute.delete_server(sid, ignore_missing=True)
        for sid in self.servers:
            try:
                wait_for("cleanup", 120, lambda s=sid: self.conn.compute.find_server(s) is None)
            except Failed:
                print(f"cleanup: {sid} not deleted")
        for g in self.groups:
            self.conn.network.delete_security_group(g, ignore_missing=True)
        for n in self.networks:
            self.conn.network.delete_network(n, ignore_missing=True)


def main():
    return run_checks(Neutron(), f"e2e neutron ({BACKEND})",
                      fatal=("test_boot_waits_for_the_agent",))


if __name__ == "__main__":
    sys.exit(main())
