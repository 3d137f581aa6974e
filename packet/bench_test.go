package packet

import (
	"net/netip"
	"testing"
)

// echoRRProbe is the performance target's probe: an echo request with a
// 9-slot record-route option and a 56-byte pattern.
func echoRRProbe() Packet {
	return Packet{Version: 4, IPv4: v4(IPv4{ID: 1, DF: true, Options: []Option{&RecordRoute{}}}),
		Transport: TransportICMP, ICMP: echo(0x4242, 0), Payload: mustHexPattern("a5", 56).Bytes}
}

// mustHexPattern is HexPattern for fixtures.
func mustHexPattern(s string, n int) Pattern {
	p, err := HexPattern(s, n)
	if err != nil {
		panic(err)
	}
	return p
}

// BenchmarkBuildEchoRR builds the target probe into a reused buffer, with a
// new sequence number each time, as the engine's send loop does. Target:
// ≤ 300 ns and ≤ 1 allocation (design.md).
func BenchmarkBuildEchoRR(b *testing.B) {
	p := echoRRProbe()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.ICMP.Seq = uint16(i)
		var err error
		buf, err = p.AppendTo(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildEchoRRFromScratch also constructs the probe value each time
// (options slice and record-route value included).
func BenchmarkBuildEchoRRFromScratch(b *testing.B) {
	pat := mustHexPattern("a5", 56)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := Packet{Version: 4, IPv4: IPv4{ID: 1, DF: true, TTL: 64, Src: srcA, Dst: dstA, Options: []Option{&RecordRoute{}}},
			Transport: TransportICMP, ICMP: ICMP{Type: ICMPEchoRequest, ID: 0x4242, Seq: uint16(i)}, Payload: pat.Bytes}
		buf, _ = p.AppendTo(buf[:0])
	}
}

// BenchmarkBuildTCPSyn builds a SYN with the usual Linux option set.
func BenchmarkBuildTCPSyn(b *testing.B) {
	p := Packet{Version: 4, IPv4: v4(IPv4{DF: true}), Transport: TransportTCP,
		TCP: TCP{SrcPort: 40000, DstPort: 80, Seq: 1, Flags: TCPSyn, Window: 64240,
			Options: []TCPOption{MSS(1460), SACKPermitted(), Timestamps(1, 0), {Kind: TCPOptNOP}, WindowScale(7)}}}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.TCP.SrcPort = uint16(i)
		buf, _ = p.AppendTo(buf[:0])
	}
}

// BenchmarkParseEchoReply parses an echo reply with RR into a reused Packet.
func BenchmarkParseEchoReply(b *testing.B) {
	p := echoRRProbe()
	p.ICMP.Type = ICMPEchoReply
	raw := mustMarshal(p)
	var q Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := q.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEchoReplyPlain parses a 84-byte echo reply without options,
// the common case of a ping flood.
func BenchmarkParseEchoReplyPlain(b *testing.B) {
	p := echoRRProbe()
	p.IPv4.Options = nil
	p.ICMP.Type = ICMPEchoReply
	raw := mustMarshal(p)
	var q Packet
	b.ReportAllocs()
	for b.Loop() {
		_ = q.Decode(raw)
	}
}

// BenchmarkParseTimeExceeded parses an ICMP time-exceeded error quoting
// the RR echo probe in full, as Linux routers do. Target: ≤ 1 µs.
func BenchmarkParseTimeExceeded(b *testing.B) {
	raw := icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, mustMarshal(echoRRProbe()))
	var q Packet
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFragNeeded576 parses a frag-needed error with a 548-byte
// quote of a 1400-byte echo.
func BenchmarkParseFragNeeded576(b *testing.B) {
	raw := icmpError(hop2, ICMPDestUnreach, CodeFragNeeded, 0, 1400, linuxQuote(mustMarshal(bigEcho())))
	var q Packet
	b.ReportAllocs()
	for b.Loop() {
		_ = q.Decode(raw)
	}
}

// BenchmarkMatchKey computes the answer key of a parsed echo reply and looks
// it up in a table of 10,000 outstanding probes.
func BenchmarkMatchKey(b *testing.B) {
	table := make(map[Key]int, 10000)
	p := echoRRProbe()
	for i := range 10000 {
		p.ICMP.Seq = uint16(i)
		k, _ := ProbeKey(&p)
		table[k] = i
	}
	p.ICMP.Type, p.ICMP.Seq = ICMPEchoReply, 4321
	var q Packet
	_ = q.Decode(mustMarshal(p))
	b.ReportAllocs()
	for b.Loop() {
		k, _ := AnswerKey(&q)
		if table[k] != 4321 {
			b.Fatal("lookup failed")
		}
	}
}

// BenchmarkMatchError does the same for a time-exceeded error, then
// confirms with Answers.
func BenchmarkMatchError(b *testing.B) {
	probe := echoRRProbe()
	probe.ICMP.Seq = 77
	a, _ := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, mustMarshal(probe)))
	table := map[Key]*Packet{}
	k, _ := ProbeKey(&probe)
	table[k] = &probe
	b.ReportAllocs()
	for b.Loop() {
		k, _ := AnswerKey(a)
		if _, ok := Answers(table[k], a); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkQuoteDiff diffs a probe against a quote in which a router
// rewrote TOS and recorded two addresses.
func BenchmarkQuoteDiff(b *testing.B) {
	probe := echoRRProbe()
	sent, _ := Parse(mustMarshal(probe))
	seen := probe
	seen.IPv4.TTL, seen.IPv4.TOS = 1, 0x28
	seen.IPv4.Options = []Option{&RecordRoute{Route: []netip.Addr{hop1, hop2}}}
	a, _ := Parse(icmpError(hop2, ICMPTimeExceeded, 0, 0, 0, mustMarshal(seen)))
	b.ReportAllocs()
	for b.Loop() {
		if len(QuoteDiff(sent, a.Quote)) == 0 {
			b.Fatal("no changes")
		}
	}
}
