"""The real things the tests talk to, started once per test process.

``get_stack()`` starts ``novadock serve`` (``$NOVADOCK_BIN``, default
target/debug/novadock) with a temporary nova.conf (``[novadock]
socket_path`` in a temporary directory, ``glance_facade_listen`` on a free
loopback port), then a real glance-api through tools/glance/up.sh on another
free port whose default store is the novadock driver on that socket. Both are
stopped by PID when the process exits (tools/glance/down.sh for glance-api).
Anything missing is an error, never a skip.
"""

import atexit
import json
import os
import pathlib
import socket
import subprocess
import sys

from novadock_client import testing

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "novadock"
UP = REPO / "tools" / "glance" / "up.sh"
DOWN = REPO / "tools" / "glance" / "down.sh"
VENV_BIN = pathlib.Path(sys.executable).parent
TEST_IMAGE = "novadock-test/busybox:latest"
GLANCE_TAG = "novadock-glance:{}"
# Beside GLANCE_TAG on what the novadock store keeps.
STORE_TAG = "novadock-glance-store:{}"

# Traffic to the loopback servers must never go through a proxy.
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

StackError = testing.SetupError
free_port = testing.free_port


class Stack(testing.Service):
    """novadock_client's test service with its Glance facade, and a real
    glance-api in front of it."""

    def __init__(self):
        self.facade_port = free_port()
        super().__init__(
            os.environ.get("NOVADOCK_BIN") or DEFAULT_BIN,
            "novadock-glance-tests",
            {"glance_facade_listen": "127.0.0.1:%d" % self.facade_port,
             # Like the glance-api beside it: no Keystone here.
             "glance_facade_auth_strategy": "noauth"},
            tcp_ports=(self.facade_port,), prefix="novadock-glance-test-")
        self.facade_url = "http://127.0.0.1:%d" % self.facade_port
        self.glance_dir = None
        self.glance_url = None

    def start(self):
        for tool in ("openstack", "glance-manage", "gunicorn"):
            if not (VENV_BIN / tool).exists():
                raise StackError(
                    "%s has no %s: run the tests with the glance venv's python "
                    "(tools/glance/setup.sh, then .venv-glance/bin/python -m "
                    "unittest ...)" % (VENV_BIN, tool))
        _check_installed_driver()
        p = docker("image", "inspect", TEST_IMAGE, check=False)
        if p.returncode != 0:
            raise StackError("test image %s is missing: tools/build-test-image.sh "
                             "(%s)" % (TEST_IMAGE, p.stderr.strip()))
        super().start()
        self.glance_dir = os.path.join(self.tmpdir, "glance")
        port = free_port()
        p = subprocess.run([str(UP), self.glance_dir, str(port), self.socket_path],
                           capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise StackError("tools/glance/up.sh failed (%d):\n%s%s"
                             % (p.returncode, p.stdout, p.stderr))
        self.glance_url = p.stdout.strip().splitlines()[-1]
        return self

    def glance_log_tail(self, n=40):
        try:
            with open(os.path.join(self.glance_dir, "glance-api.log"), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except (OSError, TypeError):
            return "(no log)"
        return "\n".join(lines[-n:])

    def stop(self):
        if self.glance_dir and os.path.isdir(self.glance_dir):
            subprocess.run([str(DOWN), self.glance_dir], timeout=60,
                           stdin=subprocess.DEVNULL, check=False)
        super().stop()


def _check_installed_driver():
    """glance-api and these tests load the driver (and the novadock_client it
    uses) installed in the venv: they must be the tree's, or the tests would
    test something else."""
    import novadock_client

    import novadock_glance_store

    for module, tree in (
            (novadock_glance_store, REPO / "glance_backend" / "novadock_glance_store"),
            (novadock_client, REPO / "novadock_client" / "novadock_client")):
        installed = pathlib.Path(module.__file__).parent
        if installed == tree:
            continue
        for src in sorted(tree.glob("*.py")):
            other = installed / src.name
            if not other.exists() or other.read_bytes() != src.read_bytes():
                raise StackError(
                    "%s installed in %s differs from the tree (%s): run "
                    "tools/glance/setup.sh" % (module.__name__, installed,
                                               src.name))


def _start_stack():
    stack = Stack()
    atexit.register(stack.stop)
    return stack.start()


def get_stack():
    return testing.once("glance_backend", _start_stack).alive()


# -- what a user of the host runs ---------------------------------------------

docker = testing.docker


def docker_image_id(ref):
    """The engine's id of ``ref``, or None if the engine has no such image."""
    p = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def docker_save(ref):
    return subprocess.run(["docker", "save", ref], capture_output=True,
                          check=True, timeout=120).stdout


def docker_load(path):
    """``docker load -i path``; the id of the image it loaded."""
    out = docker("load", "-i", path).stdout
    for line in out.splitlines():
        if line.startswith("Loaded image ID: "):
            return line.split(": ", 1)[1].strip()
        if line.startswith("Loaded image: "):
            return docker_image_id(line.split(": ", 1)[1].strip())
    raise StackError("docker load said nothing about an image: %r" % out)


def openstack(endpoint, *args, input=None, check=True, timeout=180):
    """The real ``openstack`` CLI against ``endpoint`` without keystone:
    ``--os-auth-type none --os-endpoint URL``."""
    cmd = [str(VENV_BIN / "openstack"), "--os-auth-type", "none",
           "--os-endpoint", endpoint, *args]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise StackError("openstack %s failed (%d): %s%s"
                         % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def openstack_json(endpoint, *args, **kwargs):
    p = openstack(endpoint, *args, "-f", "json", **kwargs)
    return json.loads(p.stdout)


def service_request(stack, method, path):
    """One request to the service's socket: (status, body bytes). Written
    apart from the driver's client so the tests do not check it against
    itself."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(stack.socket_path)
    try:
        s.sendall(("%s %s HTTP/1.0\r\nHost: novadock\r\n\r\n"
                   % (method, path)).encode("ascii"))
        data = b""
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _dechunk(body):
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out += body[:size]
        body = body[size + 2:]
