"""An Octavia network driver for openstrap's real-OpenStack test lane.

The lane runs Octavia with no-op amphora and compute drivers: no amphora
boots. With Octavia's no-op network driver too, every load balancer got the
fake VIP 198.51.100.1 and a VIP port ID that named no Neutron port. This
driver keeps the no-op driver for everything an amphora would need, but
allocates and deallocates the VIP as Octavia's allowed_address_pairs driver
does: a real Neutron port named "octavia-lb-<lb id>", device_owner
"Octavia", on the VIP network and subnet, with the requested address, made
with Octavia's service credentials ([service_auth]); deleting the load
balancer deletes the port.
"""
