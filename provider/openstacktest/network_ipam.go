package openstacktest

import (
	"fmt"
	"net/http"
	"net/netip"
)

// ipLast is the last address of prefix p.
func ipLast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ipHostRange is the first and last address Neutron hands out in p: IPv4
// leaves out the network and broadcast addresses, IPv6 the subnet-router
// anycast address.
func ipHostRange(p netip.Prefix) (first, last netip.Addr, ok bool) {
	p = p.Masked()
	first = p.Addr().Next()
	last = ipLast(p)
	if p.Addr().Is4() {
		if p.Bits() >= 31 {
			return p.Addr(), last, true
		}
		last = last.Prev()
	}
	if !first.IsValid() || last.Less(first) {
		return first, last, false
	}
	return first, last, true
}

// ipDefaultPools is every host address of p but gw, as ranges.
func ipDefaultPools(p netip.Prefix, gw netip.Addr) []ipRange {
	first, last, ok := ipHostRange(p)
	if !ok {
		return []ipRange{}
	}
	if !gw.IsValid() || gw.Less(first) || last.Less(gw) {
		return []ipRange{{Start: first.String(), End: last.String()}}
	}
	var out []ipRange
	if first.Less(gw) {
		out = append(out, ipRange{Start: first.String(), End: gw.Prev().String()})
	}
	if gw.Less(last) {
		out = append(out, ipRange{Start: gw.Next().String(), End: last.String()})
	}
	if out == nil {
		out = []ipRange{}
	}
	return out
}

// ipInPools reports whether a lies in one of the pools.
func ipInPools(pools []ipRange, a netip.Addr) bool {
	for _, r := range pools {
		s, e := netip.MustParseAddr(r.Start), netip.MustParseAddr(r.End)
		if !a.Less(s) && !e.Less(a) {
			return true
		}
	}
	return false
}

// prefix parses the subnet's CIDR.
func (sub *netSubnet) prefix() netip.Prefix { return netip.MustParsePrefix(sub.CIDR) }

// ipamWindow is how many free addresses, from the start of a pool, Neutron's
// IPAM picks one from at random (neutrondb_ipam MAX_WIN).
const ipamWindow = 1000

// allocateIP gives portID an address of sub as Neutron's IPAM does: one
// picked at random among the first ipamWindow free addresses of the first
// pool with room; DHCP and distributed ports (owner) take the first free one.
func (s *Server) allocateIP(sub *netSubnet, portID, owner string) (string, bool) {
	for _, r := range sub.Pools {
		a, e := netip.MustParseAddr(r.Start), netip.MustParseAddr(r.End)
		var free []string
		for ; a.IsValid() && !e.Less(a) && len(free) < ipamWindow; a = a.Next() {
			ip := a.String()
			if _, used := sub.Allocated[ip]; used || ip == sub.GatewayIP {
				continue
			}
			free = append(free, ip)
			if owner == "network:dhcp" || owner == "network:distributed" {
				break
			}
		}
		if len(free) == 0 {
			continue
		}
		ip := free[0]
		if owner != "network:dhcp" && owner != "network:distributed" {
			ip = free[s.rng.IntN(len(free))]
		}
		sub.Allocated[ip] = portID
		return ip, true
	}
	return "", false
}

// claimIP takes a specific address of sub for portID. The gateway address is
// only for router interfaces.
func (s *Server) claimIP(sub *netSubnet, ip, portID, owner string) *apiError {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for fixed_ips. Reason: '%s' is not a valid IP address.", ip)
	}
	first, last, ok := ipHostRange(sub.prefix())
	if !sub.prefix().Contains(a) || !ok || a.Less(first) || last.Less(a) {
		return errorf(http.StatusBadRequest, "InvalidIpForSubnet", "IP address %s is not a valid IP for the specified subnet.", ip)
	}
	ip = a.String()
	if holder, used := sub.Allocated[ip]; used && holder != portID {
		return errorf(http.StatusConflict, "IpAddressAlreadyAllocated", "IP address %s already allocated in subnet %s", ip, sub.ID)
	}
	if ip == sub.GatewayIP && owner != ownerRouterInterface {
		return errorf(http.StatusConflict, "IpAddressAlreadyAllocated", "IP address %s already allocated in subnet %s", ip, sub.ID)
	}
	sub.Allocated[ip] = portID
	return nil
}

// releaseIPs gives back every address of ips held by portID.
func (s *Server) releaseIPs(ips []netFixedIP, portID string) {
	ns := s.nst()
	for _, f := range ips {
		if sub := ns.Subnets[f.SubnetID]; sub != nil && sub.Allocated[f.IPAddress] == portID {
			delete(sub.Allocated, f.IPAddress)
		}
	}
}

// assignFixedIPs allocates the addresses a port asks for on network net.
// want nil means "one address of each IP version from the first subnet with
// room"; an empty slice means no address.
func (s *Server) assignFixedIPs(net *netNetwork, portID, owner string, want []fixedIPSpec) ([]netFixedIP, *apiError) {
	ns := s.nst()
	var got []netFixedIP
	fail := func(e *apiError) ([]netFixedIP, *apiError) {
		s.releaseIPs(got, portID)
		return nil, e
	}
	if want == nil {
		for _, v := range []int{4, 6} {
			found, tried := false, false
			for _, id := range net.Subnets {
				sub := ns.Subnets[id]
				if sub == nil || sub.IPVersion != v {
					continue
				}
				tried = true
				if ip, ok := s.allocateIP(sub, portID, owner); ok {
					got = append(got, netFixedIP{SubnetID: sub.ID, IPAddress: ip})
					found = true
					break
				}
			}
			if tried && !found {
				return fail(errorf(http.StatusConflict, "IpAddressGenerationFailure", "No more IP addresses available on network %s.", net.ID))
			}
		}
		if got == nil {
			got = []netFixedIP{}
		}
		return got, nil
	}
	got = []netFixedIP{}
	for _, f := range want {
		var sub *netSubnet
		switch {
		case f.SubnetID != "":
			sub = ns.Subnets[f.SubnetID]
			if sub == nil {
				return fail(errorf(http.StatusNotFound, "SubnetNotFound", "Subnet %s could not be found.", f.SubnetID))
			}
			if sub.NetworkID != net.ID {
				return fail(errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet %s.", net.ID, f.SubnetID))
			}
		case f.IPAddress != "":
			a, err := netip.ParseAddr(f.IPAddress)
			if err != nil {
				return fail(errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for fixed_ips. Reason: '%s' is not a valid IP address.", f.IPAddress))
			}
			for _, id := range net.Subnets {
				if c := ns.Subnets[id]; c != nil && c.prefix().Contains(a) {
					sub = c
					break
				}
			}
			if sub == nil {
				return fail(errorf(http.StatusBadRequest, "InvalidIpForNetwork", "IP address %s is not a valid IP for any of the subnets on the specified network.", f.IPAddress))
			}
		default:
			for _, id := range net.Subnets {
				if c := ns.Subnets[id]; c != nil {
					sub = c
					break
				}
			}
			if sub == nil {
				return fail(errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet.", net.ID))
			}
		}
		if f.IPAddress == "" {
			ip, ok := s.allocateIP(sub, portID, owner)
			if !ok {
				return fail(errorf(http.StatusConflict, "IpAddressGenerationFailure", "No more IP addresses available on network %s.", net.ID))
			}
			got = append(got, netFixedIP{SubnetID: sub.ID, IPAddress: ip})
			continue
		}
		if e := s.claimIP(sub, f.IPAddress, portID, owner); e != nil {
			return fail(e)
		}
		got = append(got, netFixedIP{SubnetID: sub.ID, IPAddress: netip.MustParseAddr(f.IPAddress).String()})
	}
	return got, nil
}

// newMAC returns an unused MAC address in OpenStack's fa:16:3e range.
func (s *Server) newMAC() string {
	ns := s.nst()
	for {
		mac := fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", byte(s.rng.Uint32()), byte(s.rng.Uint32()), byte(s.rng.Uint32()))
		if _, used := ns.MACs[mac]; !used {
			return mac
		}
	}
}
