# shellcheck shell=bash
# How novadock's tools run dockerd (packages do not start services here):
# with live-restore, so instances keep running while dockerd restarts, its
# bridge in 198.19.128.0/20 (room for the eth0 of 4000 containers) and its
# networks in 198.19.0.0/17, so that test traffic stays in the benchmarking
# range 198.18.0.0/15. DevStack's plugin writes the same into daemon.json.
# shellcheck disable=SC2034  # used by the scripts that source this file
NOVADOCK_DOCKER_BIP=198.19.128.1/20
# shellcheck disable=SC2034
NOVADOCK_DOCKER_POOL_BASE=198.19.0.0/17
# Tenants are hostile (README, Security model): container root is not host
# root (--userns-remap), and Docker's data root is a btrfs with quotas, so a
# flavor's root_gb limits each container's disk. The btrfs lives in a sparse
# file, loop-mounted by novadock_docker_storage (this machine's root is ext4
# and its kernel has no XFS quotas).
NOVADOCK_DOCKER_DATA_ROOT=${NOVADOCK_DOCKER_DATA_ROOT:-/var/lib/novadock-docker}
NOVADOCK_DOCKER_DATA_IMAGE=${NOVADOCK_DOCKER_DATA_IMAGE:-/var/lib/novadock-docker.btrfs}
NOVADOCK_DOCKER_DATA_SIZE=${NOVADOCK_DOCKER_DATA_SIZE:-100G}
# eth0 (Docker's bridge) is shared by every project's containers: with
# --icc=false they do not reach each other over it (Neutron's eth1.. is
# where projects meet, through their security groups).
# shellcheck disable=SC2034
NOVADOCK_DOCKERD_ARGS=(--live-restore --icc=false --bip "$NOVADOCK_DOCKER_BIP"
    --default-address-pool "base=$NOVADOCK_DOCKER_POOL_BASE,size=24"
    --userns-remap=default --storage-driver=btrfs --data-root "$NOVADOCK_DOCKER_DATA_ROOT")

# Mounts Docker's data root (a btrfs with quotas in a sparse file) unless it
# is mounted; idempotent. Needs btrfs-progs.
novadock_docker_storage() {
    local root=$NOVADOCK_DOCKER_DATA_ROOT img=$NOVADOCK_DOCKER_DATA_IMAGE
    mountpoint -q "$root" && return 0
    mkdir -p "$root"
    if [ ! -f "$img" ]; then
        truncate -s "$NOVADOCK_DOCKER_DATA_SIZE" "$img"
        mkfs.btrfs -q "$img"
    fi
    mount -o loop "$img" "$root"
    btrfs quota enable "$root"
}

# The host's own services are not the tenants' business: no container opens
# a connection to the host over Docker's bridge (what the host opens and
# the replies still pass; containers reach beyond the host as before).
# Idempotent; the same iptables Docker uses. IPv6 gets the same rules with
# ip6tables, where it is installed (and, for DOCKER-USER, where dockerd made
# the chain: "ip6tables": true): a bridge given IPv6 later, or a container
# that gets a link-local address, is then closed already.
novadock_docker_host_firewall() {
    local bridge=${1:-docker0} uplink uplink6
    novadock_firewall_rule iptables INPUT -i "$bridge" -m conntrack --ctstate NEW -j DROP
    # Nor through the host into its other networks (Neutron's provider
    # bridges, other Docker bridges): what leaves the bridge goes out the
    # uplink (the default route's device) only. DOCKER-USER is dockerd's
    # chain for the operator's own rules.
    uplink=$(ip -4 route show default | awk '{print $5; exit}')
    if [ -n "$uplink" ] && iptables -L DOCKER-USER -n >/dev/null 2>&1; then
        novadock_firewall_rule iptables DOCKER-USER -i "$bridge" ! -o "$uplink" -j DROP
    fi
    command -v ip6tables >/dev/null 2>&1 && ip6tables -L INPUT -n >/dev/null 2>&1 || return 0
    novadock_firewall_rule ip6tables INPUT -i "$bridge" -m conntrack --ctstate NEW -j DROP
    # IPv6's own default route, else IPv4's uplink (usually the same device).
    uplink6=$(ip -6 route show default | awk '{print $5; exit}')
    uplink6=${uplink6:-$uplink}
    if ip6tables -L DOCKER-USER -n >/dev/null 2>&1; then
        if [ -n "$uplink6" ]; then
            novadock_firewall_rule ip6tables DOCKER-USER -i "$bridge" ! -o "$uplink6" -j DROP
        else
            # No uplink at all: nothing from the bridge is forwarded.
            novadock_firewall_rule ip6tables DOCKER-USER -i "$bridge" -j DROP
        fi
    fi
}

# novadock_firewall_rule TOOL CHAIN RULE...: inserts RULE first in CHAIN
# unless it is there (TOOL is iptables or ip6tables).
novadock_firewall_rule() {
    local tool=$1 chain=$2
    shift 2
    "$tool" -C "$chain" "$@" 2>/dev/null || "$tool" -I "$chain" "$@"
}

# Whether Docker's default bridge keeps containers apart (--icc=false). A
# dockerd started elsewhere may not; through a live-restore restart the
# bridge keeps its old setting while containers use it.
novadock_docker_icc_off() {
    docker network inspect bridge -f '{{index .Options "com.docker.network.bridge.enable_icc"}}' 2>/dev/null \
        | grep -q false
}
