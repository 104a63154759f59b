#!/usr/bin/env bash
# Stops what cloud/up.sh started (by its PID files). Leaves instances'
# containers, configs, databases and the venv in place, so that up.sh
# brings the same cloud back. `down.sh --purge` also deletes the cloud's
# instances' containers and images from the engine, its OVS ports, its
# databases and $NOVADOCK_CLOUD_DIR's state (not the venv). Other
# containers (other Nova hosts') and services of the machine are left alone.
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=cloud/lib/system.sh
. "$CLOUD_REPO/cloud/lib/system.sh"
# shellcheck source=cloud/lib/computes.sh
. "$CLOUD_REPO/cloud/lib/computes.sh"
purge=false
[ "${1:-}" = --purge ] && purge=true

cloud_stop_all horizon nova-serialproxy nova-compute nova-scheduler nova-conductor nova-api neutron-openvswitch-agent neutron-rpc-server \
    neutron-ovn-maintenance-worker neutron glance placement keystone
cloud_stop_all novadock
# Before the bridges are purged: a running ovn-controller recreates br-int.
cloud_stop_ovn
cloud_stop_supervisor
if cloud_alive rabbitmq; then
    cloud_log "stopping rabbitmq-server"
    HOME=$CLOUD_DATA/rabbitmq RABBITMQ_NODENAME=rabbit@localhost \
        /usr/lib/rabbitmq/bin/rabbitmqctl -q stop >/dev/null 2>&1 || cloud_stop rabbitmq
    # The node started epmd; nothing else here speaks Erlang.
    HOME=$CLOUD_DATA/rabbitmq epmd -kill >/dev/null 2>&1 || true
fi
rm -f "$CLOUD_RUN/rabbitmq.pid"
cloud_stop memcached

instances=() images=()
# The databases outlive the processes (a reboot, a new session): the server
# is started to drop them, or the next cloud would meet the old cells' URLs.
if $purge && [ -d /var/lib/mysql/mysql ]; then
    cloud_run_mariadb
    # Only this cloud's instances and images: the engine may hold others'.
    mapfile -t instances < <(cloud_mysql -N -e "SELECT uuid FROM nova.instances" 2>/dev/null || true)
    mapfile -t images < <(cloud_mysql -N -e "SELECT id FROM glance.images" 2>/dev/null || true)
    cloud_log "dropping the cloud's databases"
    for db in "${CLOUD_DATABASES[@]}"; do
        cloud_mysql -e "DROP DATABASE IF EXISTS $db"
    done
fi
if cloud_alive mariadb; then
    cloud_log "stopping mariadb"
    cloud_stop mariadb
fi

if $purge; then
    cloud_log "removing ${#instances[@]} instances' containers, ${#images[@]} images, OVS ports and state"
    # The engine too may not run (stopped above if the cloud started it).
    command -v dockerd >/dev/null && cloud_start_docker
    for u in "${instances[@]}"; do
        docker rm -f "nova-$u" >/dev/null 2>&1 || true
        # Its config drive (user data, admin password): the service keeps
        # it beside the container, and only the service would remove it.
        if [[ $u =~ ^[0-9a-f-]+$ ]]; then rm -rf "/var/lib/novadock/config-drive/$u"; fi
    done
    # Also those of a cloud whose database is gone: the containers of the
    # cloud's compute host (the tests' hosts have other names).
    for c in $(docker ps -aq --filter "label=org.openstack.nova.host=$(hostname)" 2>/dev/null); do
        docker rm -f "$c" >/dev/null 2>&1 || true
    done
    for i in "${images[@]}"; do docker rmi "novadock-glance:$i" "novadock-glance-store:$i" >/dev/null 2>&1 || true; done
    # Port records outlive ovsdb-server too: it is started to delete them
    # (--no-wait: ovs-vswitchd may not run).
    [ -s /etc/openvswitch/conf.db ] && cloud_run_ovsdb
    if ovs-vsctl --timeout=10 br-exists "$CLOUD_BRIDGE" 2>/dev/null; then
        for p in $(ovs-vsctl --timeout=10 list-ports "$CLOUD_BRIDGE"); do
            case $p in tap*) ovs-vsctl --timeout=10 --no-wait del-port "$CLOUD_BRIDGE" "$p" ;; esac
        done
    fi
    # Both bridges are the cloud's own, with what Neutron's agent or
    # ovn-controller set on them (controllers, flows, patch ports).
    ovs-vsctl --timeout=10 --no-wait -- --if-exists del-br "$CLOUD_PROVIDER_BRIDGE" \
        -- --if-exists del-br "$CLOUD_BRIDGE" 2>/dev/null || true
    ip link del "$CLOUD_GW_DEV" 2>/dev/null || true
fi
# The extra compute hosts' engines (up.sh --computes), all that were made.
for ((i = 2; i <= CLOUD_MAX_COMPUTES; i++)); do
    if $purge && [ -f "/var/lib/novadock-docker-$i.btrfs" ] && ! cloud_alive "dockerd-$i"; then
        cloud_start_docker_host "$i"
    fi
    cloud_down_extra_host "$i" "$purge"
done
if $purge; then
    # OVN's databases are the cloud's own (Neutron's ports and ACLs).
    rm -f /var/lib/ovn/ovnnb_db.db /var/lib/ovn/ovnsb_db.db /etc/ovn/ovnnb_db.db /etc/ovn/ovnsb_db.db
fi
for d in ovs-vswitchd ovsdb-server; do
    if [ -f "$CLOUD_RUN/$d.ours" ]; then
        cloud_log "stopping $d"
        ovs-appctl -t "$d" exit >/dev/null 2>&1 || true
        rm -f "$CLOUD_RUN/$d.ours"
    fi
done
cloud_stop dockerd
$purge && rm -rf "$CLOUD_ETC" "$CLOUD_RUN" "$CLOUD_DATA"
cloud_log "down"
