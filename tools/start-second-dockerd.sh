#!/usr/bin/env bash
# Starts a second dockerd beside the machine's one, for tests that need two
# compute hosts with an engine each. Idempotent; prints its docker_url.
#   tools/start-second-dockerd.sh          start (or find running) and print the URL
#   tools/start-second-dockerd.sh stop     stop it by its PID (its containers stop too)
# Everything of its own: socket, exec-root and pidfile under $RUN_DIR, images
# and containers under $DATA_DIR, its own containerd (namespaced), and the
# Linux bridge $BRIDGE in 198.19.254.0/24 (inside 198.18.0.0/15) for the
# containers' eth0. No iptables rules: the machine's dockerd owns those.
# The test image is copied in from the machine's engine.
set -euo pipefail
RUN_DIR=${NOVADOCK_DOCKER2_RUN_DIR:-/run/novadock-test-docker2}
DATA_DIR=${NOVADOCK_DOCKER2_DATA_DIR:-/var/lib/novadock-test-docker2}
BRIDGE=${NOVADOCK_DOCKER2_BRIDGE:-nvdk-docker2}
BRIDGE_ADDR=198.19.254.1/24
TEST_IMAGE=novadock-test/busybox:latest
SOCK="$RUN_DIR/docker.sock"
URL="unix://$SOCK"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$RUN_DIR/dockerd.log"

alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
d2() { docker -H "$URL" "$@"; }

if [ "${1:-}" = stop ]; then
    if alive; then
        pid=$(cat "$PIDFILE")
        kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "dockerd $pid did not stop within 30 s" >&2
            exit 1
        fi
    fi
    if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
    exit 0
fi

mkdir -p "$RUN_DIR" "$DATA_DIR"
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
fi
# (Output captured first: grep -q under pipefail would fail on SIGPIPE.)
addrs=$(ip -4 -o addr show dev "$BRIDGE")
[[ "$addrs" == *" ${BRIDGE_ADDR} "* ]] || ip addr add "$BRIDGE_ADDR" dev "$BRIDGE"
ip link set "$BRIDGE" up

if ! alive; then
    # The main dockerd's storage driver, unless it needs a filesystem (btrfs)
    # this data directory is not on.
    driver=$(docker info --format '{{.Driver}}' 2>/dev/null || echo overlay2)
    mkdir -p "$DATA_DIR"
    if [ "$driver" = btrfs ] && [ "$(stat -f -c %T "$DATA_DIR")" != btrfs ]; then
        driver=overlay2
    fi
    nohup dockerd \
        -H "$URL" \
        --data-root "$DATA_DIR" \
        --exec-root "$RUN_DIR/exec" \
        --pidfile "$PIDFILE" \
        --containerd-namespace novadock-docker2 \
        --containerd-plugins-namespace novadock-docker2-plugins \
        --storage-driver "$driver" \
        -b "$BRIDGE" \
        --iptables=false --ip-masq=false --ip-forward=false \
        --live-restore \
        >"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
        d2 info >/dev/null 2>&1 && break
        sleep 0.5
    done
    d2 info >/dev/null 2>&1 || { echo "second dockerd did not answer on $URL within 60 s:" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

if ! d2 image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
    docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 \
        || { echo "$TEST_IMAGE is missing in the machine's engine: run tools/build-test-image.sh" >&2; exit 1; }
    docker save "$TEST_IMAGE" | d2 load >/dev/null
fi
echo "$URL"
