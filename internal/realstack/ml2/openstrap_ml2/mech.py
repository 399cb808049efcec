"""The openstrap ML2 mechanism driver (see the package docstring)."""

from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api
from neutron_lib.services.trunk import constants as trunk_consts
from oslo_config import cfg

from neutron.services.trunk.drivers import base as trunk_base

NAME = "openstrap"


class TrunkDriver(trunk_base.DriverBase):
    """An agentless trunk driver, so that the trunk plugin loads."""

    @property
    def is_loaded(self):
        try:
            return NAME in cfg.CONF.ml2.mechanism_drivers
        except cfg.NoSuchOptError:
            return False


class BindAllMechanismDriver(api.MechanismDriver):
    """Binds every port to its first segment, status ACTIVE."""

    def initialize(self):
        # Kept on the instance: the trunk plugin finds it through the
        # callback registry, which holds only weak references.
        self.trunk_driver = TrunkDriver(
            NAME,
            (portbindings.VIF_TYPE_OVS,),
            (trunk_consts.SEGMENTATION_TYPE_VLAN,),
            agent_type=None,
            can_trunk_bound_port=True)

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True,
                 portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE)
            return
