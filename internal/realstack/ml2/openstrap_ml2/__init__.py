"""An ML2 mechanism driver for openstrap's real-OpenStack test lane.

Neutron runs there without agents, so no stock mechanism driver binds a port
and Nova would put every server in ERROR (binding_failed). This driver binds
each port to its first segment as an OVS port, marks it ACTIVE, and registers
a trunk driver so that the trunk service plugin loads. Nothing is wired: the
lane checks the APIs, not the data plane.
"""
