package script

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
)

// Layer defaults: what a constructor sets before applying its table.
//
//	ip{}    version 4, ttl 64 (the Linux default), everything else zero
//	ip6{}   hop limit 64
//	icmp{}  echo request (type 8), identifier and sequence number filled in
//	        by the sender (a fresh identifier, seq counting from 1)
//	icmp6{} echo request (type 128), same
//	udp{}   destination port 33434 (traceroute's first), source port from
//	        the sender's range
//	tcp{}   SYN to port 80, window 64240 (Linux's SYN window), source port
//	        and sequence number from the sender
const (
	defaultTTL     = 64
	defaultUDPPort = 33434
	defaultTCPPort = 80
	defaultTCPWin  = 64240
)

// registerLayers installs ip, ip6, icmp, icmp6, udp, tcp and raw.
func (in *Interp) registerLayers() {
	L := in.L
	mk := func(layer string, base func() *Pkt) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			p := base()
			if L.GetTop() >= 1 && L.Get(1) != lua.LNil {
				t, ok := L.Get(1).(*lua.LTable)
				if !ok {
					L.RaiseError("%s: argument is %s, want a table of fields, e.g. %s{%s}", layer, describe(L.Get(1)), layer, exampleFields[layer])
				}
				if err := in.applyFields(L, p, layer, t); err != nil {
					L.RaiseError("%v", err)
				}
			}
			L.Push(pushPkt(L, p))
			return 1
		})
	}
	L.SetGlobal("ip", mk("ip", func() *Pkt {
		return &Pkt{HasIP: true, P: packet.Packet{Version: 4, IPv4: packet.IPv4{TTL: defaultTTL}}}
	}))
	L.SetGlobal("ip6", mk("ip6", func() *Pkt {
		return &Pkt{HasIP: true, P: packet.Packet{Version: 6, IPv6: packet.IPv6{HopLimit: defaultTTL}}}
	}))
	L.SetGlobal("icmp", mk("icmp", func() *Pkt {
		return &Pkt{HasL4: true, AutoID: true, AutoSeq: true, P: packet.Packet{Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest}}}
	}))
	L.SetGlobal("icmp6", mk("icmp6", func() *Pkt {
		return &Pkt{HasL4: true, AutoID: true, AutoSeq: true, P: packet.Packet{Transport: packet.TransportICMPv6, ICMP: packet.ICMP{Type: packet.ICMPv6EchoRequest}}}
	}))
	L.SetGlobal("udp", mk("udp", func() *Pkt {
		return &Pkt{HasL4: true, P: packet.Packet{Transport: packet.TransportUDP, UDP: packet.UDP{DstPort: defaultUDPPort}}}
	}))
	L.SetGlobal("tcp", mk("tcp", func() *Pkt {
		return &Pkt{HasL4: true, P: packet.Packet{Transport: packet.TransportTCP, TCP: packet.TCP{DstPort: defaultTCPPort, Flags: packet.TCPSyn, Window: defaultTCPWin}}}
	}))
	L.SetGlobal("raw", L.NewFunction(func(L *lua.LState) int {
		b, name, err := payloadOf(L.Get(1))
		if err != nil {
			L.RaiseError("raw: %v", err)
		}
		L.Push(pushPkt(L, &Pkt{HasPayload: true, P: packet.Packet{Payload: b}, Pattern: name}))
		return 1
	}))
}

var exampleFields = map[string]string{
	"ip":    `dst="198.18.3.2", ttl=3`,
	"ip6":   `dst="2001:db8:3::2", hlim=3`,
	"icmp":  `seq=1`,
	"icmp6": `seq=1`,
	"udp":   `dport=53`,
	"tcp":   `dport=80, flags="S"`,
}

// applyFields sets every field of t on layer of p, in name order so that
// errors are reproducible.
func (in *Interp) applyFields(L *lua.LState, p *Pkt, layer string, t *lua.LTable) error {
	var keys []string
	var bad error
	t.ForEach(func(k, v lua.LValue) {
		s, ok := k.(lua.LString)
		if !ok {
			bad = fmt.Errorf("%s{}: fields are named (%s{%s}); %s is not a field name", layer, layer, exampleFields[layer], describeValue(k))
			return
		}
		keys = append(keys, string(s))
	})
	if bad != nil {
		return bad
	}
	sort.Strings(keys)
	// The whole TOS octet first, so that dscp= and ecn= refine it.
	for i, k := range keys {
		if k == "tos" || k == "tc" {
			copy(keys[1:i+1], keys[:i])
			keys[0] = k
		}
	}
	for _, k := range keys {
		if err := in.setField(L, p, layer, k, t.RawGetString(k)); err != nil {
			return err
		}
	}
	return p.checkFamily()
}

// addrArg reads an address, resolving a host name (IPv4 or IPv6 as v6
// says) when it is not one.
func (in *Interp) addrArg(name string, v lua.LValue, v6 bool) (netip.Addr, error) {
	s, ok := v.(lua.LString)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%s: %s is not an address", name, describeValue(v))
	}
	a, err := in.resolve(string(s), v6)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s: %v", name, err)
	}
	if a.Is4() == v6 {
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		return netip.Addr{}, fmt.Errorf("%s: %s is not an %s address", name, a, fam)
	}
	return a, nil
}

// resolve turns an address or host name into an address of the family v6
// asks for.
func (in *Interp) resolve(s string, v6 bool) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	network := "ip4"
	if v6 {
		network = "ip6"
	}
	as, err := net.DefaultResolver.LookupNetIP(ctx, network, s)
	if err != nil || len(as) == 0 {
		return netip.Addr{}, fmt.Errorf("%q is not an address and does not resolve to an %s one (%v)", s, network, err)
	}
	return as[0].Unmap(), nil
}
