"""The openstrap Octavia network driver (see the package docstring)."""

import threading

from oslo_log import log as logging

from octavia.network import base
from octavia.network.drivers.neutron import allowed_address_pairs as aap
from octavia.network.drivers.noop_driver import driver as noop

LOG = logging.getLogger(__name__)

_lock = threading.Lock()
_neutron = None


def _real():
    """Octavia's own Neutron driver, made once per process.

    Octavia makes a network driver per request; the Neutron driver asks
    Neutron about extensions when it is made, so it is shared.
    """
    global _neutron
    with _lock:
        if _neutron is None:
            _neutron = aap.AllowedAddressPairsDriver()
        return _neutron


class VIPPortDriver(noop.NoopNetworkDriver):
    """No-op network driver whose VIPs are real Neutron ports.

    Lookups made for a user's request (the API's validation passes the
    request context) ask Neutron only, so a missing network, subnet or port
    is refused as by a real deployment. Lookups without a context come from
    amphora plumbing too, whose networks and ports the no-op driver made
    up: those ask Neutron first and fall back to the no-op driver's answer.
    """

    def get_network(self, network_id, context=None):
        if context is not None:
            return _real().get_network(network_id, context=context)
        try:
            return _real().get_network(network_id)
        except base.NetworkNotFound:
            return super().get_network(network_id)

    def get_subnet(self, subnet_id, context=None):
        if context is not None:
            return _real().get_subnet(subnet_id, context=context)
        try:
            return _real().get_subnet(subnet_id)
        except base.SubnetNotFound:
            return super().get_subnet(subnet_id)

    def get_port(self, port_id, context=None):
        if context is not None:
            return _real().get_port(port_id, context=context)
        try:
            return _real().get_port(port_id)
        except base.PortNotFound:
            return super().get_port(port_id)

    def get_network_ip_availability(self, network):
        try:
            return _real().get_network_ip_availability(network)
        except base.NetworkNotFound:
            return super().get_network_ip_availability(network)

    def allocate_vip(self, loadbalancer):
        """Create the VIP port (or adopt the user's) as Octavia does."""
        return _real().allocate_vip(loadbalancer)

    def deallocate_vip(self, vip):
        """Delete the VIP port if Octavia made it; a user's port stays."""
        if not vip.port_id:
            return
        try:
            port = _real().get_port(vip.port_id)
        except base.PortNotFound:
            LOG.info("VIP port %s is already gone", vip.port_id)
            return
        if port.device_owner != aap.OCTAVIA_OWNER:
            LOG.info("VIP port %s was not made by Octavia: kept", vip.port_id)
            return
        _real().delete_port(vip.port_id)
