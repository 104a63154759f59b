"""Python side of the spawn benchmark (benches/compare.rs starts it).

    .venv/bin/python benchmarks/spawn_worker.py driver     # nova + the driver
    target/bench-venv/bin/python benchmarks/spawn_worker.py docker

A long-lived worker, so that interpreter start-up and imports are not timed
and the paths can be interleaved boot by boot with the Rust ones. One JSON
request per line on stdin, one JSON answer per line on stdout (logs go to
stderr):

    {"op": "spawn", "variant": V, "count": C}  C spawns at once -> {"lat": [s...], "wall": s}
    {"op": "destroy", "variant": V}            all of V's at once -> same
    {"op": "scale", "n": N, ...}               driver only: N instances, queries, RSS
    {"op": "scale_down"}                       driver only: destroys them
    {"op": "quit"}

Everything a worker creates is removed when it quits, on an error and on
SIGINT/SIGTERM.
"""

import atexit
import concurrent.futures
import json
import pathlib
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[1]
IMAGE = "novadock-test/busybox:latest"
MEMORY_MB = 64
# The limits the service gives a 64 MiB, 1 vCPU flavor, for the other paths.
LIMITS = {"memory": "64m", "cpu_shares": 1024, "pids_limit": 1024,
          "security_opt": ["no-new-privileges:true"],
          "log": {"max-size": "10m", "max-file": "2"}}
VIF_NET = "198.18.200.0/21"
VIF_GW = "198.18.200.1"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def timed_all(fn, items):
    """Runs fn(item) for every item at once; per-item latencies and wall time."""
    def one(item):
        t0 = time.perf_counter()
        fn(item)
        return time.perf_counter() - t0
    t0 = time.perf_counter()
    if len(items) == 1:
        lat = [one(items[0])]
    else:
        with concurrent.futures.ThreadPoolExecutor(len(items)) as pool:
            lat = list(pool.map(one, items))
    return {"lat": lat, "wall": time.perf_counter() - t0}


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class DockerWorker:
    """`docker run -d` and the Docker SDK's low-level client (create_container
    + start, remove_container: what nova-docker and Zun call)."""

    variants = ("docker-run", "sdk")

    def __init__(self, run_id):
        import docker
        self.docker = docker
        self.run_id = run_id
        # A pool as large as the largest burst: no request waits for a connection.
        self.api = docker.APIClient(base_url="unix:///var/run/docker.sock",
                                    version="auto", max_pool_size=64)
        self.alive = {v: [] for v in self.variants}
        self.counter = 0

    def _name(self, variant):
        self.counter += 1
        return f"ndbench-{variant}-{self.run_id}-{self.counter}"

    def spawn(self, variant, count):
        names = [self._name(variant) for _ in range(count)]
        fn = self._run if variant == "docker-run" else self._sdk
        self.alive[variant].extend(names)
        return timed_all(fn, names)

    def _labels(self, name):
        return {"ndbench.run": self.run_id, "ndbench.name": name}

    def _run(self, name):
        cmd = ["docker", "run", "-d", "--name", name, "--hostname", "ndbench",
               "--memory", LIMITS["memory"], "--memory-swap", LIMITS["memory"],
               "--cpu-shares", str(LIMITS["cpu_shares"]),
               "--pids-limit", str(LIMITS["pids_limit"]),
               "--security-opt", LIMITS["security_opt"][0], "--restart", "no",
               "--log-driver", "json-file"]
        for k, v in LIMITS["log"].items():
            cmd += ["--log-opt", f"{k}={v}"]
        for k, v in self._labels(name).items():
            cmd += ["--label", f"{k}={v}"]
        subprocess.run(cmd + [IMAGE], check=True, stdout=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)

    def _sdk(self, name):
        hc = self.api.create_host_config(
            mem_limit=LIMITS["memory"], memswap_limit=LIMITS["memory"],
            cpu_shares=LIMITS["cpu_shares"], pids_limit=LIMITS["pids_limit"],
            security_opt=LIMITS["security_opt"], restart_policy={"Name": "no"},
            log_config=self.docker.types.LogConfig(type="json-file",
                                                   config=LIMITS["log"]),
            network_mode="bridge")
        c = self.api.create_container(IMAGE, name=name, hostname="ndbench",
                                      labels=self._labels(name), host_config=hc)
        self.api.start(c["Id"])

    def destroy(self, variant):
        names, self.alive[variant] = self.alive[variant], []
        if variant == "docker-run":
            fn = self._rm_cli
        else:
            def fn(n):
                self.api.remove_container(n, v=True, force=True)
        return timed_all(fn, names) if names else {"lat": [], "wall": 0.0}

    @staticmethod
    def _rm_cli(name):
        subprocess.run(["docker", "rm", "-f", "-v", name], check=True,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def cleanup(self):
        names = [n for v in self.variants for n in self.alive[v]]
        for v in self.variants:
            self.alive[v] = []
        if names:
            subprocess.run(["docker", "rm", "-f", "-v", *names], check=False,
                           capture_output=True, stdin=subprocess.DEVNULL)

    def info(self):
        return {"docker_sdk": self.docker.__version__}


class DriverWorker:
    """nova.virt.novadock.DockerDriver through real services: one as deployed
    (startup_check_seconds at its default, 0.05 s) and one with the check off, to
    show what the check costs."""

    variants = ("driver", "driver-nocheck", "driver-novif-nocheck")

    def __init__(self, run_id):
        sys.path.insert(0, str(REPO / "nova_shim"))
        # First: the tests package settles eventlet (native threads) for nova.
        from tests import service  # noqa: I001  (before nova, on purpose)
        from nova import context as nova_context
        from nova import objects
        from nova.network import model as network_model
        import nova.virt.novadock  # noqa: F401  (registers [novadock] options)

        objects.register_all()
        self.objects, self.netmodel, self.service = objects, network_model, service
        self.run_id = run_id
        self.ctxt = nova_context.get_admin_context()
        service.require_test_image()
        self.image_id = str(uuid.uuid4())
        self.image_ref = service.tag_test_image(self.image_id)
        self.started = []
        try:
            self._start_services()
        except BaseException:
            for svc in self.started:
                svc.stop()
            service.untag(self.image_ref)
            raise
        self.image_meta = objects.ImageMeta.from_dict({
            "id": self.image_id, "name": "ndbench", "container_format": "docker",
            "disk_format": "raw", "properties": {}})

    def _service(self, extra=""):
        svc = self.service.NovadockService()
        self.started.append(svc)
        svc.start()
        if extra:
            with open(svc.conf_path, "a", encoding="utf-8") as f:
                f.write(extra + "\n")
            svc.restart(signal.SIGTERM)
        return svc

    def _start_services(self):
        from nova.virt import driver as virt_driver
        from nova.virt import fake
        from nova.virt.novadock import client as nd_client
        from nova.virt.novadock import conf as nd_conf

        self.svc = self._service()
        time.sleep(1)  # start-up reconciliation done: idle
        self.rss_start = rss_kib(self.svc.proc.pid)
        if not self.svc.ovsdb:
            raise RuntimeError("no Open vSwitch: the driver path needs br-int")
        self.svc_nocheck = self._service("startup_check_seconds = 0")
        # The scale test's service: as deployed but without Docker's bridge,
        # whose /24 holds only ~250 containers (eth0 is Docker's, not Nova's).
        self.svc_scale = self._service("docker_network = none")
        time.sleep(1)
        self.rss_scale_start = rss_kib(self.svc_scale.proc.pid)
        nd_conf.CONF.set_override("socket_path", self.svc.socket_path, "novadock")
        # The bench's in-memory instances have no database for Nova's metadata
        # code, and the raw paths mount no config drive either.
        nd_conf.CONF.set_override("config_drive", False, "novadock")
        self.drivers = {}
        for variant, svc in (("driver", self.svc),
                             ("driver-nocheck", self.svc_nocheck),
                             ("driver-novif-nocheck", self.svc_nocheck),
                             ("scale", self.svc_scale)):
            d = virt_driver.load_compute_driver(fake.FakeVirtAPI(),
                                                "novadock.DockerDriver")
            d._api = nd_client.NovadockClient(socket_path=svc.socket_path)
            self.drivers[variant] = d
        self.alive = {v: [] for v in self.drivers}
        self.vif_host = 0

    def info(self):
        import nova.version
        return {"nova": nova.version.version_string(),
                "service_pid": self.svc.proc.pid, "binary": self.svc.binary,
                "rss_start_kib": self.rss_start, "image_id": self.image_id,
                "scale_rss_start_kib": self.rss_scale_start}

    def _instance(self):
        objects = self.objects
        inst_uuid = str(uuid.uuid4())
        flavor = objects.Flavor(
            name="m.bench", flavorid="m.bench", memory_mb=MEMORY_MB, vcpus=1,
            root_gb=1, ephemeral_gb=0, swap=0, extra_specs={})
        # The project id labels the container: the last-resort cleanup uses it.
        return objects.Instance(
            self.ctxt, id=random.randint(1, 2**31 - 1), uuid=inst_uuid,
            hostname="ndbench", display_name="ndbench",
            project_id=f"ndbench-{self.run_id}", user_id="ndbench",
            metadata={}, flavor=flavor, image_ref=self.image_id,
            system_metadata={})

    def _network_info(self):
        nm = self.netmodel
        # Distinct addresses in 198.18.200.0/21 (2045 hosts), as Neutron would give.
        self.vif_host += 1
        h = 2 + self.vif_host % 2040
        address = f"198.18.{200 + h // 256}.{h % 256}"
        port_id = str(uuid.uuid4())
        subnet = nm.Subnet(cidr=VIF_NET, gateway=nm.IP(address=VIF_GW, type="gateway"),
                           ips=[nm.FixedIP(address=address)], dns=[], routes=[])
        network = nm.Network(id=str(uuid.uuid4()), bridge="br-int", label="ndbench",
                             subnets=[subnet], meta={"mtu": 1400})
        vif = nm.VIF(id=port_id, address=(
            f"fa:16:3e:{h >> 8:02x}:{h & 255:02x}:{random.randint(0, 255):02x}"), network=network, type="ovs",
            devname=("tap" + port_id)[:14], ovs_interfaceid=port_id,
            details={"port_filter": True, "bridge_name": "br-int"}, active=True,
            vnic_type="normal")
        return nm.NetworkInfo([vif])

    def spawn(self, variant, count):
        d = self.drivers[variant]
        with_vif = "novif" not in variant
        items = [(self._instance(), self._network_info() if with_vif else None)
                 for _ in range(count)]
        self.alive[variant].extend(items)

        def one(item):
            d.spawn(self.ctxt, item[0], self.image_meta, [], None, {},
                    network_info=item[1], power_on=True)
        return timed_all(one, items)

    def destroy(self, variant):
        d = self.drivers[variant]
        items, self.alive[variant] = self.alive[variant], []
        if not items:
            return {"lat": [], "wall": 0.0}
        return timed_all(lambda i: d.destroy(self.ctxt, i[0], i[1]), items)

    def scale(self, n, get_info_calls, repeats, parallel):
        """N running instances (no VIFs) through the service as deployed; the
        queries Nova's periodic tasks make, and the service's memory."""
        d = self.drivers["scale"]
        pid = self.svc_scale.proc.pid
        self.scale_parallel = parallel
        out = {"n": n, "rss_before_kib": rss_kib(pid)}
        # The same query before the N boot, to show how it grows with N.
        t = time.perf_counter()
        d.get_available_resource("ndbench")
        out["get_available_resource_before_s"] = time.perf_counter() - t
        out["listed_before"] = len(d.list_instances())
        items = [(self._instance(), None) for _ in range(n)]
        self.alive["scale"].extend(items)
        # One sleep, not the image's loop forking `sleep 1` each second: 1000
        # of those would load the shared 2 cores and skew every figure.
        meta = self.objects.ImageMeta.from_dict({
            "id": self.image_id, "name": "ndbench", "container_format": "docker",
            "disk_format": "raw", "properties": {"os_command_line": "sleep 86400"}})
        t0 = time.perf_counter()
        # Boot in waves: the service and dockerd share 2 cores with this.
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            list(pool.map(lambda i: d.spawn(self.ctxt, i[0], meta, [],
                                            None, {}, power_on=True), items))
        out["boot_all_s"] = time.perf_counter() - t0
        time.sleep(2)  # let the event stream settle before measuring
        names = d.list_instances()
        mine = {i[0].uuid for i in items}
        out["listed"] = len(names)
        out["mine_listed"] = len(mine & set(d.list_instance_uuids()))
        lt = []
        for _ in range(repeats):
            t = time.perf_counter()
            d.list_instances()
            lt.append(time.perf_counter() - t)
        gi = []
        for _ in range(get_info_calls):
            inst = random.choice(items)[0]
            t = time.perf_counter()
            d.get_info(inst)
            gi.append(time.perf_counter() - t)
        ar = []
        for _ in range(repeats):
            t = time.perf_counter()
            d.get_available_resource("ndbench")
            ar.append(time.perf_counter() - t)
        out.update({
            "list_instances_s": statistics.median(lt),
            "get_info_p50_s": pct(gi, 50), "get_info_p99_s": pct(gi, 99),
            "get_available_resource_s": statistics.median(ar),
            "rss_at_n_kib": rss_kib(pid),
        })
        return out

    def scale_down(self):
        """Destroys the scale test's instances, as many at a time as they booted."""
        d = self.drivers["scale"]
        items, self.alive["scale"] = self.alive["scale"], []
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(self.scale_parallel) as pool:
            list(pool.map(lambda i: d.destroy(self.ctxt, i[0], i[1]), items))
        return {"destroy_all_s": time.perf_counter() - t0,
                "rss_after_kib": rss_kib(self.svc_scale.proc.pid)}

    def cleanup(self):
        for variant in self.drivers:
            items, self.alive[variant] = self.alive[variant], []
            for inst, nwinfo in items:
                try:
                    self.drivers[variant].destroy(self.ctxt, inst, nwinfo)
                except Exception as e:  # noqa: BLE001 - the docker sweep below still runs
                    log(f"destroy {inst.uuid}: {e}")
        # Anything the driver could not remove: by the run's project label.
        out = self.service.docker(
            "ps", "-aq", "--filter",
            f"label=org.openstack.nova.project-id=ndbench-{self.run_id}",
            check=False).stdout.split()
        if out:
            self.service.docker("rm", "-f", "-v", *out, check=False)
        self.service.untag(self.image_ref)
        for svc in reversed(self.started):
            svc.stop()


def main():
    global _OUT
    # stdout carries the protocol: whatever else prints goes to stderr.
    _OUT, sys.stdout = sys.stdout, sys.stderr
    kind, run_id = sys.argv[1], sys.argv[2]
    worker = None
    done = False

    def cleanup():
        nonlocal done
        if worker is not None and not done:
            done = True
            worker.cleanup()

    def on_signal(signum, frame):
        cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(cleanup)
    worker = DriverWorker(run_id) if kind == "driver" else DockerWorker(run_id)
    reply({"ready": True, "variants": list(worker.variants), "info": worker.info()})
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "spawn":
                reply(worker.spawn(req["variant"], int(req["count"])))
            elif op == "destroy":
                reply(worker.destroy(req["variant"]))
            elif op == "scale":
                reply(worker.scale(int(req["n"]), int(req["get_info_calls"]),
                                   int(req["repeats"]), int(req["parallel"])))
            elif op == "scale_down":
                reply(worker.scale_down())
            elif op == "quit":
                break
            else:
                reply({"error": f"unknown op {op}"})
        except Exception as e:  # noqa: BLE001 - reported to the orchestrator, which stops
            log(f"{op} failed: {e!r}")
            reply({"error": f"{op}: {e!r}"})
    cleanup()
    reply({"bye": True})


_OUT = sys.stdout


def reply(obj):
    _OUT.write(json.dumps(obj) + "\n")
    _OUT.flush()


if __name__ == "__main__":
    main()
