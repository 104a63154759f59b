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
import socket
import subprocess
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "novadock"
TEST_IMAGE = "novadock-test/busybox:latest"
GLANCE_TAG = "novadock-glance:{}"
LABEL_PREFIX = "org.openstack.nova."
START_TIMEOUT = 60.0


class ServiceError(RuntimeError):
    pass


class NovadockService:
    def __init__(self, binary=None):
        self.binary = str(binary or os.environ.get("NOVADOCK_BIN") or DEFAULT_BIN)
        self.tmpdir = None
        self.proc = None
        self.socket_path = None
        self.conf_path = None
        self.log_path = None
        self._log = None

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise ServiceError(
                f"novadock binary {self.binary} not found or not executable "
                f"(build it with cargo build, or set NOVADOCK_BIN)")
        self.tmpdir = tempfile.mkdtemp(prefix="novadock-test-")
        self.socket_path = os.path.join(self.tmpdir, "novadock.sock")
        self.conf_path = os.path.join(self.tmpdir, "nova.conf")
        self.log_path = os.path.join(self.tmpdir, "novadock.log")
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write("[DEFAULT]\n\n[novadock]\n"
                    f"socket_path = {self.socket_path}\n")
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--config-file", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceError(
                    f"novadock serve exited with {self.proc.returncode} at "
                    f"start:\n{self.log_tail()}")
            if self._socket_answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"novadock serve did not open {self.socket_path} "
                           f"within {START_TIMEOUT:g} s:\n{self.log_tail()}")

    def _socket_answers(self):
        if not os.path.exists(self.socket_path):
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(1)
            s.connect(self.socket_path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.tmpdir and not os.environ.get("NOVADOCK_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)


_SERVICE = None
_LOCK = threading.Lock()


def get_service():
    """The process's service, started on first use."""
    global _SERVICE
    with _LOCK:
        if _SERVICE is None:
            require_test_image()
            svc = NovadockService()
            svc.start()
            atexit.register(svc.stop)
            _SERVICE = svc
        elif _SERVICE.proc is None or _SERVICE.proc.poll() is not None:
            raise ServiceError(f"novadock serve died:\n{_SERVICE.log_tail()}")
        return _SERVICE


# -- docker CLI helpers: what a user of the host sees ----------------------------

def docker(*args, check=True, timeout=120):
    p = subprocess.run(["docker", *args], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise ServiceError(f"docker {' '.join(args)} failed ({p.returncode}): "
                           f"{p.stderr.strip()}")
    return p


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
    of ``uuids``, or named nova-<uuid>."""
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


def remove_containers_for_uuids(uuids):
    ids = containers_for_uuids(uuids)
    if ids:
        docker("rm", "-f", "-v", *ids, check=False)
    return ids
