#!/usr/bin/env bash
# Creates (or completes) the venv .venv-glance at the repo root with a real
# glance-api from PyPI, the OpenStack clients, gunicorn, and the novadock
# glance_store driver from ./glance_backend. Idempotent: packages already at
# the pinned versions are not reinstalled; the driver always is (it changes
# with the tree).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV="${NOVADOCK_GLANCE_VENV:-.venv-glance}"
GLANCE_VERSION=33.0.0
OSC_VERSION=10.5.0

fail() { echo "tools/glance/setup.sh: $*" >&2; exit 1; }

command -v python3 >/dev/null || fail "python3 is not installed"

if [ ! -x "$VENV/bin/python" ]; then
    echo "glance setup: creating $VENV"
    python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed (Debian: apt-get install python3-venv)"
fi

have() {
    "$VENV/bin/python" - "$@" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    got = version(name)
    if want and got != want:
        sys.exit(1)
PY
}

if ! have "glance==$GLANCE_VERSION" "python-openstackclient==$OSC_VERSION" \
        python-glanceclient gunicorn; then
    echo "glance setup: installing glance==$GLANCE_VERSION, python-openstackclient==$OSC_VERSION, python-glanceclient, gunicorn (a few minutes)"
    "$VENV/bin/pip" install -q --upgrade pip \
        || fail "could not upgrade pip in $VENV"
    "$VENV/bin/pip" install -q "glance==$GLANCE_VERSION" \
        "python-openstackclient==$OSC_VERSION" python-glanceclient gunicorn \
        || fail "pip could not install glance and its clients into $VENV"
fi

# Built from a copy so that no build/ or *.egg-info lands in the tree.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r novadock_client glance_backend "$build/"
rm -rf "$build"/*/build "$build"/*/*.egg-info
"$VENV/bin/pip" install -q --no-deps --force-reinstall "$build/novadock_client" \
    "$build/glance_backend" \
    || fail "pip could not install ./novadock_client and ./glance_backend into $VENV"

"$VENV/bin/python" - <<'PY' || fail "the novadock glance_store driver is not loadable in $VENV"
from importlib.metadata import entry_points
eps = [ep for ep in entry_points(group="glance_store.drivers") if ep.name == "novadock"]
assert eps, "no glance_store.drivers entry point 'novadock'"
eps[0].load()
PY
for tool in glance-api glance-manage openstack glance gunicorn; do
    [ -x "$VENV/bin/$tool" ] || fail "$VENV/bin/$tool is missing"
done
echo "glance setup: done ($("$VENV/bin/glance-manage" --version 2>&1 | tail -1), $VENV)"
