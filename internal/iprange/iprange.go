// Package iprange reads MetalLB address-pool entries (a CIDR or an inclusive a-b range) as address ranges; the
// stack model and the policies (and so doctor) share it. It imports nothing of this project.
package iprange

import (
	"fmt"
	"net/netip"
	"strings"
)

// Range is an inclusive address range.
type Range struct{ From, To netip.Addr }

// Parse reads a pool entry written as a CIDR or as an inclusive a-b range.
func Parse(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return Range{}, fmt.Errorf("bad CIDR: %v", err)
		}
		prefix = prefix.Masked()
		return Range{From: prefix.Addr(), To: lastAddr(prefix)}, nil
	}
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		return Range{}, fmt.Errorf("neither a CIDR nor a range")
	}
	from, err := netip.ParseAddr(strings.TrimSpace(first))
	if err != nil {
		return Range{}, fmt.Errorf("%q is not an IP address", strings.TrimSpace(first))
	}
	to, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return Range{}, fmt.Errorf("%q is not an IP address", strings.TrimSpace(last))
	}
	if from.Is4() != to.Is4() {
		return Range{}, fmt.Errorf("mixes IPv4 and IPv6")
	}
	if to.Less(from) {
		return Range{}, fmt.Errorf("ends before it starts")
	}
	return Range{From: from, To: to}, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	bytes := p.Addr().AsSlice()
	for bit := p.Bits(); bit < len(bytes)*8; bit++ {
		bytes[bit/8] |= 1 << (7 - bit%8)
	}
	addr, _ := netip.AddrFromSlice(bytes)
	return addr
}

// Contains reports whether a lies in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is4() == r.From.Is4() && !a.Less(r.From) && !r.To.Less(a)
}

// Overlaps reports whether r and o share an address.
func (r Range) Overlaps(o Range) bool {
	return r.From.Is4() == o.From.Is4() && !r.To.Less(o.From) && !o.To.Less(r.From)
}
