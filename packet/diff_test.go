package packet

import (
	"net/netip"
	"strings"
	"testing"
)

// sentAndQuoted returns the probe as sent (parsed from its bytes, so
// computed fields are filled in) and the quote of a copy that change
// altered on the way.
func sentAndQuoted(t *testing.T, probe Packet, change func(*Packet), cut int) (*Packet, *Packet) {
	t.Helper()
	sent, err := Parse(mustMarshal(probe))
	if err != nil {
		t.Fatal(err)
	}
	seen := probe
	seen.IPv4.Options = append([]Option(nil), probe.IPv4.Options...)
	seen.Payload = append([]byte(nil), probe.Payload...)
	change(&seen)
	qb := mustMarshal(seen)
	if cut > 0 {
		qb = qb[:cut]
	}
	a, err := Parse(icmpError(hop2, ICMPTimeExceeded, 0, 0, 0, qb))
	if err != nil {
		t.Fatal(err)
	}
	return sent, a.Quote
}

// changesString renders changes for comparison; checksum values are left
// out (shown as "*"), since they follow from the other fields.
func changesString(cs []Change) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
		if strings.HasSuffix(c.Field, "chksum") {
			s[i] = c.Field + " *"
		}
		if c.Expected {
			s[i] += " (expected)"
		}
	}
	return strings.Join(s, "; ")
}

func TestQuoteDiff(t *testing.T) {
	rrProbe := Packet{Version: 4, IPv4: v4(IPv4{TTL: 4, ID: 9, DF: true, Options: []Option{&RecordRoute{Slots: 4}}}),
		Transport: TransportICMP, ICMP: echo(1, 2), Payload: rep("\xaa", 32)}
	udpP := udpProbe()
	udpP.IPv4.TTL = 5
	tcpP := Packet{Version: 4, IPv4: v4(IPv4{TTL: 6, TOS: 0x02}), Transport: TransportTCP,
		TCP: TCP{SrcPort: 1234, DstPort: 80, Seq: 77, Flags: TCPSyn, Window: 1000, Options: []TCPOption{MSS(1460)}}}
	cases := []struct {
		name   string
		probe  Packet
		change func(*Packet)
		cut    int
		want   string
	}{
		{"nothing-but-ttl", rrProbe, func(p *Packet) { p.IPv4.TTL = 1 }, 0,
			"ttl 4→1 (expected); chksum * (expected)"},
		{"tos-rr-ttl", rrProbe, func(p *Packet) {
			p.IPv4.TTL, p.IPv4.TOS = 1, 0x28
			p.IPv4.Options[0] = &RecordRoute{Slots: 4, Route: []netip.Addr{hop1, hop2}}
		}, 0, "tos 0x00→0x28; dscp 0→10; ttl 4→1 (expected); " +
			"options.rr: rr slots=4 ptr=4 [] → rr slots=4 ptr=12 [198.18.1.2 198.18.2.2] (expected); chksum * (expected)"},
		{"df-cleared-options-stripped", rrProbe, func(p *Packet) { p.IPv4.DF, p.IPv4.Options, p.IPv4.TTL = false, nil, 2 }, 0,
			"len 80→60; df 1→0; ttl 4→2 (expected); options: rr → none; chksum * (expected)"},
		{"payload-corrupted", rrProbe, func(p *Packet) { p.IPv4.TTL = 1; p.Payload[5] ^= 0x10 }, 0,
			"ttl 4→1 (expected); chksum * (expected); icmp.chksum * (expected); payload: 1 of the 32 quoted payload bytes differ, first at #5 (0xaa→0xba)"},
		{"nat-udp", udpP, func(p *Packet) {
			p.IPv4.TTL, p.IPv4.Src, p.UDP.SrcPort = 1, netip.MustParseAddr("198.19.0.1"), 50000
		}, 28, "ttl 5→1 (expected); src 198.18.0.1→198.19.0.1; chksum * (expected); udp.sport 40000→50000; udp.chksum * (expected)"},
		{"tcp-8-byte-quote-ecn-ce", tcpP, func(p *Packet) { p.IPv4.TTL, p.IPv4.TOS, p.TCP.Flags = 1, 0x03, TCPSyn|TCPEce }, 28,
			"tos 0x02→0x03; ecn 2→3 (expected); ttl 6→1 (expected); chksum * (expected)"},
		{"tcp-mss-clamped", tcpP, func(p *Packet) { p.IPv4.TTL, p.TCP.Options = 1, []TCPOption{MSS(1360)} }, 0,
			"ttl 6→1 (expected); chksum * (expected); tcp.options: mss 1460 → mss 1360; tcp.chksum * (expected)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sent, q := sentAndQuoted(t, c.probe, c.change, c.cut)
			got := changesString(QuoteDiff(sent, q))
			if got != c.want {
				t.Errorf("changes\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestQuoteDiffIdentical(t *testing.T) {
	for _, c := range buildCases() {
		sent, err := Parse(mustMarshal(c.pkt))
		if err != nil {
			t.Fatal(err)
		}
		if cs := QuoteDiff(sent, sent); len(cs) != 0 {
			t.Errorf("%s: a packet differs from itself: %s", c.name, changesString(cs))
		}
	}
}

func TestQuoteDiffIPv6(t *testing.T) {
	probe := Packet{Version: 6, IPv6: v6(IPv6{HopLimit: 3, TrafficClass: 0x00, FlowLabel: 0x111}), Transport: TransportUDP, UDP: UDP{SrcPort: 1, DstPort: 2}}
	sent, _ := Parse(mustMarshal(probe))
	seen := probe
	seen.IPv6.HopLimit, seen.IPv6.FlowLabel, seen.IPv6.TrafficClass = 1, 0x222, 0xb8
	q, _ := Parse(mustMarshal(seen))
	got := changesString(QuoteDiff(sent, q))
	want := "tc 0x00→0xb8; dscp 0→46; flow 0x00111→0x00222; hlim 3→1 (expected)"
	if got != want {
		t.Errorf("changes\n got %s\nwant %s", got, want)
	}
}
