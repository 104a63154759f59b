#!/usr/bin/env bash
# CI's end-to-end test: purges an earlier cloud's state, brings the cloud up
# (cloud/up.sh), then runs cloud/e2e_test.py, e2e_neutron_test.py and
# e2e_tenants_test.py against it with the cloud venv's python. Prints each
# check and "N passed, N failed"; exits non-zero on any failure, after the
# services' last errors. Extra arguments pick
# checks by name (e.g. boot_active console_log). NOVADOCK_CLOUD_NEUTRON=ovn
# runs it all on ML2/OVN instead of the Open vSwitch agent.
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"

# The test starts from a fresh cloud: whatever an earlier run (or a user)
# left in the cloud's databases and engine is purged (even when only the
# databases are left: their cells hold an earlier password); the venv stays.
cloud_log "run-e2e: purging an earlier cloud's state (cloud/down.sh --purge)"
"$CLOUD_REPO/cloud/down.sh" --purge
cloud_trap_errors

start=$SECONDS
"$CLOUD_REPO/cloud/up.sh"
up=$((SECONDS - start))
# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
echo "run-e2e: cloud up in ${up}s (logs: $CLOUD_LOG)"
# The test's own summary ("N passed, N failed") stays the last line when
# it passes.
CLOUD_UP_SECONDS=$up timeout 1500 "$CLOUD_VENV/bin/python" "$CLOUD_REPO/cloud/e2e_test.py" "$@"
if [ $# -eq 0 ]; then
    # Neutron's backend (the OVS agent, or OVN): security groups, port
    # security, restarts, a port no agent wires.
    timeout 900 "$CLOUD_VENV/bin/python" "$CLOUD_REPO/cloud/e2e_neutron_test.py"
    # Two projects, one hostile: private images, a poisoned upload, the
    # facade (nothing of Neutron's: run on the default backend only).
    if [ "$CLOUD_NEUTRON_BACKEND" = ovs ]; then
        timeout 900 "$CLOUD_VENV/bin/python" "$CLOUD_REPO/cloud/e2e_tenants_test.py"
    fi
fi
