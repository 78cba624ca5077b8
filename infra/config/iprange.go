package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// ipRange is an inclusive address range: what a MetalLB pool entry means, whether written as CIDR or a-b.
type ipRange struct{ from, to netip.Addr }

type namedRange struct {
	key  string
	pool string
	ipRange
}

// ParseAddressRange reads a MetalLB pool entry (a CIDR or an inclusive a-b range) as its first and last address.
func ParseAddressRange(s string) (first, last netip.Addr, err error) {
	r, err := parseRange(s)
	return r.from, r.to, err
}

func parseRange(s string) (ipRange, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return ipRange{}, fmt.Errorf("bad CIDR: %v", err)
		}
		prefix = prefix.Masked()
		return ipRange{from: prefix.Addr(), to: lastAddr(prefix)}, nil
	}
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		return ipRange{}, fmt.Errorf("neither a CIDR nor a range")
	}
	from, err := netip.ParseAddr(strings.TrimSpace(first))
	if err != nil {
		return ipRange{}, fmt.Errorf("%q is not an IP address", strings.TrimSpace(first))
	}
	to, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return ipRange{}, fmt.Errorf("%q is not an IP address", strings.TrimSpace(last))
	}
	if from.Is4() != to.Is4() {
		return ipRange{}, fmt.Errorf("mixes IPv4 and IPv6")
	}
	if to.Less(from) {
		return ipRange{}, fmt.Errorf("ends before it starts")
	}
	return ipRange{from: from, to: to}, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	bytes := p.Addr().AsSlice()
	for bit := p.Bits(); bit < len(bytes)*8; bit++ {
		bytes[bit/8] |= 1 << (7 - bit%8)
	}
	addr, _ := netip.AddrFromSlice(bytes)
	return addr
}

func (r ipRange) contains(a netip.Addr) bool {
	return a.Is4() == r.from.Is4() && !a.Less(r.from) && !r.to.Less(a)
}

func (r ipRange) overlaps(o ipRange) bool {
	return r.from.Is4() == o.from.Is4() && !r.to.Less(o.from) && !o.to.Less(r.from)
}
