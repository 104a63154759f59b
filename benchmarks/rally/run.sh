#!/usr/bin/env bash
# Rally (rally-openstack 4.1.0 from PyPI) on the one-machine cloud, novadock
# side by side with Nova's own fake driver in one run (issue 14's figures):
# starts a second nova-compute with compute_driver = fake.FakeDriver as its
# own host in availability zone "fake-az", runs task.yaml with Rally's poll
# intervals lowered (rally.conf), writes the report and the table
# (report.py) into target/rally/, then removes the fake host again. Needs
# a cloud (cloud/up.sh); not part of the tests (it measures, it asserts
# nothing). TIMES_C1, TIMES_C5, BOUNCE_TIMES set the iterations.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CLOUD_REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=benchmarks/rally/lib.sh
. "$HERE/lib.sh"
OUT=$CLOUD_REPO/target/rally
FAKE_HOST=novadock-fake-bench
FAKE_AZ=fake-az

[ -f "$CLOUD_ETC/openrc" ] || cloud_fail "no cloud: run cloud/up.sh first"
# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
rally_setup "$OUT"

# The fake host: the cloud's nova.conf, its own host name and state (Nova
# keeps a compute node's uuid in state_path).
fake_conf=$CLOUD_ETC/nova/nova-fake-bench.conf
(umask 077; printf '[DEFAULT]\nhost = %s\ncompute_driver = fake.FakeDriver\nstate_path = %s\n' \
    "$FAKE_HOST" "$CLOUD_DATA/nova-fake-bench" >"$fake_conf")
mkdir -p "$CLOUD_DATA/nova-fake-bench"
"$CLOUD_VENV/bin/nova-compute" --config-file "$CLOUD_ETC/nova/nova.conf" --config-file "$fake_conf" \
    >>"$CLOUD_LOG/nova-compute-fake-bench.log" 2>&1 &
fake_pid=$!
cleanup() {
    kill "$fake_pid" 2>/dev/null || true
    wait "$fake_pid" 2>/dev/null || true
    openstack aggregate remove host rally-fake "$FAKE_HOST" >/dev/null 2>&1 || true
    openstack aggregate delete rally-fake >/dev/null 2>&1 || true
    local id
    for id in $(openstack compute service list --host "$FAKE_HOST" -f value -c ID 2>/dev/null); do
        openstack compute service delete "$id" >/dev/null 2>&1 || true
    done
    rm -f "$fake_conf"
    rm -rf "$CLOUD_DATA/nova-fake-bench"
}
trap cleanup EXIT
cloud_log "rally: waiting for the fake compute host $FAKE_HOST"
cloud_wait 120 "nova-compute $FAKE_HOST" sh -c "openstack compute service list --host $FAKE_HOST -f value -c State | grep -q up"
"$CLOUD_VENV/bin/nova-manage" --config-file "$CLOUD_ETC/nova/nova.conf" cell_v2 discover_hosts >/dev/null
cloud_wait 120 "the hypervisor $FAKE_HOST" sh -c "openstack hypervisor list -f value -c 'Hypervisor Hostname' | grep -q ."
openstack aggregate create --zone "$FAKE_AZ" rally-fake >/dev/null
openstack aggregate add host rally-fake "$FAKE_HOST" >/dev/null

net_id=$(openstack network show private -f value -c id)
args=$(printf '{"net_id": "%s", "fake_az": "%s", "times_c1": %s, "times_c5": %s, "bounce_times": %s}' \
    "$net_id" "$FAKE_AZ" "${TIMES_C1:-20}" "${TIMES_C5:-30}" "${BOUNCE_TIMES:-10}")
rally_task "$HERE/task.yaml" "$args" "$OUT" report
"$RALLY_VENV/bin/python" "$HERE/report.py" "$OUT/report.json" | tee "$OUT/table.md"
