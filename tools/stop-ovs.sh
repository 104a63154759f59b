#!/usr/bin/env bash
# Stops the private Open vSwitch that tools/start-ovs.sh started in DIR (by
# its PID files). The cloud needs this before it starts: a host has one
# userspace datapath (both switches want the tap device "ovs-netdev").
set -euo pipefail
DIR=${1:?usage: stop-ovs.sh DIR}
for d in ovs-vswitchd ovsdb-server; do
    f="$DIR/$d.pid"
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$f"
done
