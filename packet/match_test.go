package packet

import (
	"net/netip"
	"testing"
)

// reply builds an answer packet from src to dst.
func reply(src, dst netip.Addr, t Transport, icmp ICMP, udp UDP, tcp TCP, payload []byte) *Packet {
	p := Packet{Version: 4, IPv4: v4(IPv4{Src: src, Dst: dst}), Transport: t, ICMP: icmp, UDP: udp, TCP: tcp, Payload: payload}
	if src.Is6() {
		p = Packet{Version: 6, IPv6: IPv6{Src: src, Dst: dst, HopLimit: 64}, Transport: t, ICMP: icmp, UDP: udp, TCP: tcp, Payload: payload}
	}
	q, err := Parse(mustMarshal(p))
	if err != nil {
		panic(err)
	}
	return q
}

func TestMatchDirectAnswers(t *testing.T) {
	echoProbe := Packet{Version: 4, IPv4: v4(IPv4{ID: 1}), Transport: TransportICMP, ICMP: echo(100, 7), Payload: rep("a", 8)}
	tsProbe := Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportICMP, ICMP: ICMP{Type: ICMPTimestamp, ID: 100, Seq: 7}, Payload: make([]byte, 12)}
	echo6 := Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6, ICMP: ICMP{Type: ICMPv6EchoRequest, ID: 5, Seq: 6}}
	syn := Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP, TCP: TCP{SrcPort: 45000, DstPort: 80, Seq: 1000, Flags: TCPSyn}}
	ackProbe := Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP, TCP: TCP{SrcPort: 45001, DstPort: 80, Seq: 5, Ack: 777, Flags: TCPAck}}
	udpP := Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportUDP, UDP: UDP{SrcPort: 45002, DstPort: 53}}
	other := netip.MustParseAddr("198.18.9.9")

	cases := []struct {
		name  string
		probe *Packet
		ans   *Packet
		ok    bool
		kind  string
		diff  bool
	}{
		{"echo-reply", &echoProbe, reply(dstA, srcA, TransportICMP, ICMP{Type: ICMPEchoReply, ID: 100, Seq: 7}, UDP{}, TCP{}, nil), true, "echo-reply", false},
		{"echo-reply-other-address", &echoProbe, reply(other, srcA, TransportICMP, ICMP{Type: ICMPEchoReply, ID: 100, Seq: 7}, UDP{}, TCP{}, nil), true, "echo-reply", true},
		{"echo-reply-wrong-seq", &echoProbe, reply(dstA, srcA, TransportICMP, ICMP{Type: ICMPEchoReply, ID: 100, Seq: 8}, UDP{}, TCP{}, nil), false, "", false},
		{"own-request-looped-back", &echoProbe, reply(srcA, dstA, TransportICMP, echo(100, 7), UDP{}, TCP{}, nil), false, "", false},
		{"timestamp-reply", &tsProbe, reply(dstA, srcA, TransportICMP, ICMP{Type: ICMPTimestampReply, ID: 100, Seq: 7}, UDP{}, TCP{}, make([]byte, 12)), true, "timestamp-reply", false},
		{"echo-reply-is-not-timestamp-reply", &tsProbe, reply(dstA, srcA, TransportICMP, ICMP{Type: ICMPEchoReply, ID: 100, Seq: 7}, UDP{}, TCP{}, nil), false, "", false},
		{"echo6-reply", &echo6, reply(dst6, src6, TransportICMPv6, ICMP{Type: ICMPv6EchoReply, ID: 5, Seq: 6}, UDP{}, TCP{}, nil), true, "echo-reply", false},
		{"syn-ack", &syn, reply(dstA, srcA, TransportTCP, ICMP{}, UDP{}, TCP{SrcPort: 80, DstPort: 45000, Seq: 9, Ack: 1001, Flags: TCPSyn | TCPAck}, nil), true, "tcp-open", false},
		{"rst-ack", &syn, reply(dstA, srcA, TransportTCP, ICMP{}, UDP{}, TCP{SrcPort: 80, DstPort: 45000, Ack: 1001, Flags: TCPRst | TCPAck}, nil), true, "tcp-closed", false},
		{"stale-syn-ack", &syn, reply(dstA, srcA, TransportTCP, ICMP{}, UDP{}, TCP{SrcPort: 80, DstPort: 45000, Seq: 9, Ack: 501, Flags: TCPSyn | TCPAck}, nil), false, "", false},
		{"syn-ack-from-elsewhere", &syn, reply(other, srcA, TransportTCP, ICMP{}, UDP{}, TCP{SrcPort: 80, DstPort: 45000, Ack: 1001, Flags: TCPSyn | TCPAck}, nil), false, "", false},
		{"rst-to-ack-probe", &ackProbe, reply(dstA, srcA, TransportTCP, ICMP{}, UDP{}, TCP{SrcPort: 80, DstPort: 45001, Seq: 777, Flags: TCPRst}, nil), true, "tcp-closed", false},
		{"rst-wrong-seq", &ackProbe, reply(dstA, srcA, TransportTCP, ICMP{}, UDP{}, TCP{SrcPort: 80, DstPort: 45001, Seq: 778, Flags: TCPRst}, nil), false, "", false},
		{"udp-reply", &udpP, reply(dstA, srcA, TransportUDP, ICMP{}, UDP{SrcPort: 53, DstPort: 45002}, TCP{}, []byte("x")), true, "udp-reply", false},
		{"udp-reply-wrong-port", &udpP, reply(dstA, srcA, TransportUDP, ICMP{}, UDP{SrcPort: 54, DstPort: 45002}, TCP{}, nil), false, "", false},
	}
	for _, c := range cases {
		m, ok := Answers(c.probe, c.ans)
		if ok != c.ok || m.Kind != c.kind || m.DifferentAddress != c.diff {
			t.Errorf("%s: Answers = %+v, %v; want kind %q ok %v different %v", c.name, m, ok, c.kind, c.ok, c.diff)
		}
		pk, _ := ProbeKey(c.probe)
		ak, aok := AnswerKey(c.ans)
		if c.ok && (!aok || ak != pk) {
			t.Errorf("%s: keys differ: probe %+v answer %+v", c.name, pk, ak)
		}
	}
}

func TestMatchQuotedErrors(t *testing.T) {
	probe := Packet{Version: 4, IPv4: v4(IPv4{ID: 0x1111, TTL: 2}), Transport: TransportICMP, ICMP: echo(300, 1), Payload: rep("q", 16)}
	pb := mustMarshal(probe)
	te, _ := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, pb))
	if m, ok := Answers(&probe, te); !ok || m.Kind != "time-exceeded" || !m.Error {
		t.Errorf("time exceeded: %+v %v", m, ok)
	}
	// The same quote with another destination and another IP ID is not ours.
	alien := probe
	alien.IPv4.Dst, alien.IPv4.ID = netip.MustParseAddr("198.18.7.7"), 0x2222
	ae, _ := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, mustMarshal(alien)))
	if _, ok := Answers(&probe, ae); ok {
		t.Errorf("an error quoting another destination and IP ID was matched")
	}
	// A NAT rewrote the destination but the IP ID is ours: matched, and
	// the quote diff will show the rewrite.
	natted := probe
	natted.IPv4.Dst = netip.MustParseAddr("198.18.7.7")
	ne, _ := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, mustMarshal(natted)))
	if _, ok := Answers(&probe, ne); !ok {
		t.Errorf("an error whose quote kept our IP ID was not matched")
	}
	// A TCP quote whose sequence number is not the probe's is rejected.
	syn := Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP, TCP: TCP{SrcPort: 45000, DstPort: 80, Seq: 1000, Flags: TCPSyn}}
	other := syn
	other.TCP.Seq = 2000
	oe, _ := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, mustMarshal(other)[:28]))
	if _, ok := Answers(&syn, oe); ok {
		t.Errorf("a quote with another TCP sequence number was matched")
	}
	// A quote cut before the transport header matches nothing.
	short, _ := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, pb[:IPv4HeaderLen+4]))
	if k, ok := AnswerKey(short); ok {
		t.Errorf("a 4-byte ICMP quote gave key %+v", k)
	}
}

// TestKeysAreDistinct checks keys as map keys: probes that differ in one
// identifier never share a key.
func TestKeysAreDistinct(t *testing.T) {
	seen := map[Key]int{}
	n := 0
	add := func(p Packet) {
		k, ok := ProbeKey(&p)
		if !ok {
			t.Fatalf("no key for %+v", p)
		}
		if j, dup := seen[k]; dup {
			t.Fatalf("probe %d and %d share key %+v", j, n, k)
		}
		seen[k] = n
		n++
	}
	for seq := range uint16(100) {
		add(Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportICMP, ICMP: echo(1, seq)})
		add(Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportICMP, ICMP: ICMP{Type: ICMPTimestamp, ID: 1, Seq: seq}})
		add(Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6, ICMP: ICMP{Type: ICMPv6EchoRequest, ID: 1, Seq: seq}})
		add(Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportUDP, UDP: UDP{SrcPort: 40000 + seq, DstPort: 53}})
		add(Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP, TCP: TCP{SrcPort: 40000 + seq, DstPort: 53}})
		add(Packet{Version: 4, IPv4: v4(IPv4{ID: seq, Protocol: 253})})
	}
}
