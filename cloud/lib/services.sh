# shellcheck shell=bash
# Database schemas, keystone's bootstrap and the OpenStack services. Every
# step is skipped when already done or running.

cloud_manage() { "$CLOUD_VENV/bin/$1" "${@:2}" >>"$CLOUD_LOG/db-sync.log" 2>&1 || { tail -20 "$CLOUD_LOG/db-sync.log" >&2; cloud_fail "$1 ${*:2} failed (log: $CLOUD_LOG/db-sync.log)"; }; }

cloud_db_sync() {
    local e=$CLOUD_ETC
    # Keys that sign every token: for root only (Keystone warns when its
    # key repository is world readable).
    mkdir -p "$e/keystone/fernet-keys" "$e/keystone/credential-keys"
    chmod 0700 "$e/keystone/fernet-keys" "$e/keystone/credential-keys"
    if [ ! -f "$CLOUD_RUN/db-synced" ]; then
        cloud_log "creating database schemas"
        cloud_manage keystone-manage --config-file "$e/keystone/keystone.conf" db_sync
        cloud_manage keystone-manage --config-file "$e/keystone/keystone.conf" fernet_setup --keystone-user root --keystone-group root
        cloud_manage keystone-manage --config-file "$e/keystone/keystone.conf" credential_setup --keystone-user root --keystone-group root
        # The password by environment (keystone-manage reads it there), not
        # on a command line any user of the machine can read.
        OS_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD \
            cloud_manage keystone-manage --config-file "$e/keystone/keystone.conf" bootstrap \
            --bootstrap-admin-url "$(cloud_url keystone)/v3" \
            --bootstrap-public-url "$(cloud_url keystone)/v3" --bootstrap-internal-url "$(cloud_url keystone)/v3" \
            --bootstrap-region-id "$CLOUD_REGION"
        cloud_manage placement-manage --config-file "$e/placement/placement.conf" db sync
        cloud_manage glance-manage --config-file "$e/glance/glance-api.conf" db_sync
        # Glance's metadata definitions: Horizon's image and instance forms
        # list them (and log a traceback when there are none).
        cloud_manage glance-manage --config-file "$e/glance/glance-api.conf" \
            db_load_metadefs "$CLOUD_VENV/etc/glance/metadefs"
        cloud_manage neutron-db-manage --config-file "$e/neutron/neutron.conf" \
            --config-file "$e/neutron/plugins/ml2/ml2_conf.ini" upgrade heads
        cloud_manage nova-manage --config-file "$e/nova/nova.conf" api_db sync
        cloud_manage nova-manage --config-file "$e/nova/nova.conf" cell_v2 map_cell0
        "$CLOUD_VENV/bin/nova-manage" --config-file "$e/nova/nova.conf" cell_v2 list_cells 2>/dev/null | grep -q ' cell1 ' \
            || cloud_manage nova-manage --config-file "$e/nova/nova.conf" cell_v2 create_cell --name cell1
        cloud_manage nova-manage --config-file "$e/nova/nova.conf" db sync
        touch "$CLOUD_RUN/db-synced"
    fi
}

# cloud_gunicorn NAME MODULE ENVVAR=DIR [VAR=VALUE...]: one WSGI service on
# its port (one worker process), supervised.
cloud_gunicorn() {
    local name=$1 app=$2 confenv=$3 extra=("${@:4}")
    cloud_restart_if_changed "$name"
    cloud_alive "$name" || cloud_log "starting $name on $(cloud_url "$name")"
    # --keep-alive: clients poll every few seconds over pooled connections;
    # gunicorn's 2 s default closes them just as the next poll is sent.
    cloud_supervise "$name" "$confenv" "NOVADOCK_CLOUD_WSGI=$app" "${extra[@]}" -- "$CLOUD_VENV/bin/gunicorn" \
        -w 1 -k gthread --threads 8 --no-control-socket --timeout 600 --graceful-timeout 10 \
        --keep-alive 75 \
        -b "$CLOUD_HOST:${CLOUD_PORTS[$name]}" \
        --access-logfile "$CLOUD_LOG/$name-access.log" \
        --chdir "$CLOUD_REPO/cloud/wsgi" cloud_wsgi:application
}

cloud_wait_http() { cloud_wait 120 "$1 ($(cloud_url "$1"))" cloud_http_up "$(cloud_url "$1")/"; }

# cloud_start_novadock [NAME SOCKET CONFIG_FILE...]: a novadock service
# (default: host 1's, reading nova.conf), supervised, after `novadock check`.
cloud_start_novadock() {
    local name=${1:-novadock} socket=${2:-$CLOUD_SOCKET} check files=() f
    shift 2 || true
    for f in "${@:-$CLOUD_ETC/nova/nova.conf}"; do files+=(--config-file "$f"); done
    mkdir -p "$(dirname "$socket")"
    cloud_restart_if_changed "$name"
    if ! cloud_alive "$name"; then
        cloud_log "starting $name serve"
        # What novadock check calls a failure (no engine, a bad config, a
        # socket it cannot create) stops the start-up; its warnings are shown.
        check=$("$NOVADOCK_BIN" check "${files[@]}" 2>&1) \
            || { printf '%s\n' "$check" >&2; cloud_fail "$name check failed: fix the FAIL lines above"; }
        while read -r l; do
            case $l in WARN*) cloud_log "$name check: $l" ;; esac
        done <<<"$check"
    fi
    # A rebuilt binary replaces the running one (its mtime is part of the
    # program's definition).
    # NO_COLOR: its log is a file, not a terminal.
    CLOUD_PROGRAM_STAMP="binary $NOVADOCK_BIN $(stat -c %Y "$NOVADOCK_BIN")" \
        cloud_supervise "$name" NO_COLOR=1 -- "$NOVADOCK_BIN" serve "${files[@]}"
    cloud_wait 30 "$name socket $socket" test -S "$socket"
}

cloud_start_keystone() {
    cloud_gunicorn keystone keystone.wsgi.api "OS_KEYSTONE_CONFIG_DIR=$CLOUD_ETC/keystone"
    cloud_wait_http keystone
}

# After keystone knows the service users (they authenticate at start).
cloud_start_services() {
    local e=$CLOUD_ETC n pids=() p
    # Side by side: each start waits a second to see the process stay up.
    cloud_gunicorn placement placement.wsgi.api "OS_PLACEMENT_CONFIG_DIR=$e/placement" &
    pids+=($!)
    cloud_gunicorn glance glance.wsgi.api "OS_GLANCE_CONFIG_DIR=$e/glance" &
    pids+=($!)
    # ML2/OVN's hash ring counts the API's worker processes; neutron reads
    # the count from uWSGI, mod_wsgi or this variable.
    cloud_gunicorn neutron neutron.wsgi.api "OS_NEUTRON_CONFIG_DIR=$e/neutron" ASGI_WORKERS=1 &
    pids+=($!)
    cloud_gunicorn nova-api nova.wsgi.osapi_compute "OS_NOVA_CONFIG_DIR=$e/nova" &
    pids+=($!)
    for p in "${pids[@]}"; do wait "$p" || exit 1; done
    for n in placement glance neutron nova-api; do cloud_wait_http "$n"; done
    if [ "$CLOUD_NEUTRON_BACKEND" = ovn ]; then
        # OVN's maintenance tasks (the databases kept in sync with Neutron's)
        # run in a worker of their own when the API runs under a WSGI server.
        cloud_stop_all neutron-openvswitch-agent neutron-rpc-server
        cloud_start_program neutron-ovn-maintenance-worker -- "$CLOUD_VENV/bin/neutron-ovn-maintenance-worker" \
            --config-file "$e/neutron/neutron.conf" --config-file "$e/neutron/plugins/ml2/ml2_conf.ini"
    else
        cloud_stop_all neutron-ovn-maintenance-worker
        # Neutron's RPC server (the agents' side of neutron-server when its
        # API runs under a WSGI server) and the Open vSwitch agent.
        cloud_start_program neutron-rpc-server -- "$CLOUD_VENV/bin/neutron-rpc-server" \
            --config-file "$e/neutron/neutron.conf" --config-file "$e/neutron/plugins/ml2/ml2_conf.ini"
        cloud_start_program neutron-openvswitch-agent -- "$CLOUD_VENV/bin/neutron-openvswitch-agent" \
            --config-file "$e/neutron/neutron.conf" --config-file "$e/neutron/plugins/ml2/openvswitch_agent.ini"
    fi
    pids=()
    # serialproxy: the websocket end of the serial consoles (it checks each
    # console token with nova-compute, then relays to novadock's port).
    for n in conductor scheduler compute serialproxy; do
        (
            cloud_start_program "nova-$n" -- "$CLOUD_VENV/bin/nova-$n" --config-file "$e/nova/nova.conf"
        ) &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || exit 1; done
}
