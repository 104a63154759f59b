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
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "novadock"
UP = REPO / "tools" / "glance" / "up.sh"
DOWN = REPO / "tools" / "glance" / "down.sh"
VENV_BIN = pathlib.Path(sys.executable).parent
TEST_IMAGE = "novadock-test/busybox:latest"
GLANCE_TAG = "novadock-glance:{}"
# Beside GLANCE_TAG on what the novadock store keeps.
STORE_TAG = "novadock-glance-store:{}"
START_TIMEOUT = 60.0

# Traffic to the loopback servers must never go through a proxy.
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"


class StackError(RuntimeError):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _socket_answers(path):
    if not os.path.exists(path):
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _tcp_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Stack:
    def __init__(self):
        self.binary = str(os.environ.get("NOVADOCK_BIN") or DEFAULT_BIN)
        self.tmpdir = tempfile.mkdtemp(prefix="novadock-glance-test-")
        self.socket_path = os.path.join(self.tmpdir, "novadock.sock")
        self.conf_path = os.path.join(self.tmpdir, "nova.conf")
        self.log_path = os.path.join(self.tmpdir, "novadock.log")
        self.glance_dir = os.path.join(self.tmpdir, "glance")
        self.facade_port = free_port()
        self.facade_url = "http://127.0.0.1:%d" % self.facade_port
        self.glance_url = None
        self.proc = None
        self._log = None

    def start(self):
        for tool in ("openstack", "glance-manage", "gunicorn"):
            if not (VENV_BIN / tool).exists():
                raise StackError(
                    "%s has no %s: run the tests with the glance venv's python "
                    "(tools/glance/setup.sh, then .venv-glance/bin/python -m "
                    "unittest ...)" % (VENV_BIN, tool))
        _check_installed_driver()
        if not os.access(self.binary, os.X_OK):
            raise StackError("novadock binary %s not found or not executable "
                             "(cargo build, or set NOVADOCK_BIN)" % self.binary)
        p = docker("image", "inspect", TEST_IMAGE, check=False)
        if p.returncode != 0:
            raise StackError("test image %s is missing: tools/build-test-image.sh "
                             "(%s)" % (TEST_IMAGE, p.stderr.strip()))
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write("[DEFAULT]\nhost = novadock-glance-tests\n\n"
                    "[novadock]\nsocket_path = %s\n"
                    "glance_facade_listen = 127.0.0.1:%d\n"
                    # Like the glance-api beside it: no Keystone here.
                    "glance_facade_auth_strategy = noauth\n"
                    % (self.socket_path, self.facade_port))
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--config-file", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not (_socket_answers(self.socket_path)
                   and _tcp_answers(self.facade_port)):
            if self.proc.poll() is not None:
                raise StackError("novadock serve exited with %s at start:\n%s"
                                 % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise StackError(
                    "novadock serve did not open %s and %s within %g s:\n%s"
                    % (self.socket_path, self.facade_url, START_TIMEOUT,
                       self.log_tail()))
            time.sleep(0.05)
        port = free_port()
        p = subprocess.run([str(UP), self.glance_dir, str(port), self.socket_path],
                           capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise StackError("tools/glance/up.sh failed (%d):\n%s%s"
                             % (p.returncode, p.stdout, p.stderr))
        self.glance_url = p.stdout.strip().splitlines()[-1]
        return self

    def alive(self):
        if self.proc is None or self.proc.poll() is not None:
            raise StackError("novadock serve died:\n%s" % self.log_tail())

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def glance_log_tail(self, n=40):
        try:
            with open(os.path.join(self.glance_dir, "glance-api.log"), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def stop(self):
        if os.path.isdir(self.glance_dir):
            subprocess.run([str(DOWN), self.glance_dir], timeout=60,
                           stdin=subprocess.DEVNULL, check=False)
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
        if not os.environ.get("NOVADOCK_KEEP_TMP"):
            subprocess.run(["rm", "-rf", self.tmpdir], check=False)


def _check_installed_driver():
    """glance-api and these tests load the driver installed in the venv: it
    must be the tree's, or the tests would test something else."""
    import novadock_glance_store

    installed = pathlib.Path(novadock_glance_store.__file__).parent
    tree = REPO / "glance_backend" / "novadock_glance_store"
    for src in sorted(tree.glob("*.py")):
        other = installed / src.name
        if installed == tree:
            break
        if not other.exists() or other.read_bytes() != src.read_bytes():
            raise StackError(
                "the novadock driver installed in %s differs from the tree "
                "(%s): run tools/glance/setup.sh" % (installed, src.name))


_STACK = None
_LOCK = threading.Lock()


def get_stack():
    global _STACK
    with _LOCK:
        if _STACK is None:
            stack = Stack()
            atexit.register(stack.stop)
            _STACK = stack.start()
        _STACK.alive()
        return _STACK


# -- what a user of the host runs ---------------------------------------------

def docker(*args, check=True, timeout=120, input=None):
    p = subprocess.run(["docker", *args], capture_output=True, timeout=timeout,
                       input=input, stdin=None if input is not None
                       else subprocess.DEVNULL)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise StackError("docker %s failed (%d): %s"
                         % (" ".join(args), p.returncode, p.stderr.strip()))
    return p


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
