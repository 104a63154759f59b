#!/usr/bin/env bash
# Horizon's browser test: brings up what is missing (the cloud when keystone
# does not answer, Horizon, Debian's chromium, playwright-core by npm ci),
# then drives Debian's headless chromium through horizon_test.mjs. Prints
# each step and "N passed, N failed"; exits non-zero on any failure.
# HORIZON_ARTIFACTS: screenshots (default cloud/horizon_test/artifacts);
# HORIZON_DOCS_PNG=docs/horizon-instances.png also copies the instance list.
# HORIZON_DOCS_CONSOLE_PNG=docs/horizon-console.png copies the Console tab.
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/../.." && pwd)
TEST_DIR=$CLOUD_REPO/cloud/horizon_test
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=cloud/lib/system.sh
. "$CLOUD_REPO/cloud/lib/system.sh"
# shellcheck source=cloud/lib/config.sh
. "$CLOUD_REPO/cloud/lib/config.sh"

[ "$(id -u)" = 0 ] || cloud_fail "run as root"
mkdir -p "$CLOUD_LOG"

# A cloud that answers is in use (maybe by others): never restarted here.
if cloud_http_up "$(cloud_url keystone)/v3"; then
    cloud_log "keystone answers: reusing the running cloud"
else
    cloud_log "keystone does not answer: running cloud/up.sh"
    "$CLOUD_REPO/cloud/up.sh"
fi
"$CLOUD_REPO/cloud/horizon.sh" up

# No recommends: a headless browser needs neither a desktop nor printing.
CLOUD_APT_PACKAGES=(chromium fonts-liberation)
cloud_install_packages
cloud_log "chromium: $(/usr/bin/chromium --version 2>/dev/null)"

command -v npm >/dev/null || cloud_fail "node and npm are needed (node >= 20)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
    || cloud_fail "node $(node --version) is too old: playwright-core needs node >= 20"
if ! cmp -s "$TEST_DIR/package-lock.json" "$TEST_DIR/node_modules/.package-lock.json.ci" 2>/dev/null; then
    cloud_log "npm ci (playwright-core; no browser download)"
    (cd "$TEST_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) \
        || cloud_fail "npm ci failed"
    cp "$TEST_DIR/package-lock.json" "$TEST_DIR/node_modules/.package-lock.json.ci"
fi
cloud_log "playwright-core $(cd "$TEST_DIR" && node -p 'require("playwright-core/package.json").version')"

# shellcheck disable=SC1091
. "$CLOUD_ETC/openrc"
name=hz-test-$(date +%H%M%S)-$$
# What the test made is removed even when it stopped half-way.
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local id
    for id in $(timeout 60 openstack server list --name "^$name\$" -f value -c ID 2>/dev/null); do
        cloud_log "cleanup: server $name"
        timeout 120 openstack server delete --wait "$id" || true
    done
    for id in $(timeout 60 openstack image list --name "$name-snap" -f value -c ID 2>/dev/null); do
        cloud_log "cleanup: image $name-snap"
        timeout 60 openstack image delete "$id" || true
    done
}
trap cleanup EXIT

url=http://$CLOUD_HOST:${HORIZON_PORT:-8080}
cloud_log "browser test: instance $name on $url"
rc=0
HORIZON_URL=$url HORIZON_USER=$OS_USERNAME HORIZON_PASSWORD=$OS_PASSWORD \
    HORIZON_NAME=$name HORIZON_ARTIFACTS=${HORIZON_ARTIFACTS:-$TEST_DIR/artifacts} \
    timeout 1200 node "$TEST_DIR/horizon_test.mjs" || rc=$?
[ $rc = 0 ] || cloud_log "browser test failed (exit $rc); Horizon's log: $CLOUD_LOG/horizon.log"
exit $rc
