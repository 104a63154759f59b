"""The real novadock service and the real dockerd, for the tests.

``get_service()`` starts one ``novadock serve`` per test process (binary from
``$NOVADOCK_BIN``, default target/debug/novadock of this repo) on a socket in
a temporary directory, with a temporary nova.conf holding ``[novadock]
socket_path``; it is stopped by its PID when the process exits.
"""

import atexit
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

from novadock_client import testing

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "novadock"
TEST_IMAGE = "novadock-test/busybox:latest"
GLANCE_TAG = "novadock-glance:{}"
LABEL_PREFIX = "org.openstack.nova."
TEST_HOST = "novadock-tests"
SERIAL_PORT_RANGE = "37000:37999"
START_OVS = REPO / "tools" / "start-ovs.sh"
DEFAULT_OVSDB = "unix:/run/novadock-test-ovs/db.sock"
OVS_BRIDGE = "br-int"
# Seconds the service holds a STOPPED lifecycle event back.
LIFECYCLE_EVENT_DELAY = 1.0

ServiceError = testing.SetupError


class NovadockService(testing.Service):
    """novadock_client's test service, on the tests' Open vSwitch."""

    def __init__(self, binary=None):
        # Not the machine's hostname: a cloud on the same engine
        # (cloud/up.sh) and the tests each see only their own containers.
        super().__init__(
            binary or os.environ.get("NOVADOCK_BIN") or DEFAULT_BIN, TEST_HOST,
            # The tests boot the engine's test image without a Glance.
            {"allow_local_images": "true",
             # The service holds STOPPED back; short, for the tests.
             "lifecycle_event_delay": str(LIFECYCLE_EVENT_DELAY)},
            # Ports apart from the Rust tests' and the cloud's (10000:20000).
            sections={"serial_console": {
                "enabled": "true", "port_range": SERIAL_PORT_RANGE}})
        self.ovs_dir = None
        self.ovsdb = None

    def start(self):
        ovsdb = self._start_ovs()
        if ovsdb:
            self.options["ovsdb_connection"] = ovsdb
        return super().start()

    def _start_ovs(self):
        """The tests' Open vSwitch (userspace datapath), shared with the Rust
        tests: ``$NOVADOCK_TEST_OVSDB``, default unix:/run/novadock-test-ovs/
        db.sock. Started through tools/start-ovs.sh if it is not running (and
        then stopped again at the end); None if Open vSwitch is not installed.
        """
        ovsdb = os.environ.get("NOVADOCK_TEST_OVSDB") or DEFAULT_OVSDB
        sock = ovsdb[len("unix:"):] if ovsdb.startswith("unix:") else None
        if sock and testing.socket_answers(sock):
            self.ovsdb = ovsdb
            return ovsdb
        if not (sock and START_OVS.exists() and shutil.which("ovsdb-server")
                and shutil.which("ovs-vswitchd")):
            return None
        ovs_dir = os.path.dirname(sock)
        p = subprocess.run([str(START_OVS), ovs_dir, OVS_BRIDGE],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        self.ovs_dir = ovs_dir
        if p.returncode != 0:
            self._stop_ovs()
            raise ServiceError(f"{START_OVS} failed ({p.returncode}):\n"
                               f"{p.stdout}{p.stderr}")
        self.ovsdb = ovsdb
        return ovsdb

    def _stop_ovs(self):
        """Stop the Open vSwitch daemons this fixture started, by PID."""
        if not self.ovs_dir:
            return
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            pidfile = os.path.join(self.ovs_dir, f"{daemon}.pid")
            try:
                with open(pidfile, encoding="ascii") as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.05)
        self.ovs_dir = None

    def ovs_vsctl(self, *args, check=True):
        if not self.ovsdb:
            raise ServiceError("no Open vSwitch for the tests")
        p = subprocess.run(["ovs-vsctl", f"--db={self.ovsdb}", "--timeout=10",
                            *args], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise ServiceError(f"ovs-vsctl {' '.join(args)} failed: {p.stderr}")
        return p

    def stop(self):
        super().stop()
        self._stop_ovs()


_unix_socket_answers = testing.socket_answers


def _start_service():
    require_test_image()
    svc = NovadockService()
    svc.start()
    atexit.register(svc.stop)
    return svc


def get_service():
    """The process's service, started on first use."""
    return testing.once("nova_shim", _start_service).alive()


# -- docker CLI helpers: what a user of the host sees ----------------------------

docker = testing.docker


def require_test_image():
    p = docker("image", "inspect", TEST_IMAGE, check=False)
    if p.returncode != 0:
        raise ServiceError(
            f"test image {TEST_IMAGE} is missing: build it with "
            f"tools/build-test-image.sh ({p.stderr.strip()})")


def tag_test_image(image_id):
    """Make the test image the local copy of Glance image ``image_id``."""
    require_test_image()
    ref = GLANCE_TAG.format(image_id)
    docker("tag", TEST_IMAGE, ref)
    return ref


def untag(ref):
    docker("rmi", "--no-prune", ref, check=False)


def inspect_container(name_or_id):
    """``docker inspect`` of one container, or None if there is none."""
    p = docker("container", "inspect", name_or_id, check=False)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)[0]


def containers_for_uuids(uuids):
    """IDs of every container with an org.openstack.nova.* label equal to one
    of ``uuids`` (instance uuid, image id, ...), or named nova-<uuid>."""
    uuids = {str(u) for u in uuids}
    if not uuids:
        return []
    out = docker("ps", "-a", "--no-trunc", "--format",
                 "{{.ID}}\t{{.Names}}\t{{json .Labels}}").stdout
    found = []
    for line in out.splitlines():
        cid, names, labels = (line.split("\t", 2) + ["", ""])[:3]
        values = set()
        for pair in json.loads(labels or '""').split(","):
            key, _, value = pair.partition("=")
            if key.startswith(LABEL_PREFIX):
                values.add(value)
        named = {n[len("nova-"):] for n in names.split(",") if n.startswith("nova-")}
        if values & uuids or named & uuids:
            found.append(cid)
    return found


_BRIDGES_ADDED = []


def ensure_ovs_bridge(name):
    """An OVS bridge (userspace datapath) on the tests' Open vSwitch; one this
    process adds is deleted again at exit."""
    svc = get_service()
    if name in svc.ovs_vsctl("list-br").stdout.split():
        return
    svc.ovs_vsctl("--may-exist", "add-br", name, "--", "set", "Bridge", name,
                  "datapath_type=netdev")
    if not _BRIDGES_ADDED:
        atexit.register(_delete_added_bridges, svc)
    _BRIDGES_ADDED.append(name)


def _delete_added_bridges(svc):
    if svc.ovsdb:
        for name in _BRIDGES_ADDED:
            svc.ovs_vsctl("--if-exists", "del-br", name, check=False)


def remove_containers_for_uuids(uuids):
    """Removes those containers, and the images committed from the
    instances (resizes, snapshots: they carry the instance's uuid label)."""
    ids = containers_for_uuids(uuids)
    if ids:
        docker("rm", "-f", "-v", *ids, check=False)
    remove_images_of(uuids)
    return ids


def remove_images_of(uuids, docker_cmd=None):
    """Removes the images committed from these instances (resizes,
    snapshots, migrations: they carry the instance's uuid label), through
    ``docker_cmd`` (default: this machine's engine)."""
    docker_cmd = docker_cmd or docker
    images = set()
    for u in {str(u) for u in uuids}:
        images.update(docker_cmd("images", "-a", "-q", "--filter",
                                 f"label={LABEL_PREFIX}instance-uuid={u}",
                                 check=False).stdout.split())
    if images:
        docker_cmd("rmi", "-f", *sorted(images), check=False)
