# shellcheck shell=bash disable=SC2034
# Shared settings and helpers of the novadock cloud (cloud/up.sh, cloud/down.sh);
# a DevStack plugin can source these files too. Everything the cloud makes
# lives under $CLOUD_DIR: venv/, etc/, log/, run/ (PID files), data/.

CLOUD_DIR=${NOVADOCK_CLOUD_DIR:-/opt/novadock-cloud}
CLOUD_VENV=$CLOUD_DIR/venv
CLOUD_ETC=$CLOUD_DIR/etc
CLOUD_LOG=$CLOUD_DIR/log
CLOUD_RUN=$CLOUD_DIR/run
CLOUD_DATA=$CLOUD_DIR/data
CLOUD_HOST=127.0.0.1
CLOUD_REGION=RegionOne
CLOUD_BRIDGE=${NOVADOCK_CLOUD_BRIDGE:-br-int}
CLOUD_OVSDB=unix:/var/run/openvswitch/db.sock
CLOUD_SOCKET=/run/novadock-cloud/novadock.sock
# Neutron's network for instances; the host holds the gateway address.
CLOUD_NET_CIDR=198.18.64.0/24
CLOUD_NET_GW=198.18.64.1
CLOUD_GW_DEV=nd-cloud-gw
# The service's read-only Glance facade over the engine's images (Horizon's
# Admin > Compute > Engine Images reads it).
CLOUD_FACADE=127.0.0.1:9293

KEYSTONE_VERSION=30.0.0
PLACEMENT_VERSION=16.0.0
GLANCE_VERSION=33.0.0
NEUTRON_VERSION=29.0.0
NOVA_VERSION=34.0.0
OSC_VERSION=10.5.0

# The cloud's databases: made by up.sh, dropped by down.sh --purge.
CLOUD_DATABASES=(keystone placement glance nova_api nova nova_cell0 neutron)

declare -A CLOUD_PORTS=([keystone]=5000 [glance]=9292 [placement]=8778 [nova-api]=8774 [neutron]=9696)

cloud_log() { printf '%s cloud: %s\n' "$(date +%H:%M:%S)" "$*"; }
cloud_fail() { printf 'cloud: ERROR: %s\n' "$*" >&2; exit 1; }

# cloud_alive NAME: the process whose PID is in $CLOUD_RUN/NAME.pid runs,
# and is ours (PIDs wrap quickly on a busy machine).
cloud_alive() {
    local f=$CLOUD_RUN/$1.pid pid cmd
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case $cmd in *"$CLOUD_DIR"* | *cloud_wsgi* | *mariadbd* | *dockerd* | *beam*) return 0 ;; esac
    return 1
}

# cloud_wait SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s.
cloud_wait() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 2; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    cloud_fail "$what did not come up within ${secs}s"
}

# cloud_log_errors: the last error lines of each service's log, for a run
# whose logs nobody can open afterwards (CI prints only the output).
cloud_log_errors() {
    local f lines
    for f in "$CLOUD_LOG"/*.log; do
        [ -f "$f" ] || continue
        lines=$(grep -E ' (ERROR|CRITICAL) |Traceback|^[A-Za-z.]*(Error|Exception): ' "$f" | tail -n 25) || true
        [ -n "$lines" ] || continue
        printf '\n--- last errors in %s\n%s\n' "$f" "$lines"
    done
}

cloud_http_up() { curl -s --noproxy '*' -o /dev/null --max-time 3 "$1"; }

# cloud_spawn NAME COMMAND...: runs COMMAND in the background with its output
# in $CLOUD_LOG/NAME.log and its PID in $CLOUD_RUN/NAME.pid, unless it runs.
cloud_spawn() {
    local name=$1
    shift
    cloud_alive "$name" && return 0
    mkdir -p "$CLOUD_LOG" "$CLOUD_RUN"
    # Its own session: the service outlives up.sh and its terminal.
    setsid nohup "$@" </dev/null >>"$CLOUD_LOG/$name.log" 2>&1 &
    echo $! >"$CLOUD_RUN/$name.pid"
}

# cloud_stop NAME: TERM, then KILL after 15 s, the process of NAME.pid.
cloud_stop() {
    local f=$CLOUD_RUN/$1.pid pid i
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    if cloud_alive "$1"; then
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 30; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$f"
}

# cloud_write FILE NAME...: writes stdin to FILE; when that changes FILE,
# the services NAME... are marked for a restart (cloud_restart_if_changed).
cloud_write() {
    local file=$1 tmp n
    shift
    tmp=$(mktemp)
    cat >"$tmp"
    if cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
        return 0
    fi
    mv "$tmp" "$file"
    chmod 600 "$file"
    for n in "$@"; do touch "$CLOUD_RUN/$n.changed"; done
}

# cloud_restart_if_changed NAME: stops NAME if its configuration changed.
cloud_restart_if_changed() {
    if [ -f "$CLOUD_RUN/$1.changed" ]; then
        cloud_alive "$1" && cloud_log "configuration changed: restarting $1"
        cloud_stop "$1"
        rm -f "$CLOUD_RUN/$1.changed"
    fi
}

# cloud_stop_all NAME...: cloud_stop, all at once.
cloud_stop_all() {
    local n
    for n in "$@"; do
        cloud_alive "$n" && cloud_log "stopping $n"
        cloud_stop "$n" &
    done
    wait
}

# The admin credentials, made once.
cloud_secrets() {
    local f=$CLOUD_ETC/secrets.env
    mkdir -p "$CLOUD_ETC"
    CLOUD_SECRETS_NEW=false
    if [ ! -s "$f" ]; then
        CLOUD_SECRETS_NEW=true
        (
            umask 077
            for v in ADMIN_PASSWORD SERVICE_PASSWORD DB_PASSWORD; do
                echo "$v=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
            done >"$f"
        )
    fi
    # shellcheck disable=SC1090
    . "$f"
}

cloud_mysql() { mariadb --protocol=socket -uroot "$@"; }
