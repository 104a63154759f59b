#!/usr/bin/env bash
# Installs what novadock's build and tests need on a fresh Debian machine,
# as root, and is a no-op for what is already there:
#   Debian packages (docker.io, openvswitch-switch, busybox-static, ...),
#   a running dockerd,
#   the Python venv .venv with nova from PyPI and the novadock driver,
#   and .venv-glance with glance-api and the novadock glance_store driver.
set -euo pipefail
cd "$(dirname "$0")/.."

NOVA_VERSION=34.0.0
APT_PACKAGES=(docker.io openvswitch-switch busybox-static iproute2 iputils-ping curl shellcheck btrfs-progs)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# dockerd: packages do not start services here (policy-rc.d), so start it
# ourselves, with the flags of tools/lib/dockerd.sh.
# shellcheck source=tools/lib/dockerd.sh
. tools/lib/dockerd.sh
if ! docker info >/dev/null 2>&1; then
    echo "setup: starting dockerd (userns-remap, btrfs data root with quotas)"
    novadock_docker_storage
    mkdir -p /var/log
    nohup dockerd "${NOVADOCK_DOCKERD_ARGS[@]}" >/var/log/novadock-ci-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start:"; tail -20 /var/log/novadock-ci-dockerd.log; exit 1; }
fi
novadock_docker_host_firewall docker0
novadock_docker_icc_off \
    || echo "setup: WARNING: dockerd runs with inter-container communication on (not started by this script): containers reach each other over eth0"
docker info --format '{{.LiveRestoreEnabled}}' | grep -q true \
    || echo "setup: WARNING: dockerd runs without live-restore: a dockerd restart stops every instance"
echo "setup: $(docker version --format 'Docker engine {{.Server.Version}}, API {{.Server.APIVersion}}')"

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import nova, placement, jsonschema, oslotest, wsgi_intercept" 2>/dev/null; then
    echo "setup: creating .venv with nova==$NOVA_VERSION"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q "nova==$NOVA_VERSION" "openstack-placement==16.0.0" jsonschema oslotest wsgi-intercept ruff
fi
# The shim and its client change with the tree: always reinstall them.
.venv/bin/pip install -q --no-deps --force-reinstall ./novadock_client ./nova_shim
# glance-api from PyPI with the novadock store, for the image tests.
tools/glance/setup.sh
echo "setup: done"
