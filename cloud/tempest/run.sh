#!/usr/bin/env bash
# OpenStack's own API tests (Tempest, from PyPI) against the one-machine
# cloud (cloud/up.sh must have run): the compute servers API with its
# negative tests. Installs tempest into its own venv, writes tempest.conf
# from the cloud's openrc, adds what the tests need (a second flavor, a
# second image), and runs `tempest run` with the exclusions of
# cloud/tempest/exclude.txt (each with its reason). Extra arguments replace
# the test regex (default: tempest.api.compute.servers).
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=cloud/lib/computes.sh
. "$CLOUD_REPO/cloud/lib/computes.sh"
TEMPEST_VERSION=47.0.0
VENV=$CLOUD_DIR/tempest-venv
WORK=$CLOUD_DIR/tempest
REGEX=${1:-'^tempest\.api\.compute\.servers\.'}

[ -f "$CLOUD_ETC/openrc" ] || cloud_fail "no cloud: run cloud/up.sh first"
# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
if ! "$VENV/bin/python" -c "import tempest" 2>/dev/null \
    || [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("tempest"))')" != "$TEMPEST_VERSION" ]; then
    cloud_log "tempest: installing tempest==$TEMPEST_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip >"$CLOUD_LOG/tempest-pip.log" 2>&1
    "$VENV/bin/pip" install -q "tempest==$TEMPEST_VERSION" >>"$CLOUD_LOG/tempest-pip.log" 2>&1 \
        || { tail -20 "$CLOUD_LOG/tempest-pip.log" >&2; cloud_fail "pip install tempest failed"; }
fi

# What the servers tests need beyond what up.sh made: a second flavor (resize)
# and a second image (rebuild), both as an admin would make them.
openstack flavor show m1.small >/dev/null 2>&1 \
    || openstack flavor create --ram 512 --vcpus 1 --disk 1 m1.small >/dev/null
if ! openstack image show busybox-alt >/dev/null 2>&1; then
    docker save novadock-cloud/busybox:latest | openstack image create --container-format docker \
        --disk-format raw --public busybox-alt >/dev/null
fi
# Cold migration between hosts (cloud/up.sh --computes 2 or more).
computes=$(cloud_computes)
cold_migration=$([ "$computes" -ge 2 ] && echo true || echo false)
image=$(openstack image show busybox -f value -c id)
image_alt=$(openstack image show busybox-alt -f value -c id)
flavor=$(openstack flavor show m1.tiny -f value -c id)
flavor_alt=$(openstack flavor show m1.small -f value -c id)

# A tempest workspace (stestr's configuration), made once.
[ -f "$WORK/.stestr.conf" ] || "$VENV/bin/tempest" init "$WORK" >/dev/null
cd "$WORK"
cat >"$WORK/etc/tempest.conf" <<EOF2
[DEFAULT]
log_file = $CLOUD_LOG/tempest.log
[auth]
use_dynamic_credentials = true
# No L3 agent on this cloud: the tests' projects boot on the shared
# network "private" instead of networks and routers of their own.
create_isolated_networks = false
admin_username = $OS_USERNAME
admin_password = $OS_PASSWORD
admin_project_name = $OS_PROJECT_NAME
admin_domain_name = Default
[identity]
uri_v3 = $OS_AUTH_URL
auth_version = v3
region = $OS_REGION_NAME
[identity-feature-enabled]
api_v2 = false
[compute]
image_ref = $image
image_ref_alt = $image_alt
flavor_ref = $flavor
flavor_ref_alt = $flavor_alt
fixed_network_name = private
min_compute_nodes = $computes
# Every API microversion this Nova has: the tests of later ones (tags,
# instance actions, device tags, ...) run too.
min_microversion = 2.1
max_microversion = latest
build_timeout = 180
[compute-feature-enabled]
# What novadock claims (README: "What a container gets").
resize = true
pause = true
suspend = true
snapshot = true
console_output = true
interface_attach = true
config_drive = true
cold_migration = $cold_migration
# Not claimed (see exclude.txt for single tests): no guest agent, no live
# migration, no graphical console, no rescue, no shelve. The serial console is real
# (a shell in the container through nova-serialproxy); tempest's only
# serial-console test is a live migration's, which this cloud does not claim.
change_password = false
rescue = false
shelve = false
shelve_migrate = false
live_migration = false
vnc_console = false
spice_console = false
serial_console = true
metadata_service = false
personality = false
disk_config = false
stable_rescue = false
[network]
public_network_id =
floating_network_name =
[network-feature-enabled]
floating_ips = false
[validation]
run_validation = false
[service_available]
nova = true
neutron = true
glance = true
cinder = false
swift = false
horizon = false
EOF2
chmod 600 "$WORK/etc/tempest.conf"
cloud_log "tempest: running $REGEX (exclusions: cloud/tempest/exclude.txt)"
"$VENV/bin/tempest" run --config-file "$WORK/etc/tempest.conf" --regex "$REGEX" \
    --exclude-list "$CLOUD_REPO/cloud/tempest/exclude.txt" --concurrency 2
