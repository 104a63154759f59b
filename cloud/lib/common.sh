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
# Neutron's Open vSwitch agent owns the integration bridge (the VIFs'
# ports, their VLAN tags and security-group flows) and links it to the
# provider bridge of the physical network $CLOUD_PHYSNET.
CLOUD_BRIDGE=${NOVADOCK_CLOUD_BRIDGE:-br-int}
CLOUD_PROVIDER_BRIDGE=${NOVADOCK_CLOUD_PROVIDER_BRIDGE:-br-ex}
CLOUD_PHYSNET=physnet1
# Known to Neutron, mapped on no host (the e2e's port that cannot be wired).
CLOUD_UNWIRED_PHYSNET=physnet-unwired
# Neutron's backend: "ovs" (ML2 with the Open vSwitch agent) or "ovn"
# (ML2/OVN: ovn-northd and ovn-controller on the same br-int).
CLOUD_NEUTRON_BACKEND=${NOVADOCK_CLOUD_NEUTRON:-ovs}
case $CLOUD_NEUTRON_BACKEND in ovs | ovn) ;; *) echo "NOVADOCK_CLOUD_NEUTRON must be ovs or ovn" >&2; exit 1 ;; esac
CLOUD_OVSDB=unix:/var/run/openvswitch/db.sock
CLOUD_SOCKET=/run/novadock-cloud/novadock.sock
# Neutron's network for instances (flat, on $CLOUD_PHYSNET); the host holds
# the gateway address on a leg of the provider bridge.
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
# memcached, the services' shared token cache (127.0.0.1).
CLOUD_MEMCACHED_PORT=11211
# nova-serialproxy's websocket port (Nova's default), on 127.0.0.1.
CLOUD_SERIALPROXY_PORT=6083

cloud_log() { printf '%s cloud: %s\n' "$(date +%H:%M:%S)" "$*"; }
cloud_fail() { printf 'cloud: ERROR: %s\n' "$*" >&2; exit 1; }

# The cloud's own services (novadock, the OpenStack services, Horizon) run
# under Debian's supervisor, as a distribution runs them where there is no
# systemd: a supervisord of the cloud's own ($CLOUD_SUPERVISOR_DIR, socket in
# $CLOUD_RUN) restarts one that exits. The machine's services the cloud
# starts (dockerd, RabbitMQ, MariaDB) keep PID files in $CLOUD_RUN.
CLOUD_SUPERVISOR_DIR=$CLOUD_ETC/supervisor

cloud_supervisorctl() { supervisorctl -c "$CLOUD_SUPERVISOR_DIR/supervisord.conf" "$@"; }
cloud_supervised() { [ -f "$CLOUD_SUPERVISOR_DIR/programs/$1.conf" ]; }
cloud_supervisor_up() {
    [ -S "$CLOUD_RUN/supervisor.sock" ] && cloud_supervisorctl pid 2>/dev/null | grep -q '^[0-9][0-9]*$'
}

# cloud_alive NAME: NAME runs: a supervised program that is starting or
# running, or else the process whose PID is in $CLOUD_RUN/NAME.pid, if it
# is ours (PIDs wrap quickly on a busy machine).
cloud_alive() {
    local f=$CLOUD_RUN/$1.pid pid cmd
    if cloud_supervised "$1"; then
        [ -S "$CLOUD_RUN/supervisor.sock" ] \
            && cloud_supervisorctl status "$1" 2>/dev/null | grep -qE " (RUNNING|STARTING) "
        return
    fi
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    # (gunicorn renames itself: "gunicorn: master [cloud_wsgi:application]".)
    case $cmd in *"$CLOUD_DIR"* | *cloud_wsgi* | *mariadbd* | *dockerd* | *beam* | memcached*) return 0 ;; esac
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

# cloud_trap_errors: on a failing exit, the services' last errors go to the
# output (the e2e runners: CI prints only the output).
cloud_trap_errors() {
    # shellcheck disable=SC2317  # called by the trap
    cloud_on_exit() {
        local rc=$?
        [ "$rc" = 0 ] || cloud_log_errors
        exit "$rc"
    }
    trap cloud_on_exit EXIT
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

# Our supervisord, started unless it answers. Its environment is a clean
# one, as an init system's: nothing of the caller's shell (proxies, OS_*
# credentials) leaks into the services.
cloud_start_supervisor() {
    local d=$CLOUD_SUPERVISOR_DIR
    mkdir -p "$d/programs" "$CLOUD_LOG" "$CLOUD_RUN"
    cloud_write "$d/supervisord.conf" <<EOF2
[unix_http_server]
file = $CLOUD_RUN/supervisor.sock
chmod = 0700
[supervisord]
logfile = $CLOUD_LOG/supervisord.log
logfile_maxbytes = 0
pidfile = $CLOUD_RUN/supervisord.pid
childlogdir = $CLOUD_LOG
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl = unix://$CLOUD_RUN/supervisor.sock
[include]
files = $d/programs/*.conf
EOF2
    cloud_supervisor_up && return 0
    cloud_log "starting supervisord (log: $CLOUD_LOG/supervisord.log)"
    rm -f "$CLOUD_RUN/supervisor.sock"
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        supervisord -c "$d/supervisord.conf"
    cloud_wait 30 supervisord cloud_supervisor_up
}

# Stops every program and supervisord itself.
cloud_stop_supervisor() {
    local pid i
    cloud_supervisor_up || return 0
    pid=$(cloud_supervisorctl pid)
    cloud_log "stopping supervisord"
    cloud_supervisorctl shutdown >/dev/null || true
    for ((i = 0; i < 60; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
}

# cloud_supervise NAME [VAR=VALUE...] -- COMMAND...: NAME runs COMMAND under
# supervisord, restarted whenever it exits, its output appended to
# $CLOUD_LOG/NAME.log, with the environment VAR=VALUE. A program whose
# definition changed is restarted; CLOUD_PROGRAM_STAMP (e.g. a binary's
# mtime) is part of the definition. Programs do not start with supervisord
# (autostart off): up.sh starts them in their order (keystone before the
# services that authenticate against it).
cloud_supervise() {
    local name=$1 env=() a cmd="" envline=""
    shift
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    # A process of an earlier, unsupervised cloud gives way.
    if ! cloud_supervised "$name" && [ -s "$CLOUD_RUN/$name.pid" ]; then cloud_stop "$name"; fi
    # supervisord splits the command as a shell does and expands %(...)s.
    for a in "$@"; do cmd+="$(printf '%q' "$a") "; done
    # The stamp goes into the environment: supervisord compares parsed
    # definitions, and a comment alone would not restart the program.
    [ -z "${CLOUD_PROGRAM_STAMP:-}" ] || env+=("NOVADOCK_CLOUD_STAMP=$CLOUD_PROGRAM_STAMP")
    for a in "${env[@]}"; do envline+="${envline:+,}${a%%=*}=\"${a#*=}\""; done
    [ -z "$envline" ] || envline="environment = ${envline//%/%%}"
    cloud_write "$CLOUD_SUPERVISOR_DIR/programs/$name.conf" <<EOF2
# ${CLOUD_PROGRAM_STAMP:-}
[program:$name]
command = ${cmd//%/%%}
$envline
autostart = false
autorestart = true
startsecs = 1
startretries = 10
stopsignal = TERM
stopwaitsecs = 15
stopasgroup = true
killasgroup = true
redirect_stderr = true
stdout_logfile = $CLOUD_LOG/$name.log
stdout_logfile_maxbytes = 0
EOF2
    # Adds a new program, replaces a changed one (stopping it), else nothing.
    cloud_supervisorctl update "$name" >/dev/null
    cloud_alive "$name" && return 0
    cloud_supervisorctl start "$name" >/dev/null \
        || { tail -20 "$CLOUD_LOG/$name.log" >&2; cloud_fail "$name did not start (log: $CLOUD_LOG/$name.log)"; }
}

# cloud_start_program NAME [VAR=VALUE...] -- COMMAND...: NAME under
# supervisord (cloud_supervise), restarted first when its configuration
# changed (cloud_write), "starting NAME" said when it was not running.
cloud_start_program() {
    cloud_restart_if_changed "$1"
    cloud_alive "$1" || cloud_log "starting $1"
    cloud_supervise "$@"
}

# cloud_stop NAME: stops NAME: through supervisord (TERM to its process
# group, KILL after 15 s), or TERM, then KILL after 15 s, to the process of
# NAME.pid.
cloud_stop() {
    local f=$CLOUD_RUN/$1.pid pid i
    if cloud_supervised "$1"; then
        if cloud_alive "$1"; then cloud_supervisorctl stop "$1" >/dev/null; fi
        return 0
    fi
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
    local n pids=() p
    for n in "$@"; do
        cloud_alive "$n" && cloud_log "stopping $n"
        cloud_stop "$n" &
        pids+=($!)
    done
    # Only these: a bare wait would also wait for the services up.sh started
    # in the background (MariaDB, RabbitMQ).
    for p in "${pids[@]}"; do wait "$p" || true; done
}

# The admin credentials, made once.
cloud_secrets() {
    local f=$CLOUD_ETC/secrets.env
    mkdir -p "$CLOUD_ETC"
    CLOUD_SECRETS_NEW=false
    [ -s "$f" ] || CLOUD_SECRETS_NEW=true
    # Each one made once; one missing from an earlier cloud's file is added.
    (
        umask 077
        local v
        for v in ADMIN_PASSWORD SERVICE_PASSWORD DB_PASSWORD RABBIT_PASSWORD MEMCACHE_SECRET_KEY; do
            grep -q "^$v=" "$f" 2>/dev/null \
                || echo "$v=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >>"$f"
        done
    )
    # shellcheck disable=SC1090
    . "$f"
}

cloud_mysql() { mariadb --protocol=socket -uroot "$@"; }
