#!/usr/bin/env bash
# Rally on the one-machine cloud with two compute hosts (cloud/up.sh
# --computes 2), side by side in one run: the same boots and deletes with
# the second host disabled (one host) and enabled (two), then cold
# migrations between the two (task-multihost.yaml). Writes the reports and
# table into target/rally/ (multihost-*.json, multihost.md). Not part of the
# tests (it measures, it asserts nothing). TIMES_C1, TIMES_C5,
# MIGRATE_TIMES set the iterations.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CLOUD_REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=cloud/lib/computes.sh
. "$CLOUD_REPO/cloud/lib/computes.sh"
# shellcheck source=benchmarks/rally/lib.sh
. "$HERE/lib.sh"
OUT=$CLOUD_REPO/target/rally

[ -f "$CLOUD_ETC/openrc" ] || cloud_fail "no cloud: run cloud/up.sh --computes 2 first"
[ "$(cloud_computes)" -ge 2 ] || cloud_fail "one compute host: run cloud/up.sh --computes 2 first"
# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
rally_setup "$OUT"
second=$(cloud_host_name 2)
enable() { openstack compute service set --enable "$second" nova-compute; }
trap enable EXIT

net_id=$(openstack network show private -f value -c id)
task_args() {
    printf '{"net_id": "%s", "label": "%s", "migrate": %s, "times_c1": %s, "times_c5": %s, "migrate_times": %s}' \
        "$net_id" "$1" "$2" "${TIMES_C1:-20}" "${TIMES_C5:-30}" "${MIGRATE_TIMES:-10}"
}
openstack compute service set --disable --disable-reason "rally: one host" "$second" nova-compute
rally_task "$HERE/task-multihost.yaml" "$(task_args "one host" false)" "$OUT" multihost-one
enable
rally_task "$HERE/task-multihost.yaml" "$(task_args "two hosts" true)" "$OUT" multihost-two
{
    "$RALLY_VENV/bin/python" "$HERE/report.py" "$OUT/multihost-one.json"
    echo
    "$RALLY_VENV/bin/python" "$HERE/report.py" "$OUT/multihost-two.json"
} | tee "$OUT/multihost.md"
