#!/usr/bin/env bash
# Nova's virt-driver conformance suite (nova.tests.unit.virt.test_virt_drivers)
# against the real novadock service and dockerd.
#
# Prints tests run/passed/skipped/failed and every "does not implement" line
# (the driver's gaps); exits non-zero if a test failed or errored.
#
# Env: PYTHON (default: .venv/bin/python of the repo, else python3),
#      NOVADOCK_BIN (default: target/debug/novadock of the repo).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)          # nova_shim/
repo=$(cd "$here/.." && pwd)
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$repo/.venv/bin/python" ]]; then PYTHON=$repo/.venv/bin/python
    else PYTHON=python3; fi
fi
export NOVADOCK_GAPS_FILE
NOVADOCK_GAPS_FILE=$(mktemp --tmpdir novadock-gaps.XXXXXX)
trap 'rm -f "$NOVADOCK_GAPS_FILE"' EXIT

cd "$repo"
"$PYTHON" - "$here" <<'PY'
import os
import sys
import unittest

top = sys.argv[1]
sys.path.insert(0, top)
suite = unittest.defaultTestLoader.loadTestsFromName("tests.nova_conformance")
result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)

with open(os.environ["NOVADOCK_GAPS_FILE"], encoding="utf-8") as f:
    gaps = [line.rstrip("\n") for line in f if line.strip()]

failed = len(result.failures) + len(result.errors) + len(
    result.unexpectedSuccesses)
skipped = len(result.skipped) + len(result.expectedFailures)
passed = result.testsRun - failed - skipped
print()
print("== novadock conformance (nova.tests.unit.virt.test_virt_drivers) ==")
print(f"tests run: {result.testsRun}")
print(f"passed:    {passed}")
print(f"skipped:   {skipped}")
print(f"failed:    {failed}")
for test, _ in result.failures + result.errors:
    print(f"  FAILED {test.id()}")
print(f'"does not implement" lines: {len(gaps)}')
for line in gaps:
    print(f"  {line}")
print(f"conformance: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
PY
