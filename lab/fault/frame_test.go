package fault

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/echolot/echolot/packet"
)

// Test frames are built with packet's builder behind a hand-written
// Ethernet header, and judged with packet.Parse, hand-derived bytes and
// (in TestApplyTshark) tshark.

var (
	cli4 = netip.MustParseAddr("198.18.1.2")
	srv4 = netip.MustParseAddr("198.18.3.2")
	r2v4 = netip.MustParseAddr("198.18.2.2")
	cli6 = netip.MustParseAddr("2001:db8:1::2")
	srv6 = netip.MustParseAddr("2001:db8:3::2")
)

// ethHeader is r2's MAC, r1's MAC and the EtherType.
func ethHeader(typ uint16) []byte {
	h := []byte{0x02, 0xec, 0, 0, 0, 2, 0x02, 0xec, 0, 0, 0, 1, 0, 0}
	binary.BigEndian.PutUint16(h[12:], typ)
	return h
}

// frameOf marshals p behind an Ethernet header.
func frameOf(t testing.TB, p *packet.Packet) []byte {
	t.Helper()
	typ := uint16(etherTypeIPv4)
	if p.Version == 6 {
		typ = etherTypeIPv6
	}
	b, err := p.AppendTo(ethHeader(typ))
	if err != nil {
		t.Fatalf("building %v: %v", p, err)
	}
	return b
}

// payload returns n bytes 0, 1, 2, …
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func echo4(data []byte) *packet.Packet {
	return &packet.Packet{
		Version:   4,
		IPv4:      packet.IPv4{TTL: 64, ID: 0x4242, DF: true, Src: cli4, Dst: srv4},
		Transport: packet.TransportICMP,
		ICMP:      packet.ICMP{Type: packet.ICMPEchoRequest, ID: 0x1234, Seq: 1},
		Payload:   data,
	}
}

func echo6(data []byte) *packet.Packet {
	return &packet.Packet{
		Version:   6,
		IPv6:      packet.IPv6{HopLimit: 64, FlowLabel: 0x12345, Src: cli6, Dst: srv6},
		Transport: packet.TransportICMPv6,
		ICMP:      packet.ICMP{Type: packet.ICMPv6EchoRequest, ID: 0x1234, Seq: 1},
		Payload:   data,
	}
}

func udp(v6 bool, data []byte) *packet.Packet {
	p := &packet.Packet{Transport: packet.TransportUDP, UDP: packet.UDP{SrcPort: 40000, DstPort: 33434}, Payload: data}
	if v6 {
		p.Version, p.IPv6 = 6, packet.IPv6{HopLimit: 64, Src: cli6, Dst: srv6}
	} else {
		p.Version, p.IPv4 = 4, packet.IPv4{TTL: 64, ID: 7, Src: cli4, Dst: srv4}
	}
	return p
}

func tcp(v6 bool, data []byte) *packet.Packet {
	p := &packet.Packet{
		Transport: packet.TransportTCP,
		TCP: packet.TCP{SrcPort: 40002, DstPort: 80, Seq: 1000, Ack: 2000, Flags: packet.TCPAck | packet.TCPPsh, Window: 512,
			Options: []packet.TCPOption{{Kind: packet.TCPOptNOP}, {Kind: packet.TCPOptNOP}, {Kind: packet.TCPOptTimestamps, Data: make([]byte, 8)}}},
		Payload: data,
	}
	if v6 {
		p.Version, p.IPv6 = 6, packet.IPv6{HopLimit: 64, Src: cli6, Dst: srv6}
	} else {
		p.Version, p.IPv4 = 4, packet.IPv4{TTL: 64, ID: 9, Src: cli4, Dst: srv4}
	}
	return p
}

// parseIP parses the IP datagram of a frame.
func parseIP(t testing.TB, f []byte) *packet.Packet {
	t.Helper()
	p, err := packet.Parse(f[ethHeaderLen:])
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

// checkGood fails unless the frame's checksums verify and it is complete.
func checkGood(t testing.TB, f []byte, what string) *packet.Packet {
	t.Helper()
	p := parseIP(t, f)
	if p.BadIPChecksum || p.BadTransportChecksum || p.Truncated {
		t.Errorf("%s: bad IP checksum %v, bad transport checksum %v, truncated %v\n%s", what, p.BadIPChecksum, p.BadTransportChecksum, p.Truncated, p.Show())
	}
	return p
}

// rules parses rule texts into a RuleSet.
func rules(t testing.TB, texts ...string) *RuleSet {
	t.Helper()
	var rs []Rule
	for _, s := range texts {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", s, err)
		}
		rs = append(rs, r)
	}
	s, err := NewRuleSet(rs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// apply applies texts to a copy of f in direction dir with a fixed seed.
func apply(t testing.TB, f []byte, dir Direction, texts ...string) []Output {
	t.Helper()
	return rules(t, texts...).Apply(bytes.Clone(f), dir, rand.New(rand.NewPCG(1, 2)), nil)
}

// one applies texts and requires exactly one output frame.
func one(t testing.TB, f []byte, dir Direction, texts ...string) []byte {
	t.Helper()
	out := apply(t, f, dir, texts...)
	if len(out) != 1 || out[0].Delay != 0 {
		t.Fatalf("%q: %d outputs (%v), want one without delay", texts, len(out), out)
	}
	return out[0].Frame
}

func TestParseFrame(t *testing.T) {
	f := frameOf(t, echo4(payload(56)))
	v, ok := parseFrame(f)
	if !ok || v.v6 || v.ip != 14 || v.l4 != 34 || v.pl != 42 || v.end != len(f) || v.csum != 36 || !v.transport || v.frag || v.control {
		t.Errorf("echo4 view %+v", v)
	}
	f = frameOf(t, tcp(true, payload(10)))
	v, ok = parseFrame(f)
	if !ok || !v.v6 || v.l4 != 54 || v.pl != 54+32 || v.csum != 54+16 || v.proto != protoTCP {
		t.Errorf("tcp6 view %+v", v)
	}
	// UDP with bytes beyond its length field: the payload and the
	// checksum stop at the UDP length.
	f = frameOf(t, udp(false, payload(20)))
	f = append(f, 0xee, 0xee)
	binary.BigEndian.PutUint16(f[14+2:], 20+8+20+2)
	v, _ = parseFrame(f)
	if v.pend != len(f)-2 || v.cend != len(f)-2 || v.end != len(f) {
		t.Errorf("udp with trailer view %+v", v)
	}
	for name, bad := range map[string][]byte{
		"short":          f[:13],
		"arp":            append(ethHeader(0x0806), make([]byte, 28)...),
		"vlan":           append(ethHeader(0x8100), make([]byte, 60)...),
		"ihl 3":          append(ethHeader(etherTypeIPv4), 0x43, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8),
		"v6 in v4 type":  append(ethHeader(etherTypeIPv4), make([]byte, 40)...),
		"total < ihl":    append(ethHeader(etherTypeIPv4), 0x45, 0, 0, 10, 0, 0, 0, 0, 64, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8),
		"v6 short":       append(ethHeader(etherTypeIPv6), 0x60, 0, 0, 0),
		"v6 ext too big": append(append(ethHeader(etherTypeIPv6), 0x60, 0, 0, 0, 0, 8, 0, 64), append(make([]byte, 32), 58, 200, 0, 0, 0, 0, 0, 0)...),
	} {
		if _, ok := parseFrame(bad); ok {
			t.Errorf("%s: parseFrame ok", name)
		}
	}
}
