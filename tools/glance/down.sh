#!/usr/bin/env bash
# Stops the glance-api that tools/glance/up.sh DIR started, by the PID in
# DIR/glance-api.pid. A glance-api that is not running is not an error.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
PIDFILE="$1/glance-api.pid"
[ -f "$PIDFILE" ] || exit 0
pid=$(cat "$PIDFILE")
case "$pid" in ''|*[!0-9]*) echo "down.sh: $PIDFILE holds no PID" >&2; exit 1 ;; esac
kill -TERM "$pid" 2>/dev/null || { rm -f "$PIDFILE"; exit 0; }
for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; exit 0; }
    sleep 0.1
done
echo "down.sh: glance-api (PID $pid) ignored SIGTERM for 15 s, killing it" >&2
kill -KILL "$pid" 2>/dev/null || true
rm -f "$PIDFILE"
