# shellcheck shell=bash
# The cloud's one venv ($CLOUD_VENV): OpenStack from PyPI at pinned
# versions, gunicorn, python-memcached (keystonemiddleware's token cache),
# and novadock's three Python packages.

cloud_venv_has() {
    "$CLOUD_VENV/bin/python" - "$@" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    if want and version(name) != want or not version(name):
        sys.exit(1)
PY
}

# cloud_install_python REPO: REPO is the novadock checkout.
cloud_install_python() {
    local repo=$1 build
    local pins=("keystone==$KEYSTONE_VERSION" "openstack-placement==$PLACEMENT_VERSION"
        "glance==$GLANCE_VERSION" "neutron==$NEUTRON_VERSION" "nova==$NOVA_VERSION"
        "python-openstackclient==$OSC_VERSION" gunicorn PyMySQL python-memcached)
    [ -x "$CLOUD_VENV/bin/python" ] || python3 -m venv "$CLOUD_VENV" || cloud_fail "python3 -m venv failed"
    if ! cloud_venv_has "${pins[@]}"; then
        cloud_log "installing OpenStack into $CLOUD_VENV (a few minutes)"
        "$CLOUD_VENV/bin/pip" install -q --upgrade pip >"$CLOUD_LOG/pip.log" 2>&1
        "$CLOUD_VENV/bin/pip" install -q "${pins[@]}" >>"$CLOUD_LOG/pip.log" 2>&1 \
            || { tail -20 "$CLOUD_LOG/pip.log" >&2; cloud_fail "pip install failed (log: $CLOUD_LOG/pip.log)"; }
    fi
    # Ours change with the tree: reinstalled (from copies, so that no build/
    # or *.egg-info lands in the tree) when their sources changed, and the
    # services that load them restarted.
    local sum
    sum=$(cd "$repo" && find novadock_client/novadock_client nova_shim/nova glance_backend/novadock_glance_store \
        -name '*.py' -o -name pyproject.toml | sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
    [ "$(cat "$CLOUD_RUN/python-packages.sum" 2>/dev/null)" = "$sum" ] && return 0
    cloud_log "installing novadock's Python packages (novadock_client, nova_shim, glance_backend)"
    build=$(mktemp -d)
    cp -r "$repo/novadock_client" "$repo/nova_shim" "$repo/glance_backend" "$build/"
    rm -rf "$build"/*/build "$build"/*/*.egg-info
    "$CLOUD_VENV/bin/pip" install -q --no-deps --force-reinstall \
        "$build/novadock_client" "$build/nova_shim" "$build/glance_backend" >>"$CLOUD_LOG/pip.log" 2>&1 \
        || { rm -rf "$build"; tail -20 "$CLOUD_LOG/pip.log" >&2; cloud_fail "pip could not install novadock's packages"; }
    rm -rf "$build"
    # Neutron's Open vSwitch agent replaced the agentless mechanism driver
    # an earlier cloud installed.
    "$CLOUD_VENV/bin/pip" uninstall -q -y neutron-novadock >>"$CLOUD_LOG/pip.log" 2>&1 || true
    echo "$sum" >"$CLOUD_RUN/python-packages.sum"
    touch "$CLOUD_RUN/nova-compute.changed" "$CLOUD_RUN/glance.changed" "$CLOUD_RUN/neutron.changed" \
        "$CLOUD_RUN"/nova-compute-{2..4}.changed
}

# The novadock service binary: a release build of the checkout, or
# $NOVADOCK_BIN when set (a binary built elsewhere).
cloud_build_novadock() {
    local repo=$1
    if [ -n "${NOVADOCK_BIN:-}" ]; then
        [ -x "$NOVADOCK_BIN" ] || cloud_fail "NOVADOCK_BIN=$NOVADOCK_BIN is not executable"
        return 0
    fi
    cloud_log "building novadock (cargo build --release --locked)"
    (cd "$repo" && cargo build --release --locked -q) >"$CLOUD_LOG/cargo.log" 2>&1 \
        || { tail -30 "$CLOUD_LOG/cargo.log" >&2; cloud_fail "cargo build failed (log: $CLOUD_LOG/cargo.log)"; }
    # shellcheck disable=SC2034
    NOVADOCK_BIN=$repo/target/release/novadock
}
