"""The two compute hosts of the functional tests: an engine, an Open vSwitch
and a ``novadock serve`` each.

host1: the machine's dockerd and the tests' shared Open vSwitch.
host2: a second dockerd (tools/start-second-dockerd.sh) and a private Open
vSwitch in the network namespace ``nvdk-host2``, where host2's service runs
too. Two hosts need two switches: a service removes at start-up every OVS
port whose instance has no container in *its* engine, and one userspace
datapath per namespace can own the bridge's tap device.

The services are started once per test process and stopped by PID at exit
(and get SIGTERM if this process dies first).
"""

import atexit
import ctypes
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from tests import service as shim_service

REPO = shim_service.REPO
TEST_IMAGE = shim_service.TEST_IMAGE
LABEL_UUID = shim_service.LABEL_PREFIX + "instance-uuid"
START_SECOND_DOCKERD = REPO / "tools" / "start-second-dockerd.sh"
START_OVS = REPO / "tools" / "start-ovs.sh"
DOCKER2_PIDFILE = "/run/novadock-test-docker2/dockerd.pid"
HOST1_DOCKER = "unix:///var/run/docker.sock"
HOST2_NETNS = "nvdk-host2"
HOST2_OVS_DIR = "/run/novadock-test-ovs-host2"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
CMD_TIMEOUT = 120
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Taken at import: nova's test fixtures point tempfile at a per-test
# directory, removed after each test, and the services outlive tests.
TMP_ROOT = tempfile.gettempdir()


class HostError(RuntimeError):
    pass


def run(argv, check=True, timeout=CMD_TIMEOUT):
    p = subprocess.run(argv, capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise HostError(f"{' '.join(argv)} failed ({p.returncode}): {err.strip()}")
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


class Engine:
    """One dockerd, seen through the docker CLI as a host's admin sees it."""

    def __init__(self, url):
        self.url = url

    def docker(self, *args, check=True, timeout=CMD_TIMEOUT):
        return run(["docker", "-H", self.url, *args], check=check, timeout=timeout)

    def inspect(self, name):
        p = self.docker("container", "inspect", name, check=False)
        return json.loads(p.stdout)[0] if p.returncode == 0 else None

    def exec(self, name, *cmd):
        return self.docker("exec", name, *cmd).stdout

    def has_image(self, ref):
        return self.docker("image", "inspect", ref, check=False).returncode == 0

    def tag(self, source, ref):
        self.docker("tag", source, ref)

    def untag(self, ref):
        self.docker("rmi", "--no-prune", ref, check=False)

    def remove_images_of(self, uuids):
        shim_service.remove_images_of(uuids, self.docker)

    def containers_of(self, uuids):
        """IDs of the containers of these instances (a resize's set-aside
        container too: it carries the same uuid label)."""
        uuids = set(uuids)
        out = self.docker("ps", "-a", "--no-trunc", "--filter",
                          f"label={LABEL_UUID}", "--format",
                          f'{{{{.ID}}}} {{{{.Label "{LABEL_UUID}"}}}}').stdout
        rows = (line.partition(" ") for line in out.splitlines())
        return [cid for cid, _, uuid in rows if uuid in uuids]


class Switch:
    """One Open vSwitch database, through ovs-vsctl."""

    def __init__(self, db):
        self.db = db

    def vsctl(self, *args, check=True):
        return run(["ovs-vsctl", f"--db={self.db}", "--timeout=10", *args],
                   check=check, timeout=30)

    def ports_of(self, instance_uuid):
        out = self.vsctl("--bare", "--columns=name", "find", "Interface",
                         f"external_ids:vm-uuid={instance_uuid}").stdout
        return sorted(out.split())

    def remove_ports_of(self, uuids):
        for u in uuids:
            for port in self.ports_of(u):
                self.vsctl("--if-exists", "del-port", port, check=False)


def _die_with_parent():
    # The service must not outlive a test process that is killed.
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class NovadockHost:
    """``novadock serve`` for one Nova host (``[DEFAULT] host``)."""

    def __init__(self, name, engine, switch, my_ip, docker_network="bridge",
                 netns=None, lifecycle_event_delay=None):
        self.name = name
        # The service holds STOPPED back this long (None: its default, 15 s).
        self.lifecycle_event_delay = lifecycle_event_delay
        self.my_ip = my_ip
        self.docker_network = docker_network
        self.engine = engine
        self.switch = switch
        self.netns = netns
        self.binary = str(os.environ.get("NOVADOCK_BIN") or shim_service.DEFAULT_BIN)
        self.tmpdir = tempfile.mkdtemp(prefix=f"novadock-functional-{name}-",
                                       dir=TMP_ROOT)
        self.socket_path = os.path.join(self.tmpdir, "novadock.sock")
        self.conf_path = os.path.join(self.tmpdir, "nova.conf")
        self.log_path = os.path.join(self.tmpdir, "novadock.log")
        self.proc = None

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise HostError(f"novadock binary {self.binary} is missing: cargo build "
                            f"--locked, or set NOVADOCK_BIN")
        pathlib.Path(self.conf_path).write_text(
            "[DEFAULT]\n"
            f"host = {self.name}\n"
            f"my_ip = {self.my_ip}\n"
            "[novadock]\n"
            f"socket_path = {self.socket_path}\n"
            # Nova's Glance fixture is not a Glance the service can reach.
            "allow_local_images = true\n"
            # Each host its own, as on two machines.
            f"config_drive_dir = {self.tmpdir}/config-drive\n"
            f"docker_url = {self.engine.url}\n"
            f"docker_network = {self.docker_network}\n"
            f"ovsdb_connection = {self.switch.db}\n"
            + ("" if self.lifecycle_event_delay is None else
               f"lifecycle_event_delay = {self.lifecycle_event_delay}\n"),
            encoding="utf-8")
        argv = [self.binary, "serve", "--config-file", self.conf_path]
        if self.netns:
            # `ip netns exec` execs the service: the PID stays the service's.
            argv = ["ip", "netns", "exec", self.netns, *argv]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        # Appended to: a restarted service's log follows the killed one's.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HostError(f"novadock serve for {self.name} exited with "
                                f"{self.proc.returncode}:\n{self.log_tail()}")
            if shim_service._unix_socket_answers(self.socket_path):
                return self
            time.sleep(0.05)
        self.stop()
        raise HostError(f"novadock serve for {self.name} did not open its socket "
                        f"within {START_TIMEOUT:g} s:\n{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT)
        if not os.environ.get("NOVADOCK_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def kill(self):
        """SIGKILL, as a crash would: no clean-up of any kind. Returns the
        exit status."""
        proc, self.proc = self.proc, None
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=STOP_TIMEOUT)

    def links(self):
        """Names of the network links where the service plugs host ends."""
        argv = ["ip", "-o", "link", "show"]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        # "7: tapX@if6: <...": the name, without the peer's index.
        return {line.split(":")[1].strip().split("@")[0]
                for line in run(argv).stdout.splitlines()}

    def log_tail(self, n=40):
        try:
            text = pathlib.Path(self.log_path).read_text("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(ANSI.sub("", text).splitlines()[-n:])


def _host1_switch():
    """The tests' shared Open vSwitch ($NOVADOCK_TEST_OVSDB as tools/test.sh
    exports it, else tools/start-ovs.sh's, started if it is not running)."""
    db = os.environ.get("NOVADOCK_TEST_OVSDB")
    if db:
        return Switch(db)
    ovs_dir = os.path.dirname(shim_service.DEFAULT_OVSDB[len("unix:"):])
    return Switch(_last_line(run([str(START_OVS), ovs_dir, shim_service.OVS_BRIDGE],
                                 timeout=60)))


def _host2_switch():
    """host2's own namespace and Open vSwitch (idempotent)."""
    if HOST2_NETNS not in run(["ip", "netns", "list"]).stdout.split():
        run(["ip", "netns", "add", HOST2_NETNS])
    run(["ip", "netns", "exec", HOST2_NETNS, "ip", "link", "set", "lo", "up"])
    return Switch(_last_line(run(["ip", "netns", "exec", HOST2_NETNS, str(START_OVS),
                                  HOST2_OVS_DIR, shim_service.OVS_BRIDGE], timeout=60)))


def restart_second_dockerd():
    """Stops host2's dockerd by its PID (live-restore keeps its containers
    running) and starts it again as tools/start-second-dockerd.sh does.
    Never the machine's dockerd."""
    with open(DOCKER2_PIDFILE, encoding="ascii") as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30.0
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            raise HostError(f"host2's dockerd {pid} did not stop within 30 s")
        time.sleep(0.1)
    return _last_line(run([str(START_SECOND_DOCKERD)], timeout=180))


def ensure_second_dockerd():
    """host2's dockerd is running (started again if a test left it down)."""
    return _last_line(run([str(START_SECOND_DOCKERD)], timeout=180))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _last_line(p):
    return p.stdout.strip().splitlines()[-1]


_HOSTS = None
_LOCK = threading.Lock()


def get_hosts():
    """{"host1": NovadockHost, "host2": NovadockHost}, started on first use."""
    global _HOSTS
    with _LOCK:
        if _HOSTS is None:
            shim_service.require_test_image()
            url2 = _last_line(run([str(START_SECOND_DOCKERD)], timeout=180))
            # Distinct host IPs: the service knows a move to itself by it.
            # host1 gets no Docker network: the machine's bridge is shared
            # with whatever else runs there (its pool can run out).
            hosts = {
                "host1": NovadockHost("host1", Engine(HOST1_DOCKER), _host1_switch(),
                                      "127.0.0.11", docker_network="none"),
                # host2 holds STOPPED back only 1 s (host1 the default
                # 15 s): its tests wait for SHUTOFF from the event, or
                # would see a STOPPED a dockerd restart made up.
                "host2": NovadockHost("host2", Engine(url2), _host2_switch(),
                                      "127.0.0.12", netns=HOST2_NETNS,
                                      lifecycle_event_delay=1),
            }
            started = []
            atexit.register(lambda: [h.stop() for h in started])
            for h in hosts.values():
                h.start()
                started.append(h)
            _HOSTS = hosts
        for h in _HOSTS.values():
            if not h.alive():
                raise HostError(f"novadock serve for {h.name} died:\n{h.log_tail()}")
        return _HOSTS
