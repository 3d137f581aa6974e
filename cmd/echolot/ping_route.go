package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe"
)

// resolveHops resolves the addresses given before the destination:
// source-route hops, or the prespecified addresses of -T tsprespec. Both
// are IPv4 options.
func (c *pingConfig) resolveHops(ctx context.Context, dst netip.Addr) ([]netip.Addr, error) {
	if len(c.hops) == 0 {
		return nil, nil
	}
	if !dst.Is4() {
		return nil, usageErrorf("source-route hops (%v): IPv4 options, not for the IPv6 destination %s", c.hops, dst)
	}
	out := make([]netip.Addr, 0, len(c.hops))
	for _, h := range c.hops {
		if a, err := netip.ParseAddr(h); err == nil {
			if !a.Unmap().Is4() {
				return nil, usageErrorf("%s: Address family for hostname not supported", h)
			}
			out = append(out, a.Unmap())
			continue
		}
		as, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", h)
		if err != nil || len(as) == 0 {
			return nil, usageErrorf("%s: Name or service not known", h)
		}
		out = append(out, as[0].Unmap())
	}
	return out, nil
}

// sourceRoute returns the option iputils builds for hops: a NOP and a
// loose source route (strict with -r), and the address the datagram is
// sent to. The kernel takes the first address of a source route given
// with IP_OPTIONS as the datagram's destination and writes the final
// destination into the last slot; echolot builds the header that way
// itself, so the wire is the same: destination hop 1, route hops 2..n
// then the destination, pointer 4.
func sourceRoute(hops []netip.Addr, dst netip.Addr, strict bool) (first netip.Addr, opts []packet.Option) {
	route := append(append([]netip.Addr(nil), hops[1:]...), dst)
	return hops[0], []packet.Option{packet.NOP{}, &packet.SourceRoute{Strict: strict, Route: route}}
}

// prespecOption is iputils' -T tsprespec option: one slot per address,
// pointer 5, and this host's time in the first when it is this host's
// address, as the kernel stamps it (PrefillSource). With no addresses it
// is the 4-byte option iputils sends.
func prespecOption(addrs []netip.Addr) packet.Option {
	if len(addrs) == 0 {
		return packet.RawOption{Bytes: []byte{packet.OptTimestamp, 4, 5, byte(packet.TSPrespec)}}
	}
	ts := &packet.Timestamp{Flag: packet.TSPrespec, PrefillSource: true}
	for _, a := range addrs {
		ts.Entries = append(ts.Entries, packet.TSEntry{Addr: a})
	}
	return ts
}

// optionBlockLen is what iputils adds to the header size it prints for
// -R, -T and source routes: the whole 40-byte option area.
func optionBlockLen(c *pingConfig) int {
	if c.rr || c.ts != "" || len(c.hops) > 0 {
		return packet.MaxIPv4OptionsLen
	}
	return 0
}

// lsrrBlock prints a source-route option of a reply as pr_options does.
func lsrrBlock(o *packet.SourceRoute) string {
	s := "\nLSRR: "
	if o.Strict {
		s = "\nSSRR: "
	}
	// Every slot, as pr_options means to (iputils reads them one byte
	// off, from the pointer octet on).
	for _, a := range o.Route {
		s += fmt.Sprintf("\t%s\n", addrOrZero(a))
	}
	return s
}

// differentAddress is ping's "DIFFERENT ADDRESS!": a reply from another
// address than the destination. With a source route the engine's probes
// are addressed to the first hop, so a reply from the final destination
// is the expected one.
func (p *pinger) differentAddress(r *probe.Result) bool {
	if p.c.broadcast {
		return false // iputils expects replies from anywhere then
	}
	if len(p.c.hops) > 0 && p.c.ts != "tsprespec" {
		return r.From != p.dst
	}
	return r.DifferentAddress
}
