# shellcheck shell=bash
# More compute hosts on this one machine (cloud/up.sh --computes N): host 1
# is the machine's own (its dockerd, br-int, br-ex, novadock, nova-compute,
# OVS agent). Host I (2..4) gets what a second machine would have:
#   - its own dockerd (socket, data root on its own btrfs, exec root,
#     containerd namespace, eth0 bridge nd-docker$I in 198.19.(128+16(I-1)).0/20),
#   - its own novadock service and nova-compute, [DEFAULT] host
#     "$(hostname)-$I", my_ip 127.0.0.$I (Nova tells hosts apart by it in a
#     move; the service's serial consoles and facade listen there),
#   - its own Open vSwitch agent with its own integration bridge br-int$I and
#     provider bridge br-ex$I, patched to br-ex: the "physical network"
#     between the hosts.
# What one machine cannot give them: their own kernel, memory and CPUs
# (each host reports the machine's, less its own containers), and their
# own conntrack table (one userspace datapath holds every bridge).

# shellcheck source=tools/lib/dockerd.sh
. "$CLOUD_REPO/tools/lib/dockerd.sh"

CLOUD_MAX_COMPUTES=4
# The count a cloud was brought up with (up.sh --computes), kept so that a
# plain up.sh or down.sh knows the extra hosts.
CLOUD_COMPUTES_FILE=$CLOUD_ETC/computes

cloud_computes() {
    local n
    n=$(cat "$CLOUD_COMPUTES_FILE" 2>/dev/null || echo 1)
    [[ $n =~ ^[1-9]$ ]] || n=1
    echo "$n"
}

cloud_host_name() { if [ "$1" = 1 ]; then hostname; else echo "$(hostname)-$1"; fi; }
cloud_host_socket() { echo "/run/novadock-cloud/novadock-$1.sock"; }
cloud_host_docker_dir() { echo "/run/novadock-cloud/docker-$1"; }
cloud_host_docker_url() { echo "unix://$(cloud_host_docker_dir "$1")/docker.sock"; }
cloud_host_docker_bridge() { echo "nd-docker$1"; }
cloud_host_int_bridge() { echo "$CLOUD_BRIDGE$1"; }
cloud_host_ex_bridge() { echo "$CLOUD_PROVIDER_BRIDGE$1"; }
cloud_host_conf() { echo "$CLOUD_ETC/nova/nova-compute-$1.conf"; }
cloud_host_agent_ini() { echo "$CLOUD_ETC/neutron/plugins/ml2/openvswitch_agent-$1.ini"; }
# Its programs under supervisord.
cloud_host_programs() { echo "novadock-$1 nova-compute-$1 neutron-openvswitch-agent-$1"; }

# The host's dockerd: the flags of tools/lib/dockerd.sh (live-restore,
# userns-remap, btrfs with quotas) on paths of its own. It leaves iptables
# to the machine's dockerd (two engines rewriting the same chains undo each
# other's rules): the host firewall, forwarding and NAT of its bridge are
# set here instead. Docker's --icc=false needs its iptables; the host
# firewall's DOCKER-USER rule (nothing from the bridge but to the uplink)
# keeps containers apart on it instead (bridged frames pass iptables).
cloud_start_docker_host() {
    local i=$1 dir br addr url data
    dir=$(cloud_host_docker_dir "$i")
    br=$(cloud_host_docker_bridge "$i")
    url=$(cloud_host_docker_url "$i")
    addr="198.19.$((128 + 16 * (i - 1))).1/20"
    data=/var/lib/novadock-docker-$i
    mkdir -p "$dir"
    ip link show "$br" >/dev/null 2>&1 || ip link add "$br" type bridge
    [[ "$(ip -4 -o addr show dev "$br")" == *" $addr "* ]] || ip addr add "$addr" dev "$br"
    ip link set "$br" up
    if ! docker -H "$url" info >/dev/null 2>&1; then
        cloud_log "starting dockerd of host $i ($url)"
        NOVADOCK_DOCKER_DATA_ROOT=$data NOVADOCK_DOCKER_DATA_IMAGE=$data.btrfs novadock_docker_storage
        cloud_spawn "dockerd-$i" dockerd -H "$url" --data-root "$data" --exec-root "$dir/exec" \
            --pidfile "$dir/dockerd.pid" --containerd-namespace "novadock-cloud-$i" \
            --containerd-plugins-namespace "novadock-cloud-$i-plugins" \
            --live-restore --userns-remap=default --storage-driver=btrfs \
            -b "$br" --iptables=false --ip-masq=false
        cloud_wait 60 "dockerd of host $i" docker -H "$url" info
    fi
    novadock_docker_host_firewall "$br"
    cloud_docker_host_nat "$br" "${addr%.1/20}.0/20"
}

# Containers of an extra host reach beyond the machine over eth0 as host
# 1's do: forwarded to the uplink (appended, so the host firewall's drops in
# DOCKER-USER come first) and masqueraded.
cloud_docker_host_nat() {
    local br=$1 net=$2 uplink
    uplink=$(ip -4 route show default | awk '{print $5; exit}')
    [ -n "$uplink" ] || return 0
    iptables -C FORWARD -i "$br" -o "$uplink" -j ACCEPT 2>/dev/null \
        || iptables -A FORWARD -i "$br" -o "$uplink" -j ACCEPT
    iptables -C FORWARD -o "$br" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT 2>/dev/null \
        || iptables -A FORWARD -o "$br" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    iptables -t nat -C POSTROUTING -s "$net" ! -o "$br" -j MASQUERADE 2>/dev/null \
        || iptables -t nat -A POSTROUTING -s "$net" ! -o "$br" -j MASQUERADE
}

# With a purge: every rule that names the host's eth0 bridge (the host
# firewall's, the forwarding and the NAT above), in iptables and ip6tables.
cloud_drop_docker_host_rules() {
    local br=$1 tool table rule args
    for tool in iptables ip6tables; do
        command -v "$tool" >/dev/null 2>&1 || continue
        for table in filter nat; do
            while read -r rule; do
                read -ra args <<<"${rule/#-A /-D }"
                "$tool" -t "$table" "${args[@]}" 2>/dev/null || true
            done < <("$tool" -t "$table" -S 2>/dev/null | grep -E -- "-[io] $br( |\$)" || true)
        done
    done
}

# The host's bridges: br-int$I for its ports (its agent's), br-ex$I its
# provider bridge, patched to br-ex as a second machine's NIC would be
# cabled to the same switch.
cloud_plug_host_bridges() {
    local i=$1 br ex
    br=$(cloud_host_int_bridge "$i")
    ex=$(cloud_host_ex_bridge "$i")
    for b in "$br" "$ex"; do
        ovs-vsctl --timeout=10 --may-exist add-br "$b" -- set Bridge "$b" datapath_type=netdev \
            || cloud_fail "could not create $b"
        cloud_bridge_has_datapath "$b" || cloud_fail "$b has no datapath"
    done
    ovs-vsctl --timeout=10 \
        -- --may-exist add-port "$CLOUD_PROVIDER_BRIDGE" "nd-ex-to-$i" \
        -- set Interface "nd-ex-to-$i" type=patch options:peer="nd-$i-to-ex" \
        -- --may-exist add-port "$ex" "nd-$i-to-ex" \
        -- set Interface "nd-$i-to-ex" type=patch options:peer="nd-ex-to-$i"
}

# nova.conf's overrides for host I (nova-compute and its novadock service
# read nova.conf, then this file).
cloud_configure_host() {
    local i=$1 host
    host=$(cloud_host_name "$i")
    mkdir -p "$CLOUD_DATA/nova-$i"
    cloud_write "$(cloud_host_conf "$i")" "novadock-$i" "nova-compute-$i" <<EOF2
# Compute host $i of this machine (cloud/lib/computes.sh), read after nova.conf.
[DEFAULT]
host = $host
my_ip = 127.0.0.$i
state_path = $CLOUD_DATA/nova-$i
[serial_console]
proxyclient_address = 127.0.0.$i
[neutron]
ovs_bridge = $(cloud_host_int_bridge "$i")
[novadock]
socket_path = $(cloud_host_socket "$i")
docker_url = $(cloud_host_docker_url "$i")
glance_facade_listen = 127.0.0.$i:${CLOUD_FACADE##*:}
config_drive_dir = /var/lib/novadock/config-drive-$i
EOF2
    cloud_ovs_agent_ini "$(cloud_host_agent_ini "$i")" "$host" "$(cloud_host_int_bridge "$i")" \
        "$(cloud_host_ex_bridge "$i")" "$((6632 + i))" "neutron-openvswitch-agent-$i"
}

cloud_start_host_services() {
    local i=$1 conf
    conf=$(cloud_host_conf "$i")
    cloud_start_novadock "novadock-$i" "$(cloud_host_socket "$i")" "$CLOUD_ETC/nova/nova.conf" "$conf"
    cloud_start_program "neutron-openvswitch-agent-$i" -- "$CLOUD_VENV/bin/neutron-openvswitch-agent" \
        --config-file "$CLOUD_ETC/neutron/neutron.conf" --config-file "$(cloud_host_agent_ini "$i")"
    cloud_start_program "nova-compute-$i" -- "$CLOUD_VENV/bin/nova-compute" \
        --config-file "$CLOUD_ETC/nova/nova.conf" --config-file "$conf"
}

# Everything of hosts 2..N, in up.sh's order. Hosts above N that an earlier
# up.sh made are stopped (their instances stay in their engine).
cloud_up_extra_hosts() {
    local n=$1 i
    for ((i = 2; i <= n; i++)); do
        cloud_start_docker_host "$i"
        cloud_plug_host_bridges "$i"
        cloud_configure_host "$i"
        cloud_start_host_services "$i"
    done
    for ((i = n + 1; i <= CLOUD_MAX_COMPUTES; i++)); do
        if cloud_supervised "nova-compute-$i"; then
            # shellcheck disable=SC2046
            cloud_stop_all $(cloud_host_programs "$i")
        fi
    done
}

# down.sh: host I's programs are stopped with supervisord; this stops its
# dockerd and, with --purge, removes its instances, bridges and state.
cloud_down_extra_host() {
    local i=$1 purge=$2 url c
    url=$(cloud_host_docker_url "$i")
    if $purge && docker -H "$url" info >/dev/null 2>&1; then
        cloud_log "removing host $i's instances and images"
        for c in $(docker -H "$url" ps -aq --filter "label=org.openstack.nova.host=$(cloud_host_name "$i")"); do
            docker -H "$url" rm -f "$c" >/dev/null 2>&1 || true
        done
        docker -H "$url" image prune -af >/dev/null 2>&1 || true
    fi
    if cloud_alive "dockerd-$i"; then
        cloud_log "stopping dockerd of host $i"
        cloud_stop "dockerd-$i"
    fi
    if $purge; then
        rm -rf "/var/lib/novadock/config-drive-$i"
        ovs-vsctl --timeout=10 --no-wait -- --if-exists del-br "$(cloud_host_int_bridge "$i")" \
            -- --if-exists del-br "$(cloud_host_ex_bridge "$i")" 2>/dev/null || true
        cloud_drop_docker_host_rules "$(cloud_host_docker_bridge "$i")"
        ip link del "$(cloud_host_docker_bridge "$i")" 2>/dev/null || true
    fi
}
