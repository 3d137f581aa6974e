package packet

import (
	"fmt"
	"strings"
	"testing"
)

func TestSummaryAndShow(t *testing.T) {
	for _, c := range buildCases() {
		p, err := Parse(mustMarshal(c.pkt))
		if err != nil {
			t.Fatal(err)
		}
		if s := p.Summary(); !strings.HasPrefix(s, "IPv") || strings.Contains(s, "%!") {
			t.Errorf("%s: summary %q", c.name, s)
		}
		if s := p.Show(); strings.Contains(s, "%!") || strings.Count(s, "\n") < 2 {
			t.Errorf("%s: show\n%s", c.name, s)
		}
	}
}

func ExamplePacket_Summary() {
	probe := Packet{Version: 4, IPv4: v4(IPv4{ID: 7, DF: true, TTL: 1, TOS: 0x10, Options: []Option{&RecordRoute{}}}),
		Transport: TransportICMP, ICMP: echo(4660, 1), Payload: rep("\xa5", 56)}
	fmt.Println(probe.Summary())
	a, _ := Parse(icmpError(hop1, ICMPTimeExceeded, 0, 0, 0, mustMarshal(probe)))
	fmt.Println(a.Summary())
	// Output:
	// IPv4 198.18.0.1 > 198.18.3.2 ttl 1 id 7 DF tos 0x10 rr(0/9) | ICMP echo-request id 4660 seq 1 | 56 bytes
	// IPv4 198.18.1.2 > 198.18.0.1 ttl 64 id 0 tos 0xc0 | ICMP time-exceeded | quoting IPv4 198.18.0.1 > 198.18.3.2 ttl 1 id 7 DF tos 0x10 rr(0/9) | ICMP echo-request id 4660 seq 1 | 56 bytes
}

func ExamplePacket_Show() {
	probe := Packet{Version: 4, IPv4: v4(IPv4{ID: 7, TTL: 1, Options: []Option{&RecordRoute{Slots: 2}}}),
		Transport: TransportUDP, UDP: UDP{SrcPort: 40000, DstPort: 33434}, Payload: rep("echolot", 7)}
	a, _ := Parse(icmpError(hop1, ICMPDestUnreach, CodeFragNeeded, 0, 1400, mustMarshal(probe)))
	fmt.Print(a.Show())
	// Output:
	// IPv4     198.18.1.2 → 198.18.0.1
	//   tos 0xc0 (dscp 48, ecn 0)  len 75  id 0 (0x0000)  flags none  frag 0
	//   ttl 64  proto 1  chksum 0xecca  header 20 bytes
	// ICMP     frag-needed  type 3 code 4  chksum 0x86cc
	//   next-hop mtu 1400
	//   quoted datagram:
	//     IPv4     198.18.0.1 → 198.18.3.2
	//       tos 0x00 (dscp 0, ecn 0)  len 47  id 7 (0x0007)  flags none  frag 0
	//       ttl 1  proto 17  chksum 0x1c85  header 32 bytes
	//       option rr slots=2 ptr=4 []
	//     UDP      40000 → 33434  len 15  chksum 0xa38a
	//     Payload  7 bytes  65 63 68 6f 6c 6f 74
}

// TestSummaryUnsetAddresses: a template's unset source prints as (auto),
// since the sender fills it in, and an unset destination as (unset).
func TestSummaryUnsetAddresses(t *testing.T) {
	p := Packet{Version: 4, IPv4: IPv4{Dst: dstA, TTL: 64}, Transport: TransportICMP, ICMP: echo(1, 1)}
	if got, want := p.Summary(), "IPv4 (auto) > 198.18.3.2 ttl 64 id 0 | ICMP echo-request id 1 seq 1"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	q := Packet{Version: 6, Transport: TransportICMPv6, ICMP: ICMP{Type: ICMPv6EchoRequest}}
	if got := q.Summary(); !strings.HasPrefix(got, "IPv6 (auto) > (unset) hlim 0") {
		t.Errorf("summary %q", got)
	}
	if s := p.Show(); !strings.Contains(s, "(auto) → 198.18.3.2") {
		t.Errorf("show:\n%s", s)
	}
}
