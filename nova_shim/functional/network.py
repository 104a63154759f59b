"""Nova's NeutronFixture with every address in the benchmarking ranges
(198.18.0.0/15, 2001:2::/48), and a fresh address and MAC for every port it
creates (the stock fixture gives each new port the same IP)."""

import copy
import itertools
import random

from nova.tests.fixtures import neutron as neutron_fixtures

SUBNET_V4 = "198.18.1.0/24"
GATEWAY_V4 = "198.18.1.1"
SUBNET_V6 = "2001:2:0:1::/64"
GATEWAY_V6 = "2001:2:0:1::1"


def _with(base, **changes):
    d = copy.deepcopy(base)
    d.update(changes)
    return d


class NeutronFixture(neutron_fixtures.NeutronFixture):
    NF = neutron_fixtures.NeutronFixture
    subnet_1 = _with(NF.subnet_1, cidr=SUBNET_V4, gateway_ip=GATEWAY_V4,
                     allocation_pools=[{"start": "198.18.1.2",
                                        "end": "198.18.1.254"}])
    subnet_ipv6_1 = _with(NF.subnet_ipv6_1, cidr=SUBNET_V6, gateway_ip=GATEWAY_V6,
                          ipv6_address_mode="dhcpv6-stateful",
                          ipv6_ra_mode="dhcpv6-stateful",
                          allocation_pools=[{"start": "2001:2:0:1::2",
                                             "end": "2001:2:0:1::ffff"}])
    port_1 = _with(NF.port_1, fixed_ips=[
        {"ip_address": "198.18.1.3", "subnet_id": NF.subnet_1["id"]}])
    port_2 = _with(NF.port_2, fixed_ips=[
        {"ip_address": "198.18.1.30", "subnet_id": NF.subnet_1["id"]}])
    port_with_resource_request = _with(NF.port_with_resource_request, fixed_ips=[
        {"ip_address": "198.18.1.42", "subnet_id": NF.subnet_1["id"]}])
    default_port = copy.deepcopy(port_2)
    del NF

    def __init__(self, test):
        super().__init__(test)
        self._host_ids = itertools.count(100)

    def create_port(self, body=None):
        port = super().create_port(body)["port"]
        n = next(self._host_ids)
        mac = "fa:16:3e:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))
        port.update(
            mac_address=mac,
            fixed_ips=[
                {"ip_address": f"198.18.1.{n}", "subnet_id": self.subnet_1["id"]},
                {"ip_address": f"2001:2:0:1::{n:x}",
                 "subnet_id": self.subnet_ipv6_1["id"]},
            ])
        self._ports[port["id"]] = copy.deepcopy(port)
        return {"port": port}
