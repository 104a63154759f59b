# shellcheck shell=bash
# Configuration files of keystone, placement, glance, neutron, nova and the
# novadock service, all under $CLOUD_ETC, all services on $CLOUD_HOST.
# Needs cloud_secrets loaded.

cloud_url() { echo "http://$CLOUD_HOST:${CLOUD_PORTS[$1]}"; }
cloud_rabbit_url() { echo "rabbit://novadock:$RABBIT_PASSWORD@127.0.0.1:5672/"; }

# cloud_auth_section SECTION USER: a keystoneauth password section.
cloud_auth_section() {
    cat <<EOS
[$1]
auth_type = password
auth_url = $(cloud_url keystone)/v3
www_authenticate_uri = $(cloud_url keystone)/v3
project_name = service
project_domain_name = Default
user_domain_name = Default
username = $2
password = $SERVICE_PASSWORD
region_name = $CLOUD_REGION
service_token_roles_required = true
EOS
    # keystonemiddleware's token cache, shared by the services (system.sh).
    if [ "$1" = keystone_authtoken ]; then
        cat <<EOS
memcached_servers = 127.0.0.1:$CLOUD_MEMCACHED_PORT
memcache_security_strategy = ENCRYPT
memcache_secret_key = $MEMCACHE_SECRET_KEY
EOS
    fi
}

# ML2's configuration for the chosen backend (and the OVS agent's).
cloud_configure_neutron_backend() {
    local e=$CLOUD_ETC
    if [ "$CLOUD_NEUTRON_BACKEND" = ovn ]; then
        # ML2/OVN: Neutron writes ports and security groups (as ACLs) into
        # OVN's northbound database; ovn-controller wires the port on br-int
        # when it sees its iface-id, and Neutron tells Nova.
        cloud_write "$e/neutron/plugins/ml2/ml2_conf.ini" neutron neutron-ovn-maintenance-worker <<EOF2
[ml2]
type_drivers = flat,vlan,geneve
tenant_network_types = vlan
mechanism_drivers = ovn
extension_drivers = port_security
overlay_ip_version = 4
[ml2_type_flat]
# $CLOUD_UNWIRED_PHYSNET: a physical network no host's agent or chassis is
# mapped to, as an operator's typo would make: ports there cannot be wired.
flat_networks = $CLOUD_PHYSNET,$CLOUD_UNWIRED_PHYSNET
[ml2_type_vlan]
network_vlan_ranges = $CLOUD_PHYSNET:1000:1999
[ml2_type_geneve]
vni_ranges = 1:1000
max_header_size = 38
[securitygroup]
enable_security_group = true
[ovn]
ovn_nb_connection = unix:/var/run/ovn/ovnnb_db.sock
ovn_sb_connection = unix:/var/run/ovn/ovnsb_db.sock
ovn_metadata_enabled = false
EOF2
        return 0
    fi
    # ML2 with the Open vSwitch agent, as operators run it: the agent binds
    # each port, programs its VLAN and its security groups (conntrack flows
    # on br-int) and reports it up, and Neutron tells Nova
    # (network-vif-plugged). Networks are flat or VLANs on physnet1, the
    # provider bridge: no tunnels on a cloud of one host.
    cloud_write "$e/neutron/plugins/ml2/ml2_conf.ini" neutron neutron-rpc-server <<EOF2
[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
mechanism_drivers = openvswitch
extension_drivers = port_security
[ml2_type_flat]
# $CLOUD_UNWIRED_PHYSNET: a physical network no host's agent or chassis is
# mapped to, as an operator's typo would make: ports there cannot be wired.
flat_networks = $CLOUD_PHYSNET,$CLOUD_UNWIRED_PHYSNET
[ml2_type_vlan]
network_vlan_ranges = $CLOUD_PHYSNET:1000:1999
[securitygroup]
enable_security_group = true
EOF2
    cloud_ovs_agent_ini "$e/neutron/plugins/ml2/openvswitch_agent.ini" "" "$CLOUD_BRIDGE" \
        "$CLOUD_PROVIDER_BRIDGE" 6633 neutron-openvswitch-agent
}

# cloud_ovs_agent_ini FILE HOST INT_BRIDGE PROVIDER_BRIDGE OF_PORT PROGRAM:
# an Open vSwitch agent's configuration (HOST empty: the machine's name).
# Each agent of the machine has its own bridges and OpenFlow port.
cloud_ovs_agent_ini() {
    local file=$1 host=$2 br=$3 ex=$4 of_port=$5 program=$6 e=$CLOUD_ETC section
    {
        if [ -n "$host" ]; then printf '[DEFAULT]\nhost = %s\n' "$host"; fi
        cat <<EOF2
[ovs]
integration_bridge = $br
bridge_mappings = $CLOUD_PHYSNET:$ex
# The userspace datapath (no kernel module on these machines).
datapath_type = netdev
ovsdb_connection = $CLOUD_OVSDB
of_listen_address = 127.0.0.1
of_listen_port = $of_port
[agent]
tunnel_types =
report_interval = 10
# A new port waits for the agent's next loop (default every 2 s) before it is
# wired and Nova hears network-vif-plugged: half the wait of a boot
# (docs/benchmarks-rally.md). Its minimum.
polling_interval = 1
# The agent runs as root under supervisord: no sudo in between.
root_helper =
[securitygroup]
firewall_driver = openvswitch
enable_security_group = true
EOF2
        # Each of neutron's privsep contexts starts its helper from the venv
        # (the default, "sudo privsep-helper", finds neither).
        for section in privsep privsep_ovs_vsctl privsep_namespace privsep_conntrack privsep_link privsep_dhcp_release; do
            printf '[%s]\nhelper_command = %s --config-file %s --config-file %s\n' "$section" \
                "$CLOUD_VENV/bin/privsep-helper" "$e/neutron/neutron.conf" "$file"
        done
    } | cloud_write "$file" "$program"
}

cloud_configure() {
    local e=$CLOUD_ETC host
    host=$(hostname)
    mkdir -p "$e"/keystone "$e"/placement "$e"/glance "$e"/neutron/plugins/ml2 "$e"/nova \
        "$CLOUD_DATA"/glance/staging "$CLOUD_DATA"/glance/tasks "$CLOUD_DATA"/glance/images "$CLOUD_DATA"/nova \
        "$CLOUD_DATA"/locks "$(dirname "$CLOUD_SOCKET")"

    cloud_write "$e/keystone/keystone.conf" keystone <<EOF2
[DEFAULT]
log_file = $CLOUD_LOG/keystone.log
[database]
connection = $(cloud_db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $e/keystone/fernet-keys
[credential]
key_repository = $e/keystone/credential-keys
EOF2

    {
        cat <<EOF2
[DEFAULT]
log_file = $CLOUD_LOG/placement.log
[placement_database]
connection = $(cloud_db_url placement)
[api]
auth_strategy = keystone
EOF2
        cloud_auth_section keystone_authtoken placement
    } | cloud_write "$e/placement/placement.conf" placement

    {
        cat <<EOF2
[DEFAULT]
log_file = $CLOUD_LOG/glance-api.log
worker_self_reference_url = $(cloud_url glance)
show_image_direct_url = false
enabled_import_methods = [glance-direct]
[database]
connection = $(cloud_db_url glance)
[paste_deploy]
flavor = keystone
config_file = $CLOUD_VENV/etc/glance/glance-api-paste.ini
[os_glance_staging_store]
filesystem_store_datadir = $CLOUD_DATA/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $CLOUD_DATA/glance/tasks
[oslo_concurrency]
lock_path = $CLOUD_DATA/locks
EOF2
        cloud_auth_section keystone_authtoken glance
        novadock_glance_ini "$CLOUD_SOCKET" "$CLOUD_DATA/glance/images"
    } | cloud_write "$e/glance/glance-api.conf" glance

    {
        cat <<EOF2
[DEFAULT]
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = $(cloud_rabbit_url)
api_paste_config = $CLOUD_VENV/etc/neutron/api-paste.ini
log_file = $CLOUD_LOG/neutron-api.log
state_path = $CLOUD_DATA/neutron
# An agent that stopped reporting (every 10 s) is down after 30 s: ports are
# no longer bound to its host.
agent_down_time = 30
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
# Nova hears of a port's status at most once per interval (default 2 s); a
# boot right after another server's delete waited out the rest of it.
send_events_interval = 1
[database]
connection = $(cloud_db_url neutron)
# A port per server: room for as many servers as Nova's quota allows.
[quotas]
quota_port = 200
[oslo_concurrency]
lock_path = $CLOUD_DATA/locks
EOF2
        cloud_auth_section keystone_authtoken neutron
        cloud_auth_section nova nova
    } | cloud_write "$e/neutron/neutron.conf" neutron neutron-rpc-server neutron-openvswitch-agent \
        neutron-openvswitch-agent-{2..4}
    cloud_configure_neutron_backend
    cloud_write "$e/nova/api-paste.ini" nova-api <"$CLOUD_VENV/etc/nova/api-paste.ini"
    {
        cat <<EOF2
[DEFAULT]
host = $host
my_ip = 127.0.0.1
transport_url = $(cloud_rabbit_url)
state_path = $CLOUD_DATA/nova
periodic_fuzzy_delay = 0
# One host: a resize stays on it. Several: Nova's default, a resize moves.
allow_resize_to_same_host = $([ "${CLOUD_COMPUTES:-1}" = 1 ] && echo true || echo false)
# A boot waits for Neutron's network-vif-plugged (the agent has wired the
# port): a port that is never wired fails the boot (Nova's defaults).
vif_plugging_timeout = 300
vif_plugging_is_fatal = true
[api]
auth_strategy = keystone
[api_database]
connection = $(cloud_db_url nova_api)
[database]
connection = $(cloud_db_url nova)
[conductor]
workers = 1
# Every project's quota: small containers, many of them (Nova's defaults,
# 10 instances and 20 cores, stop a project at ten m1.tiny servers).
[quota]
instances = 100
cores = 200
ram = 102400
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 30
[oslo_concurrency]
lock_path = $CLOUD_DATA/locks
[oslo_messaging_notifications]
driver = noop
[service_user]
send_service_user_token = true
# Interactive consoles (openstack console url show --serial, Horizon's
# Console tab): novadock listens for nova-serialproxy on 127.0.0.1 only, one
# port of port_range per instance with a console. Those ports are
# unauthenticated (as libvirt's serial ports): never on a tenant network.
[serial_console]
enabled = true
proxyclient_address = 127.0.0.1
port_range = 10000:20000
serialproxy_host = 127.0.0.1
serialproxy_port = $CLOUD_SERIALPROXY_PORT
base_url = ws://127.0.0.1:$CLOUD_SERIALPROXY_PORT/
EOF2
        cloud_auth_section keystone_authtoken nova
        cloud_auth_section placement placement
        cloud_auth_section service_user nova
        cloud_auth_section neutron neutron
        cat <<EOF2
ovs_bridge = $CLOUD_BRIDGE
[glance]
region_name = $CLOUD_REGION
EOF2
        if [[ $CLOUD_NEUTRON_BACKEND == ovs ]]; then
            # A new port sits on the dead VLAN until the agent wires it
            # (os-vif's option; OVN tags nothing).
            printf '[os_vif_ovs]\nisolate_vif = true\n'
        fi
        novadock_nova_ini "$CLOUD_SOCKET" "" "$CLOUD_OVSDB" "$CLOUD_FACADE"
    } | cloud_write "$e/nova/nova.conf" novadock nova-api nova-conductor nova-scheduler nova-compute \
        nova-serialproxy novadock-{2..4} nova-compute-{2..4}

    cloud_write "$e/openrc" <<EOF2
# source this file, then: openstack server list
export OS_AUTH_URL=$(cloud_url keystone)/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASSWORD
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$CLOUD_REGION
export PATH=$CLOUD_VENV/bin:\$PATH
EOF2
}
