"""Idempotent set-up of the cloud's keystone catalog, service users and
first resources, in one openstacksdk process (each `openstack` CLI call
costs seconds of start-up). Credentials come from the OS_* variables of
the cloud's openrc.

    bootstrap.py identity   service project, users, roles, catalog
    bootstrap.py resources  flavor m1.tiny, network private (shared) + subnet
    bootstrap.py compute    waits for the compute hosts, then discovers them
    bootstrap.py image      uploads busybox (public) with `docker save | openstack image create`
    bootstrap.py demo       boots the server "demo" and waits for ACTIVE
"""

import os
import subprocess
import sys
import time

import openstack

HOST = "127.0.0.1"
SERVICES = {
    # name: (type, port, path)
    "nova": ("compute", 8774, "/v2.1"),
    "glance": ("image", 9292, ""),
    "placement": ("placement", 8778, ""),
    "neutron": ("network", 9696, ""),
}
REGION = os.environ.get("OS_REGION_NAME", "RegionOne")


def identity(conn):
    idp = conn.identity
    project = idp.find_project("service") or idp.create_project(
        name="service", domain_id="default", description="OpenStack services"
    )
    roles = {}
    for name in ("admin", "service", "member", "reader"):
        roles[name] = idp.find_role(name) or idp.create_role(name=name)
    password = os.environ["CLOUD_SERVICE_PASSWORD"]
    for name, (stype, port, path) in SERVICES.items():
        user = idp.find_user(name, domain_id="default")
        if user:
            idp.update_user(user, password=password)
        else:
            user = idp.create_user(name=name, domain_id="default", password=password)
        # The service role before services start: service tokens need it.
        for role in ("admin", "service"):
            idp.assign_project_role_to_user(project, user, roles[role])
        service = next(iter(idp.services(type=stype)), None) or idp.create_service(
            name=name, type=stype, enabled=True
        )
        have = {e.interface for e in idp.endpoints(service_id=service.id)}
        for interface in ("public", "internal"):
            if interface not in have:
                idp.create_endpoint(
                    service_id=service.id,
                    interface=interface,
                    url=f"http://{HOST}:{port}{path}",
                    region_id=REGION,
                )


def resources(conn):
    if not conn.compute.find_flavor("m1.tiny"):
        conn.compute.create_flavor(name="m1.tiny", ram=256, vcpus=1, disk=1)
    # Shared: every project, not only admin's, boots on it. Flat on the
    # provider bridge, where the host holds the gateway address.
    physnet = os.environ["CLOUD_PHYSNET"]
    net = conn.network.find_network("private") or conn.network.create_network(
        name="private",
        shared=True,
        provider_network_type="flat",
        provider_physical_network=physnet,
    )
    if (net.provider_network_type, net.provider_physical_network) != ("flat", physnet):
        sys.exit(
            f"bootstrap: the network private is {net.provider_network_type} on "
            f"{net.provider_physical_network}, not flat on {physnet} (made by an older "
            "cloud, before Neutron's Open vSwitch agent): run cloud/down.sh --purge, then up.sh"
        )
    if not net.is_shared:
        conn.network.update_network(net, shared=True)
    if not conn.network.find_subnet("private-subnet", network_id=net.id):
        conn.network.create_subnet(
            name="private-subnet",
            network_id=net.id,
            ip_version=4,
            cidr=os.environ["CLOUD_NET_CIDR"],
            gateway_ip=os.environ["CLOUD_NET_GW"],
            enable_dhcp=False,
            dns_nameservers=[],
        )


def wait(what, seconds, check):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(1)
    sys.exit(f"bootstrap: {what} not within {seconds}s")


def compute(conn):
    for host in os.environ["CLOUD_COMPUTE_HOSTS"].split():
        compute_host(conn, host)


def compute_host(conn, host):
    def service_up():
        return any(
            s.host == host and s.state == "up"
            for s in conn.compute.services(binary="nova-compute")
        )

    wait(f"nova-compute on {host} up", 120, service_up)

    kind = {"ovs": "Open vSwitch agent", "ovn": "OVN Controller agent"}[
        os.environ["CLOUD_NEUTRON_BACKEND"]
    ]

    def agent_alive():
        return any(a.is_alive for a in conn.network.agents(host=host, agent_type=kind))

    # Ports on this host are bound only while its agent (or chassis) is alive.
    wait(f"Neutron's {kind} on {host} alive", 120, agent_alive)

    def known():
        return any(h.name == host for h in conn.compute.hypervisors())

    if known():
        return

    def discovered():
        subprocess.run(
            [
                os.environ["CLOUD_NOVA_MANAGE"],
                "--config-file",
                os.environ["CLOUD_NOVA_CONF"],
                "cell_v2",
                "discover_hosts",
            ],
            check=True,
            capture_output=True,
        )
        return known()

    wait(f"hypervisor {host} discovered", 120, discovered)


def image(conn):
    found = conn.image.find_image("busybox")
    if found:
        # Public, so that every project can boot it (an earlier cloud made
        # it "shared", the CLI's default, visible to admin's project only).
        if found.visibility != "public":
            conn.image.update_image(found, visibility="public")
        return
    print("bootstrap: image busybox (docker save of a busybox-static rootfs)", flush=True)
    tag = "novadock-cloud/busybox:latest"
    subprocess.run([os.environ["CLOUD_BUILD_IMAGE"], tag], check=True, capture_output=True)
    # Through the CLI, as a user would.
    subprocess.run(
        f"docker save {tag} | openstack image create --container-format docker"
        " --disk-format raw --public busybox >/dev/null",
        shell=True,
        check=True,
    )


def demo(conn):
    # The default security group lets nothing in from outside the group:
    # "demo" also lets the host ping the demo server.
    group = conn.network.find_security_group("demo", project_id=conn.current_project_id)
    if group is None:
        group = conn.network.create_security_group(
            name="demo", description="ICMP from anywhere (the demo server)"
        )
        conn.network.create_security_group_rule(
            security_group_id=group.id, direction="ingress", ethertype="IPv4", protocol="icmp"
        )
    server = conn.compute.find_server("demo")
    if server is None:
        server = conn.compute.create_server(
            name="demo",
            image_id=conn.image.find_image("busybox").id,
            flavor_id=conn.compute.find_flavor("m1.tiny").id,
            networks=[{"uuid": conn.network.find_network("private").id}],
            security_groups=[{"name": "default"}, {"name": "demo"}],
        )
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=180)
    addrs = [a["addr"] for net in server.addresses.values() for a in net]
    print(f"demo: {server.id} ACTIVE at {', '.join(addrs)}")


def main():
    conn = openstack.connect()
    for step in sys.argv[1:]:
        {"identity": identity, "resources": resources, "compute": compute,
         "image": image, "demo": demo}[step](conn)


if __name__ == "__main__":
    main()
