"""End-to-end test of a novadock cloud made by cloud/up.sh, as a user sees
it: openstacksdk in one process (the image upload goes through the
`openstack` CLI), Docker and the host's network to check what each
operation did. Run with the cloud venv's python after `source <openrc>`;
prints one line per check and "N passed, N failed"; exits 1 on a failure.
"""

import base64
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import traceback
import uuid

import openstack

RUN = uuid.uuid4().hex[:6]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRIDGE = os.environ.get("NOVADOCK_CLOUD_BRIDGE", "br-int")
OVSDB = "unix:/var/run/openvswitch/db.sock"
SOCKET = "/run/novadock-cloud/novadock.sock"
STATUS_TIMEOUT = 180



class Failed(Exception):
    pass


class Skipped(Exception):
    """A check that does not apply to this cloud, reported with its reason."""


def check(cond, message):
    if not cond:
        raise Failed(message)


def sh(*cmd, input=None, check_rc=True):
    p = subprocess.run(cmd, check=False, input=input, capture_output=True, timeout=300)
    if check_rc and p.returncode != 0:
        raise Failed(f"{' '.join(cmd)}: rc {p.returncode}: {p.stderr.decode()[-500:]}")
    return p.stdout.decode()


def wait_for(what, seconds, probe):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(1)
    raise Failed(f"{what}: not within {seconds}s (last: {last!r})")


def new_member(admin, name, cleanup):
    """A project NAME and its user with the member role only, made as an
    admin makes them: (a connection as that user, the project). Their
    removal is appended to CLEANUP (callables)."""
    idp = admin.identity
    project = idp.create_project(name=name, domain_id="default")
    cleanup.append(lambda: idp.delete_project(project))
    password = uuid.uuid4().hex
    user = idp.create_user(name=name, password=password, default_project_id=project.id,
                           domain_id="default")
    cleanup.append(lambda: idp.delete_user(user))
    idp.assign_project_role_to_user(project, user, idp.find_role("member", ignore_missing=False))
    conn = admin.connect_as(username=user.name, password=password, project_name=project.name,
                            user_domain_name="Default", project_domain_name="Default")
    return conn, project


def container(server_id):
    out = sh("docker", "inspect", f"nova-{server_id}", check_rc=False)
    data = json.loads(out or "[]")
    return data[0] if data else None


def in_container(server_id, *cmd):
    return sh("docker", "exec", f"nova-{server_id}", *cmd, check_rc=False)


class SerialSession:
    """A serial console as Horizon opens it: a websocket to nova-serialproxy
    (subprotocol binary) with the console URL's token, bytes both ways."""

    def __init__(self, url):
        # websockify (nova-serialproxy's own library) is in the cloud venv.
        from urllib.parse import urlparse

        from websockify import websocket

        query = urlparse(url).query

        class _WebSocket(websocket.WebSocket):
            # Its connect() sends only the URL's path: the token is the query.
            def send_request(self, type, path):
                super().send_request(type, f"{path}?{query}")

        self.ws = _WebSocket()
        self.ws.connect(url, protocols=["binary"])
        self.ws.settimeout(30)
        self.seen = b""
        self.closed = False

    def send(self, data):
        self.ws.sendmsg(data)

    def _read(self):
        from websockify import websocket
        try:
            data = self.ws.recv()
        except websocket.WebSocketWantReadError:
            return
        except OSError:
            data = None
        if data is None:
            self.closed = True
        else:
            self.seen += data

    def read_until(self, needle, seconds=30):
        deadline = time.monotonic() + seconds
        while needle not in self.seen:
            check(not self.closed, f"console closed before {needle!r}: {self.seen[-300:]!r}")
            check(time.monotonic() < deadline,
                  f"no {needle!r} within {seconds}s: {self.seen[-300:]!r}")
            self._read()
        before, _, self.seen = self.seen.partition(needle)
        return before

    def wait_closed(self, seconds=30):
        deadline = time.monotonic() + seconds
        while not self.closed:
            check(time.monotonic() < deadline, f"console still open after {seconds}s")
            self._read()

    def close(self):
        # Already gone is fine (websockify's close of a closed socket
        # raises AttributeError).
        if self.closed:
            return
        with contextlib.suppress(OSError, AttributeError):
            self.ws.close()


def console_listeners():
    """Ports of [serial_console] port_range (10000:20000) the novadock
    service listens on."""
    pid = socket_owner()
    ports = set()
    for line in sh("ss", "-ltnpH", check_rc=False).splitlines():
        f = line.split()
        if len(f) > 3 and f"pid={pid}," in line:
            port = int(f[3].rsplit(":", 1)[1])
            if 10000 <= port <= 20000:
                ports.add((f[3].rsplit(":", 1)[0], port))
    return ports


def socket_owner():
    """PID of the process listening on the novadock service's socket."""
    out = sh("ss", "-xlpnH", check_rc=False)
    for line in out.splitlines():
        f = line.split()
        if len(f) > 4 and f[4] == SOCKET and "pid=" in line:
            return int(line.split("pid=")[1].split(",")[0])
    return None


def service_answers():
    return sh("curl", "-sf", "--max-time", "2", "--unix-socket", SOCKET,
              "http://novadock/v1/version", check_rc=False) != ""


def ping(ip):
    return subprocess.run(["ping", "-c", "2", "-W", "2", ip], check=False,
                          capture_output=True, timeout=30).returncode == 0


class E2E:
    def __init__(self):
        self.conn = openstack.connect()
        self.flavor = self.conn.compute.find_flavor("m1.tiny", ignore_missing=False)
        self.net = self.conn.network.find_network("private", ignore_missing=False)
        self.image = None
        self.server = None
        self.cleanup = []
        self.cleanup_projects = []
        self.cleanup_users = []
        # The default security group keeps the host out; the checks that
        # reach a server from the host boot it in this group too (what a
        # user does; e2e_neutron_test.py checks the groups themselves).
        self.open_sg = self.conn.network.create_security_group(
            name=f"e2e-open-{RUN}", description="ICMP, TCP and UDP from anywhere")
        for proto in ("icmp", "tcp", "udp"):
            self.conn.network.create_security_group_rule(
                security_group_id=self.open_sg.id, direction="ingress", ethertype="IPv4",
                protocol=proto)

    def status(self, server, status, timeout=STATUS_TIMEOUT):
        def probe():
            s = self.conn.compute.get_server(server.id)
            if s.status == "ERROR" and status != "ERROR":
                raise Failed(f"server {s.id} went ERROR: {s.fault}")
            return s if s.status == status and not s.task_state else None

        return wait_for(f"server {server.id} {status}", timeout, probe)

    def boot(self, name, image_id=None, **kw):
        s = self.conn.compute.create_server(
            name=name, image_id=image_id or self.image.id, flavor_id=self.flavor.id,
            networks=[{"uuid": self.net.id}],
            security_groups=[{"name": "default"}, {"name": self.open_sg.name}], **kw)
        self.cleanup.append(s.id)
        return s

    def ip_of(self, server_id):
        ports = list(self.conn.network.ports(device_id=server_id))
        check(ports, f"no Neutron port for {server_id}")
        return ports[0].fixed_ips[0]["ip_address"]

    def running(self, server_id, want=True, paused=None):
        def probe():
            c = container(server_id)
            if not c:
                return None
            ok = c["State"]["Running"] == want
            if paused is not None:
                ok = ok and c["State"]["Paused"] == paused
            return ok
        wait_for(f"container of {server_id} running={want} paused={paused}", 30, probe)

    def eth1_has_ip(self, server_id):
        ip = self.ip_of(server_id)
        wait_for(f"eth1 holds {ip}", 30,
                 lambda: f"inet {ip}/" in in_container(server_id, "ip", "-4", "addr", "show", "eth1"))
        return ip

    def image_with_command(self, command):
        """The e2e image again, with the image property that sets its command."""
        name = f"e2e-cmd-{uuid.uuid4().hex[:6]}-{RUN}"
        save = subprocess.Popen(["docker", "save", "novadock-cloud/e2e:latest"],
                                stdout=subprocess.PIPE)
        up = subprocess.run(["openstack", "image", "create", "--container-format", "docker",
                             "--disk-format", "raw", "--property",
                             f"os_command_line={command}", "-f", "json", name],
                            stdin=save.stdout, capture_output=True, timeout=300,
                            check=False)
        save.wait(60)
        check(up.returncode == 0, f"openstack image create: {up.stderr.decode()[-500:]}")
        image = self.conn.image.find_image(name, ignore_missing=False)
        self.cleanup_images.append(image.id)
        return image

    # The checks, in order; each later one may rely on the earlier ones.

    def test_image_upload_cli(self):
        tag = "novadock-cloud/e2e:latest"
        sh(f"{REPO}/tools/build-test-image.sh", tag)
        name = f"e2e-busybox-{RUN}"
        save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
        up = subprocess.run(["openstack", "image", "create", "--container-format", "docker",
                             "--disk-format", "raw", "-f", "json", name],
                            stdin=save.stdout, capture_output=True, timeout=300,
                            check=False)
        save.wait(60)
        check(up.returncode == 0, f"openstack image create: {up.stderr.decode()[-500:]}")
        self.image = self.conn.image.find_image(name, ignore_missing=False)
        self.cleanup_images = [self.image.id]
        check(self.image.status == "active", f"image status {self.image.status}")

    def test_boot_active(self):
        s = self.boot(f"e2e-{RUN}", metadata={"E2E_GREETING": "hello", "E2E_RUN": RUN})
        self.server = self.status(s, "ACTIVE")
        c = container(self.server.id)
        check(c and c["State"]["Running"], "container nova-<id> is not running")
        # The container names the Nova host it belongs to.
        host = self.conn.compute.get_server(self.server.id).compute_host
        label = c["Config"]["Labels"].get("org.openstack.nova.host")
        check(label == host, f"host label {label!r}, Nova host {host!r}")

    def test_eth1_ip_and_ping(self):
        ip = self.eth1_has_ip(self.server.id)
        wait_for(f"ping {ip} from the host", 30, lambda: ping(ip))

    def test_port_bound_on_ovs(self):
        port = next(iter(self.conn.network.ports(device_id=self.server.id)))
        check(port.status == "ACTIVE", f"port status {port.status}")
        check(port.binding_vif_type == "ovs", f"vif_type {port.binding_vif_type}")
        dev = f"tap{port.id}"[:14]
        ids = sh("ovs-vsctl", f"--db={OVSDB}", "--timeout=10", "get", "Interface", dev,
                 "external_ids")
        check(f'iface-id="{port.id}"' in ids and self.server.id in ids,
              f"external_ids of {dev}: {ids}")
        check(sh("ovs-vsctl", f"--db={OVSDB}", "--timeout=10", "iface-to-br", dev).strip()
              == BRIDGE, f"{dev} is not on {BRIDGE}")

    def test_tcp_and_udp_over_eth1(self):
        # Real bytes, not ping: an HTTP GET and a UDP echo from the host.
        ip = self.eth1_has_ip(self.server.id)
        name = f"nova-{self.server.id}"
        sh("docker", "exec", "-d", name, "sh", "-c",
           "mkdir -p /www && echo tcp-over-eth1 > /www/index.html && httpd -f -p 8080 -h /www")
        sh("docker", "exec", "-d", name, "udp-echo", "serve", "9000")
        wait_for(f"HTTP GET http://{ip}:8080/", 30, lambda: "tcp-over-eth1" in sh(
            "curl", "-s", "-m", "3", f"http://{ip}:8080/", check_rc=False))

        def udp():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as so:
                so.settimeout(2)
                so.sendto(b"udp-over-eth1", (ip, 9000))
                try:
                    return so.recv(2048) == b"udp-over-eth1"
                except OSError:
                    return False
        wait_for(f"UDP echo from {ip}:9000", 30, udp)

    def test_config_drive(self):
        # User data (bytes), a key and metadata reach the container through
        # Nova's own config-drive content; the user data configures a web
        # server that the image's command runs.
        key = self.conn.compute.create_keypair(name=f"e2e-key-{RUN}")
        self.cleanup_keys = [key.name]
        image = self.image_with_command(
            "sh /var/lib/cloud/seed/config_drive/openstack/latest/user_data")
        user_data = (b"#!/bin/sh\nmkdir -p /www\n"
                     b"echo configured-by-user-data > /www/index.html\n"
                     b"exec httpd -f -p 8080 -h /www\n# \xff\n")
        s = self.status(self.boot(f"e2e-cd-{RUN}", image_id=image.id, key_name=key.name,
                                  metadata={"role": "web"},
                                  user_data=base64.b64encode(user_data).decode()), "ACTIVE")
        seed = "/var/lib/cloud/seed/config_drive/openstack/latest"
        got = in_container(s.id, "sha256sum", f"{seed}/user_data").split()
        check(got and got[0] == hashlib.sha256(user_data).hexdigest(),
              f"user_data is not the bytes given: {got}")
        meta = json.loads(in_container(s.id, "cat", f"{seed}/meta_data.json") or "{}")
        check(meta.get("uuid") == s.id, f"meta_data uuid {meta.get('uuid')}")
        check(meta.get("meta", {}).get("role") == "web", f"meta {meta.get('meta')}")
        check(key.name in meta.get("public_keys", {}), f"keys {meta.get('public_keys')}")
        net = json.loads(in_container(s.id, "cat", f"{seed}/network_data.json") or "{}")
        mac = in_container(s.id, "cat", "/sys/class/net/eth1/address").strip()
        check(mac in [link.get("ethernet_mac_address") for link in net.get("links", [])],
              f"eth1 {mac} not in network_data.json")
        check("Read-only" in sh("docker", "exec", f"nova-{s.id}", "sh", "-c",
                                f"touch {seed}/x 2>&1", check_rc=False),
              "the config drive is writable")
        ip = self.eth1_has_ip(s.id)
        wait_for("the page the user data made", 30, lambda: "configured-by-user-data" in sh(
            "curl", "-s", "-m", "3", f"http://{ip}:8080/", check_rc=False))
        self.delete_and_check(s.id)
        check(not os.path.exists(f"/var/lib/novadock/config-drive/{s.id}"),
              "the drive stays on the host after delete")

    def test_oom_after_boot_shuts_off_and_says_why(self):
        image = self.image_with_command(
            "sh -c 'echo booted; sleep 3; x=a; while :; do x=$x$x; done'")
        s = self.status(self.boot(f"e2e-oom-{RUN}", image_id=image.id), "ACTIVE")
        t0 = time.monotonic()
        self.status(s, "SHUTOFF", timeout=60)
        print(f"    SHUTOFF {time.monotonic() - t0:.0f}s after ACTIVE")
        out = self.conn.compute.get_server_console_output(s)["output"] or ""
        check("OOM" in out, f"the console log does not say why: {out[-300:]!r}")
        self.delete_and_check(s.id)

    def test_exit_at_once_fault(self):
        image = self.image_with_command("sh -c 'echo dying-now; exit 3'")
        s = self.status(self.boot(f"e2e-exit-{RUN}", image_id=image.id), "ERROR")
        fault = (s.fault or {}).get("message", "")
        print(f"    fault: {fault}")
        check("3" in fault and "dying-now" in fault, f"fault lacks code and output: {fault!r}")
        check("retries" not in fault and "No valid host" not in fault,
              f"rescheduled: {fault!r}")
        self.delete_and_check(s.id)

    def test_console_log(self):
        out = wait_for("console log says 'booted'", 30,
                       lambda: "booted" in (self.conn.compute.get_server_console_output(
                           self.server)["output"] or "") and True)
        check(out, "no console output")

    def test_serial_console(self):
        # What `openstack console url show --serial` gives, used as Horizon's
        # Console tab uses it: two sessions at once, each a shell in the
        # container; a stop ends them and frees the port.
        def url():
            out = json.loads(sh("openstack", "console", "url", "show", "--serial",
                                "-f", "json", self.server.id))
            check(out.get("type") == "serial" and out["url"].startswith("ws://"), f"{out}")
            return out["url"]
        first, second = SerialSession(url()), SerialSession(url())
        try:
            first.send(b"echo novadock-$((6*7))\r")
            first.read_until(b"\r\nnovadock-42\r\n")
            second.send(b"echo second-$((1+1)); hostname\r")
            second.read_until(b"\r\nsecond-2\r\n")
            first.send(b"echo still-$((2+2))\r")
            first.read_until(b"\r\nstill-4\r\n")
            listening = console_listeners()
            check(listening and all(a == "127.0.0.1" for a, _ in listening),
                  f"novadock's console listeners: {listening}")
            self.conn.compute.stop_server(self.server)
            first.wait_closed()
            second.wait_closed()
            self.status(self.server, "SHUTOFF")
            check(not console_listeners(), f"still listening: {console_listeners()}")
            # Nova's 409 (InstanceNotReady), not a URL to nothing.
            p = subprocess.run(["openstack", "console", "url", "show", "--serial",
                                self.server.id], capture_output=True, timeout=120, check=False)
            check(p.returncode != 0 and b"ws://" not in p.stdout,
                  f"a console for a stopped server: {p.stdout.decode()}{p.stderr.decode()}")
        finally:
            first.close()
            second.close()
            self.conn.compute.start_server(self.server)
            self.status(self.server, "ACTIVE")
        # Started again: a console opens again.
        again = SerialSession(url())
        try:
            again.send(b"echo back-$((3+3))\r")
            again.read_until(b"\r\nback-6\r\n")
        finally:
            again.close()

    def test_metadata_env(self):
        env = container(self.server.id)["Config"]["Env"]
        check("E2E_GREETING=hello" in env and f"E2E_RUN={RUN}" in env, f"env: {env}")

    def test_memory_limit(self):
        mem = container(self.server.id)["HostConfig"]["Memory"]
        check(mem == self.flavor.ram * 1024 * 1024, f"memory limit {mem} != {self.flavor.ram} MiB")

    def test_stop_start(self):
        self.conn.compute.stop_server(self.server)
        self.status(self.server, "SHUTOFF")
        self.running(self.server.id, False)
        self.conn.compute.start_server(self.server)
        self.status(self.server, "ACTIVE")
        self.running(self.server.id, True)
        ip = self.eth1_has_ip(self.server.id)
        wait_for(f"ping {ip} after start", 30, lambda: ping(ip))

    def test_service_killed_comes_back(self):
        # A crash of the novadock service: back by itself, servers untouched.
        pid = socket_owner()
        check(pid, f"no process listens on {SOCKET}")
        started = container(self.server.id)["State"]["StartedAt"]
        os.kill(pid, 9)
        t0 = time.monotonic()
        wait_for("the novadock service back (new process answering)", 10,
                 lambda: (p := socket_owner()) and p != pid and service_answers())
        print(f"    service back in {time.monotonic() - t0:.1f}s")
        c = container(self.server.id)
        check(c["State"]["Running"] and c["State"]["StartedAt"] == started,
              f"the server's container was touched: {c['State']}")
        s = self.conn.compute.get_server(self.server.id)
        check(s.status == "ACTIVE" and s.power_state == 1,
              f"server {s.status} power {s.power_state} after the restart")
        # Nova drives the restarted service as before.
        self.test_stop_start()

    def test_reboot_soft_hard(self):
        for kind in ("SOFT", "HARD"):
            before = container(self.server.id)["State"]["StartedAt"]
            self.conn.compute.reboot_server(self.server, kind)
            self.status(self.server, "ACTIVE")
            wait_for(f"{kind} reboot restarted the container", 60,
                     lambda b=before: (c := container(self.server.id))["State"]["Running"]
                     and c["State"]["StartedAt"] != b)
        ip = self.eth1_has_ip(self.server.id)
        wait_for(f"ping {ip} after reboots", 30, lambda: ping(ip))

    def test_pause_unpause(self):
        self.conn.compute.pause_server(self.server)
        self.status(self.server, "PAUSED")
        self.running(self.server.id, True, paused=True)
        self.conn.compute.unpause_server(self.server)
        self.status(self.server, "ACTIVE")
        self.running(self.server.id, True, paused=False)

    def test_suspend_resume(self):
        self.conn.compute.suspend_server(self.server)
        self.status(self.server, "SUSPENDED")
        self.running(self.server.id, True, paused=True)
        self.conn.compute.resume_server(self.server)
        self.status(self.server, "ACTIVE")
        self.running(self.server.id, True, paused=False)
        ip = self.ip_of(self.server.id)
        wait_for(f"ping {ip} after resume", 30, lambda: ping(ip))

    def test_interface_attach_detach(self):
        port = self.conn.network.create_port(network_id=self.net.id, name=f"e2e-extra-{RUN}")
        ip = port.fixed_ips[0]["ip_address"]
        self.conn.compute.create_server_interface(self.server, port_id=port.id)
        wait_for(f"eth2 with {ip}", 60, lambda: f"inet {ip}/" in in_container(
            self.server.id, "ip", "-4", "addr", "show", "eth2"))
        self.conn.compute.delete_server_interface(port.id, server=self.server)
        wait_for("eth2 gone", 60, lambda: "eth2" not in in_container(
            self.server.id, "ip", "-o", "link"))
        wait_for("detached port's veth gone", 30, lambda: sh(
            "ip", "link", "show", f"tap{port.id}"[:14], check_rc=False) == "")
        self.conn.network.delete_port(port, ignore_missing=True)

    def test_snapshot_boots(self):
        name = f"e2e-snap-{RUN}"
        snap = self.conn.compute.create_server_image(self.server, name, wait=True, timeout=300)
        self.cleanup_images.append(snap.id)
        snap = self.conn.image.get_image(snap.id)
        check(snap.status == "active", f"snapshot status {snap.status}")
        self.status(self.server, "ACTIVE")
        s = self.status(self.boot(f"e2e-from-snap-{RUN}", image_id=snap.id), "ACTIVE")
        self.eth1_has_ip(s.id)
        self.delete_and_check(s.id)

    def test_min3_max3(self):
        name = f"e2e-three-{RUN}"
        self.boot(name, min_count=3, max_count=3)

        def three():
            ss = list(self.conn.compute.servers(name=f"^{name}"))
            return ss if len(ss) == 3 else None

        servers = wait_for("three servers", 60, three)
        for s in servers:
            self.cleanup.append(s.id)
        for s in servers:
            self.status(s, "ACTIVE")
            check(container(s.id)["State"]["Running"], f"container of {s.id} not running")
        ips = {self.ip_of(s.id) for s in servers}
        check(len(ips) == 3, f"addresses {ips}")
        for s in servers:
            self.delete_and_check(s.id)

    def test_second_project(self):
        # A new project and user (member role only), made as an admin would:
        # it sees the demo image and a network it may use, and boots.
        idp = self.conn.identity
        proj = idp.create_project(name=f"e2e-proj-{RUN}", domain_id="default")
        self.cleanup_projects.append(proj)
        password = uuid.uuid4().hex
        user = idp.create_user(name=f"e2e-user-{RUN}", domain_id="default",
                               password=password, default_project_id=proj.id)
        self.cleanup_users.append(user)
        idp.assign_project_role_to_user(proj, user, idp.find_role("member", ignore_missing=False))
        conn = self.conn.connect_as(username=user.name, password=password,
                                    project_name=proj.name, user_domain_name="Default",
                                    project_domain_name="Default")
        image = conn.image.find_image("busybox")
        check(image, "the demo image busybox is not visible to a new project")
        net = conn.network.find_network("private")
        check(net, "the network private is not visible to a new project")
        s = conn.compute.create_server(
            name=f"e2e-proj-{RUN}", image_id=image.id, networks=[{"uuid": net.id}],
            flavor_id=conn.compute.find_flavor("m1.tiny", ignore_missing=False).id)
        self.cleanup.append(s.id)
        s = self.status(s, "ACTIVE")
        check(s.project_id == proj.id, f"server's project {s.project_id}")
        self.eth1_has_ip(s.id)
        self.delete_and_check(s.id)

    def test_fifty_tiny_servers(self):
        # A host's capacity follows what containers consume: 50 m1.tiny
        # servers at once all go ACTIVE, and placement says how many fit.
        n, name = 50, f"e2e-fifty-{RUN}"
        self.conn.compute.create_server(
            name=name, image_id=self.image.id, flavor_id=self.flavor.id,
            networks=[{"uuid": self.net.id}], min_count=n, max_count=n)
        t0 = time.monotonic()
        servers = wait_for(f"{n} servers", 60, lambda: (
            ss := list(self.conn.compute.servers(name=f"^{name}"))) and len(ss) == n and ss)
        self.cleanup.extend(s.id for s in servers)

        def settled():
            ss = list(self.conn.compute.servers(name=f"^{name}"))
            bad = [s for s in ss if s.status == "ERROR"]
            if bad:
                raise Failed(f"{len(bad)} of {n} went ERROR: {bad[0].fault}")
            return sum(s.status == "ACTIVE" for s in ss) == n

        wait_for(f"{n} servers ACTIVE", 600, settled)
        print(f"    {n} ACTIVE in {time.monotonic() - t0:.0f}s")
        # Placement's inventory says why a 51st would fit (or not).
        for rp in self.conn.placement.resource_providers():
            inv = {i.resource_class: i for i in self.conn.placement.resource_provider_inventories(rp)}
            fits = {}
            for rc, per in (("VCPU", self.flavor.vcpus), ("MEMORY_MB", self.flavor.ram)):
                i = inv[rc]
                fits[rc] = int((i.total - i.reserved) * i.allocation_ratio // per)
                print(f"    {rp.name}: {rc} ({i.total} - {i.reserved}) x {i.allocation_ratio}"
                      f" = room for {fits[rc]} m1.tiny")
            check(min(fits.values()) > n, f"placement leaves room for {fits}, not {n + 1}")
        t0 = time.monotonic()
        for s in servers:
            self.conn.compute.delete_server(s.id)
        wait_for(f"{n} servers deleted", 600,
                 lambda: not list(self.conn.compute.servers(name=f"^{name}")))
        wait_for("their containers removed", 60,
                 lambda: all(container(s.id) is None for s in servers))
        print(f"    deleted in {time.monotonic() - t0:.0f}s")

    def delete_and_check(self, server_id):
        ports = [p.id for p in self.conn.network.ports(device_id=server_id)]
        self.conn.compute.delete_server(server_id)
        wait_for(f"server {server_id} deleted", STATUS_TIMEOUT,
                 lambda: self.conn.compute.find_server(server_id) is None)
        wait_for(f"container nova-{server_id} removed", 30,
                 lambda: container(server_id) is None)
        for pid in ports:
            check(sh("ip", "link", "show", f"tap{pid}"[:14], check_rc=False) == "",
                  f"veth tap{pid[:11]} left behind")
        left = sh("ovs-vsctl", f"--db={OVSDB}", "--timeout=10", "--bare", "--columns=name",
                  "find", "Interface", f"external_ids:vm-uuid={server_id}")
        check(not left.strip(), f"OVS ports left: {left.split()}")

    def test_delete_leaves_nothing(self):
        self.delete_and_check(self.server.id)
        self.server = None

    def test_broken_image_fault(self):
        # Data that is no docker save tarball, kept in Glance's file store
        # (the novadock store would refuse it at upload).
        img = self.conn.image.post("/images", json={
            "name": f"e2e-broken-{RUN}", "container_format": "docker",
            "disk_format": "raw"}).json()
        self.cleanup_images.append(img["id"])
        r = self.conn.image.put(f"/images/{img['id']}/file", data=b"not a tarball\n" * 64,
                                headers={"Content-Type": "application/octet-stream",
                                         "X-Image-Meta-Store": "file"})
        check(r.status_code == 204, f"upload: {r.status_code} {r.text[:300]}")
        s = self.status(self.boot(f"e2e-broken-{RUN}", image_id=img["id"]), "ERROR")
        fault = (s.fault or {}).get("message", "")
        print(f"    fault: {fault}")
        check(fault and "No valid host" not in fault, f"fault not actionable: {fault!r}")
        check(container(s.id) is None, "a container was left for the broken image")
        self.delete_and_check(s.id)

    def finish(self):
        for sid in self.cleanup:
            try:
                self.conn.compute.delete_server(sid, ignore_missing=True)
            except Exception as exc:  # noqa: BLE001 - best effort cleanup
                print(f"cleanup of {sid}: {exc}")
        for sid in self.cleanup:
            try:
                wait_for("cleanup", 60, lambda s=sid: self.conn.compute.find_server(s) is None)
            except Failed:
                pass
        for name in getattr(self, "cleanup_keys", []):
            self.conn.compute.delete_keypair(name, ignore_missing=True)
        for iid in getattr(self, "cleanup_images", []):
            self.conn.image.delete_image(iid, ignore_missing=True)
        for p in self.cleanup_projects:
            # Neutron made the project's default security group.
            for sg in self.conn.network.security_groups(project_id=p.id):
                self.conn.network.delete_security_group(sg, ignore_missing=True)
            self.conn.identity.delete_project(p, ignore_missing=True)
        for u in self.cleanup_users:
            self.conn.identity.delete_user(u, ignore_missing=True)
        self.conn.network.delete_security_group(self.open_sg, ignore_missing=True)


def run_checks(suite, title, fatal=()):
    """Runs SUITE's test_* methods in their order (only those named on the
    command line, if any), then suite.finish(). Prints PASS, SKIP or FAIL
    per check and "N passed, N failed"; returns the exit code. A failure of
    a check in FATAL ends the run: the later checks rely on it."""
    only = sys.argv[1:]
    results = []
    started = time.monotonic()
    try:
        for name in [n for n in type(suite).__dict__ if n.startswith("test_")]:
            if only and name not in only and name.removeprefix("test_") not in only:
                continue
            t = time.monotonic()
            try:
                getattr(suite, name)()
            except Skipped as why:
                print(f"SKIP {name}: {why}", flush=True)
                continue
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                detail = str(exc) if isinstance(exc, Failed) else traceback.format_exc()
                results.append(False)
                print(f"FAIL {name} ({time.monotonic() - t:.1f}s): {detail}", flush=True)
                if name in fatal:
                    break
                continue
            results.append(True)
            print(f"PASS {name} ({time.monotonic() - t:.1f}s)", flush=True)
    finally:
        suite.finish()
    passed = sum(results)
    print(f"{title}: {time.monotonic() - started:.0f}s")
    print(f"{passed} passed, {len(results) - passed} failed")
    return 1 if passed != len(results) or not results else 0


def main():
    up = os.environ.get("CLOUD_UP_SECONDS")
    return run_checks(E2E(), "e2e" + (f" (up.sh: {up}s)" if up else ""),
                      fatal=("test_image_upload_cli", "test_boot_active"))


if __name__ == "__main__":
    sys.exit(main())
