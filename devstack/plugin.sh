#!/bin/bash
# DevStack plugin of novadock: Docker containers as Nova instances.
#   enable_plugin novadock <repo> [branch]
# The install and configure steps are the ones cloud/up.sh runs (and CI
# tests): cloud/lib/novadock.sh and tools/lib/dockerd.sh. NOVADOCK_DIR and
# the other NOVADOCK_ variables come from devstack/settings.
# shellcheck disable=SC2153

# shellcheck source=cloud/lib/novadock.sh
source "$NOVADOCK_DIR/cloud/lib/novadock.sh"
# shellcheck source=tools/lib/dockerd.sh
source "$NOVADOCK_DIR/tools/lib/dockerd.sh"

# The Docker engine, with live-restore and novadock's address ranges.
function install_novadock_docker {
    if ! is_package_installed docker.io; then
        install_package docker.io
    fi
    install_package busybox-static
    sudo mkdir -p /etc/docker
    if [[ ! -f /etc/docker/daemon.json ]]; then
        # Container root is not host root (README, Security model). Disk
        # limits (root_gb) need the operator's storage: btrfs, zfs, or
        # overlay2 on xfs with pquota; novadock check says which holds.
        printf '{"live-restore": true, "userns-remap": "default", "icc": false, "bip": "%s", "default-address-pools": [{"base": "%s", "size": 24}]}\n' \
            "$NOVADOCK_DOCKER_BIP" "$NOVADOCK_DOCKER_POOL_BASE" | sudo tee /etc/docker/daemon.json >/dev/null
    fi
    sudo systemctl enable --now docker
    sudo usermod -a -G docker "$STACK_USER"
    # No container opens connections to the host over Docker's bridge.
    sudo bash -c "source '$NOVADOCK_DIR/tools/lib/dockerd.sh' && novadock_docker_host_firewall docker0"
}

# The service binary: $NOVADOCK_BIN, or a release build of the checkout
# (needs a Rust toolchain on the host, e.g. rustup's).
function build_novadock {
    if [[ -n "$NOVADOCK_BIN" ]]; then
        [[ -x "$NOVADOCK_BIN" ]] || die $LINENO "NOVADOCK_BIN=$NOVADOCK_BIN is not executable"
        return
    fi
    command -v cargo >/dev/null || die $LINENO "cargo not found: install a Rust toolchain, or set NOVADOCK_BIN"
    (cd "$NOVADOCK_DIR" && cargo build --release --locked)
    NOVADOCK_BIN=$NOVADOCK_DIR/target/release/novadock
}

function install_novadock {
    build_novadock
    sudo bash -c "source '$NOVADOCK_DIR/cloud/lib/novadock.sh' && \
        novadock_install_systemd_service '$NOVADOCK_DIR' '$NOVADOCK_BIN' '$NOVA_CPU_CONF'"
    novadock_install_shims "$NOVADOCK_DIR" pip_install pip_install
    if is_service_enabled horizon; then
        pip_install "$NOVADOCK_DIR/horizon_novadock"
    fi
}

function configure_novadock {
    novadock_nova_ini "$NOVADOCK_SOCKET" "$NOVADOCK_SOCKET_GROUP" "" "$NOVADOCK_GLANCE_FACADE" \
        | novadock_apply_ini iniset "$NOVA_CPU_CONF"
    iniset "$NOVA_CPU_CONF" neutron ovs_bridge "${OVS_BRIDGE:-br-int}"
    if is_service_enabled g-api; then
        novadock_glance_ini "$NOVADOCK_SOCKET" "$GLANCE_IMAGE_DIR" \
            | novadock_apply_ini iniset "$GLANCE_API_CONF"
    fi
    if is_service_enabled horizon; then
        novadock_horizon_enable "$NOVADOCK_DIR" "$HORIZON_DIR/openstack_dashboard" \
            "$HORIZON_DIR/openstack_dashboard/local/local_settings.py" "$(hostname)" "$NOVADOCK_GLANCE_FACADE"
    fi
    configure_novadock_neutron
    configure_novadock_serial_console
    # Before nova-compute, which DevStack starts next.
    sudo systemctl restart novadock
}

# novadock plugs each container's port straight into the integration
# bridge, as a VM's tap: security groups must be enforced there. With the
# Open vSwitch agent that is its own firewall (conntrack flows on br-int);
# iptables_hybrid would expect a Linux bridge per port that never exists,
# and filter nothing. OVN enforces them on br-int already.
function configure_novadock_neutron {
    if [[ "$Q_AGENT" == "openvswitch" ]]; then
        iniset "/$Q_PLUGIN_CONF_FILE" securitygroup firewall_driver openvswitch
        iniset "/$Q_PLUGIN_CONF_FILE" securitygroup enable_security_group True
        # os-vif's option, read by novadock too: a new port sits on the dead
        # VLAN until the agent wires it. OVN tags nothing: never there.
        iniset "$NOVA_CPU_CONF" os_vif_ovs isolate_vif True
    fi
    # A port the agent never wires fails the boot (Nova's default, said
    # aloud: novadock waits for network-vif-plugged like libvirt does).
    iniset "$NOVA_CPU_CONF" DEFAULT vif_plugging_is_fatal True
}

# Interactive consoles through Nova's serial console path. DevStack runs
# nova-serialproxy (n-sproxy, on by the plugin's settings) and configures
# [serial_console]; the novadock service reads the same nova-cpu.conf. Said
# here too, as the service's listeners bind proxyclient_address: Nova's
# default 127.0.0.1 serves an all-in-one; a compute host of a multi-node
# DevStack needs an address of the management network that the node running
# n-sproxy reaches, never one on a tenant network (the ports are
# unauthenticated, as libvirt's serial ports).
function configure_novadock_serial_console {
    if is_service_enabled n-sproxy; then
        iniset "$NOVA_CPU_CONF" serial_console enabled True
        iniset "$NOVA_CPU_CONF" serial_console proxyclient_address "$NOVADOCK_CONSOLE_ADDRESS"
        # Horizon's Console tab opens the serial console.
        if is_service_enabled horizon; then
            novadock_horizon_console_serial "$HORIZON_DIR/openstack_dashboard/local/local_settings.py"
        fi
    fi
}

if is_service_enabled novadock; then
    if [[ "$1" == "stack" && "$2" == "pre-install" ]]; then
        echo_summary "Installing the Docker engine for novadock"
        install_novadock_docker
    elif [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing novadock"
        install_novadock
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring novadock"
        configure_novadock
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        if [[ "$NOVADOCK_UPLOAD_BUSYBOX" == "True" ]] && is_service_enabled g-api; then
            echo_summary "Uploading a busybox image for novadock"
            novadock_upload_busybox "$NOVADOCK_DIR" busybox
        fi
    fi

    if [[ "$1" == "unstack" ]]; then
        sudo systemctl stop novadock || true
    fi

    if [[ "$1" == "clean" ]]; then
        sudo systemctl disable novadock || true
        sudo rm -rf /etc/systemd/system/novadock.service /etc/systemd/system/novadock.service.d \
            /usr/local/bin/novadock
    fi
fi
