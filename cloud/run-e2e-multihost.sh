#!/usr/bin/env bash
# The two-host end-to-end test: brings the cloud to two compute hosts on
# this machine (cloud/up.sh --computes 2: the running cloud gets a second
# host, or a new cloud comes up with two), then runs
# cloud/e2e_multihost_test.py against it, then Tempest's tests of several
# hosts (cold migration, server groups). Prints each check and "N passed, N
# failed"; exits non-zero on any failure, after the services' last errors.
# Extra arguments pick e2e checks by name (and skip Tempest). For a clean
# start: cloud/down.sh --purge first.
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
cloud_trap_errors

start=$SECONDS
"$CLOUD_REPO/cloud/up.sh" --computes 2
echo "run-e2e-multihost: two hosts up in $((SECONDS - start))s (logs: $CLOUD_LOG)"
# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
timeout 1200 "$CLOUD_VENV/bin/python" "$CLOUD_REPO/cloud/e2e_multihost_test.py" "$@"
if [ $# -eq 0 ]; then
    # tempest.conf says two compute nodes and cold migration (tempest/run.sh).
    "$CLOUD_REPO/cloud/tempest/run.sh" '^tempest\.api\.compute\.admin\.(test_migrations|test_servers_on_multinodes)\.'
fi
