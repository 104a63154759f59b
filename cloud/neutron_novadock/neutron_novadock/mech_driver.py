"""ML2 mechanism driver `novadock`: binds every normal port on any segment
as vif_type ovs on [novadock] bridge_name (br-int). The novadock service
plugs the VIF itself, so there is no L2 agent: the port is marked ACTIVE when
it is bound, which is when the host can wire it.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg
from oslo_log import log

LOG = log.getLogger(__name__)

cfg.CONF.register_opts(
    [cfg.StrOpt("bridge_name", default="br-int", help="OVS bridge of the VIFs")],
    group="novadock",
)


class NovadockMechanismDriver(api.MechanismDriver):
    def initialize(self):
        self.vif_details = {
            portbindings.CAP_PORT_FILTER: True,
            portbindings.VIF_DETAILS_BRIDGE_NAME: cfg.CONF.novadock.bridge_name,
            portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2,
        }

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        vnic = context.current.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL)
        if vnic != portbindings.VNIC_NORMAL:
            return
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                self.vif_details,
                status=constants.PORT_STATUS_ACTIVE,
            )
            LOG.debug("bound port %s on %s", context.current["id"], context.host)
            return
