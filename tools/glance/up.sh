#!/usr/bin/env bash
# Runs a real glance-api (glance 33 from PyPI, venv .venv-glance made by
# tools/glance/setup.sh) on 127.0.0.1:PORT, without keystone, with the
# novadock glance_store driver as the default store talking to the novadock
# service on SOCKET, and a file store beside it.
#
#   tools/glance/up.sh DIR PORT SOCKET
#
# DIR holds everything: glance-api.conf, the SQLite database, the file
# store, staging, logs (glance-api.log, access.log: one line per request),
# and glance-api.pid (gunicorn's
# master PID; tools/glance/down.sh DIR stops it). Prints the endpoint URL.
# Nothing is downloaded; the only traffic is to 127.0.0.1.
set -euo pipefail

usage() { echo "usage: $0 DIR PORT SOCKET" >&2; exit 2; }
[ $# -eq 3 ] || usage
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tools/glance"
VENV="${NOVADOCK_GLANCE_VENV:-$ROOT/.venv-glance}"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
PORT=$2
SOCKET=$3
case "$PORT" in ''|*[!0-9]*) usage ;; esac
case "$SOCKET" in /*) ;; *) SOCKET="$(pwd)/$SOCKET" ;; esac

fail() { echo "tools/glance/up.sh: $*" >&2; exit 1; }
[ -x "$VENV/bin/gunicorn" ] && [ -x "$VENV/bin/glance-manage" ] \
    || fail "$VENV is missing glance or gunicorn: run tools/glance/setup.sh"
PASTE_INI="$VENV/etc/glance/glance-api-paste.ini"
[ -f "$PASTE_INI" ] || fail "$PASTE_INI is missing (glance's wheel ships it)"

PIDFILE="$DIR/glance-api.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    fail "glance-api already runs from $DIR (PID $(cat "$PIDFILE")): tools/glance/down.sh $DIR"
fi
rm -f "$PIDFILE"
mkdir -p "$DIR/images" "$DIR/staging" "$DIR/tasks" "$DIR/cache" "$DIR/locks"

# No keystone: [paste_deploy] flavor stays unset, so glance-api-paste.ini's
# "default" pipeline runs, whose unauthenticated-context middleware gives
# every request a context with is_admin=True but no user, project or roles.
# Glance's policy defaults ask for the admin role (context_is_admin =
# role:admin) and a project scope: policy.yaml makes context_is_admin always
# true, and enforce_scope is off, so every request may do everything.
cat > "$DIR/policy.yaml" <<POLICY
"context_is_admin": "@"
POLICY
cat > "$DIR/glance-api.conf" <<CONF
[DEFAULT]
enabled_backends = novadock:novadock, file:file
worker_self_reference_url = http://127.0.0.1:$PORT
image_cache_dir = $DIR/cache
show_image_direct_url = false
show_multiple_locations = false
enabled_import_methods = [glance-direct]
log_file = $DIR/glance-api.log
debug = ${NOVADOCK_GLANCE_DEBUG:-false}

[database]
connection = sqlite:///$DIR/glance.sqlite

[paste_deploy]
config_file = $PASTE_INI

[glance_store]
default_backend = novadock

[novadock]
store_description = Docker engine of this host, through the novadock service
novadock_socket_path = $SOCKET

[file]
store_description = Local files in $DIR/images
filesystem_store_datadir = $DIR/images

[os_glance_staging_store]
filesystem_store_datadir = $DIR/staging

[os_glance_tasks_store]
filesystem_store_datadir = $DIR/tasks

[oslo_policy]
policy_file = $DIR/policy.yaml
enforce_scope = false

[oslo_concurrency]
lock_path = $DIR/locks
CONF

"$VENV/bin/glance-manage" --config-file "$DIR/glance-api.conf" db_sync \
    >"$DIR/db_sync.log" 2>&1 \
    || { tail -20 "$DIR/db_sync.log" >&2; fail "glance-manage db_sync failed (log: $DIR/db_sync.log)"; }

# The master's own PID file is the one down.sh reads.
OS_GLANCE_CONFIG_DIR="$DIR" nohup "$VENV/bin/gunicorn" \
    -w 1 -k gthread --threads 8 --no-control-socket \
    --timeout 600 --graceful-timeout 10 \
    -b "127.0.0.1:$PORT" --pid "$PIDFILE" \
    --access-logfile "$DIR/access.log" \
    --chdir "$HERE" glance_wsgi:application \
    </dev/null >"$DIR/gunicorn.log" 2>&1 &
master=$!

URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 600); do
    if ! kill -0 "$master" 2>/dev/null; then
        tail -30 "$DIR/gunicorn.log" >&2
        [ -f "$DIR/glance-api.log" ] && tail -30 "$DIR/glance-api.log" >&2
        fail "glance-api exited at start (logs: $DIR/gunicorn.log, $DIR/glance-api.log)"
    fi
    code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 5 "$URL/" || true)
    if [ -n "$code" ] && [ "$code" != 000 ] && [ -s "$PIDFILE" ]; then
        echo "$URL"
        exit 0
    fi
    sleep 0.2
done
kill "$master" 2>/dev/null || true
fail "glance-api did not answer on $URL within 120 s (log: $DIR/gunicorn.log)"
