#!/usr/bin/env bash
# The project's test command (see README): style, lints, the Rust tests and
# the Python tests, all against the machine's real dockerd, then Nova's own
# driver conformance suite against the real service.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

# What the tests need (Docker engine, Open vSwitch, the venvs): installed
# when missing, seconds when there, so that this one command runs on a
# fresh machine.
step "setup (tools/setup-dev.sh)"
tools/setup-dev.sh

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings
step "cargo build"
cargo build --locked
step "test image and Open vSwitch"
tools/build-test-image.sh
# A private OVS (userspace datapath: no kernel module needed) with br-int.
export NOVADOCK_TEST_OVSDB
NOVADOCK_TEST_OVSDB=$(tools/start-ovs.sh /run/novadock-test-ovs br-int)
step "cargo test (real dockerd, real Open vSwitch)"
cargo test --locked
step "cargo test: dockerd restart (restarts this machine's dockerd)"
cargo test --locked --test dockerd_restart -- --ignored
step "cargo test: Open vSwitch restart (restarts the tests' switch)"
cargo test --locked --test ovs_restart -- --ignored
step "ruff"
.venv/bin/ruff check novadock_client nova_shim glance_backend horizon_novadock benchmarks cloud
shellcheck -x tools/*.sh tools/lib/*.sh cloud/*.sh cloud/lib/*.sh cloud/tempest/*.sh cloud/horizon_test/*.sh
step "DevStack plugin (cannot run here: DevStack clones from the internet)"
bash -n devstack/plugin.sh && bash -n devstack/settings
shellcheck -x -s bash devstack/plugin.sh devstack/settings
.venv/bin/ruff check --config glance_backend/pyproject.toml tools/glance
step "novadock_client (the drivers' shared client) against the real service"
NOVADOCK_BIN="$PWD/target/debug/novadock" .venv/bin/python -m unittest discover -s novadock_client/tests -t novadock_client -v
step "python tests (real service, real dockerd, nova $(.venv/bin/python -c 'import nova.version as v; print(v.version_string())'))"
NOVADOCK_BIN="$PWD/target/debug/novadock" .venv/bin/python -m unittest discover -s nova_shim/tests -t nova_shim -v
step "glance_store driver and Glance facade (real glance-api $(.venv-glance/bin/python -c 'import glance.version as v; print(v.version_info.version_string())'))"
NOVADOCK_BIN="$PWD/target/debug/novadock" .venv-glance/bin/python -m unittest discover -s glance_backend/tests -t glance_backend -v
step "nova driver conformance suite"
NOVADOCK_BIN="$PWD/target/debug/novadock" PYTHON="$PWD/.venv/bin/python" nova_shim/tools/run-conformance.sh
step "nova functional harness: two novadock hosts (nova 34.0.0's integrated_helpers)"
NOVADOCK_BIN="$PWD/target/debug/novadock" nova_shim/tools/run-functional.sh
step "a real OpenStack on this machine (cloud/up.sh) and the end-to-end test through openstack/openstacksdk"
# One userspace datapath per host: the tests' switch gives way to the
# cloud's, where Neutron's Open vSwitch agent runs.
tools/stop-ovs.sh /run/novadock-test-ovs
# The debug build is the one tested above: no second (release) build.
NOVADOCK_BIN="$PWD/target/debug/novadock" cloud/run-e2e.sh
step "Horizon on that cloud, driven in Debian's headless chromium"
# Right after the e2e run the launch wizard's flavor step sometimes stays
# unchosen (seen 3 times in 8 runs, never when run on its own a minute
# later; under investigation, see the session note): one more run, said
# aloud, after the cloud settles.
if ! cloud/horizon_test/run.sh; then
    echo "horizon: failed right after the e2e run; running it once more in 30 s"
    sleep 30
    cloud/horizon_test/run.sh
fi
step "OpenStack's own API tests on that cloud: Tempest's tempest.api.compute.servers (exclusions: cloud/tempest/exclude.txt)"
cloud/tempest/run.sh
step "a second compute host on that cloud (cloud/up.sh --computes 2): the scheduler's spread, migrate, resize and evacuate between the hosts"
NOVADOCK_BIN="$PWD/target/debug/novadock" cloud/run-e2e-multihost.sh
step "the cloud's processes stopped as a reboot stops them, then cloud/down.sh --purge: nothing of it is left"
cloud/purge-check.sh
step "the same cloud on ML2/OVN (DevStack's default backend): the end-to-end and the Neutron tests again"
NOVADOCK_CLOUD_NEUTRON=ovn NOVADOCK_BIN="$PWD/target/debug/novadock" cloud/run-e2e.sh
step "the running OVN cloud purged: nothing of it is left (ovn-controller stopped before its bridges go)"
cloud/purge-check.sh --running
