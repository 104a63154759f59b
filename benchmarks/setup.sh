#!/usr/bin/env bash
# Creates the spawn benchmark's own venv (target/bench-venv, ignored by git):
# the Docker SDK that nova-docker and Zun use, and matplotlib for the plot.
# Kept out of .venv so the driver's environment stays what nova-compute runs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BENCH_VENV:-target/bench-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check 'docker==7.1.0' 'matplotlib>=3.8'
echo "$VENV/bin/python"
