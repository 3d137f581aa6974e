package packet

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// buildCase is one probe covering a builder feature, with the values the
// independent judge (tshark) must dissect from its bytes. Expected values
// come from the RFCs and the field values set, not from echolot's output:
// the comments say how each follows.
type buildCase struct {
	name   string
	pkt    Packet
	tshark map[string]string // tshark field → value as `tshark -T fields` prints it
}

var (
	srcA = netip.MustParseAddr("198.18.0.1")
	dstA = netip.MustParseAddr("198.18.3.2")
	hop1 = netip.MustParseAddr("198.18.1.2")
	hop2 = netip.MustParseAddr("198.18.2.2")
	src6 = netip.MustParseAddr("2001:db8::1")
	dst6 = netip.MustParseAddr("2001:db8:3::2")
)

// rep repeats s to exactly n bytes.
func rep(s string, n int) []byte { return []byte(strings.Repeat(s, n))[:n] }

// v4 fills the addresses and TTL a case leaves out.
func v4(h IPv4) IPv4 {
	if !h.Src.IsValid() {
		h.Src = srcA
	}
	if !h.Dst.IsValid() {
		h.Dst = dstA
	}
	if h.TTL == 0 {
		h.TTL = 64
	}
	return h
}

func v6(h IPv6) IPv6 {
	h.Src, h.Dst = src6, dst6
	if h.HopLimit == 0 {
		h.HopLimit = 64
	}
	return h
}

func echo(id, seq uint16) ICMP { return ICMP{Type: ICMPEchoRequest, ID: id, Seq: seq} }

// mustMarshal builds p or panics; for fixtures only.
func mustMarshal(p Packet) []byte {
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// udpProbe is the datagram the error cases quote.
func udpProbe() Packet {
	return Packet{Version: 4, IPv4: v4(IPv4{ID: 0x4242, TTL: 1}), Transport: TransportUDP,
		UDP: UDP{SrcPort: 40000, DstPort: 33434}, Payload: rep("echolot!", 32)}
}

// mplsExtension returns an RFC 4884 extension structure holding one RFC 4950
// MPLS label stack object with one entry: label 16000, TC 0, S 1, TTL 1.
// Derivation: header 0x20 0x00 + checksum; object length 8, class 1,
// c-type 1; entry = 16000<<12 | 0<<9 | 1<<8 | 1 = 0x03e80101.
func mplsExtension() []byte {
	b := []byte{0x20, 0, 0, 0, 0, 8, 1, 1, 0x03, 0xe8, 0x01, 0x01}
	binary.BigEndian.PutUint16(b[2:], Checksum(b))
	return b
}

func buildCases() []buildCase {
	pat := rep("\xa5", 56)
	quote := mustMarshal(udpProbe())
	padded := make([]byte, 128) // RFC 4884 §4.1: original datagram padded to 128 bytes
	copy(padded, quote)
	return []buildCase{
		{name: "echo-rr9", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{TOS: 0x10, ID: 0xbeef, DF: true, Options: []Option{&RecordRoute{}}}),
			Transport: TransportICMP, ICMP: echo(0x1234, 1), Payload: pat},
			tshark: map[string]string{
				// RR with 9 slots: 3 + 4×9 = 39 bytes, one EOL pad → IHL 15, 60 bytes;
				// 60 + 8 + 56 = 124.
				"ip.hdr_len": "60", "ip.len": "124", "ip.id": "0xbeef", "ip.ttl": "64",
				"ip.dsfield.dscp": "4", "ip.flags.df": "1", "ip.proto": "1",
				"ip.opt.type": "7,0", "ip.opt.len": "39", "ip.opt.ptr": "4",
				"ip.checksum.status": "1", "icmp.checksum.status": "1",
				"icmp.type": "8", "icmp.ident": "4660", "icmp.seq": "1", "data.len": "56",
				"ip.src": "198.18.0.1", "ip.dst": "198.18.3.2",
			}},
		{name: "rr3-prefill", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{Options: []Option{&RecordRoute{Slots: 3, PrefillSource: true}}}),
			Transport: TransportICMP, ICMP: echo(1, 2)},
			tshark: map[string]string{
				// 3 + 4×3 = 15 bytes, padded to 16; the source fills slot 1 so
				// the pointer moves from 4 to 8 (RFC 791: pointer to next slot).
				"ip.hdr_len": "36", "ip.opt.len": "15", "ip.opt.ptr": "8",
				"ip.rec_rt": "198.18.0.1", "ip.empty_rt": "0.0.0.0,0.0.0.0",
				"ip.checksum.status": "1", "icmp.checksum.status": "1",
			}},
		{name: "ts-tsonly9", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{Options: []Option{&Timestamp{Flag: TSOnly}}}),
			Transport: TransportICMP, ICMP: echo(1, 3)},
			tshark: map[string]string{
				// 4 + 4×9 = 40: the whole option space, no padding.
				"ip.hdr_len": "60", "ip.opt.type": "68", "ip.opt.len": "40", "ip.opt.ptr": "5",
				"ip.opt.flag": "0x00", "ip.opt.overflow": "0", "ip.checksum.status": "1",
			}},
		{name: "ts-tsandaddr-recorded", pkt: Packet{Version: 4,
			IPv4: v4(IPv4{Options: []Option{&Timestamp{Flag: TSAndAddr, Slots: 2, Overflow: 3,
				Entries: []TSEntry{{Addr: hop1, Time: 1000}}}}}),
			Transport: TransportICMP, ICMP: echo(1, 4)},
			tshark: map[string]string{
				// 4 + 8×2 = 20; one pair recorded: pointer 5 + 8 = 13; flag
				// byte = overflow 3 << 4 | 1.
				"ip.hdr_len": "40", "ip.opt.len": "20", "ip.opt.ptr": "13",
				"ip.opt.flag": "0x01", "ip.opt.overflow": "3",
				"ip.opt.time_stamp_addr": "198.18.1.2,0.0.0.0", "ip.opt.time_stamp": "1000,0",
			}},
		{name: "ts-prespec", pkt: Packet{Version: 4,
			IPv4: v4(IPv4{Options: []Option{&Timestamp{Flag: TSPrespec,
				Entries: []TSEntry{{Addr: hop1}, {Addr: hop2}}}}}),
			Transport: TransportICMP, ICMP: echo(1, 5)},
			tshark: map[string]string{
				// Two prespecified addresses: 4 + 8×2 = 20, nothing recorded yet: pointer 5.
				"ip.opt.len": "20", "ip.opt.ptr": "5", "ip.opt.flag": "0x03",
				"ip.opt.time_stamp_addr": "198.18.1.2,198.18.2.2",
			}},
		{name: "lsrr", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{Dst: hop1, Options: []Option{&SourceRoute{Route: []netip.Addr{hop2, dstA}}}}),
			Transport: TransportICMP, ICMP: echo(1, 6)},
			tshark: map[string]string{
				// Type 131, 3 + 4×2 = 11 bytes, pointer at the first address.
				// Wireshark reports the route's last address as ip.dst (the
				// final destination) and the header's as ip.cur_rt.
				"ip.opt.type": "131,0", "ip.opt.len": "11", "ip.opt.ptr": "4",
				"ip.dst": "198.18.3.2", "ip.cur_rt": "198.18.1.2", "ip.hdr_len": "32",
			}},
		{name: "ssrr", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{Dst: hop1, Options: []Option{&SourceRoute{Strict: true, Route: []netip.Addr{dstA}}}}),
			Transport: TransportICMP, ICMP: echo(1, 7)},
			tshark: map[string]string{"ip.opt.type": "137,0", "ip.opt.len": "7", "ip.opt.ptr": "4"}},
		{name: "nop-ra-eol-raw", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{Options: []Option{NOP{}, RouterAlert{}, RawOption{Bytes: []byte{136, 4, 0x12, 0x34}}, EOL{}}}),
			Transport: TransportICMP, ICMP: echo(1, 8)},
			tshark: map[string]string{
				// NOP(1) + RA(4) + Stream ID 136 as raw bytes (4) + EOL(1) = 10,
				// padded to 12 → IHL 8.
				"ip.opt.type": "1,148,136,0", "ip.opt.ra": "0", "ip.opt.sid": "4660", "ip.hdr_len": "32",
			}},
		{name: "rr4-ts2", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{Options: []Option{&RecordRoute{Slots: 4}, &Timestamp{Flag: TSAndAddr, Slots: 2}}}),
			Transport: TransportICMP, ICMP: echo(1, 9)},
			tshark: map[string]string{
				// 19 + 20 = 39 bytes (research §1.3's combined probe), padded to 40.
				"ip.opt.type": "7,68,0", "ip.opt.len": "19,20", "ip.hdr_len": "60",
			}},
		{name: "tos-flags-fragment", pkt: Packet{Version: 4,
			IPv4:    v4(IPv4{TOS: 46<<2 | 1, ID: 7, Evil: true, MF: true, FragOffset: 185, Protocol: 253}),
			Payload: rep("x", 8)},
			tshark: map[string]string{
				// DSCP 46 (EF), ECN 1 (ECT(1)); tshark 4.0 shows the offset in
				// 8-byte units as on the wire.
				"ip.dsfield.dscp": "46", "ip.dsfield.ecn": "1", "ip.flags.rb": "1",
				"ip.flags.mf": "1", "ip.flags.df": "0", "ip.frag_offset": "185", "ip.proto": "253",
				"ip.len": "28",
			}},
		{name: "ip-checksum-fixed-bad", pkt: Packet{Version: 4,
			IPv4:      v4(IPv4{Checksum: 0xdead, FixedChecksum: true}),
			Transport: TransportICMP, ICMP: echo(1, 10)},
			tshark: map[string]string{"ip.checksum": "0xdead", "ip.checksum.status": "0"}},
		{name: "icmp-checksum-fixed-bad", pkt: Packet{Version: 4, IPv4: v4(IPv4{}),
			Transport: TransportICMP, ICMP: ICMP{Type: ICMPEchoRequest, ID: 1, Seq: 11, Checksum: 0x1234, FixedChecksum: true}},
			tshark: map[string]string{"icmp.checksum": "0x1234", "icmp.checksum.status": "0"}},
		{name: "icmp-timestamp-request", pkt: Packet{Version: 4, IPv4: v4(IPv4{}),
			Transport: TransportICMP, ICMP: ICMP{Type: ICMPTimestamp, ID: 5, Seq: 12},
			Payload: []byte{0, 0x98, 0x96, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}},
			tshark: map[string]string{
				// Originate timestamp 0x00989680 = 10,000,000 ms after midnight.
				"icmp.type": "13", "icmp.ident": "5", "icmp.seq": "12",
				"icmp.originate_timestamp": "10000000", "icmp.checksum.status": "1",
			}},
		{name: "frag-needed-quote", pkt: Packet{Version: 4, IPv4: v4(IPv4{Src: hop2, Dst: srcA, TOS: 0xc0}),
			Transport: TransportICMP, ICMP: ICMP{Type: ICMPDestUnreach, Code: CodeFragNeeded, Seq: 1400},
			Payload: quote},
			tshark: map[string]string{
				// Next-hop MTU in bytes 6–7 (RFC 1191 §4); the quoted datagram
				// dissects as the second IP header.
				"icmp.type": "3", "icmp.code": "4", "icmp.mtu": "1400",
				"ip.src": "198.18.2.2,198.18.0.1", "ip.id": "0x0000,0x4242",
				"udp.srcport": "40000", "udp.dstport": "33434", "icmp.checksum.status": "1",
			}},
		{name: "time-exceeded-mpls-extension", pkt: Packet{Version: 4, IPv4: v4(IPv4{Src: hop1, Dst: srcA}),
			// Byte 5 (low byte of ID) is the RFC 4884 length: 128/4 = 32 words.
			Transport: TransportICMP, ICMP: ICMP{Type: ICMPTimeExceeded, ID: 32},
			Payload: append(padded[:128:128], mplsExtension()...)},
			tshark: map[string]string{
				"icmp.type": "11", "icmp.ext.version": "2", "icmp.ext.checksum.status": "1",
				"icmp.mpls.label": "16000", "icmp.mpls.s": "1", "icmp.mpls.ttl": "1",
			}},
		{name: "udp", pkt: Packet{Version: 4, IPv4: v4(IPv4{TTL: 3}), Transport: TransportUDP,
			UDP: UDP{SrcPort: 40001, DstPort: 33435}, Payload: rep("ab", 9)},
			tshark: map[string]string{
				// 8 + 9 = 17 (odd length exercises the checksum's pad byte).
				"udp.srcport": "40001", "udp.dstport": "33435", "udp.length": "17",
				"udp.checksum.status": "1", "ip.proto": "17", "ip.ttl": "3",
			}},
		{name: "udp-no-checksum", pkt: Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportUDP,
			UDP: UDP{SrcPort: 1, DstPort: 2, FixedChecksum: true}},
			tshark: map[string]string{"udp.checksum": "0x0000", "udp.length": "8"}},
		{name: "tcp-syn-options", pkt: Packet{Version: 4, IPv4: v4(IPv4{DF: true}), Transport: TransportTCP,
			TCP: TCP{SrcPort: 40002, DstPort: 80, Seq: 0x11223344, Flags: TCPSyn | TCPEce | TCPCwr, Window: 64240,
				Options: []TCPOption{MSS(1460), SACKPermitted(), Timestamps(1, 0), {Kind: TCPOptNOP}, WindowScale(7)}}},
			tshark: map[string]string{
				// 4 + 2 + 10 + 1 + 3 = 20 option bytes → header 40.
				"tcp.hdr_len": "40", "tcp.flags": "0x00c2", "tcp.seq_raw": "287454020",
				"tcp.window_size_value": "64240", "tcp.options.mss_val": "1460",
				"tcp.options.wscale.shift": "7", "tcp.options.timestamp.tsval": "1",
				"tcp.checksum.status": "1", "tcp.srcport": "40002", "tcp.dstport": "80",
			}},
		{name: "tcp-ack-sack-payload", pkt: Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP,
			TCP: TCP{SrcPort: 40003, DstPort: 443, Seq: 1, Ack: 0xfffffff0, Flags: TCPAck | TCPPsh | TCPUrg | TCPAe, Window: 512, Urgent: 3,
				Options: []TCPOption{{Kind: TCPOptNOP}, {Kind: TCPOptNOP}, SACK(100, 200)}},
			Payload: rep("GET", 7)},
			tshark: map[string]string{
				// NOP NOP + SACK(2 + 8) = 12 option bytes → header 32; flags
				// AE(0x100)|URG|ACK|PSH = 0x138.
				"tcp.hdr_len": "32", "tcp.flags": "0x0138", "tcp.ack_raw": "4294967280",
				"tcp.urgent_pointer": "3", "tcp.options.sack_le": "100", "tcp.options.sack_re": "200",
				"tcp.checksum.status": "1", "tcp.len": "7",
			}},
		{name: "ipv6-echo", pkt: Packet{Version: 6, IPv6: v6(IPv6{TrafficClass: 0xb8, FlowLabel: 0x12345, HopLimit: 5}),
			Transport: TransportICMPv6, ICMP: ICMP{Type: ICMPv6EchoRequest, ID: 7, Seq: 9}, Payload: rep("\x5a", 8)},
			tshark: map[string]string{
				// Payload length 8 + 8; checksum over the RFC 8200 §8.1 pseudo-header.
				"ipv6.tclass.dscp": "46", "ipv6.flow": "0x012345", "ipv6.hlim": "5", "ipv6.plen": "16",
				"ipv6.nxt": "58", "icmpv6.type": "128", "icmpv6.echo.identifier": "0x0007",
				"icmpv6.echo.sequence_number": "9", "icmpv6.checksum.status": "1",
			}},
		{name: "ipv6-udp", pkt: Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportUDP,
			UDP: UDP{SrcPort: 40004, DstPort: 33434}, Payload: rep("u", 3)},
			tshark: map[string]string{"udp.checksum.status": "1", "udp.length": "11", "ipv6.nxt": "17"}},
		{name: "ipv6-tcp", pkt: Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportTCP,
			TCP: TCP{SrcPort: 40005, DstPort: 22, Seq: 42, Flags: TCPSyn, Window: 1024, Options: []TCPOption{MSS(1220)}}},
			tshark: map[string]string{"tcp.checksum.status": "1", "tcp.options.mss_val": "1220", "tcp.hdr_len": "24"}},
		{name: "ipv6-packet-too-big", pkt: Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6,
			// MTU in bytes 4–7 (RFC 4443 §3.2): ID holds the high half.
			ICMP:    ICMP{Type: ICMPv6PacketTooBig, ID: 0, Seq: 1280},
			Payload: mustMarshal(Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6, ICMP: ICMP{Type: ICMPv6EchoRequest, ID: 1, Seq: 1}, Payload: rep("z", 1300)})},
			tshark: map[string]string{"icmpv6.type": "2,128", "icmpv6.mtu": "1280"}},
	}
}
