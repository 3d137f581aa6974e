package tour

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/echolot/echolot/packet"
)

var (
	clientMAC = []byte{2, 0, 0, 0, 0, 1}
	routerMAC = []byte{2, 0, 0, 0, 0, 2}
	client    = netip.MustParseAddr("198.18.1.2")
	server    = netip.MustParseAddr("198.18.3.2")
	r2        = netip.MustParseAddr("198.18.2.2")
)

// frame wraps an IP packet in Ethernet, as sent (out) or received.
func frame(t *testing.T, p packet.Packet, out bool, at time.Duration) Frame {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	src, dst := routerMAC, clientMAC
	if out {
		src, dst = clientMAC, routerMAC
	}
	data := append(append(append([]byte{}, dst...), src...), 0x08, 0x00)
	data = append(data, b...)
	ip, err := packet.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0).Add(at)
	return Frame{Info: gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}, Data: data, Out: out, IP: ip}
}

func TestMatchAndWritePcapng(t *testing.T) {
	probe := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: client, Dst: server, TTL: 2, TOS: 0x10, ID: 9},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest, ID: 7, Seq: 1}, Payload: bytes.Repeat([]byte{0xa5}, 56)}
	seen := probe
	seen.IPv4.TTL, seen.IPv4.TOS = 1, 0x28
	quote, _ := seen.Marshal()
	te := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: r2, Dst: client, TTL: 63, TOS: 0xc0},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPTimeExceeded}, Payload: quote}
	lost := probe
	lost.ICMP.Seq = 2
	stray := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: server, Dst: client, TTL: 60},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoReply, ID: 99, Seq: 99}}
	frames := []Frame{
		frame(t, probe, true, 0),
		frame(t, lost, true, time.Millisecond),
		frame(t, stray, false, 2*time.Millisecond),
		frame(t, te, false, 3*time.Millisecond),
	}
	ex := Match(frames)
	if len(ex) != 2 || ex[0].Answer == nil || ex[0].Match.Kind != "time-exceeded" || ex[1].Answer != nil {
		t.Fatalf("exchanges %+v", ex)
	}
	if ex[0].RTT != 3*time.Millisecond {
		t.Errorf("rtt %v", ex[0].RTT)
	}
	var buf bytes.Buffer
	if err := WritePcapng(&buf, "client", "to-r1", frames); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(&buf, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	for {
		_, _, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			break
		}
		comments = append(comments, strings.Join(opts.Comments, " | "))
	}
	want := []string{
		"probe 1: IPv4 198.18.1.2 > 198.18.3.2 ttl 2 id 9 tos 0x10 | ICMP echo-request id 7 seq 1 | 56 bytes",
		"probe 2: IPv4 198.18.1.2 > 198.18.3.2 ttl 2 id 9 tos 0x10 | ICMP echo-request id 7 seq 2 | 56 bytes | probe 2: no answer captured",
		"unmatched: answers no probe seen in this capture",
		"answer to probe 1 (frame 1): time-exceeded from 198.18.2.2 rtt=3.000ms changed: tos 0x10→0x28 dscp 4→10",
	}
	if len(comments) != len(want) {
		t.Fatalf("comments %q", comments)
	}
	for i := range want {
		if comments[i] != want[i] {
			t.Errorf("frame %d comment\n got %q\nwant %q", i+1, comments[i], want[i])
		}
	}
}
