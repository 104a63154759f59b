#!/usr/bin/env bash
# Horizon on the novadock cloud (cloud/up.sh): `up` installs horizon from
# PyPI into the cloud's venv, writes $CLOUD_ETC/horizon/local_settings.py,
# compresses its static files once and serves it with gunicorn on
# http://127.0.0.1:${HORIZON_PORT:-8080}/ (log: $CLOUD_LOG/horizon.log),
# supervised as the cloud's other services; `down` stops it. Run as root,
# again to reuse what is there.
set -euo pipefail
CLOUD_REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cloud/lib/common.sh
. "$CLOUD_REPO/cloud/lib/common.sh"
# shellcheck source=cloud/lib/python.sh
. "$CLOUD_REPO/cloud/lib/python.sh"
# shellcheck source=cloud/lib/config.sh
. "$CLOUD_REPO/cloud/lib/config.sh"
# shellcheck source=cloud/lib/services.sh
. "$CLOUD_REPO/cloud/lib/services.sh"
# shellcheck source=cloud/lib/novadock.sh
. "$CLOUD_REPO/cloud/lib/novadock.sh"
# shellcheck source=cloud/lib/computes.sh
. "$CLOUD_REPO/cloud/lib/computes.sh"

# The 2026.2 release, as nova 34.0.0 and keystone 30.0.0.
HORIZON_VERSION=27.0.0
CLOUD_PORTS[horizon]=${HORIZON_PORT:-8080}
HORIZON_ETC=$CLOUD_ETC/horizon
HORIZON_DATA=$CLOUD_DATA/horizon

# The installed openstack_dashboard package (its local/ holds the settings
# and the enabled plugins).
horizon_dashboard_dir() {
    "$CLOUD_VENV/bin/python" -c 'import os, openstack_dashboard as o; print(os.path.dirname(o.__file__))'
}

horizon_install() {
    cloud_venv_has "horizon==$HORIZON_VERSION" && return 0
    cloud_log "installing horizon $HORIZON_VERSION into $CLOUD_VENV"
    # What the services run stays as it is: pip may add packages, not
    # change installed ones (ours are installed from copies: not pinnable).
    local pins
    pins=$(mktemp)
    "$CLOUD_VENV/bin/pip" freeze 2>/dev/null | grep -v -e ' @ ' -e '^-e ' >"$pins"
    "$CLOUD_VENV/bin/pip" install -q -c "$pins" "horizon==$HORIZON_VERSION" >>"$CLOUD_LOG/horizon-pip.log" 2>&1 \
        || { rm -f "$pins"; tail -20 "$CLOUD_LOG/horizon-pip.log" >&2; cloud_fail "pip could not install horizon (log: $CLOUD_LOG/horizon-pip.log)"; }
    rm -f "$pins"
}

# The Engine Images panel (horizon_novadock), reinstalled from a copy
# when it changed, as the cloud's other packages are, and enabled in Horizon.
horizon_install_plugin() {
    local build pkg sum
    pkg=$(horizon_dashboard_dir)
    sum=$(cd "$CLOUD_REPO/horizon_novadock" && find . -name '*.py' -o -name '*.toml' | sort | xargs cat | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$CLOUD_RUN/horizon-plugin.sum" 2>/dev/null)" != "$sum" ]; then
        cloud_log "installing the Engine Images panel (horizon_novadock)"
        build=$(mktemp -d)
        cp -r "$CLOUD_REPO/horizon_novadock" "$build/"
        "$CLOUD_VENV/bin/pip" install -q --no-deps --force-reinstall "$build/horizon_novadock" \
            >>"$CLOUD_LOG/horizon-pip.log" 2>&1 \
            || { rm -rf "$build"; tail -20 "$CLOUD_LOG/horizon-pip.log" >&2; cloud_fail "pip could not install horizon_novadock"; }
        rm -rf "$build"
        echo "$sum" >"$CLOUD_RUN/horizon-plugin.sum"
        touch "$CLOUD_RUN/horizon.changed"
    fi
    # local_settings.py already names the facade (horizon_configure).
    novadock_horizon_enable "$CLOUD_REPO" "$pkg" "$HORIZON_ETC/local_settings.py" "$(hostname)" "$CLOUD_FACADE"
}

# Each compute host's facade (cloud/lib/computes.sh: host I listens on
# 127.0.0.I), as a Python dict's items.
horizon_facades() {
    local i sep=""
    for ((i = 1; i <= $(cloud_computes); i++)); do
        printf '%s"%s": "http://127.0.0.%s:%s"' "$sep" "$(cloud_host_name "$i")" "$i" "${CLOUD_FACADE##*:}"
        sep=", "
    done
}

horizon_configure() {
    mkdir -p "$HORIZON_ETC" "$HORIZON_DATA/cache" "$HORIZON_DATA/static"
    cloud_write "$HORIZON_ETC/local_settings.py" horizon <<EOF2
# Written by cloud/horizon.sh.
from horizon.utils import secret_key

DEBUG = False
WEBROOT = "/"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = secret_key.generate_or_read_from_file("$HORIZON_ETC/.secret_key_store")

# No memcached here: a file cache, which every gunicorn worker and thread
# shares and which survives restarts; sessions live in it.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": "$HORIZON_DATA/cache",
    },
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"

OPENSTACK_HOST = "$CLOUD_HOST"
OPENSTACK_KEYSTONE_URL = "$(cloud_url keystone)/v3"
OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"
OPENSTACK_ENDPOINT_TYPE = "publicURL"
TIME_ZONE = "UTC"

STATIC_ROOT = "$HORIZON_DATA/static"
STATIC_URL = "/static/"
COMPRESS_OFFLINE = True
COMPRESS_ENABLED = True

# The cloud has neither cinder nor an L3 service: no volumes to create at
# launch, no routers or floating IPs to offer.
LAUNCH_INSTANCE_DEFAULTS = {
    "config_drive": False,
    "create_volume": False,
    "hide_create_volume": True,
    "enable_scheduler_hints": False,
}
OPENSTACK_NEUTRON_NETWORK = {
    "enable_router": False,
    "enable_fip_topology_check": False,
    "enable_quotas": True,
    "enable_ipv6": True,
}
# The Console tab: the instance's serial console (a shell in the
# container, through nova-serialproxy); containers have no graphical one.
CONSOLE_TYPE = "SERIAL"
# Horizon shows the serial console as a page of its own in an iframe of
# the instance page: Django's default X-Frame-Options (DENY) blanks it.
X_FRAME_OPTIONS = "SAMEORIGIN"

# Admin > Compute > Engine Images: compute host -> its novadock service's
# Glance facade ([novadock] glance_facade_listen).
NOVADOCK_GLANCE_FACADES = {$(horizon_facades)}
EOF2
    # Horizon reads openstack_dashboard/local/local_settings.py only (as
    # Debian's package does, a link to the file under etc/).
    local pkg
    pkg=$(horizon_dashboard_dir)
    ln -sfn "$HORIZON_ETC/local_settings.py" "$pkg/local/local_settings.py"
}

# COMPRESS_OFFLINE: the bundles are made now, not on a page's first view.
horizon_static() {
    local sum
    sum=$( (echo "$HORIZON_VERSION"; cat "$HORIZON_ETC/local_settings.py") | sha256sum | cut -d' ' -f1)
    [ "$(cat "$CLOUD_RUN/horizon-static.sum" 2>/dev/null)" = "$sum" ] && [ -d "$HORIZON_DATA/static/dashboard" ] && return 0
    cloud_log "horizon: collectstatic and compress (about a minute)"
    local manage=("$CLOUD_VENV/bin/django-admin")
    export DJANGO_SETTINGS_MODULE=openstack_dashboard.settings
    { "${manage[@]}" collectstatic --noinput --clear -v 0 && "${manage[@]}" compress --force -v 0; } \
        >>"$CLOUD_LOG/horizon-static.log" 2>&1 \
        || { tail -20 "$CLOUD_LOG/horizon-static.log" >&2; cloud_fail "horizon's static files (log: $CLOUD_LOG/horizon-static.log)"; }
    echo "$sum" >"$CLOUD_RUN/horizon-static.sum"
    touch "$CLOUD_RUN/horizon.changed"
}

horizon_up() {
    [ -x "$CLOUD_VENV/bin/python" ] || cloud_fail "no cloud venv at $CLOUD_VENV: run cloud/up.sh first"
    cloud_http_up "$(cloud_url keystone)/v3" || cloud_fail "keystone is not answering on $(cloud_url keystone): run cloud/up.sh first"
    mkdir -p "$CLOUD_LOG" "$CLOUD_RUN"
    horizon_install
    horizon_configure
    horizon_install_plugin
    horizon_static
    cloud_start_supervisor
    # The static wrapper (cloud/horizon/horizon_wsgi.py) through the
    # cloud's gunicorn entry point.
    cloud_gunicorn horizon horizon_wsgi:application "PYTHONPATH=$CLOUD_REPO/cloud/horizon"
    cloud_wait 120 "horizon ($(cloud_url horizon))" cloud_http_up "$(cloud_url horizon)/auth/login/"
    cloud_log "horizon is up: $(cloud_url horizon)/ (user admin, password ADMIN_PASSWORD in $CLOUD_ETC/secrets.env)"
}

horizon_down() {
    cloud_alive horizon && cloud_log "stopping horizon"
    cloud_stop horizon
}

[ "$(id -u)" = 0 ] || cloud_fail "run as root"
case ${1:-} in
    up) horizon_up ;;
    down) horizon_down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
