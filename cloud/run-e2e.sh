#!/usr/bin/env bash
# CI's end-to-end test: brings the cloud up (cloud/up.sh), then runs
# cloud/e2e_test.py against it with the cloud venv's python. Prints each
# check and "N passed, N failed"; exits non-zero on any failure. Extra
# arguments pick checks by name (e.g. boot_active console_log).
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"

start=$SECONDS
"$CLOUD_REPO/cloud/up.sh"
up=$((SECONDS - start))
# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
echo "run-e2e: cloud up in ${up}s (logs: $CLOUD_LOG)"
# The test's own summary ("N passed, N failed") stays the last line.
CLOUD_UP_SECONDS=$up exec timeout 1500 "$CLOUD_VENV/bin/python" "$CLOUD_REPO/cloud/e2e_test.py" "$@"
