# shellcheck shell=bash
# The machine's services the cloud needs: Debian packages, dockerd, the
# system Open vSwitch, RabbitMQ, MariaDB. Each is reused when it already
# runs; what the cloud starts gets a PID file in $CLOUD_RUN (down.sh stops
# exactly those).

CLOUD_APT_PACKAGES=(docker.io openvswitch-switch rabbitmq-server mariadb-server memcached busybox-static ethtool btrfs-progs
    supervisor python3-venv iproute2 iputils-ping curl ovn-central ovn-host)

cloud_install_packages() {
    local missing=() p
    for p in "${CLOUD_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    cloud_log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >"$CLOUD_LOG/apt.log" 2>&1 || { tail -20 "$CLOUD_LOG/apt.log" >&2; cloud_fail "apt-get install failed"; }
}

# dockerd with the flags of tools/lib/dockerd.sh (live-restore, 198.19 ranges).
# An engine that already runs is used only with live-restore on: without it
# a restart of dockerd stops every instance. It is not changed behind its
# owner's back; the message says how to turn it on without a restart.
cloud_start_docker() {
    # shellcheck source=tools/lib/dockerd.sh
    . "$CLOUD_REPO/tools/lib/dockerd.sh"
    if docker info >/dev/null 2>&1; then
        if [ "$(docker info --format '{{.LiveRestoreEnabled}}' 2>/dev/null)" = true ]; then
            cloud_docker_isolation
            return 0
        fi
        local sock=${DOCKER_HOST:-unix:///var/run/docker.sock} pid conf=/etc/docker/daemon.json
        sock=${sock#unix://}
        pid=$(ss -xlpn 2>/dev/null | awk -v s="$sock" '$5 == s' | grep -o 'pid=[0-9]*' | head -1)
        pid=${pid#pid=}
        if [ -n "$pid" ]; then
            conf=$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^--config-file=//p; /^--config-file$/{n;p}' | tail -1)
            conf=${conf:-/etc/docker/daemon.json}
        fi
        cloud_fail "the running dockerd${pid:+ (pid $pid)} has live-restore off: a restart of dockerd would stop every instance.
  Turn it on without stopping any container: add \"live-restore\": true to $conf,
  then reload dockerd: kill -HUP ${pid:-DOCKERD_PID} (check: docker info | grep -i live).
  Then run cloud/up.sh again."
    fi
    cloud_log "starting dockerd"
    novadock_docker_storage
    cloud_spawn dockerd dockerd "${NOVADOCK_DOCKERD_ARGS[@]}"
    cloud_wait 60 dockerd docker info
    cloud_docker_isolation
}

# eth0 is shared by every project's containers: the host's firewall keeps
# them off the host's services, and a dockerd that lets them reach each
# other (not started by up.sh) is named.
cloud_docker_isolation() {
    novadock_docker_host_firewall docker0
    novadock_docker_icc_off \
        || cloud_log "WARNING: dockerd runs with inter-container communication on: every project's containers reach each other over eth0 (start it with --icc=false, or \"icc\": false in daemon.json)"
}

# The system Open vSwitch (default paths) with $CLOUD_BRIDGE and
# $CLOUD_PROVIDER_BRIDGE. No kernel module here: the userspace datapath
# (netdev). Two userspace datapaths cannot share a network namespace (both
# want the tap "ovs-netdev"), and Neutron's agent knows only netdev and the
# kernel's: the cloud refuses to start beside another userspace switch.
# Whether ovs-vswitchd runs bridge $1 on a datapath; a vswitchd just
# started may take a moment to open its bridges, so it is asked for 5 s.
cloud_bridge_has_datapath() {
    local i
    for i in $(seq 1 10); do
        ovs-appctl -t ovs-vswitchd dpif/show 2>/dev/null | grep -q "^  $1:" && return 0
        [ "$i" = 10 ] || sleep 0.5
    done
    return 1
}

# The system OVS database server alone (down.sh --purge needs only it).
cloud_run_ovsdb() {
    local rundir=/var/run/openvswitch
    mkdir -p "$rundir" /var/log/openvswitch "$CLOUD_RUN"
    ovs-appctl -t "$rundir/ovsdb-server.$(cat "$rundir/ovsdb-server.pid" 2>/dev/null).ctl" version >/dev/null 2>&1 \
        && return 0
    cloud_log "starting ovsdb-server"
    [ -s /etc/openvswitch/conf.db ] || [ -s /var/lib/openvswitch/conf.db ] \
        || ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server /etc/openvswitch/conf.db --remote="punix:$rundir/db.sock" \
        --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
        --pidfile="$rundir/ovsdb-server.pid" --log-file=/var/log/openvswitch/ovsdb-server.log --detach
    ovs-vsctl --no-wait init
    touch "$CLOUD_RUN/ovsdb-server.ours"
}

cloud_start_ovs() {
    local rundir=/var/run/openvswitch br
    cloud_run_ovsdb
    if ! ovs-appctl -t "$rundir/ovs-vswitchd.$(cat "$rundir/ovs-vswitchd.pid" 2>/dev/null).ctl" version >/dev/null 2>&1; then
        cloud_log "starting ovs-vswitchd"
        ovs-vswitchd "unix:$rundir/db.sock" --pidfile="$rundir/ovs-vswitchd.pid" \
            --log-file=/var/log/openvswitch/ovs-vswitchd.log --detach
        touch "$CLOUD_RUN/ovs-vswitchd.ours"
    fi
    for br in "$CLOUD_BRIDGE" "$CLOUD_PROVIDER_BRIDGE"; do
        ovs-vsctl --timeout=10 --may-exist add-br "$br" -- set Bridge "$br" datapath_type=netdev \
            || cloud_fail "could not create $br (log: /var/log/openvswitch/ovs-vswitchd.log)"
        cloud_bridge_has_datapath "$br" \
            || cloud_fail "$br has no datapath: another userspace Open vSwitch holds ovs-netdev (the tests' one: tools/stop-ovs.sh /run/novadock-test-ovs); stop it, then run up.sh again"
    done
}

# The host's leg on the instances' network: the subnet's gateway address on
# an internal port of the provider bridge. The agent patches the provider
# bridge to br-int, so the host reaches the instances as any machine on the
# physical network would: through their security groups.
cloud_plug_gateway() {
    local br=$CLOUD_PROVIDER_BRIDGE
    # An earlier cloud had the leg on br-int.
    if [ "$(ovs-vsctl --timeout=10 port-to-br "$CLOUD_GW_DEV" 2>/dev/null)" != "$br" ]; then
        ovs-vsctl --timeout=10 -- --if-exists del-port "$CLOUD_GW_DEV" -- --if-exists del-port "$CLOUD_GW_DEV-o"
        ip link del "$CLOUD_GW_DEV" 2>/dev/null || true
        ovs-vsctl --timeout=10 add-port "$br" "$CLOUD_GW_DEV" -- set Interface "$CLOUD_GW_DEV" type=internal
    fi
    cloud_wait 10 "$CLOUD_GW_DEV" ip link show "$CLOUD_GW_DEV"
    ip link set "$CLOUD_GW_DEV" up
    # Open vSwitch in userspace reads this leg through a packet socket and
    # forwards the kernel's TCP and UDP with their checksums still unfilled
    # (conntrack then drops them as invalid): the host computes them itself,
    # as novadock does for the containers' eth1.
    ethtool -K "$CLOUD_GW_DEV" tx off >/dev/null
    ip addr replace "$CLOUD_NET_GW/${CLOUD_NET_CIDR#*/}" dev "$CLOUD_GW_DEV"
}

# OVN (NOVADOCK_CLOUD_NEUTRON=ovn): the northbound and southbound databases
# and ovn-northd (Debian's ovn-ctl, unix sockets in /var/run/ovn), and
# ovn-controller on the system Open vSwitch: this host is a chassis named
# after it, with br-ex as physnet1, on the userspace datapath.
cloud_start_ovn() {
    local ctl=/usr/share/ovn/scripts/ovn-ctl host
    host=$(hostname)
    mkdir -p /var/run/ovn /var/log/ovn "$CLOUD_RUN"
    if ! ovn-nbctl --timeout=5 show >/dev/null 2>&1; then
        cloud_log "starting the OVN databases and ovn-northd"
        "$ctl" start_northd --no-monitor >>"$CLOUD_LOG/ovn.log" 2>&1 \
            || { tail -20 "$CLOUD_LOG/ovn.log" >&2; cloud_fail "ovn-northd did not start"; }
        touch "$CLOUD_RUN/ovn-northd.ours"
    fi
    # A bridge the Open vSwitch agent ran (an earlier cloud) keeps its
    # controller and OpenFlow versions; ovn-controller needs its own.
    if [ -n "$(ovs-vsctl --timeout=10 get-controller "$CLOUD_BRIDGE")" ]; then
        ovs-vsctl --timeout=10 del-controller "$CLOUD_BRIDGE" -- clear Bridge "$CLOUD_BRIDGE" protocols \
            -- del-controller "$CLOUD_PROVIDER_BRIDGE" -- clear Bridge "$CLOUD_PROVIDER_BRIDGE" protocols
        ovs-ofctl del-flows "$CLOUD_BRIDGE" 2>/dev/null || true
    fi
    ovs-vsctl --timeout=10 set Open_vSwitch . \
        external_ids:system-id="$host" external_ids:hostname="$host" \
        external_ids:ovn-remote=unix:/var/run/ovn/ovnsb_db.sock \
        external_ids:ovn-encap-type=geneve external_ids:ovn-encap-ip=127.0.0.1 \
        external_ids:ovn-bridge="$CLOUD_BRIDGE" external_ids:ovn-bridge-datapath-type=netdev \
        external_ids:ovn-bridge-mappings="$CLOUD_PHYSNET:$CLOUD_PROVIDER_BRIDGE"
    if ! ovn-appctl -t ovn-controller version >/dev/null 2>&1; then
        cloud_log "starting ovn-controller"
        "$ctl" start_controller --no-monitor >>"$CLOUD_LOG/ovn.log" 2>&1 \
            || { tail -20 "$CLOUD_LOG/ovn.log" >&2; cloud_fail "ovn-controller did not start"; }
        touch "$CLOUD_RUN/ovn-controller.ours"
    fi
}

cloud_stop_ovn() {
    local ctl=/usr/share/ovn/scripts/ovn-ctl
    if [ -f "$CLOUD_RUN/ovn-controller.ours" ]; then
        cloud_log "stopping ovn-controller"
        "$ctl" stop_controller >/dev/null 2>&1 || true
        rm -f "$CLOUD_RUN/ovn-controller.ours"
    fi
    if [ -f "$CLOUD_RUN/ovn-northd.ours" ]; then
        cloud_log "stopping ovn-northd and the OVN databases"
        "$ctl" stop_northd >/dev/null 2>&1 || true
        rm -f "$CLOUD_RUN/ovn-northd.ours"
    fi
}

# memcached on 127.0.0.1 only (no UDP): the services' keystonemiddleware
# share one token cache, so a token is validated with Keystone once, not
# once per service (what operators run; DevStack too). Its entries are
# encrypted and signed with a key of the cloud's (config.sh): a local user
# who can reach the port cannot forge a validation.
cloud_start_memcached() {
    cloud_alive memcached && return 0
    cloud_log "starting memcached"
    cloud_spawn memcached memcached -l 127.0.0.1 -p "$CLOUD_MEMCACHED_PORT" -U 0 -m 64 -u memcache
    cloud_wait 30 memcached bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLOUD_MEMCACHED_PORT"
}

cloud_start_rabbitmq() {
    local home=$CLOUD_DATA/rabbitmq
    mkdir -p "$home"
    export HOME=$home RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_MNESIA_BASE=$home/mnesia RABBITMQ_LOG_BASE=$CLOUD_LOG/rabbitmq \
        RABBITMQ_PID_FILE=$CLOUD_RUN/rabbitmq.pid
    if ! /usr/lib/rabbitmq/bin/rabbitmqctl -q status >/dev/null 2>&1; then
        cloud_log "starting rabbitmq-server"
        rm -f "$CLOUD_RUN/rabbitmq.pid"
        nohup /usr/lib/rabbitmq/bin/rabbitmq-server </dev/null >>"$CLOUD_LOG/rabbitmq.log" 2>&1 &
        cloud_wait 90 rabbitmq-server /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup
    fi
    # The cloud's own user; RabbitMQ's well-known guest goes. The password
    # goes on stdin, never on a command line another user could read.
    local ctl=/usr/lib/rabbitmq/bin/rabbitmqctl users
    users=$("$ctl" -q list_users | awk 'NR > 1 {print $1}')
    if ! grep -qx novadock <<<"$users"; then
        printf '%s' "$RABBIT_PASSWORD" | "$ctl" -q add_user novadock >/dev/null
    fi
    "$ctl" -q set_permissions -p / novadock '.*' '.*' '.*' >/dev/null
    if grep -qx guest <<<"$users"; then
        "$ctl" -q delete_user guest >/dev/null
    fi
    HOME=/root
}



# The server alone, started when it does not answer (a PID file in $CLOUD_RUN).
cloud_run_mariadb() {
    cloud_mysql -e 'select 1' >/dev/null 2>&1 && return 0
    cloud_log "starting mariadb"
    mkdir -p "$CLOUD_LOG" "$CLOUD_RUN"
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >"$CLOUD_LOG/mariadb-install.log" 2>&1
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    cloud_spawn mariadb /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
        --pid-file=/run/mysqld/cloud-mariadbd.pid --max-connections=500
    cloud_wait 60 mariadb cloud_mysql -e 'select 1'
}

cloud_start_mariadb() {
    cloud_run_mariadb
    # Nova keeps its cells' database URLs, password included, in nova_api:
    # databases made with credentials that are gone cannot be reused.
    if ${CLOUD_SECRETS_NEW:-false} && [ -n "$(cloud_mysql -N -e "SHOW DATABASES LIKE 'nova_api'")" ]; then
        cloud_fail "the databases of an earlier cloud exist, but its credentials ($CLOUD_ETC/secrets.env) are gone; run cloud/down.sh --purge first"
    fi
    local db
    for db in "${CLOUD_DATABASES[@]}"; do
        cloud_mysql -e "CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4"
    done
    # The services' user gets their databases only (not the server: no
    # other database, no users, no files). SQL on stdin: the password stays
    # off every command line.
    {
        echo "CREATE USER IF NOT EXISTS 'novadock'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';"
        echo "ALTER USER 'novadock'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';"
        echo "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'novadock'@'127.0.0.1';"
        for db in "${CLOUD_DATABASES[@]}"; do
            echo "GRANT ALL PRIVILEGES ON \`$db\`.* TO 'novadock'@'127.0.0.1';"
        done
        echo "FLUSH PRIVILEGES;"
    } | cloud_mysql
}

cloud_db_url() { echo "mysql+pymysql://novadock:$DB_PASSWORD@127.0.0.1/$1?charset=utf8mb4"; }
