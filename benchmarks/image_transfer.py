"""Moves a 1 GiB container image Glance -> engine and engine -> Glance through
the novadock service, with a real glance-api on loopback, and prints the
throughput of each direction and the service's memory (idle, peak, peak above
idle). Streaming means the peak must not grow with the image: less than
64 MiB above idle.

    .venv-glance/bin/python benchmarks/image_transfer.py [--size-mib 1024]

Run it alone on the host: it loads a large image into the engine and
removes what it made when it ends.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "glance_backend"))
from tests import stack

MIB = 1 << 20
LIMIT_MIB = 64


def rss_kib(pid, field="VmRSS"):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


class PeakSampler(threading.Thread):
    """Samples the service's resident memory every 20 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)


def glance(url, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method)
    req.add_header("X-Auth-Token", "novadock-bench")
    if isinstance(body, dict):
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=3600) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def service_post(socket_path, path, body):
    """POST JSON on the service's socket with a long timeout."""
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(3600)
            self.sock.connect(socket_path)

    c = Conn("novadock")
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.read()
    if r.status >= 300:
        raise RuntimeError(f"POST {path}: {r.status} {out[:300]!r}")
    return json.loads(out) if out else None


def timed(what, size, fn, pid):
    sampler = PeakSampler(pid)
    sampler.start()
    t0 = time.monotonic()
    fn()
    seconds = time.monotonic() - t0
    sampler.stop.set()
    sampler.join()
    print(f"{what:<28} {size / MIB:8.0f} MiB in {seconds:7.2f} s = "
          f"{size / MIB / seconds:8.1f} MiB/s, service peak RSS "
          f"{sampler.peak / 1024:6.1f} MiB")
    return sampler.peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    args = ap.parse_args()
    st = stack.Stack().start()
    tag = f"novadock-bench/transfer:{os.getpid()}"
    work = tempfile.mkdtemp(prefix="novadock-bench-")
    try:
        root = pathlib.Path(work, "root")
        root.mkdir()
        with open(root / "payload", "wb") as payload:
            subprocess.run(["head", "-c", str(args.size_mib * MIB), "/dev/urandom"],
                           stdout=payload, check=True)
        subprocess.run(f"tar -C {root} -c . | docker import - {tag}", shell=True,
                       check=True, stdout=subprocess.DEVNULL)
        tarball = pathlib.Path(work, "image.tar")
        subprocess.run(["docker", "save", "-o", str(tarball), tag], check=True)
        os.remove(root / "payload")
        size = tarball.stat().st_size
        subprocess.run(["docker", "rmi", tag], check=True, stdout=subprocess.DEVNULL)

        # Glance holds the data in its file store; the engine does not have it.
        image = glance(st.glance_url, "POST", "/v2/images", {
            "name": "novadock-bench", "container_format": "docker",
            "disk_format": "raw"})
        with open(tarball, "rb") as f:
            glance(st.glance_url, "PUT", f"/v2/images/{image['id']}/file", f, {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(size), "X-Image-Meta-Store": "file"})
        os.remove(tarball)
        access = {"endpoint": st.glance_url, "token": "novadock-bench"}
        pid = st.proc.pid
        idle = rss_kib(pid)
        print(f"image: {size / MIB:.0f} MiB docker save tarball; "
              f"service idle RSS {idle / 1024:.1f} MiB")

        down = timed("Glance -> engine (boot)", size, lambda: service_post(
            st.socket_path, f"/v1/images/{image['id']}/fetch", {"glance": access}),
            pid)
        # Back: the loaded image as a new Glance image, streamed from the engine.
        back = glance(st.glance_url, "POST", "/v2/images", {"name": "novadock-bench-back"})
        subprocess.run(["docker", "tag", f"novadock-glance:{image['id']}",
                        f"novadock-glance:{back['id']}"], check=True)
        up = timed("engine -> Glance (snapshot)", size, lambda: service_post(
            st.socket_path, f"/v1/images/{back['id']}/upload", {"glance": access}),
            pid)
        peak = max(down, up)
        above = (peak - idle) / 1024
        verdict = "PASS" if above < LIMIT_MIB else "FAIL"
        print(f"service memory: idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} "
              f"MiB, {above:.1f} MiB above idle (limit {LIMIT_MIB}): {verdict}")
        for gid in (image["id"], back["id"]):
            glance(st.glance_url, "DELETE", f"/v2/images/{gid}")
            subprocess.run(["docker", "rmi", f"novadock-glance:{gid}"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return 0 if verdict == "PASS" else 1
    finally:
        subprocess.run(["rm", "-rf", work], check=False)
        st.stop()


if __name__ == "__main__":
    sys.exit(main())
