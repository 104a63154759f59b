"""Rally scenarios that can boot with no network (Nova's `nics: "none"`,
API microversion 2.37): Rally's own NovaServers scenarios iterate `nics`
as a list. Needed to compare novadock with Nova's fake driver, whose host
has no Neutron agent to bind a port. Everything else (the timers named
nova.boot_server etc., polling, actions, delete) is Rally's own."""

from rally.common import cfg
from rally.task import atomic, types, utils
from rally_openstack.task import scenario
from rally_openstack.task.scenarios.nova import servers

CONF = cfg.CONF


class _NoNetworkBoot:
    def _boot_server(self, image, flavor, auto_assign_nic=False, **kwargs):
        if kwargs.get("nics") != "none":
            return super()._boot_server(image, flavor, auto_assign_nic, **kwargs)
        with atomic.ActionTimer(self, "nova.boot_server"):
            server = self.clients("nova").servers.create(
                self.generate_random_name(), image, flavor, **kwargs)
            self.sleep_between(CONF.openstack.nova_server_boot_prepoll_delay)
            return utils.wait_for_status(
                server, ready_statuses=["ACTIVE"],
                update_resource=utils.get_from_manager(),
                timeout=CONF.openstack.nova_server_boot_timeout,
                check_interval=CONF.openstack.nova_server_boot_poll_interval)


@types.convert(image={"type": "glance_image"}, flavor={"type": "nova_flavor"})
@scenario.configure(name="NovadockBench.boot_and_delete_server",
                    platform="openstack", context={"cleanup@openstack": ["nova"]})
class BootAndDelete(_NoNetworkBoot, servers.BootAndDeleteServer):
    pass


@types.convert(image={"type": "glance_image"}, flavor={"type": "nova_flavor"})
@scenario.configure(name="NovadockBench.boot_and_bounce_server",
                    platform="openstack", context={"cleanup@openstack": ["nova"]})
class BootAndBounce(_NoNetworkBoot, servers.BootAndBounceServer):
    pass
