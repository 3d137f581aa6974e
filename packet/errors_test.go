package packet

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestBuildErrors checks that every builder error names the field, the
// value and the limit.
func TestBuildErrors(t *testing.T) {
	icmpv4 := func(h IPv4) Packet {
		return Packet{Version: 4, IPv4: v4(h), Transport: TransportICMP, ICMP: echo(1, 1)}
	}
	for _, c := range []struct {
		name  string
		pkt   Packet
		field string
		want  string // in the message: value and limit
	}{
		{"rr9+ts", icmpv4(IPv4{Options: []Option{&RecordRoute{}, &Timestamp{Flag: TSOnly, Slots: 1}}}),
			"ip.options", "= 47 bytes (rr 39 + ts 8): an IPv4 header holds at most 40 option bytes (IHL is 4 bits); record route with 9 slots alone takes 39"},
		{"rr-slots", icmpv4(IPv4{Options: []Option{&RecordRoute{Slots: 10}}}), "ip.options[1].slots", "= 10: rr holds 1–9 address slots"},
		{"rr-route-overflow", icmpv4(IPv4{Options: []Option{&RecordRoute{Slots: 1, PrefillSource: true, Route: []netip.Addr{hop1}}}}),
			"ip.options[1].route", "= 2: 2 addresses do not fit in 1 slots"},
		{"rr-v6-addr", icmpv4(IPv4{Options: []Option{&RecordRoute{Route: []netip.Addr{src6}}}}), "ip.options[1].route[1]", "IPv4 options hold IPv4 addresses"},
		{"ts-tsonly-slots", icmpv4(IPv4{Options: []Option{NOP{}, &Timestamp{Flag: TSOnly, Slots: 10}}}), "ip.options[2].slots", "= 10: tsonly holds 1–9 timestamps"},
		{"ts-pairs", icmpv4(IPv4{Options: []Option{&Timestamp{Flag: TSAndAddr, Slots: 5}}}), "ip.options[1].slots", "= 5: tsandaddr holds 1–4"},
		{"ts-prespec-empty", icmpv4(IPv4{Options: []Option{&Timestamp{Flag: TSPrespec}}}), "ip.options[1].entries", "tsprespec needs 1–4 prespecified addresses"},
		{"ts-flag", icmpv4(IPv4{Options: []Option{&Timestamp{Flag: 2}}}), "ip.options[1].flag", "= 2: the timestamp flag is 0 (tsonly), 1 (tsandaddr) or 3 (tsprespec)"},
		{"ts-overflow", icmpv4(IPv4{Options: []Option{&Timestamp{Overflow: 16}}}), "ip.options[1].overflow", "= 16: the overflow counter is 4 bits: 0–15"},
		{"lsrr-empty", icmpv4(IPv4{Options: []Option{&SourceRoute{}}}), "ip.options[1].route", "a source route needs 1–9 addresses"},
		{"raw-empty", icmpv4(IPv4{Options: []Option{RawOption{}}}), "ip.options[1].bytes", "at least its type octet"},
		{"frag", icmpv4(IPv4{FragOffset: 8192}), "ip.frag", "= 8192: the fragment offset is 13 bits: 0–8191"},
		{"dst-v6-in-v4", icmpv4(IPv4{Dst: dst6}), "ip.dst", "= 2001:db8:3::2: an IPv4 header needs an IPv4 destination"},
		{"src-v6-in-v4", icmpv4(IPv4{Src: src6}), "ip.src", "needs an IPv4 source"},
		{"too-long", Packet{Version: 4, IPv4: v4(IPv4{}), Payload: make([]byte, 65516)}, "ip.len", "= 65536: the IPv4 total length field is 16 bits: at most 65535"},
		{"version", Packet{Version: 5}, "ip.version", "= 5: a packet is IPv4 (4) or IPv6 (6)"},
		{"flow", Packet{Version: 6, IPv6: v6(IPv6{FlowLabel: 0x100000})}, "ip6.flow", "= 1048576: the flow label is 20 bits"},
		{"ip6-src", Packet{Version: 6, IPv6: IPv6{Src: srcA, Dst: dst6}}, "ip6.src", "needs an IPv6 source address"},
		{"icmp6-over-ip4", Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportICMPv6}, "transport", "= icmp6: ICMPv6 checksums need an IPv6 pseudo-header"},
		{"udp-no-src", Packet{Version: 4, IPv4: IPv4{Dst: dstA}, Transport: TransportUDP}, "ip.src", "= unset: the UDP checksum covers the source address"},
		{"tcp-options", Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP, TCP: TCP{Options: []TCPOption{{Kind: 99, Data: make([]byte, 39)}}}},
			"tcp.options", "= 41: a TCP header holds at most 40 option bytes"},
	} {
		_, err := c.pkt.Marshal()
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v is not a *FieldError", c.name, err)
			continue
		}
		if fe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q (field %q), want field %q and text %q", c.name, err, fe.Field, c.field, c.want)
		}
	}
}

func TestDSCPECNHelpers(t *testing.T) {
	var h IPv4
	if err := h.SetDSCP(46); err != nil || h.TOS != 0xb8 || h.DSCP() != 46 {
		t.Errorf("SetDSCP(46): tos 0x%02x err %v", h.TOS, err)
	}
	if err := h.SetECN(3); err != nil || h.TOS != 0xbb || h.ECN() != 3 || h.DSCP() != 46 {
		t.Errorf("SetECN(3): tos 0x%02x err %v", h.TOS, err)
	}
	if err := h.SetDSCP(64); err == nil || !strings.Contains(err.Error(), "ip.dscp = 64: DSCP is 6 bits: 0–63") {
		t.Errorf("SetDSCP(64): %v", err)
	}
	if err := h.SetECN(4); err == nil || !strings.Contains(err.Error(), "ip.ecn = 4") {
		t.Errorf("SetECN(4): %v", err)
	}
	if h.TOS != 0xbb {
		t.Errorf("a failed set changed TOS to 0x%02x", h.TOS)
	}
}

func TestTCPFlags(t *testing.T) {
	for _, s := range []string{"S", "SA", "RA", "FPA", "AE", ".", "FSRPAUEC"} {
		f, err := ParseTCPFlags(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := f.String(); got != s && !(s == "SA" && got == "SA") {
			g, _ := ParseTCPFlags(got)
			if g != f {
				t.Errorf("%s → %v → %s", s, f, got)
			}
		}
	}
	if f, _ := ParseTCPFlags("as"); f != TCPSyn|TCPAck {
		t.Errorf("lower case: %v", f)
	}
	if _, err := ParseTCPFlags("SX"); err == nil || !strings.Contains(err.Error(), `tcp.flags = SX`) {
		t.Errorf("bad flag: %v", err)
	}
}

// TestUnsetSourceBuilds: a header without a source address is written
// with 0.0.0.0 (which the kernel fills in on raw sends), never a panic.
func TestUnsetSourceBuilds(t *testing.T) {
	p := Packet{Version: 4, IPv4: IPv4{TTL: 64, Dst: netip.MustParseAddr("198.18.3.2")}, Transport: TransportICMP, ICMP: ICMP{Type: ICMPEchoRequest}}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := b[12:16]; string(got) != "\x00\x00\x00\x00" {
		t.Errorf("source bytes % x, want zeros", got)
	}
}
