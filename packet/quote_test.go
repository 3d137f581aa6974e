package packet

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// icmpError builds the ICMPv4 error a router at from would send to srcA,
// quoting quote, with the given type, code and header bytes 4–7.
func icmpError(from netip.Addr, typ, code uint8, id, seq uint16, quote []byte) []byte {
	return mustMarshal(Packet{Version: 4, IPv4: v4(IPv4{Src: from, Dst: srcA, TOS: 0xc0}),
		Transport: TransportICMP, ICMP: ICMP{Type: typ, Code: code, ID: id, Seq: seq}, Payload: quote})
}

// linuxQuote cuts a datagram the way Linux does: as much as fits in a
// 576-byte ICMP error (576 − 20 − 8 = 548 bytes of quote).
func linuxQuote(b []byte) []byte { return b[:min(len(b), 548)] }

func bigEcho() Packet {
	return Packet{Version: 4, IPv4: v4(IPv4{ID: 0x5151, DF: true, TTL: 1, Options: []Option{&RecordRoute{}}}),
		Transport: TransportICMP, ICMP: echo(0x7777, 42), Payload: rep("\x55\xaa", 1400)}
}

func TestParseTimeExceededFullQuote(t *testing.T) {
	probe := bigEcho()
	pb := mustMarshal(probe)
	a, err := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, linuxQuote(pb)))
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != "time-exceeded" || !a.IsICMPError() {
		t.Fatalf("kind %q error=%v", a.Kind(), a.IsICMPError())
	}
	if a.Truncated || a.BadIPChecksum || a.BadTransportChecksum {
		t.Errorf("outer packet flags: truncated=%v badip=%v badl4=%v", a.Truncated, a.BadIPChecksum, a.BadTransportChecksum)
	}
	q := a.Quote
	if q == nil {
		t.Fatal("no quote")
	}
	if !q.Truncated {
		t.Error("a 548-byte quote of a 1468-byte datagram must be marked truncated")
	}
	if q.IPv4.TotalLen != len(pb) || q.IPv4.ID != 0x5151 || q.IPv4.TTL != 1 || !q.IPv4.DF {
		t.Errorf("quoted header: %+v", q.IPv4)
	}
	if rr, ok := q.IPv4.Options[0].(*RecordRoute); !ok || rr.Slots != 9 {
		t.Errorf("quoted options: %v", q.IPv4.Options)
	}
	if q.ICMP.ID != 0x7777 || q.ICMP.Seq != 42 || q.Transport != TransportICMP {
		t.Errorf("quoted echo: %+v", q.ICMP)
	}
	if got, want := len(q.Payload), 548-60-8; got != want {
		t.Errorf("quoted payload %d bytes, want %d", got, want)
	}
	if len(a.Extensions) != 0 || a.ExtensionProblem != "" {
		t.Errorf("extensions %v problem %q, want none: the length attribute is 0", a.Extensions, a.ExtensionProblem)
	}
}

// TestNoExtensionGuessing is Scapy's pitfall (research tools-compared §4.3):
// a long quote whose bytes at offset 128 happen to look like an extension
// header (version 2, valid checksum), with length attribute 0, must be read
// as quote only.
func TestNoExtensionGuessing(t *testing.T) {
	probe := Packet{Version: 4, IPv4: v4(IPv4{ID: 1}), Transport: TransportUDP, UDP: UDP{SrcPort: 1000, DstPort: 2000},
		Payload: make([]byte, 300)}
	// Quote offset 128 is payload offset 128 − 20 − 8 = 100.
	copy(probe.Payload[100:], mplsExtension())
	a, err := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, mustMarshal(probe)))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Extensions) != 0 {
		t.Fatalf("extensions guessed from a zero length attribute: %v", a.Extensions)
	}
	if a.Quote == nil || len(a.Quote.Payload) != 300 {
		t.Fatalf("the whole quote must stay a quote")
	}
}

func TestParseEightByteQuotes(t *testing.T) {
	cases := []struct {
		name  string
		probe Packet
		check func(t *testing.T, q *Packet)
	}{
		{"udp", udpProbe(), func(t *testing.T, q *Packet) {
			if q.UDP.SrcPort != 40000 || q.UDP.DstPort != 33434 || q.UDP.Length != 8+32 {
				t.Errorf("udp %+v", q.UDP)
			}
		}},
		{"tcp", Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP, TCP: TCP{SrcPort: 5, DstPort: 80, Seq: 0xdeadbeef, Flags: TCPSyn}},
			func(t *testing.T, q *Packet) {
				if q.TCP.SrcPort != 5 || q.TCP.DstPort != 80 || q.TCP.Seq != 0xdeadbeef || q.TCP.Flags != 0 {
					t.Errorf("tcp %+v: ports and seq are in the first 8 bytes, flags are not", q.TCP)
				}
			}},
		{"icmp", Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportICMP, ICMP: echo(9, 10), Payload: rep("p", 20)},
			func(t *testing.T, q *Packet) {
				if q.ICMP.ID != 9 || q.ICMP.Seq != 10 || len(q.Payload) != 0 {
					t.Errorf("icmp %+v payload %d", q.ICMP, len(q.Payload))
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb := mustMarshal(c.probe)
			a, err := Parse(icmpError(hop2, ICMPDestUnreach, CodePortUnreach, 0, 0, pb[:IPv4HeaderLen+8]))
			if err != nil {
				t.Fatal(err)
			}
			if a.Quote == nil || !a.Quote.Truncated || a.Quote.TransportBytes != 8 {
				t.Fatalf("quote %+v", a.Quote)
			}
			c.check(t, a.Quote)
			pk, _ := ProbeKey(&c.probe)
			ak, ok := AnswerKey(a)
			if !ok || ak != pk {
				t.Errorf("answer key %+v ok=%v, probe key %+v", ak, ok, pk)
			}
			if m, ok := Answers(&c.probe, a); !ok || m.Kind != "port-unreachable" || !m.Error {
				t.Errorf("Answers = %+v, %v", m, ok)
			}
		})
	}
}

// TestExtensionsDecoded builds RFC 4884 messages with x/net's marshaller
// (an implementation independent of our parser) and checks what we decode.
func TestExtensionsDecoded(t *testing.T) {
	quote := mustMarshal(udpProbe())
	mpls := &icmp.MPLSLabelStack{Class: 1, Type: 1, Labels: []icmp.MPLSLabel{{Label: 16000, TC: 3, S: true, TTL: 1}}}
	ifinfo := &icmp.InterfaceInfo{Class: 2, Type: 0x0a, // RFC 5837 §4.1 C-Type: role 0 (incoming), ifIndex 0x08 + name 0x02
		Interface: &netInterface}
	for _, c := range []struct {
		name string
		v6   bool
		ext  []icmp.Extension
	}{
		{"v4-mpls", false, []icmp.Extension{mpls}},
		{"v4-mpls-ifinfo", false, []icmp.Extension{mpls, ifinfo}},
		{"v6-mpls", true, []icmp.Extension{mpls}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var raw []byte
			var err error
			var pkt Packet
			if c.v6 {
				q6 := mustMarshal(Packet{Version: 6, IPv6: v6(IPv6{HopLimit: 1}), Transport: TransportUDP, UDP: UDP{SrcPort: 1, DstPort: 2}, Payload: rep("q", 40)})
				m := icmp.Message{Type: ipv6.ICMPTypeTimeExceeded, Body: &icmp.TimeExceeded{Data: q6, Extensions: c.ext}}
				raw, err = m.Marshal(icmp.IPv6PseudoHeader(net.IP(src6.AsSlice()), net.IP(dst6.AsSlice())))
				pkt = Packet{Version: 6, IPv6: v6(IPv6{NextHeader: ProtoICMPv6}), Payload: raw}
			} else {
				m := icmp.Message{Type: ipv4.ICMPTypeTimeExceeded, Body: &icmp.TimeExceeded{Data: quote, Extensions: c.ext}}
				raw, err = m.Marshal(nil)
				pkt = Packet{Version: 4, IPv4: v4(IPv4{Src: hop1, Dst: srcA, Protocol: ProtoICMP}), Payload: raw}
			}
			if err != nil {
				t.Fatal(err)
			}
			a, err := Parse(mustMarshal(pkt))
			if err != nil {
				t.Fatal(err)
			}
			if a.ExtensionProblem != "" {
				t.Fatalf("problem: %s", a.ExtensionProblem)
			}
			if a.BadTransportChecksum {
				t.Errorf("checksum of x/net's message does not verify")
			}
			if len(a.Extensions) != len(c.ext) {
				t.Fatalf("%d extensions, want %d", len(a.Extensions), len(c.ext))
			}
			got := a.Extensions[0].(*icmp.MPLSLabelStack)
			if l := got.Labels[0]; l.Label != 16000 || l.TC != 3 || !l.S || l.TTL != 1 {
				t.Errorf("label %+v", l)
			}
			if len(c.ext) > 1 {
				ii := a.Extensions[1].(*icmp.InterfaceInfo)
				if ii.Interface == nil || ii.Interface.Name != "eth-r1" || ii.Interface.Index != 7 {
					t.Errorf("interface info %+v", ii.Interface)
				}
			}
			if a.Quote == nil || a.Quote.Transport != TransportUDP || a.Quote.UDP.SrcPort == 0 {
				t.Errorf("quote not decoded beside the extensions: %+v", a.Quote)
			}
		})
	}
}

func TestExtensionProblems(t *testing.T) {
	quote := make([]byte, 128)
	copy(quote, mustMarshal(udpProbe()))
	good := mplsExtension()
	badVersion := append([]byte(nil), good...)
	badVersion[0] = 0x10
	binary.BigEndian.PutUint16(badVersion[2:], 0)
	binary.BigEndian.PutUint16(badVersion[2:], Checksum(badVersion))
	badSum := append([]byte(nil), good...)
	badSum[3] ^= 0xff
	for _, c := range []struct {
		name string
		id   uint16 // header bytes 4–5; the low byte is the length in words
		body []byte
		want string
	}{
		{"version", 32, append(append([]byte(nil), quote...), badVersion...), "version 1"},
		{"checksum", 32, append(append([]byte(nil), quote...), badSum...), "checksum"},
		{"past-end", 200, append(append([]byte(nil), quote...), good...), "only 140 bytes"},
		{"below-128", 8, append(append([]byte(nil), quote...), good...), "below RFC 4884's minimum"},
	} {
		a, err := Parse(icmpError(hop1, ICMPTimeExceeded, 0, c.id, 0, c.body))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(a.ExtensionProblem, c.want) || len(a.Extensions) != 0 {
			t.Errorf("%s: problem %q extensions %v, want problem containing %q", c.name, a.ExtensionProblem, a.Extensions, c.want)
		}
		if a.Quote == nil || a.Quote.UDP.DstPort != 33434 {
			t.Errorf("%s: the quote must still be decoded", c.name)
		}
	}
}

func TestICMPHeaderMeanings(t *testing.T) {
	pb := mustMarshal(udpProbe())[:28]
	fn, _ := Parse(icmpError(hop2, ICMPDestUnreach, CodeFragNeeded, 0, 1400, pb))
	if mtu, ok := fn.NextHopMTU(); !ok || mtu != 1400 || fn.Kind() != "frag-needed" {
		t.Errorf("frag-needed: mtu %d %v kind %s", mtu, ok, fn.Kind())
	}
	pp, _ := Parse(icmpError(hop2, ICMPParamProblem, 0, 22<<8, 0, pb))
	if ptr, ok := pp.Pointer(); !ok || ptr != 22 || pp.ExtensionLen() != 0 {
		t.Errorf("param-problem: pointer %d %v extlen %d", ptr, ok, pp.ExtensionLen())
	}
	rd, _ := Parse(icmpError(hop2, ICMPRedirect, 1, 0xc612, 0x0203, pb))
	if gw, ok := rd.Gateway(); !ok || gw != netip.MustParseAddr("198.18.2.3") || rd.Kind() != "redirect" {
		t.Errorf("redirect: gateway %v %v", gw, ok)
	}
	if _, ok := rd.NextHopMTU(); ok {
		t.Errorf("a redirect has no MTU")
	}
	sq, _ := Parse(icmpError(hop2, ICMPSourceQuench, 0, 0, 0, pb))
	if sq.Kind() != "source-quench" || sq.Quote == nil {
		t.Errorf("source quench: %s quote %v", sq.Kind(), sq.Quote)
	}
	// ICMPv6 packet too big: 32-bit MTU in bytes 4–7.
	q6 := mustMarshal(Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6, ICMP: ICMP{Type: ICMPv6EchoRequest, ID: 3, Seq: 4}, Payload: rep("z", 1300)})
	ptb, err := Parse(mustMarshal(Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6,
		ICMP: ICMP{Type: ICMPv6PacketTooBig, ID: 1, Seq: 0x0500}, Payload: q6[:1232]}))
	if err != nil {
		t.Fatal(err)
	}
	if mtu, ok := ptb.NextHopMTU(); !ok || mtu != 0x10500 || ptb.Kind() != "packet-too-big" {
		t.Errorf("packet-too-big: mtu %d %v", mtu, ok)
	}
	if ptb.Quote == nil || ptb.Quote.ICMP.ID != 3 || ptb.Quote.ICMP.Seq != 4 || !ptb.Quote.Truncated {
		t.Errorf("packet-too-big quote: %+v", ptb.Quote)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "ip = 0: no bytes"},
		{"version", []byte{0x50, 0, 0, 0}, "ip.version = 5: expected 4 or 6"},
		{"short-v4", []byte{0x45, 0, 0, 20}, "ip = 4: an IPv4 header needs 20 bytes"},
		{"ihl-small", append([]byte{0x44}, make([]byte, 19)...), "ip.ihl = 4"},
		{"ihl-past-end", append([]byte{0x4f}, make([]byte, 19)...), "ip.ihl = 15: the header is longer than the 20 bytes present"},
		{"short-v6", []byte{0x60, 0, 0, 0}, "ip6 = 4: an IPv6 header needs 40 bytes"},
	} {
		_, err := Parse(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

var netInterface = net.Interface{Index: 7, Name: "eth-r1"}

// TestFragmentsAndExtensionHeaders: a first fragment's transport checksum
// covers the reassembled datagram, so it is not judged; the protocol after
// IPv6 extension headers is reported.
func TestFragmentsAndExtensionHeaders(t *testing.T) {
	whole := mustMarshal(Packet{Version: 4, IPv4: v4(IPv4{ID: 5}), Transport: TransportICMP, ICMP: echo(1, 1), Payload: rep("f", 1000)})
	first := Packet{Version: 4, IPv4: v4(IPv4{ID: 5, MF: true, Protocol: ProtoICMP}), Payload: whole[IPv4HeaderLen : IPv4HeaderLen+200]}
	p, err := Parse(mustMarshal(first))
	if err != nil {
		t.Fatal(err)
	}
	if p.Transport != TransportICMP || p.ICMP.Seq != 1 || p.BadTransportChecksum {
		t.Errorf("first fragment: transport %v seq %d bad checksum %v", p.Transport, p.ICMP.Seq, p.BadTransportChecksum)
	}
	// IPv6, hop-by-hop options header (8 bytes: next 253, length 0, PadN),
	// then 4 bytes of protocol 253.
	raw := mustMarshal(Packet{Version: 6, IPv6: v6(IPv6{NextHeader: 0}), Payload: []byte{253, 0, 1, 4, 0, 0, 0, 0, 1, 2, 3, 4}})
	q, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if q.Protocol() != 253 || len(q.IPv6.Extensions) != 1 || q.IPv6.Upper != 253 || len(q.Payload) != 4 {
		t.Errorf("protocol %d extensions %v upper %d payload %d", q.Protocol(), q.IPv6.Extensions, q.IPv6.Upper, len(q.Payload))
	}
}
