package packet

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestGoldenEchoRR compares a build with bytes computed by hand. The packet
// is the one research/libraries-and-linux.md §1.3 built by hand and checked
// against both gopacket versions and tshark.
//
// IPv4 header, IHL 15 (20 + RR 39 + 1 EOL pad), total 60 + 8 + 16 = 84:
//
//	4f 10 0054 beef 4000 40 01 [csum] 7f000001 7f000002 | 07 27 04 00×36 00
//
// Header checksum (RFC 1071): the non-zero 16-bit words are 4f10 0054 beef
// 4000 4001 7f00 0001 7f00 0002 0727 0400; their sum is 0x2977e, folded
// 0x977e + 0x2 = 0x9780, complemented 0x687f.
//
// ICMP: 08 00 [csum] 1234 0001 + "ABCD"×4. Words 0800 1234 0001 and four
// each of 4142 and 4344: 0x1a35 + 4×0x8486 = 0x22c4d, folded 0x2c4f,
// complemented 0xd3b0.
func TestGoldenEchoRR(t *testing.T) {
	p := Packet{Version: 4,
		IPv4: IPv4{TOS: 0x10, ID: 0xbeef, DF: true, TTL: 64,
			Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.2"),
			Options: []Option{&RecordRoute{Slots: 9}}},
		Transport: TransportICMP, ICMP: ICMP{Type: ICMPEchoRequest, ID: 0x1234, Seq: 1},
		Payload: []byte(strings.Repeat("ABCD", 4))}
	want := "4f100054beef40004001687f7f0000017f000002" + "072704" + strings.Repeat("00", 36) + "00" +
		"0800d3b012340001" + hex.EncodeToString([]byte(strings.Repeat("ABCD", 4)))
	got, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Errorf("bytes\n got %x\nwant %s", got, want)
	}
}

// TestGoldenOptions checks option bytes against the table in
// research/libraries-and-linux.md §1.3, which were written by hand from
// RFC 791 and confirmed by gopacket and tshark.
func TestGoldenOptions(t *testing.T) {
	z := func(n int) string { return strings.Repeat("00", n) }
	cases := []struct {
		name string
		opts []Option
		want string // option area including padding
	}{
		{"rr9", []Option{&RecordRoute{}}, "072704" + z(36) + "00"},
		{"ts-tsonly-9", []Option{&Timestamp{Flag: TSOnly}}, "44280500" + z(36)},
		{"ts-tsandaddr-4", []Option{&Timestamp{Flag: TSAndAddr}}, "44240501" + z(32)},
		{"rr4+ts-tsandaddr-2", []Option{&RecordRoute{Slots: 4}, &Timestamp{Flag: TSAndAddr, Slots: 2}},
			"071304" + z(16) + "44140501" + z(16) + "00"},
		{"rr2+eol", []Option{&RecordRoute{Slots: 2}, EOL{}}, "070b04" + z(8) + "00"},
		{"router-alert", []Option{RouterAlert{Value: 0}}, "94040000"},
		{"lsrr", []Option{&SourceRoute{Route: []netip.Addr{hop1}}}, "830704c6120102" + "00"},
		// Prefilled as the kernel builds them for ping -T, with the time
		// fixed at 0x01020304 ms and the source 198.18.0.1 (c6 12 00 01):
		// tsonly: pointer 5 + 4 = 9, the time in slot 1;
		{"ts-tsonly-prefill", []Option{&Timestamp{Flag: TSOnly, PrefillSource: true, PrefillTime: 0x01020304}},
			"44280900" + "01020304" + z(32)},
		// tsandaddr: pointer 5 + 8 = 13 (0x0d), source then time;
		{"ts-tsandaddr-prefill", []Option{&Timestamp{Flag: TSAndAddr, PrefillSource: true, PrefillTime: 0x01020304}},
			"44240d01" + "c6120001" + "01020304" + z(24)},
		// prespec with the source first: length 4 + 2×8 = 20 (0x14), its
		// time stamped in place, pointer 13 at the second address;
		{"ts-prespec-prefill-own", []Option{&Timestamp{Flag: TSPrespec, PrefillSource: true, PrefillTime: 0x01020304,
			Entries: []TSEntry{{Addr: srcA}, {Addr: dstA}}}}, "44140d03" + "c6120001" + "01020304" + "c6120302" + z(4)},
		// prespec not starting with the source: nothing to stamp, pointer 5.
		{"ts-prespec-prefill-other", []Option{&Timestamp{Flag: TSPrespec, PrefillSource: true, PrefillTime: 0x01020304,
			Entries: []TSEntry{{Addr: dstA}}}}, "440c0503" + "c6120302" + z(4)},
	}
	for _, c := range cases {
		p := Packet{Version: 4, IPv4: v4(IPv4{Options: c.opts}), Transport: TransportICMP, ICMP: echo(1, 1)}
		b, err := p.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		hl := int(b[0]&0xf) * 4
		if got := hex.EncodeToString(b[IPv4HeaderLen:hl]); got != c.want {
			t.Errorf("%s: options\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// normalise copies into a copy of want the fields the builder computes, as
// the parser reports them in got, so that the two can be compared whole.
func normalise(want, got *Packet) Packet {
	w := *want
	w.IPv4.Options = append([]Option(nil), want.IPv4.Options...)
	if w.Version == 4 {
		w.IPv4.HeaderLen, w.IPv4.TotalLen = got.IPv4.HeaderLen, got.IPv4.TotalLen
		if !w.IPv4.FixedChecksum {
			w.IPv4.Checksum = got.IPv4.Checksum
		}
		w.IPv4.FixedChecksum = false
		if w.IPv4.Protocol == 0 {
			w.IPv4.Protocol = got.IPv4.Protocol
		}
		for i, o := range w.IPv4.Options {
			switch o := o.(type) {
			case *RecordRoute:
				c := *o
				c.Slots, c.Pointer = c.slots(), got.IPv4.Options[i].(*RecordRoute).Pointer
				if c.PrefillSource {
					c.Route = append([]netip.Addr{w.IPv4.Src}, c.Route...)
					c.PrefillSource = false
				}
				if len(c.Route) == 0 {
					c.Route = nil
				}
				w.IPv4.Options[i] = &c
			case *Timestamp:
				c := *o
				c.Slots, c.Pointer = c.slots(), got.IPv4.Options[i].(*Timestamp).Pointer
				w.IPv4.Options[i] = &c
			case *SourceRoute:
				c := *o
				c.Pointer = got.IPv4.Options[i].(*SourceRoute).Pointer
				w.IPv4.Options[i] = &c
			}
		}
		// A trailing EOL is padding to the parser.
		if n := len(w.IPv4.Options); n > 0 {
			if _, ok := w.IPv4.Options[n-1].(EOL); ok {
				w.IPv4.Options = w.IPv4.Options[:n-1]
			}
		}
	} else {
		w.IPv6.PayloadLen, w.IPv6.Upper = got.IPv6.PayloadLen, got.IPv6.Upper
		if w.IPv6.NextHeader == 0 {
			w.IPv6.NextHeader = got.IPv6.NextHeader
		}
	}
	if !w.ICMP.FixedChecksum {
		w.ICMP.Checksum = got.ICMP.Checksum
	}
	w.ICMP.FixedChecksum = false
	if !w.UDP.FixedChecksum {
		w.UDP.Checksum = got.UDP.Checksum
	}
	w.UDP.FixedChecksum = false
	w.UDP.Length = got.UDP.Length
	if !w.TCP.FixedChecksum {
		w.TCP.Checksum = got.TCP.Checksum
	}
	w.TCP.FixedChecksum = false
	w.TCP.DataOffset = got.TCP.DataOffset
	w.TransportBytes = got.TransportBytes
	w.BadIPChecksum, w.BadTransportChecksum = got.BadIPChecksum, got.BadTransportChecksum
	w.ChecksumPredatesRecording = got.ChecksumPredatesRecording
	w.Quote, w.Extensions, w.ExtensionProblem = got.Quote, got.Extensions, got.ExtensionProblem
	if len(w.Payload) == 0 && len(got.Payload) == 0 {
		w.Payload = got.Payload
	}
	return w
}

// fixChecksums marks every checksum of p as fixed, so that rebuilding a
// parsed packet reproduces its bytes even where they were deliberately
// wrong.
func fixChecksums(p *Packet) {
	p.IPv4.FixedChecksum, p.ICMP.FixedChecksum, p.UDP.FixedChecksum, p.TCP.FixedChecksum = true, true, true, true
}

// TestRoundTrip builds every case, parses the bytes, and checks that the
// parsed packet equals the one built (computed fields aside) and rebuilds to
// the same bytes.
func TestRoundTrip(t *testing.T) {
	for _, c := range buildCases() {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Truncated {
				t.Errorf("parsed as truncated")
			}
			want := normalise(&c.pkt, got)
			if !reflect.DeepEqual(&want, got) {
				t.Errorf("parsed packet differs\n got %+v\nwant %+v", *got, want)
			}
			wantBad := c.pkt.IPv4.FixedChecksum || c.pkt.ICMP.FixedChecksum || c.pkt.TCP.FixedChecksum
			if (got.BadIPChecksum || got.BadTransportChecksum) != wantBad {
				t.Errorf("bad checksum flags ip=%v transport=%v, want bad=%v", got.BadIPChecksum, got.BadTransportChecksum, wantBad)
			}
			fixChecksums(got)
			again, err := got.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, b) {
				t.Errorf("rebuild differs\n got %x\nwant %x", again, b)
			}
		})
	}
}

// TestAppendToReusesBuffer checks that AppendTo appends after existing
// bytes and leaves no stale bytes from an earlier, longer packet (the
// gopacket < 1.7.6 padding bug, research §1.3).
func TestAppendToReusesBuffer(t *testing.T) {
	buf := bytes.Repeat([]byte{0xaa}, 200)[:0]
	p := Packet{Version: 4, IPv4: v4(IPv4{Options: []Option{&RecordRoute{Slots: 2}}}), Transport: TransportICMP, ICMP: echo(1, 1)}
	b, err := p.AppendTo(buf)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := p.Marshal()
	if !bytes.Equal(b, fresh) {
		t.Fatalf("reused buffer gives\n%x\nfresh buffer gives\n%x", b, fresh)
	}
	prefix := []byte{1, 2, 3}
	b, _ = p.AppendTo(prefix)
	if !bytes.Equal(b[:3], []byte{1, 2, 3}) || !bytes.Equal(b[3:], fresh) {
		t.Fatalf("AppendTo did not append: %x", b)
	}
}

// TestTimestampPrefill: a prefilled option parses back with the sender
// first, and an unset time is the time of building.
func TestTimestampPrefill(t *testing.T) {
	if got := TimeOfDayMS(time.Date(2026, 11, 23, 1, 2, 3, 4e6, time.FixedZone("x", 3600))); got != (2*60+3)*1000+4 {
		t.Errorf("TimeOfDayMS(01:02:03.004+01:00) = %d, want 123004 (00:02:03.004 UT)", got)
	}
	p := Packet{Version: 4, IPv4: v4(IPv4{Options: []Option{&Timestamp{Flag: TSAndAddr, PrefillSource: true}}}),
		Transport: TransportICMP, ICMP: echo(1, 1)}
	before := TimeOfDayMS(time.Now())
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	after := TimeOfDayMS(time.Now())
	q, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ts := q.IPv4.Options[0].(*Timestamp)
	rec := ts.Recorded()
	if len(rec) != 1 || rec[0].Addr != srcA || rec[0].Time < before || rec[0].Time > after {
		t.Errorf("recorded %v, want [%v@%d..%d]", rec, srcA, before, after)
	}
	// Without a source there is nothing to prefill with.
	p.IPv4.Src = netip.Addr{}
	if _, err := p.Marshal(); err == nil || !strings.Contains(err.Error(), "prefill") {
		t.Errorf("prefill without a source: %v, want an error naming prefill", err)
	}
}

// TestSetSrc: the source goes into the header of the packet's version.
func TestSetSrc(t *testing.T) {
	p4, p6 := Packet{Version: 4}, Packet{Version: 6}
	p4.SetSrc(srcA)
	p6.SetSrc(src6)
	if p4.IPv4.Src != srcA || p6.IPv6.Src != src6 || p4.Src() != srcA || p6.Src() != src6 || p6.IPv4.Src.IsValid() {
		t.Errorf("SetSrc: %v %v", p4.IPv4.Src, p6.IPv6.Src)
	}
}
