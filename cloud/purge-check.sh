#!/usr/bin/env bash
# CI's check that a cloud whose processes are gone (a reboot, the end of a
# session: the disk keeps the databases, the engine's containers and the
# OVS port records) is purged completely by `cloud/down.sh --purge`. Runs
# on the cloud run-e2e.sh brought up: it records that cloud's instances,
# Glance images and ports, stops every service (cloud/down.sh), purges, and
# checks that none of them is left. With --running it purges the running
# cloud at once (`down.sh --purge`, as CI ends its OVN run), the order in
# which a running ovn-controller could recreate the bridges being deleted.
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=cloud/lib/system.sh
. "$CLOUD_REPO/cloud/lib/system.sh"
# shellcheck source=cloud/lib/computes.sh
. "$CLOUD_REPO/cloud/lib/computes.sh"

mapfile -t instances < <(cloud_mysql -N -e "SELECT uuid FROM nova.instances WHERE deleted = 0")
mapfile -t images < <(cloud_mysql -N -e "SELECT id FROM glance.images WHERE deleted = 0")
mapfile -t ports < <(ovs-vsctl --timeout=10 list-ports "$CLOUD_BRIDGE" | grep '^tap' || true)
if [ ${#instances[@]} = 0 ] || [ ${#images[@]} = 0 ] || [ ${#ports[@]} = 0 ]; then
    cloud_fail "purge-check needs a cloud with instances, images and ports (run cloud/run-e2e.sh first)"
fi
computes=$(cloud_computes)
echo "purge-check: ${#instances[@]} instances, ${#images[@]} images, ${#ports[@]} ports, $computes compute hosts"

if [ "${1:-}" != --running ]; then
    "$CLOUD_REPO/cloud/down.sh"
    cloud_mysql -e 'select 1' >/dev/null 2>&1 && cloud_fail "the database server still runs after down.sh"
fi
"$CLOUD_REPO/cloud/down.sh" --purge

failed=0
# The engine is asked, so it must answer: down.sh stops it when the cloud
# started it.
cloud_start_docker
left() { echo "purge-check: FAIL: $*"; failed=1; }
for db in "${CLOUD_DATABASES[@]}"; do
    if [ -d "/var/lib/mysql/$db" ]; then left "database $db"; fi
done
for u in "${instances[@]}"; do
    if docker inspect "nova-$u" >/dev/null 2>&1; then left "container nova-$u"; fi
done
for i in "${images[@]}"; do
    if docker image inspect "novadock-glance:$i" >/dev/null 2>&1; then left "image novadock-glance:$i"; fi
done
# Reading the port records needs no server.
records=$(ovsdb-tool query /etc/openvswitch/conf.db \
    '["Open_vSwitch",{"op":"select","table":"Port","where":[],"columns":["name"]}]')
for p in "${ports[@]}"; do
    case $records in *"\"$p\""*) left "OVS port $p" ;; esac
done
for u in "${instances[@]}"; do
    if [ -e "/var/lib/novadock/config-drive/$u" ]; then left "config drive of $u"; fi
done
bridges=$(ovsdb-tool query /etc/openvswitch/conf.db \
    '["Open_vSwitch",{"op":"select","table":"Bridge","where":[],"columns":["name"]}]')
# (Read first: grep -q in a pipe under pipefail can fail on SIGPIPE.)
rules=$(iptables -S 2>/dev/null || true)
bridge_left() { case $bridges in *"\"$1\""*) left "OVS bridge $1" ;; esac; }
# Host 1's bridges too (on OVN, an ovn-controller left running recreated br-int).
bridge_left "$CLOUD_BRIDGE"
bridge_left "$CLOUD_PROVIDER_BRIDGE"
# The extra compute hosts (cloud/up.sh --computes): engine, bridges, drives.
for ((i = 2; i <= computes; i++)); do
    if cloud_alive "dockerd-$i"; then left "dockerd of host $i"; fi
    if ip link show "$(cloud_host_docker_bridge "$i")" >/dev/null 2>&1; then left "bridge $(cloud_host_docker_bridge "$i")"; fi
    if grep -qE -- "-[io] $(cloud_host_docker_bridge "$i")( |\$)" <<<"$rules"; then left "iptables rules of $(cloud_host_docker_bridge "$i")"; fi
    bridge_left "$(cloud_host_int_bridge "$i")"
    bridge_left "$(cloud_host_ex_bridge "$i")"
    if [ -e "/var/lib/novadock/config-drive-$i" ]; then left "config drives of host $i"; fi
done
if [ -e "$CLOUD_ETC" ]; then left "$CLOUD_ETC"; fi
cloud_stop dockerd
rm -rf "$CLOUD_RUN"
[ "$failed" = 0 ] || exit 1
echo "purge-check: passed (no database, container, image, port or state of the cloud is left)"
