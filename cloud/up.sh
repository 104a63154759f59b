#!/usr/bin/env bash
# A real OpenStack on this machine (keystone, glance, placement, nova,
# neutron from PyPI) whose compute host is novadock. Run as root on Debian
# 12 from a clone of novadock; again to reuse what is there. Everything
# lives under $NOVADOCK_CLOUD_DIR (default /opt/novadock-cloud): venv/,
# etc/ (configs, openrc), log/, run/ (PID files), data/.
# The cloud's services run under a supervisord of its own, which restarts
# one that exits. cloud/down.sh stops what this started.
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=cloud/lib/system.sh
. "$CLOUD_REPO/cloud/lib/system.sh"
# shellcheck source=cloud/lib/python.sh
. "$CLOUD_REPO/cloud/lib/python.sh"
# shellcheck source=cloud/lib/novadock.sh
. "$CLOUD_REPO/cloud/lib/novadock.sh"
# shellcheck source=cloud/lib/config.sh
. "$CLOUD_REPO/cloud/lib/config.sh"
# shellcheck source=cloud/lib/services.sh
. "$CLOUD_REPO/cloud/lib/services.sh"
# shellcheck source=cloud/lib/computes.sh
. "$CLOUD_REPO/cloud/lib/computes.sh"

# --computes N: N compute hosts on this machine (cloud/lib/computes.sh);
# kept for the next up.sh and down.sh. Default: as the last up.sh, else 1.
CLOUD_COMPUTES=$(cloud_computes)
while [ $# -gt 0 ]; do
    case $1 in
        --computes) CLOUD_COMPUTES=${2:-}; shift 2 || true ;;
        --computes=*) CLOUD_COMPUTES=${1#*=}; shift ;;
        *) cloud_fail "unknown argument $1 (usage: up.sh [--computes N])" ;;
    esac
done
if ! [[ $CLOUD_COMPUTES =~ ^[1-9]$ ]] || [ "$CLOUD_COMPUTES" -gt "$CLOUD_MAX_COMPUTES" ]; then
    cloud_fail "--computes takes 1 to $CLOUD_MAX_COMPUTES"
fi
# Several ovn-controllers need several Open vSwitch databases: not here.
[ "$CLOUD_COMPUTES" = 1 ] || [ "$CLOUD_NEUTRON_BACKEND" = ovs ] \
    || cloud_fail "--computes above 1 needs the Open vSwitch agent (NOVADOCK_CLOUD_NEUTRON=ovs)"

[ "$(id -u)" = 0 ] || cloud_fail "run as root"
start=$SECONDS
mkdir -p "$CLOUD_LOG" "$CLOUD_RUN" "$CLOUD_DATA"
cloud_secrets
echo "$CLOUD_COMPUTES" >"$CLOUD_COMPUTES_FILE"

cloud_install_packages
cloud_start_docker
cloud_start_ovs
[ "$CLOUD_NEUTRON_BACKEND" = ovn ] && cloud_start_ovn
cloud_plug_gateway
cloud_start_rabbitmq
cloud_start_memcached
cloud_start_mariadb
cloud_install_python "$CLOUD_REPO"
cloud_build_novadock "$CLOUD_REPO"
cloud_configure
cloud_db_sync
cloud_start_supervisor
cloud_start_novadock
cloud_start_keystone

# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
export CLOUD_SERVICE_PASSWORD=$SERVICE_PASSWORD CLOUD_NET_CIDR CLOUD_NET_GW CLOUD_PHYSNET CLOUD_NEUTRON_BACKEND \
    CLOUD_COMPUTE_HOSTS CLOUD_NOVA_MANAGE=$CLOUD_VENV/bin/nova-manage CLOUD_NOVA_CONF=$CLOUD_ETC/nova/nova.conf \
    CLOUD_BUILD_IMAGE=$CLOUD_REPO/tools/build-test-image.sh
CLOUD_COMPUTE_HOSTS=$(for ((i = 1; i <= CLOUD_COMPUTES; i++)); do cloud_host_name "$i"; done)
bootstrap() { "$CLOUD_VENV/bin/python" "$CLOUD_REPO/cloud/lib/bootstrap.py" "$@"; }
if [ ! -f "$CLOUD_RUN/identity-done" ]; then
    cloud_log "keystone: service users and catalog"
    bootstrap identity
    touch "$CLOUD_RUN/identity-done"
fi
cloud_start_services
cloud_up_extra_hosts "$CLOUD_COMPUTES"
cloud_log "flavor m1.tiny, network private ($CLOUD_NET_CIDR), compute host, image busybox, server demo"
bootstrap resources compute image demo

cat <<EOS

novadock cloud is up ($((SECONDS - start)) s). Logs: $CLOUD_LOG
  source $CLOUD_ETC/openrc
  openstack server list
  openstack console log show demo
  openstack server create --image busybox --flavor m1.tiny --network private web1
  instances on $CLOUD_NET_CIDR are reached from this host through their
  security groups (the default one lets in only its own members):
  openstack security group rule create --protocol icmp default
  docker ps --filter label=org.openstack.nova.instance-uuid
Stop it all: $CLOUD_REPO/cloud/down.sh
EOS
