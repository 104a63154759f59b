# shellcheck shell=bash
# novadock's own configuration and installation, shared by cloud/up.sh and
# the DevStack plugin (devstack/plugin.sh): the ini fragments print the
# options (the cloud writes them into its files, DevStack applies them with
# iniset through novadock_apply_ini), and the install steps take the paths.

# nova.conf: the driver, and the service's [novadock] options (the service
# reads the same file). Args: SOCKET [SOCKET_GROUP] [OVSDB] [FACADE_LISTEN].
novadock_nova_ini() {
    printf '[DEFAULT]\ncompute_driver = novadock.DockerDriver\n[novadock]\nsocket_path = %s\n' "$1"
    if [ -n "${2:-}" ]; then printf 'socket_group = %s\n' "$2"; fi
    if [ -n "${3:-}" ]; then printf 'ovsdb_connection = %s\n' "$3"; fi
    if [ -n "${4:-}" ]; then printf 'glance_facade_listen = %s\n' "$4"; fi
}

# glance-api.conf: the novadock store as the default, a file store beside it
# for data that is not a container image. Args: SOCKET FILE_STORE_DIR.
novadock_glance_ini() {
    printf '[DEFAULT]\nenabled_backends = novadock:novadock, file:file\n'
    printf '[glance_store]\ndefault_backend = novadock\n'
    printf '[novadock]\nstore_description = %s\nnovadock_socket_path = %s\n' \
        "Docker engine of this host, through the novadock service" "$1"
    printf '[file]\nfilesystem_store_datadir = %s\n' "$2"
}

# Applies an ini fragment on stdin to FILE with SETTER (DevStack's iniset):
# SETTER FILE SECTION OPTION VALUE for each option.
novadock_apply_ini() {
    local setter=$1 file=$2 section="" line key value
    while IFS= read -r line; do
        case $line in
            \[*\]) section=${line#[}; section=${section%]} ;;
            *=*)
                key=${line%%=*}; key=${key%% }
                value=${line#*=}; value=${value# }
                "$setter" "$file" "$section" "$key" "$value"
                ;;
        esac
    done
}

# Horizon's Console tab as the serial console (containers have no graphical
# one): CONSOLE_TYPE = "SERIAL" appended to LOCAL_SETTINGS unless it sets
# CONSOLE_TYPE, and X-Frame-Options that let it show. Args: LOCAL_SETTINGS.
novadock_horizon_console_serial() {
    grep -q '^CONSOLE_TYPE' "$1" 2>/dev/null \
        || printf '\n# novadock: the serial console (a shell in the container).\nCONSOLE_TYPE = "SERIAL"\n' >>"$1"
    # Horizon's serial console is its own page in an iframe of the instance
    # page: Django's default X-Frame-Options (DENY) would blank it.
    grep -q '^X_FRAME_OPTIONS' "$1" 2>/dev/null \
        || printf 'X_FRAME_OPTIONS = "SAMEORIGIN"\n' >>"$1"
}

# Horizon's Engine Images panel (horizon_novadock, installed into
# Horizon's environment): enabled in the openstack_dashboard package at
# DASHBOARD_DIR, with the setting that maps this host to its service's
# Glance facade appended to LOCAL_SETTINGS unless there. Args: REPO
# DASHBOARD_DIR LOCAL_SETTINGS HOST FACADE_LISTEN.
novadock_horizon_enable() {
    install -m 0644 "$1"/horizon_novadock/horizon_novadock/enabled/_2095_*.py "$2/local/enabled/"
    grep -q '^NOVADOCK_GLANCE_FACADES' "$3" 2>/dev/null \
        || printf '\n# Admin > Compute > Engine Images: compute host -> its Glance facade.\nNOVADOCK_GLANCE_FACADES = {"%s": "http://%s"}\n' \
            "$4" "$5" >>"$3"
}

# The Python parts: the Nova driver into nova-compute's environment, the
# glance_store driver into glance-api's. Args: REPO INSTALL_FOR_NOVA
# INSTALL_FOR_GLANCE, commands that take a project directory (DevStack's
# pip_install, or "venv/bin/pip install"). novadock_client first: both
# drivers depend on it and it is in no package index.
novadock_install_shims() {
    $2 "$1/novadock_client"
    $2 "$1/nova_shim"
    $3 "$1/novadock_client"
    $3 "$1/glance_backend"
}

# The service on a host with systemd: the binary and the unit of
# cloud/novadock.service, enabled, reading CONFIG (the nova-compute's
# configuration file). Args: REPO BINARY CONFIG.
novadock_install_systemd_service() {
    install -m 0755 "$2" /usr/local/bin/novadock
    install -m 0644 "$1/cloud/novadock.service" /etc/systemd/system/novadock.service
    if [ "$3" != /etc/nova/nova.conf ]; then
        mkdir -p /etc/systemd/system/novadock.service.d
        printf '[Service]\nExecStartPre=\nExecStartPre=%s\nExecStart=\nExecStart=%s\n' \
            "/usr/local/bin/novadock check --config-file $3" \
            "/usr/local/bin/novadock serve --config-file $3" \
            >/etc/systemd/system/novadock.service.d/config.conf
    fi
    systemctl daemon-reload
    systemctl enable novadock.service
}

# A busybox image in Glance, built here from Debian's busybox-static (no
# registry needed). Uses the openstack CLI with the caller's credentials.
novadock_upload_busybox() {
    local repo=$1 name=${2:-busybox}
    openstack image show "$name" >/dev/null 2>&1 && return 0
    "$repo/tools/build-test-image.sh" novadock/busybox:latest
    docker save novadock/busybox:latest \
        | openstack image create --container-format docker --disk-format raw \
            --public "$name" >/dev/null
}
