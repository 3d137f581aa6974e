package tshark

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/echolot/echolot/internal/testenv"
)

// echoV4 is an IPv4 ICMP echo request built by hand:
//
//	IPv4 header (20 bytes)
//	  45        version 4, IHL 5 (20 bytes)
//	  00        TOS 0
//	  00 24     total length 36 = 20 + 8 (ICMP header) + 8 (payload)
//	  12 34     identification 0x1234
//	  40 00     flags DF, fragment offset 0
//	  40        TTL 64
//	  01        protocol 1 (ICMP)
//	  9c 7d     header checksum, derived below
//	  c6 12 00 01   source 198.18.0.1
//	  c6 12 00 02   destination 198.18.0.2
//	ICMP (16 bytes)
//	  08 00     type 8 (echo request), code 0
//	  61 61     checksum, derived below
//	  00 07     identifier 7
//	  00 01     sequence number 1
//	  a5 × 8    payload
//
// IPv4 header checksum (RFC 791, RFC 1071): the one's-complement sum of the
// header's 16-bit words with the checksum field taken as zero:
//
//	4500 + 0024 + 1234 + 4000 + 4001 + 0000 + c612 + 0001 + c612 + 0002
//	  = 0x26380; fold the carry: 0x6380 + 0x2 = 0x6382
//	checksum = ^0x6382 = 0x9c7d
//
// ICMP checksum (RFC 792): the same over the ICMP header and data, with the
// checksum field zero:
//
//	0800 + 0000 + 0007 + 0001 + a5a5 × 4 = 0x0808 + 0x29694 = 0x29e9c
//	fold: 0x9e9c + 0x2 = 0x9e9e; checksum = ^0x9e9e = 0x6161
var echoV4 = []byte{
	0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00,
	0x40, 0x01, 0x9c, 0x7d, 0xc6, 0x12, 0x00, 0x01,
	0xc6, 0x12, 0x00, 0x02,
	0x08, 0x00, 0x61, 0x61, 0x00, 0x07, 0x00, 0x01,
	0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
}

// echoV6 is an IPv6 ICMPv6 echo request built by hand:
//
//	IPv6 header (40 bytes)
//	  60 00 00 00   version 6, traffic class 0, flow label 0
//	  00 0c         payload length 12 = 8 (ICMPv6 header) + 4 (payload)
//	  3a            next header 58 (ICMPv6)
//	  40            hop limit 64
//	  2001:db8::1   source
//	  2001:db8::2   destination
//	ICMPv6 (12 bytes)
//	  80 00     type 128 (echo request), code 0
//	  d8 f0     checksum, derived below
//	  00 07     identifier 7
//	  00 01     sequence number 1
//	  a5 × 4    payload
//
// ICMPv6 checksum (RFC 4443 section 2.3, RFC 8200 section 8.1): the
// one's-complement sum over the pseudo-header (source, destination, upper
// layer length 12, next header 58) and the ICMPv6 message with checksum 0:
//
//	source      2001 + 0db8 + 0001 = 0x2dba
//	destination 2001 + 0db8 + 0002 = 0x2dbb
//	length 000c, next header 003a
//	message     8000 + 0000 + 0007 + 0001 + a5a5 + a5a5
//	sum = 0x2270d; fold: 0x270d + 0x2 = 0x270f; checksum = ^0x270f = 0xd8f0
var echoV6 = []byte{
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x3a, 0x40,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	0x80, 0x00, 0xd8, 0xf0, 0x00, 0x07, 0x00, 0x01,
	0xa5, 0xa5, 0xa5, 0xa5,
}

// checksum is an independent RFC 1071 Internet checksum, used to build the
// variants below; TestHandChecksums ties it to the hand derivations above.
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// withRR returns echoV4 (with the given ICMP sequence number) carrying a
// Record Route option with two slots, both filled (pointer 12 points past
// the last slot), padded with an EOL byte to a 4-byte boundary.
func withRR(seq uint16) []byte {
	opt := []byte{
		0x07, 0x0b, 0x0c, // RR, length 11, pointer 12
		198, 18, 1, 1,
		198, 18, 2, 1,
		0x00, // EOL padding
	}
	icmp := append([]byte(nil), echoV4[20:]...)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))

	hdr := append(append([]byte(nil), echoV4[:20]...), opt...)
	hdr[0] = 0x40 | byte(len(hdr)/4)
	binary.BigEndian.PutUint16(hdr[2:], uint16(len(hdr)+len(icmp)))
	hdr[10], hdr[11] = 0, 0
	binary.BigEndian.PutUint16(hdr[10:], checksum(hdr))
	return append(hdr, icmp...)
}

func TestHandChecksums(t *testing.T) {
	ip := append([]byte(nil), echoV4[:20]...)
	ip[10], ip[11] = 0, 0
	if got := checksum(ip); got != 0x9c7d {
		t.Errorf("IPv4 header checksum = %#04x, want 0x9c7d", got)
	}
	icmp := append([]byte(nil), echoV4[20:]...)
	icmp[2], icmp[3] = 0, 0
	if got := checksum(icmp); got != 0x6161 {
		t.Errorf("ICMP checksum = %#04x, want 0x6161", got)
	}
	pseudo := append([]byte(nil), echoV6[8:40]...)
	pseudo = append(pseudo, 0, 0, 0, 12, 0, 0, 0, 58)
	msg := append([]byte(nil), echoV6[40:]...)
	msg[2], msg[3] = 0, 0
	if got := checksum(append(pseudo, msg...)); got != 0xd8f0 {
		t.Errorf("ICMPv6 checksum = %#04x, want 0xd8f0", got)
	}
}

func TestFieldsIPv4Echo(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	rows := Fields(t, [][]byte{echoV4},
		"ip.version", "ip.hdr_len", "ip.len", "ip.id", "ip.flags.df", "ip.ttl", "ip.proto",
		"ip.checksum", "ip.checksum.status", "ip.src", "ip.dst",
		"icmp.type", "icmp.code", "icmp.checksum", "icmp.checksum.status", "icmp.ident", "icmp.seq",
		"data.data", "ip.rec_rt")
	want := [][]string{{
		"4", "20", "36", "0x1234", "1", "64", "1",
		"0x9c7d", "1", "198.18.0.1", "198.18.0.2", // checksum status 1 = Good
		"8", "0", "0x6161", "1", "7", "1",
		"a5a5a5a5a5a5a5a5", "", // no RR option: absent field is ""
	}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Fields:\n got %q\nwant %q", rows, want)
	}
	CheckNoWarnings(t, [][]byte{echoV4})
}

func TestFieldsIPv6Echo(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	rows := Fields(t, [][]byte{echoV6},
		"ipv6.version", "ipv6.plen", "ipv6.nxt", "ipv6.hlim", "ipv6.src", "ipv6.dst",
		"icmpv6.type", "icmpv6.checksum", "icmpv6.checksum.status",
		"icmpv6.echo.identifier", "icmpv6.echo.sequence_number", "data.data")
	want := [][]string{{
		"6", "12", "58", "64", "2001:db8::1", "2001:db8::2",
		"128", "0xd8f0", "1", "0x0007", "1", "a5a5a5a5",
	}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Fields:\n got %q\nwant %q", rows, want)
	}
	CheckNoWarnings(t, [][]byte{echoV6})
}

// TestFieldsSeveral checks one row per packet in order, and that a field
// with several occurrences comes back comma-joined.
func TestFieldsSeveral(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	pkts := [][]byte{echoV4, withRR(2), echoV6}
	rows := Fields(t, pkts, "frame.number", "ip.hdr_len", "ip.rec_rt", "ip.opt.type", "icmp.seq", "ip.checksum.status")
	want := [][]string{
		{"1", "20", "", "", "1", "1"},
		{"2", "32", "198.18.1.1,198.18.2.1", "7,0", "2", "1"},
		{"3", "", "", "", "", ""},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Fields:\n got %q\nwant %q", rows, want)
	}
	CheckNoWarnings(t, pkts)
}

func TestFieldsNoPackets(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	if rows := Fields(t, nil, "ip.ttl"); len(rows) != 0 {
		t.Errorf("Fields of no packets = %q, want none", rows)
	}
	if infos := Expert(t, nil); len(infos) != 0 {
		t.Errorf("Expert of no packets = %v, want none", infos)
	}
}

// recorder passes everything to the real test except Errorf and Fatalf,
// which it records, so that a test can observe a helper failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msgs = append(r.msgs, "FATAL "+fmt.Sprintf(format, args...))
}

func TestBadChecksums(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	badICMP := append([]byte(nil), echoV4...)
	badICMP[23] ^= 0x01 // ICMP checksum field 0x6160, should be 0x6161
	badIP := append([]byte(nil), echoV4...)
	badIP[11] ^= 0x01 // IPv4 header checksum field 0x9c7c, should be 0x9c7d
	pkts := [][]byte{echoV4, badICMP, badIP}

	rows := Fields(t, pkts, "ip.checksum.status", "icmp.checksum.status")
	want := [][]string{{"1", "1"}, {"1", "0"}, {"0", "1"}} // 1 Good, 0 Bad
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("checksum status:\n got %q\nwant %q", rows, want)
	}

	infos := Expert(t, pkts)
	if len(infos) != 3 || len(infos[0]) != 0 {
		t.Fatalf("Expert = %v, want 3 packets, the first without items", infos)
	}
	for i := 1; i < 3; i++ {
		if len(infos[i]) != 1 || infos[i][0].Group != "Checksum" || !infos[i][0].Problem() {
			t.Errorf("packet %d: expert %v, want one Checksum problem", i, infos[i])
		}
	}

	r := &recorder{TB: t}
	CheckNoWarnings(r, pkts)
	if len(r.msgs) != 1 {
		t.Fatalf("CheckNoWarnings reported %q, want one failure", r.msgs)
	}
	for _, want := range []string{"packet 1: Warning/Checksum: Bad checksum", "packet 2: Error/Checksum: Bad checksum"} {
		if !strings.Contains(r.msgs[0], want) {
			t.Errorf("CheckNoWarnings message lacks %q:\n%s", want, r.msgs[0])
		}
	}
	if strings.Contains(r.msgs[0], "packet 0") {
		t.Errorf("CheckNoWarnings blames the good packet:\n%s", r.msgs[0])
	}
}

func TestMalformed(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	// The ICMP message cut to 5 bytes, with the IPv4 total length and
	// header checksum made consistent, so only ICMP is malformed.
	short := append([]byte(nil), echoV4[:25]...)
	binary.BigEndian.PutUint16(short[2:], 25)
	short[10], short[11] = 0, 0
	binary.BigEndian.PutUint16(short[10:], checksum(short[:20]))

	infos := Expert(t, [][]byte{short})
	if len(infos) != 1 || len(infos[0]) == 0 || infos[0][0].Group != "Malformed" || infos[0][0].Severity != "Error" {
		t.Errorf("Expert = %v, want an Error/Malformed item", infos)
	}
	r := &recorder{TB: t}
	CheckNoWarnings(r, [][]byte{short})
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "Malformed") {
		t.Errorf("CheckNoWarnings reported %q, want a Malformed failure", r.msgs)
	}
}

func TestVerbose(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	badICMP := append([]byte(nil), echoV4...)
	badICMP[23] ^= 0x01
	out := Verbose(t, [][]byte{echoV4, badICMP})
	for _, want := range []string{
		"Frame 1:", "Frame 2:",
		"Internet Protocol Version 4, Src: 198.18.0.1, Dst: 198.18.0.2",
		"Echo (ping) request",
		"[Header checksum status: Good]",
		"[Checksum Status: Good]",
		"[Expert Info (Warning/Checksum): Bad checksum [should be 0x6161]]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Verbose output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Running as user") {
		t.Errorf("tshark's stderr leaked into the output:\n%s", out)
	}
}

func TestUnknownFieldFails(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	r := &recorder{TB: t}
	if rows := Fields(r, [][]byte{echoV4}, "ip.no_such_field"); rows != nil {
		t.Errorf("Fields with an unknown field = %q, want nil", rows)
	}
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "ip.no_such_field") {
		t.Errorf("Fields with an unknown field reported %q", r.msgs)
	}
}

func TestParseFields(t *testing.T) {
	for _, tc := range []struct {
		out     string
		n       int
		want    [][]string
		wantErr bool
	}{
		{"", 1, [][]string{}, false},
		{"\n", 1, [][]string{{""}}, false},
		{"a\tb\n\t\n", 2, [][]string{{"a", "b"}, {"", ""}}, false},
		{"a\tb\n", 3, nil, true},
		{"a\tb", 2, nil, true},
	} {
		got, err := parseFields(tc.out, tc.n)
		if (err != nil) != tc.wantErr || !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseFields(%q, %d) = %q, %v; want %q, error %v", tc.out, tc.n, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseExpert(t *testing.T) {
	for in, want := range map[string]ExpertInfo{
		"Expert Info (Warning/Checksum): Bad checksum [should be 0x6160]": {"Warning", "Checksum", "Bad checksum [should be 0x6160]"},
		"Expert Info (Note/Response code): a, b (c)":                      {"Note", "Response code", "a, b (c)"},
		"something else": {"", "", "something else"},
	} {
		if got := parseExpert(in); got != want {
			t.Errorf("parseExpert(%q) = %+v, want %+v", in, got, want)
		}
	}
	for _, tc := range []struct {
		e    ExpertInfo
		want bool
	}{
		{ExpertInfo{"Warning", "Checksum", ""}, true},
		{ExpertInfo{"Error", "Malformed", ""}, true},
		{ExpertInfo{"Warning", "Protocol", ""}, true},
		{ExpertInfo{"Warning", "Sequence", ""}, false},
		{ExpertInfo{"Note", "Protocol", ""}, false},
		{ExpertInfo{"Chat", "Sequence", ""}, false},
		{ExpertInfo{"", "", "unparsed"}, true},
	} {
		if got := tc.e.Problem(); got != tc.want {
			t.Errorf("%+v.Problem() = %v, want %v", tc.e, got, tc.want)
		}
	}
}

// ipv4Over wraps an upper-layer segment in an IPv4 header from 198.18.0.1 to
// 198.18.0.2 with protocol proto, filling in the transport checksum at
// offset csumAt of seg (RFC 768, RFC 9293 section 3.1: one's-complement sum
// over the pseudo-header and the segment) and the header checksum.
func ipv4Over(proto byte, seg []byte, csumAt int) []byte {
	hdr := append([]byte(nil), echoV4[:20]...)
	hdr[9] = proto
	binary.BigEndian.PutUint16(hdr[2:], uint16(20+len(seg)))
	hdr[10], hdr[11] = 0, 0
	binary.BigEndian.PutUint16(hdr[10:], checksum(hdr))

	seg = append([]byte(nil), seg...)
	seg[csumAt], seg[csumAt+1] = 0, 0
	pseudo := append(append([]byte(nil), hdr[12:20]...), 0, proto, byte(len(seg)>>8), byte(len(seg)))
	binary.BigEndian.PutUint16(seg[csumAt:], checksum(append(pseudo, seg...)))
	return append(hdr, seg...)
}

// TestTransportPrefs checks the preferences passed to every run: UDP and TCP
// checksums are validated, and TCP sequence numbers (including SACK edges)
// are shown as they are in the bytes.
func TestTransportPrefs(t *testing.T) {
	testenv.NeedTool(t, "tshark")
	udp := ipv4Over(17, []byte{
		0x9c, 0x40, 0x82, 0x9a, // ports 40000 → 33434
		0x00, 0x0c, 0x00, 0x00, // length 12, checksum
		'e', 'c', 'h', 'o',
	}, 6)
	syn := ipv4Over(6, []byte{
		0x9c, 0x40, 0x00, 0x50, // ports 40000 → 80
		0x00, 0x00, 0x03, 0xe8, // seq 1000
		0x00, 0x00, 0x00, 0x00, // ack 0
		0x50, 0x02, 0xff, 0xff, // data offset 5, SYN, window 65535
		0x00, 0x00, 0x00, 0x00, // checksum, urgent pointer
	}, 16)
	ack := ipv4Over(6, []byte{
		0x9c, 0x40, 0x00, 0x50, // ports 40000 → 80
		0x00, 0x00, 0x03, 0xe9, // seq 1001
		0x00, 0x00, 0x07, 0xd0, // ack 2000
		0x80, 0x10, 0xff, 0xff, // data offset 8, ACK, window 65535
		0x00, 0x00, 0x00, 0x00, // checksum, urgent pointer
		0x01, 0x01, 0x05, 0x0a, // NOP, NOP, SACK length 10
		0x00, 0x00, 0x0b, 0xb8, // left edge 3000
		0x00, 0x00, 0x0f, 0xa0, // right edge 4000
	}, 16)
	badUDP := append([]byte(nil), udp...)
	badUDP[len(badUDP)-1] ^= 0xff // payload changed after the checksum was set

	rows := Fields(t, [][]byte{udp, syn, ack, badUDP},
		"udp.checksum.status", "tcp.checksum.status", "tcp.seq", "tcp.ack", "tcp.options.sack_le", "tcp.options.sack_re")
	want := [][]string{
		{"1", "", "", "", "", ""},
		{"", "1", "1000", "0", "", ""}, // tcp.ack is present, 0, without the ACK flag
		{"", "1", "1001", "2000", "3000", "4000"},
		{"0", "", "", "", "", ""},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Fields:\n got %q\nwant %q", rows, want)
	}
	CheckNoWarnings(t, [][]byte{udp, syn, ack})
}
