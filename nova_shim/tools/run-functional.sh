#!/usr/bin/env bash
# Nova's in-process functional harness with two novadock compute hosts
# (nova_shim/functional): host1 on the machine's dockerd and the tests' Open
# vSwitch, host2 on a second dockerd (tools/start-second-dockerd.sh) and its
# own Open vSwitch in the network namespace nvdk-host2.
#
# Needs tools/setup-dev.sh, tools/build-test-image.sh and tools/start-ovs.sh
# (as tools/test.sh runs them) and a built service. Prints tests
# run/passed/skipped/failed and each failure's last lines; the full output is
# kept in $NOVADOCK_FUNCTIONAL_LOG. Exits non-zero if a test failed.
# What it started (second dockerd, host2's switch and namespace) it stops
# again by PID; the services are stopped by the test process.
#
# Env: PYTHON (default .venv/bin/python), NOVADOCK_BIN (default
#      target/debug/novadock), OS_NOVA_DISABLE_EVENTLET_PATCHING (default 1:
#      native threads, as nova-compute runs in 2026.2; 0 for eventlet),
#      NOVADOCK_FUNCTIONAL_LOG, and test names as arguments (e.g.
#      functional.test_evacuate).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)          # nova_shim/
repo=$(cd "$here/.." && pwd)
cd "$repo"
PYTHON=${PYTHON:-$repo/.venv/bin/python}
export NOVADOCK_BIN=${NOVADOCK_BIN:-$repo/target/debug/novadock}
export OS_NOVA_DISABLE_EVENTLET_PATCHING=${OS_NOVA_DISABLE_EVENTLET_PATCHING:-1}
log=${NOVADOCK_FUNCTIONAL_LOG:-$(mktemp --tmpdir novadock-functional.XXXXXX.log)}

DOCKER2_RUN=/run/novadock-test-docker2
OVS2_DIR=/run/novadock-test-ovs-host2
NETNS2=nvdk-host2

[[ -x "$NOVADOCK_BIN" ]] || { echo "no service binary at $NOVADOCK_BIN (cargo build --locked)" >&2; exit 2; }
"$PYTHON" -c "import placement, nova.tests.functional.integrated_helpers" 2>/dev/null \
    || { echo "$PYTHON lacks nova's functional harness or openstack-placement==16.0.0 (tools/setup-dev.sh)" >&2; exit 2; }
docker image inspect novadock-test/busybox:latest >/dev/null 2>&1 \
    || { echo "test image missing: tools/build-test-image.sh" >&2; exit 2; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
started_docker2=0; started_ovs2=0; started_netns2=0
alive "$DOCKER2_RUN/dockerd.pid" || started_docker2=1
alive "$OVS2_DIR/ovsdb-server.pid" || started_ovs2=1
ip netns list | grep -qw "$NETNS2" || started_netns2=1

cleanup() {
    if [[ $started_ovs2 = 1 ]]; then
        for d in ovs-vswitchd ovsdb-server; do
            if alive "$OVS2_DIR/$d.pid"; then kill -TERM "$(cat "$OVS2_DIR/$d.pid")" || true; fi
        done
    fi
    if [[ $started_netns2 = 1 ]] && ip netns list | grep -qw "$NETNS2"; then
        ip netns del "$NETNS2" || true
    fi
    if [[ $started_docker2 = 1 ]]; then
        tools/start-second-dockerd.sh stop || true
    fi
}
trap cleanup EXIT

start=$(date +%s)
set +e
# fd 3: the summary; stdout and stderr (nova logs a great deal): the log.
"$PYTHON" - "$here" "$@" 3>&1 >"$log" 2>&1 <<'PY'
import os
import sys
import unittest

top, names = sys.argv[1], sys.argv[2:]
sys.path.insert(0, top)
loader = unittest.defaultTestLoader
if names:
    suite = loader.loadTestsFromNames(names)
else:
    suite = loader.discover(f"{top}/functional", top_level_dir=top)
result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
out = os.fdopen(3, "w")


def summary(text):
    """The final exception and its message, without nova's captured log."""
    last = text.split("Traceback (most recent call last):")[-1].splitlines()
    body = [line for line in last if line and not line.startswith(" ")]
    return "\n    ".join(body[:12])


problems = result.failures + result.errors
for test, text in problems:
    print(f"FAILED {test.id()}:\n    {summary(text)}", file=out)
for test in result.unexpectedSuccesses:
    print(f"FAILED {test.id()}: unexpected success", file=out)
for test, reason in result.skipped:
    print(f"skipped {test.id()}: {reason}", file=out)
failed = len(problems) + len(result.unexpectedSuccesses)
skipped = len(result.skipped) + len(result.expectedFailures)
print(f"\nfunctional tests: {result.testsRun} run, "
      f"{result.testsRun - failed - skipped} passed, {skipped} skipped, "
      f"{failed} failed", file=out)
out.flush()
sys.exit(1 if failed or not result.testsRun else 0)
PY
rc=$?
set -e
echo "took $(( $(date +%s) - start )) s; full output: $log"
exit $rc
