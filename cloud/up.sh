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

[ "$(id -u)" = 0 ] || cloud_fail "run as root"
start=$SECONDS
mkdir -p "$CLOUD_LOG" "$CLOUD_RUN" "$CLOUD_DATA"
cloud_secrets

cloud_install_packages
cloud_start_docker
cloud_start_ovs
[ "$CLOUD_NEUTRON_BACKEND" = ovn ] && cloud_start_ovn
cloud_plug_gateway
cloud_start_rabbitmq
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
    CLOUD_COMPUTE_HOST CLOUD_NOVA_MANAGE=$CLOUD_VENV/bin/nova-manage CLOUD_NOVA_CONF=$CLOUD_ETC/nova/nova.conf \
    CLOUD_BUILD_IMAGE=$CLOUD_REPO/tools/build-test-image.sh
CLOUD_COMPUTE_HOST=$(hostname)
bootstrap() { "$CLOUD_VENV/bin/python" "$CLOUD_REPO/cloud/lib/bootstrap.py" "$@"; }
if [ ! -f "$CLOUD_RUN/identity-done" ]; then
    cloud_log "keystone: service users and catalog"
    bootstrap identity
    touch "$CLOUD_RUN/identity-done"
fi
cloud_start_services
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
