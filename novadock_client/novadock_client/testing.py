"""Test support: a real ``novadock serve`` for a test process.

``Service(binary, host, options).start()`` writes a nova.conf in a temporary
directory (``[DEFAULT] host``, ``[novadock] socket_path`` in that directory
and the given ``[novadock]`` options), starts the service with its output in
``novadock.log`` there and waits until its socket (and any ``tcp_ports``)
answer. ``stop()`` ends it by its PID and removes the directory (kept with
``NOVADOCK_KEEP_TMP``). ``once(key, make)`` gives every test of a process the
same one.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

START_TIMEOUT = 60.0


class SetupError(RuntimeError):
    """Something the tests need is missing or did not start."""


def socket_answers(path):
    """Whether something accepts connections on the Unix socket ``path``."""
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


def tcp_answers(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port():
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """One ``novadock serve`` on a socket in a temporary directory."""

    def __init__(self, binary, host, options=None, tcp_ports=(),
                 prefix="novadock-test-", sections=None):
        self.binary = str(binary)
        self.host = host
        self.options = dict(options or {})
        # Other sections of nova.conf the service reads (serial_console...).
        self.sections = {k: dict(v) for k, v in (sections or {}).items()}
        self.tcp_ports = tuple(tcp_ports)
        self.prefix = prefix
        self.tmpdir = None
        self.socket_path = None
        self.conf_path = None
        self.log_path = None
        self.proc = None
        self._log = None

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise SetupError(
                f"novadock binary {self.binary} not found or not executable "
                f"(build it with cargo build, or set NOVADOCK_BIN)")
        self.tmpdir = tempfile.mkdtemp(prefix=self.prefix)
        self.socket_path = os.path.join(self.tmpdir, "novadock.sock")
        self.conf_path = os.path.join(self.tmpdir, "nova.conf")
        self.log_path = os.path.join(self.tmpdir, "novadock.log")
        lines = ["[DEFAULT]", f"host = {self.host}", "", "[novadock]",
                 f"socket_path = {self.socket_path}"]
        lines += [f"{k} = {v}" for k, v in self.options.items()]
        for section, options in self.sections.items():
            lines += ["", f"[{section}]"]
            lines += [f"{k} = {v}" for k, v in options.items()]
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self._log = open(self.log_path, "wb")
        return self._launch()

    def restart(self, sig=signal.SIGKILL):
        """Kill the service (by its PID) and start it again on the same
        configuration, as a crash and a supervisor restart would."""
        os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=15)
        return self._launch()

    def _launch(self):
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
                raise SetupError(
                    f"novadock serve exited with {self.proc.returncode} at "
                    f"start:\n{self.log_tail()}")
            if socket_answers(self.socket_path) and all(
                    tcp_answers(p) for p in self.tcp_ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise SetupError(f"novadock serve did not open {self.socket_path} "
                         f"(and ports {list(self.tcp_ports)}) within "
                         f"{START_TIMEOUT:g} s")

    def alive(self):
        """Raise if the service died: later failures would only mislead."""
        if self.proc is None or self.proc.poll() is not None:
            raise SetupError(f"novadock serve died:\n{self.log_tail()}")
        return self

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except (OSError, TypeError):
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


_ONCE = {}
_ONCE_LOCK = threading.Lock()


def once(key, make):
    """The process's one ``make()`` for ``key``, made on first use."""
    with _ONCE_LOCK:
        if key not in _ONCE:
            _ONCE[key] = make()
        return _ONCE[key]


def docker(*args, check=True, timeout=120, input=None):
    """The ``docker`` CLI, as a user of the host runs it; stdout and stderr
    as text."""
    p = subprocess.run(["docker", *args], capture_output=True, timeout=timeout,
                       input=input, stdin=None if input is not None
                       else subprocess.DEVNULL)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise SetupError(f"docker {' '.join(args)} failed ({p.returncode}): "
                         f"{p.stderr.strip()}")
    return p


def serve_once(path, handler):
    """A stand-in for what a real service never does (hang, answer garbage):
    a Unix socket at ``path`` whose first connection is handed to
    ``handler(conn)`` on a thread. Returns ``stop()``, which closes it."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    done = threading.Event()

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            handler(conn)
            done.wait(5)
    threading.Thread(target=serve, daemon=True).start()

    def stop():
        done.set()
        srv.close()
    return stop
