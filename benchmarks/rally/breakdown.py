"""Where a boot's time goes, from the one-machine cloud's logs: for every
instance nova-compute built since SINCE (default: all), the time in Nova's
API, in scheduling and dispatch, in the compute manager before the driver
(Neutron's port binding), in the novadock service's spawn (create, then
start with its VIFs plugged), waiting for Neutron's network-vif-plugged,
and in the compute manager after. Prints the median and p90 of each part,
separately for boots with and without a Nova network; the same for the
boots of Nova's fake driver on the bench's fake host
(nova-compute-fake-bench.log, benchmarks/rally/run.sh), whose time from
the claim to built is Nova's own; then the service's own time for each
kind of request (stop, start, reboot, delete...).
Usage: breakdown.py LOG_DIR [SINCE [UNTIL], UTC, as 'YYYY-MM-DD HH:MM:SS']"""

import re
import statistics
import sys
from datetime import UTC, datetime

NOVA_TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) ")
REQ = re.compile(r"\[None (req-[0-9a-f-]+) ")
INSTANCE = re.compile(r"\[instance: ([0-9a-f-]{36})\]")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SPAWNED = re.compile(r'^(\S+)Z .*spawned instance="?([0-9a-f-]{36})"? created_ms=(\d+) '
                     r"total_ms=(\d+) vifs=(\d+)")
STARTED = re.compile(r'^(\S+)Z .*started instance="?([0-9a-f-]{36})"? docker_start_ms=(\d+) '
                     r"total_ms=(\d+)")
REQUEST = re.compile(r'^(\S+)Z .*request method=(\w+) path="?([^" ]+)"? status=(\d+) ms=(\d+)')


def nova_time(line):
    m = NOVA_TS.match(line)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=UTC).timestamp()


def read(path):
    with open(path, errors="replace") as f:
        return f.readlines()


def service_time(stamp):
    """The service's log timestamp (RFC 3339 without its Z) in Unix seconds."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def median_p90(values):
    v = sorted(values)
    return statistics.median(v), v[min(len(v) - 1, int(0.9 * len(v)))]


def utc(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def compute_boots(path, floor, ceiling):
    """Per instance a nova-compute log built: its claim (and the request
    that made it), network-vif-plugged, built."""
    boots = {}
    try:
        lines = read(path)
    except FileNotFoundError:
        return boots
    for line in lines:
        t, i, r = nova_time(line), INSTANCE.search(line), REQ.search(line)
        if t is None or i is None or not floor <= t < ceiling:
            continue
        b = boots.setdefault(i.group(1), {})
        if "Claim successful" in line:
            b["claim"], b["req"] = t, r.group(1) if r else None
        elif "network-vif-plugged" in line and "novadock" in line:
            b["plugged"] = t
        elif "seconds to build instance" in line:
            b["built"] = t
    return boots


def boot_row(b, api_span, driver):
    """A boot's parts: Nova's own around the compute host's (`driver`), the
    same frame for novadock's boots and the fake driver's."""
    a0, a1 = api_span
    return {
        "Nova API (POST /servers)": a1 - a0,
        "scheduler, conductor, dispatch": b["claim"] - a1,
        **driver,
        "compute manager, claim to built": b["built"] - b["claim"],
        "total, POST to built": b["built"] - a0,
    }


def add(parts, kind, row):
    for k, v in row.items():
        parts.setdefault(kind, {}).setdefault(k, []).append(v)


def main(log_dir, since=None, until=None):
    floor = utc(since) if since else 0
    ceiling = utc(until) if until else float("inf")
    boots = compute_boots(f"{log_dir}/nova-compute.log", floor, ceiling)
    fake = compute_boots(f"{log_dir}/nova-compute-fake-bench.log", floor, ceiling)
    api = {}
    for line in read(f"{log_dir}/nova-api.log"):
        r = REQ.search(line)
        if r and '"POST /v2.1/servers"' in line and " time: " in line:
            end = nova_time(line)
            api[r.group(1)] = (end - float(line.rsplit(" time: ", 1)[1]), end)
    service_log = read(f"{log_dir}/novadock.log")
    starts = {}
    for line in service_log:
        m = SPAWNED.match(line)
        if m and m.group(2) in boots:
            end = service_time(m.group(1))
            boots[m.group(2)]["spawn"] = (end - int(m.group(4)) / 1000, end, int(m.group(5)))
        m = STARTED.match(line)
        if m:
            starts.setdefault(m.group(2), []).append((service_time(m.group(1)),
                                                     int(m.group(3)) / 1000))
    parts = {}
    for b in fake.values():
        if {"claim", "built"} <= b.keys() and b.get("req") in api:
            add(parts, "Nova's fake driver", boot_row(b, api[b["req"]], {}))
    for i, b in boots.items():
        if not {"claim", "built", "spawn"} <= b.keys() or b.get("req") not in api:
            continue
        s0, s1, vifs = b["spawn"]
        plugged = b.get("plugged", s1)
        # Docker's own start call within the spawn (the service's "started"
        # line; None for a service that does not log it).
        docker = [d for t, d in starts.get(i, []) if s0 <= t <= s1 + 0.01]
        driver = {
            "compute manager before the driver (port binding)": s0 - b["claim"],
            "novadock service: spawn (create, start, VIFs)": s1 - s0,
            "of the spawn, Docker's start call": docker[0] if docker else None,
            "waiting for Neutron's network-vif-plugged": max(0.0, plugged - s1),
            "compute manager after the driver": b["built"] - max(plugged, s1),
        }
        kind = "with a Nova network" if vifs else "without a network"
        add(parts, kind, boot_row(b, api[b["req"]], driver))
    for kind, rows in parts.items():
        n = len(next(iter(rows.values())))
        print(f"\n{kind} ({n} boots): seconds, median / p90")
        print("| part | median | p90 |\n|---|---|---|")
        for k, v in rows.items():
            v = [x for x in v if x is not None]
            if not v:
                continue
            median, p90 = median_p90(v)
            print(f"| {k} | {median:.3f} | {p90:.3f} |")
    service_requests(service_log, floor, ceiling)
    docker = [d for v in starts.values() for t, d in v if floor <= t < ceiling]
    if docker:
        median, p90 = median_p90(docker)
        print(f"\nDocker's start call in the service's starts (spawn, power-on, reboot; "
              f"{len(docker)}): median {median:.3f} s, p90 {p90:.3f} s")


def service_requests(service_log, floor, ceiling):
    """The novadock service's own time per kind of request (its INFO log
    line per action): its share of what each Nova operation waits for."""
    times = {}
    for line in service_log:
        m = REQUEST.match(line)
        if not m:
            continue
        t = service_time(m.group(1))
        if not floor <= t < ceiling:
            continue
        route = f"{m.group(2)} {UUID.sub('{uuid}', m.group(3))}"
        times.setdefault(route, []).append(int(m.group(5)) / 1000)
    print("\nthe novadock service's time per request: seconds, median / p90")
    print("| request | n | median | p90 |\n|---|---|---|---|")
    for route, v in sorted(times.items()):
        median, p90 = median_p90(v)
        print(f"| {route} | {len(v)} | {median:.3f} | {p90:.3f} |")


if __name__ == "__main__":
    main(*sys.argv[1:4])
