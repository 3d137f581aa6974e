package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"
)

// ---------------------------------------------------------------- seeds

// fzIPv4 assembles an IPv4 datagram by hand, without the builder: header
// with options opt (any length: IHL is rounded down, so a seed can lie),
// Total Length total (-1: computed), protocol proto, then body. The header
// checksum is computed so that only the fields under test are odd.
func fzIPv4(ihl int, total int, proto uint8, opt, body []byte) []byte {
	if ihl < 0 {
		ihl = (IPv4HeaderLen + len(opt)) / 4
	}
	h := make([]byte, IPv4HeaderLen, IPv4HeaderLen+len(opt)+len(body))
	h[0] = 0x40 | uint8(ihl&0x0f)
	if total < 0 {
		total = IPv4HeaderLen + len(opt) + len(body)
	}
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	h[8], h[9] = 64, proto
	copy(h[12:], []byte{198, 18, 0, 1, 198, 18, 3, 2})
	h = append(h, opt...)
	if hl := ihl * 4; hl >= IPv4HeaderLen && hl <= len(h) {
		binary.BigEndian.PutUint16(h[10:], Checksum(h[:hl]))
	}
	return append(h, body...)
}

// fzIPv6 assembles an IPv6 datagram by hand: payload length plen (-1:
// computed), next header next, then body (extension headers included).
func fzIPv6(plen int, next uint8, src netip.Addr, body []byte) []byte {
	h := make([]byte, IPv6HeaderLen, IPv6HeaderLen+len(body))
	binary.BigEndian.PutUint32(h, 6<<28)
	if plen < 0 {
		plen = len(body)
	}
	binary.BigEndian.PutUint16(h[4:], uint16(plen))
	h[6], h[7] = next, 64
	s, d := src.As16(), dst6.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, body...)
}

// fzTCPSeg assembles a TCP segment by hand with the given data-offset word
// nibble, reserved bits and option bytes (not padded).
func fzTCPSeg(offWords int, reserved uint8, opt, payload []byte) []byte {
	s := make([]byte, TCPHeaderLen, TCPHeaderLen+len(opt)+len(payload))
	binary.BigEndian.PutUint16(s, 40000)
	binary.BigEndian.PutUint16(s[2:], 80)
	binary.BigEndian.PutUint32(s[4:], 0x01020304)
	s[12] = uint8(offWords)<<4 | reserved<<1
	s[13] = uint8(TCPSyn)
	binary.BigEndian.PutUint16(s[14:], 1024)
	s = append(s, opt...)
	return append(s, payload...)
}

// fzICMPError wraps quote in an ICMP(v6) error built by the builder.
func fzICMPError(ipv6 bool, typ, code uint8, id, seq uint16, body []byte) []byte {
	if ipv6 {
		return mustMarshal(Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6,
			ICMP: ICMP{Type: typ, Code: code, ID: id, Seq: seq}, Payload: body})
	}
	return mustMarshal(Packet{Version: 4, IPv4: v4(IPv4{Src: hop1, Dst: srcA}), Transport: TransportICMP,
		ICMP: ICMP{Type: typ, Code: code, ID: id, Seq: seq}, Payload: body})
}

// fzExt6 is an IPv6 extension header (hop-by-hop, routing, destination
// options) of 8×(1+hdrExtLen) bytes, next header next.
func fzExt6(next, hdrExtLen uint8) []byte {
	b := make([]byte, 8+8*int(hdrExtLen))
	b[0], b[1] = next, hdrExtLen
	b[2] = 1 // a PadN option would follow in real life; content is not parsed
	return b
}

// fzFrag6 is an IPv6 fragment header with offset off (8-byte units) and M.
func fzFrag6(next uint8, off uint16, more bool) []byte {
	b := make([]byte, 8)
	b[0] = next
	w := off << 3
	if more {
		w |= 1
	}
	binary.BigEndian.PutUint16(b[2:], w)
	binary.BigEndian.PutUint32(b[4:], 0xcafe)
	return b
}

// fzCaseBytes returns the bytes of the build case called name.
func fzCaseBytes(name string) []byte {
	for _, c := range buildCases() {
		if c.name == name {
			return mustMarshal(c.pkt)
		}
	}
	panic("no build case " + name)
}

// fzEdgeCases returns hand-made inputs that sit on the parser's edges.
func fzEdgeCases() [][]byte {
	var out [][]byte
	add := func(b ...[]byte) { out = append(out, b...) }
	echoBody := mustMarshal(Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportICMP, ICMP: echo(1, 1)})[IPv4HeaderLen:]
	z := func(n int) []byte { return make([]byte, n) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

	// Nothing, and first bytes only.
	add(nil, []byte{}, []byte{0x45}, []byte{0x60}, []byte{0x00}, []byte{0xff}, []byte{0x4f, 0})

	// IHL 15 with no option bytes present; IHL 15 with 40 zero option
	// bytes; IHL below 5.
	add(fzIPv4(15, 20, ProtoICMP, nil, nil))
	add(fzIPv4(15, -1, ProtoICMP, z(40), echoBody))
	add(fzIPv4(4, -1, ProtoICMP, nil, echoBody))
	add(fzIPv4(0, -1, ProtoICMP, nil, echoBody))

	// Options whose length octet is 0, 1, 255 or past the area, for
	// every type the parser knows and one it does not.
	for _, typ := range []uint8{OptRecordRoute, OptTimestamp, OptLSRR, OptSSRR, OptRouterAlert, 0x99, 0x44 | 0x80} {
		for _, l := range []uint8{0, 1, 2, 3, 4, 5, 7, 8, 255} {
			add(fzIPv4(-1, -1, ProtoICMP, []byte{typ, l, 4, 0, 0, 0, 0, 0}, echoBody))
		}
		add(fzIPv4(-1, -1, ProtoICMP, []byte{OptNOP, OptNOP, OptNOP, typ}, echoBody))
	}
	// Record route: pointer 0, 3, unaligned 6, past the end, full; junk in
	// the unrecorded slots.
	for _, ptr := range []uint8{0, 1, 3, 4, 6, 8, 12, 16, 255} {
		add(fzIPv4(-1, -1, ProtoICMP, []byte{OptRecordRoute, 11, ptr, 198, 18, 1, 2, 198, 18, 2, 2, 0}, echoBody))
		add(fzIPv4(-1, -1, ProtoICMP, []byte{OptLSRR, 11, ptr, 198, 18, 1, 2, 198, 18, 2, 2, 0}, echoBody))
		add(fzIPv4(-1, -1, ProtoICMP, []byte{OptTimestamp, 12, ptr, 0x31, 198, 18, 1, 2, 0, 0, 0, 9}, echoBody))
		add(fzIPv4(-1, -1, ProtoICMP, []byte{OptTimestamp, 12, ptr, 0xf0, 0, 0, 0, 1, 0x80, 0, 0, 9}, echoBody))
	}
	// Timestamp with flag 2 (undefined) and prespec with pointer 0.
	add(fzIPv4(-1, -1, ProtoICMP, []byte{OptTimestamp, 12, 5, 0x02, 0, 0, 0, 0, 0, 0, 0, 0}, echoBody))
	add(fzIPv4(-1, -1, ProtoICMP, []byte{OptTimestamp, 12, 0, 0x03, 198, 18, 1, 2, 0, 0, 0, 0}, echoBody))
	// EOL followed by non-zero bytes; EOL followed by more than a word of
	// zeros (non-canonical padding); NOP then all zeros.
	add(fzIPv4(-1, -1, ProtoICMP, []byte{OptEOL, OptNOP, 0, 0}, echoBody))
	add(fzIPv4(-1, -1, ProtoICMP, []byte{OptNOP, 0, 0, 0, 0, 0, 0, 0}, echoBody))
	add(fzIPv4(-1, -1, ProtoICMP, []byte{OptEOL, 0, 0, 5}, echoBody))

	// Total length 0, below the header, beyond the bytes, and link
	// padding after the datagram.
	add(fzIPv4(-1, 0, ProtoICMP, nil, echoBody))
	add(fzIPv4(-1, 10, ProtoICMP, nil, echoBody))
	add(fzIPv4(-1, 1500, ProtoICMP, nil, echoBody))
	add(append(fzIPv4(-1, -1, ProtoICMP, nil, echoBody), 0, 0, 0, 0, 0, 0))
	// A first fragment (MF, offset 0) and a later one; ICMPv6 over IPv4.
	ff := fzIPv4(-1, -1, ProtoICMP, nil, echoBody)
	ff[6] = 0x20
	binary.BigEndian.PutUint16(ff[10:], 0)
	binary.BigEndian.PutUint16(ff[10:], Checksum(ff[:20]))
	add(ff)
	lf := bytes.Clone(ff)
	lf[7] = 1
	add(lf)
	add(fzIPv4(-1, -1, ProtoICMPv6, nil, echoBody))

	// TCP: data offset 15 on a 20-byte segment, offsets below 5, options
	// with length 0, 1 and 255, EOL then junk, reserved bits set.
	add(fzIPv4(-1, -1, ProtoTCP, nil, fzTCPSeg(15, 0, nil, nil)))
	for _, off := range []int{0, 1, 4} {
		add(fzIPv4(-1, -1, ProtoTCP, nil, fzTCPSeg(off, 0, nil, []byte("data"))))
	}
	for _, l := range []uint8{0, 1, 2, 3, 4, 255} {
		add(fzIPv4(-1, -1, ProtoTCP, nil, fzTCPSeg(6, 0, []byte{TCPOptMSS, l, 5, 0xb4}, nil)))
		add(fzIPv4(-1, -1, ProtoTCP, nil, fzTCPSeg(6, 0, []byte{TCPOptNOP, TCPOptNOP, TCPOptNOP, l}, nil)))
	}
	add(fzIPv4(-1, -1, ProtoTCP, nil, fzTCPSeg(6, 0, []byte{TCPOptEOL, TCPOptNOP, 0, 0}, nil)))
	add(fzIPv4(-1, -1, ProtoTCP, nil, fzTCPSeg(7, 0, []byte{TCPOptNOP, 0, 0, 0, 0, 0, 0, 0}, nil)))
	add(fzIPv4(-1, -1, ProtoTCP, nil, fzTCPSeg(5, 7, nil, nil)))
	add(fzIPv6(-1, ProtoTCP, src6, fzTCPSeg(15, 0, nil, nil)))

	// UDP length 0, 7, shorter than the segment, longer than it.
	for _, l := range []uint16{0, 7, 8, 9, 12, 1000} {
		u := []byte{0x9c, 0x40, 0x82, 0x9a, 0, 0, 0, 0, 'a', 'b', 'c', 'd'}
		binary.BigEndian.PutUint16(u[4:], l)
		add(fzIPv4(-1, -1, ProtoUDP, nil, u))
		add(fzIPv6(-1, ProtoUDP, src6, u))
	}

	// ICMP errors quoting ICMP errors quoting … (beyond maxQuoteDepth),
	// over IPv4 and IPv6, and mixed.
	q4 := mustMarshal(udpProbe())
	q6 := mustMarshal(Packet{Version: 6, IPv6: v6(IPv6{}), Transport: TransportUDP, UDP: UDP{SrcPort: 1, DstPort: 2}, Payload: rep("x", 10)})
	for range 5 {
		q4 = fzICMPError(false, ICMPTimeExceeded, 0, 0, 0, q4)
		q6 = fzICMPError(true, ICMPv6TimeExceeded, 0, 0, 0, q6)
		add(q4, q6, q4[:28], q6[:48])
	}
	add(fzICMPError(true, ICMPv6DestUnreach, Code6PortUnreach, 0, 0, mustMarshal(udpProbe())))
	add(fzICMPError(false, ICMPDestUnreach, CodePortUnreach, 0, 0, q6[:60]))
	// An error quoting only the IP header, or 8 bytes of a TCP header.
	add(fzICMPError(false, ICMPDestUnreach, CodeFragNeeded, 0, 576, mustMarshal(udpProbe())[:20]))
	tcpProbe := fzCaseBytes("tcp-syn-options")
	add(fzICMPError(false, ICMPTimeExceeded, 0, 0, 0, tcpProbe[:28]))
	add(fzICMPError(false, ICMPRedirect, 1, 0xc612, 0x0202, tcpProbe[:28]))
	add(fzICMPError(false, ICMPParamProblem, 0, 20<<8, 0, tcpProbe[:28]))
	add(fzICMPError(true, ICMPv6ParamProblem, 0, 0, 40, q6[:48]))
	add(fzICMPError(true, ICMPv6PacketTooBig, 0, 0, 1280, q6[:48]))

	// RFC 4884: length attribute pointing past the end, below 128, and
	// structures with a bad version, a bad or zero checksum, a truncated
	// object, over ICMPv4 and ICMPv6.
	padded := make([]byte, 128)
	copy(padded, mustMarshal(udpProbe()))
	mpls := mplsExtension()
	badVer := bytes.Clone(mpls)
	badVer[0] = 0x10
	badSum := bytes.Clone(mpls)
	badSum[2] ^= 0xff
	zeroSum := bytes.Clone(mpls)
	zeroSum[2], zeroSum[3] = 0, 0
	shortObj := bytes.Clone(mpls)
	shortObj[5] = 200
	for _, id := range []uint16{255, 1, 31, 32, 33} {
		for _, ext := range [][]byte{mpls, badVer, badSum, zeroSum, shortObj, mpls[:4], mpls[:3]} {
			add(fzICMPError(false, ICMPTimeExceeded, 0, id, 0, cat(padded, ext)))
			add(fzICMPError(false, ICMPDestUnreach, CodeFragNeeded, id, 1400, cat(padded, ext)))
			add(fzICMPError(false, ICMPParamProblem, 0, id|20<<8, 0, cat(padded, ext)))
			add(fzICMPError(true, ICMPv6TimeExceeded, 0, (id&0xff)<<8, 0, cat(padded, ext)))
		}
	}
	add(fzICMPError(true, ICMPv6DestUnreach, 0, 16<<8, 0, cat(padded, mpls)))

	// IPv6 extension header chains: every kind in a row, one pointing past
	// the end, a non-first fragment, a long chain, a header cut short.
	echo6 := fzCaseBytes("ipv6-echo")[IPv6HeaderLen:]
	add(fzIPv6(-1, 0, src6, cat(fzExt6(43, 0), fzExt6(60, 1), fzExt6(44, 0), fzFrag6(ProtoICMPv6, 0, true), echo6)))
	add(fzIPv6(-1, 0, src6, cat(fzExt6(60, 0), fzFrag6(ProtoUDP, 0, false), []byte{0, 1, 0, 2, 0, 12, 0, 0, 1, 2, 3, 4})))
	add(fzIPv6(-1, 60, src6, cat(fzExt6(ProtoICMPv6, 200), echo6)))
	add(fzIPv6(-1, 44, src6, cat(fzFrag6(ProtoICMPv6, 185, false), echo6)))
	var chain []byte
	for range 30 {
		chain = append(chain, fzExt6(60, 0)...)
	}
	add(fzIPv6(-1, 60, src6, cat(chain, fzExt6(ProtoICMPv6, 0), echo6)))
	add(fzIPv6(-1, 0, src6, []byte{60}))
	add(fzIPv6(-1, 44, src6, []byte{58, 0, 0}))
	add(fzIPv6(0, 0, src6, nil))
	add(fzIPv6(-1, ProtoICMP, src6, echoBody))
	// An IPv4-mapped source in an IPv6 header.
	add(fzIPv6(-1, ProtoICMPv6, netip.MustParseAddr("::ffff:198.18.0.1"), echo6))
	return out
}

// fzSeeds returns the bytes of every built case, every one of their
// prefixes at the lengths where a header field ends, and the edge cases.
func fzSeeds() [][]byte {
	var out [][]byte
	for _, c := range buildCases() {
		b := mustMarshal(c.pkt)
		out = append(out, b)
		for _, n := range []int{1, 10, 19, 20, 21, 24, 27, 28, 32, 39, 40, 41, 44, 47, 48, 52, 59, 60, len(b) - 1} {
			if n < len(b) {
				out = append(out, b[:n])
			}
		}
	}
	return append(out, fzEdgeCases()...)
}

func fzAddSeeds(f *testing.F) {
	for _, b := range fzSeeds() {
		f.Add(b)
	}
}

// ---------------------------------------------------------- FuzzParse

// fzWithin reports whether sub lies inside b (an empty sub always does).
func fzWithin(sub, b []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return s >= lo && s+uintptr(len(sub)) <= lo+uintptr(len(b))
}

// fzExercise calls every accessor and describer of p, so that a panic in
// any of them surfaces. It returns their output so the calls are not
// optimised away.
func fzExercise(p *Packet) string {
	var s bytes.Buffer
	fmt.Fprint(&s, p.Kind(), p.Transport.String(), p.Src(), p.Dst(), p.TTL(), p.TOS(), p.Protocol(), p.IsICMPError())
	fmt.Fprint(&s, p.IPv4.DSCP(), p.IPv4.ECN(), p.IPv6.DSCP(), p.IPv6.ECN(), p.TCP.Flags.String())
	l, err := p.Len()
	fmt.Fprint(&s, l, err, p.ExtensionLen(), p.ExtensionProblem, len(p.Extensions))
	mtu, ok1 := p.NextHopMTU()
	ptr, ok2 := p.Pointer()
	gw, ok3 := p.Gateway()
	fmt.Fprint(&s, mtu, ok1, ptr, ok2, gw, ok3)
	k1, ok4 := ProbeKey(p)
	k2, ok5 := AnswerKey(p)
	fmt.Fprint(&s, k1, ok4, k2, ok5)
	for _, o := range p.IPv4.Options {
		fmt.Fprint(&s, o.Name(), o.Len(), o.String())
		switch o := o.(type) {
		case *RecordRoute:
			fmt.Fprint(&s, o.Full())
		case *Timestamp:
			for _, e := range o.Recorded() {
				fmt.Fprint(&s, e.NonStandard())
			}
		}
	}
	if len(p.IPv4.Options) > 0 {
		if _, err := p.IPv4.headerLen(); err != nil {
			fmt.Fprint(&s, err.Error())
		}
	}
	for _, o := range p.TCP.Options {
		fmt.Fprint(&s, o.Len(), o.String())
	}
	fmt.Fprint(&s, tcpOptionsString(p.TCP.Options))
	return s.String()
}

// fzCheckParsed checks the invariants of a packet parsed from in (or quoted
// within it) and returns the number of quote levels below it.
func fzCheckParsed(t *testing.T, p *Packet, in []byte, depth int) int {
	t.Helper()
	where := fmt.Sprintf("quote level %d", depth)
	if p.Version != 4 && p.Version != 6 {
		t.Fatalf("%s: Version %d", where, p.Version)
	}
	if p.TransportBytes < 0 || p.TransportBytes > len(in) {
		t.Fatalf("%s: TransportBytes %d of %d input bytes", where, p.TransportBytes, len(in))
	}
	if len(p.Payload) > p.TransportBytes {
		t.Fatalf("%s: %d payload bytes but only %d transport bytes", where, len(p.Payload), p.TransportBytes)
	}
	if !fzWithin(p.Payload, in) {
		t.Fatalf("%s: Payload does not lie fzWithin the input", where)
	}
	if p.Version == 4 {
		h := &p.IPv4
		if h.HeaderLen < IPv4HeaderLen || h.HeaderLen > 60 || h.HeaderLen > len(in) {
			t.Fatalf("%s: HeaderLen %d", where, h.HeaderLen)
		}
		if !h.Src.Is4() || !h.Dst.Is4() {
			t.Fatalf("%s: addresses %v %v", where, h.Src, h.Dst)
		}
		for _, o := range h.Options {
			if r, ok := o.(RawOption); ok && (len(r.Bytes) == 0 || !fzWithin(r.Bytes, in)) {
				t.Fatalf("%s: raw option %x not fzWithin the input", where, r.Bytes)
			}
		}
		if n := h.optionsLen(); n > h.HeaderLen-IPv4HeaderLen {
			t.Fatalf("%s: %d option bytes in a %d-byte header", where, n, h.HeaderLen)
		}
	} else if !p.IPv6.Src.Is6() || !p.IPv6.Dst.Is6() || p.IPv6.FlowLabel > 0xfffff {
		t.Fatalf("%s: IPv6 header %+v", where, p.IPv6)
	}
	for _, o := range p.TCP.Options {
		if !fzWithin(o.Data, in) {
			t.Fatalf("%s: TCP option data not fzWithin the input", where)
		}
	}
	if p.Transport != TransportTCP && (len(p.TCP.Options) > 0 || p.TCP.OptionsMalformed) {
		t.Fatalf("%s: TCP options on a %v packet", where, p.Transport)
	}
	if len(p.Extensions) > 0 && p.ExtensionLen() == 0 {
		t.Fatalf("%s: extensions decoded without a length attribute", where)
	}
	fzExercise(p)
	if p.Quote == nil {
		return 0
	}
	if !p.IsICMPError() {
		t.Fatalf("%s: a %s carries a quote", where, p.Kind())
	}
	return 1 + fzCheckParsed(t, p.Quote, in, depth+1)
}

// fzParsedCases are the build cases parsed back, as probes and answers to
// pair with fuzzed packets.
func fzParsedCases(f *testing.F) []*Packet {
	var out []*Packet
	for _, c := range buildCases() {
		p, err := Parse(mustMarshal(c.pkt))
		if err != nil {
			f.Fatalf("%s: %v", c.name, err)
		}
		out = append(out, p, &c.pkt)
	}
	return out
}

// FuzzParse: Parse never panics; what it returns is consistent; every
// accessor, QuoteDiff and Answers can be called on it.
func FuzzParse(f *testing.F) {
	fzAddSeeds(f)
	others := fzParsedCases(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(in)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with a packet", err)
			}
			return
		}
		// Decode into a used Packet must give the same as Parse.
		again := Packet{Version: 6, Payload: []byte{1}, Quote: p, Truncated: true}
		if err := again.Decode(in); err != nil || !reflect.DeepEqual(&again, p) {
			t.Fatalf("Decode into a used Packet differs from Parse (err %v)", err)
		}
		if levels := fzCheckParsed(t, p, in, 0); levels > maxQuoteDepth {
			t.Fatalf("%d quote levels, more than maxQuoteDepth %d", levels, maxQuoteDepth)
		}

		// QuoteDiff of a packet with itself finds nothing, as long as the
		// packet is whole. One exception, by design: an IPv4 Total Length
		// of 0 is QuoteDiff's "not parsed, compute it" for the sent side
		// (diff.go, differ.ipv4), so p against p reports len N→0. The
		// kernel fills the total length of every raw send, so a sent
		// packet never has 0.
		for _, c := range QuoteDiff(p, p) {
			_ = c.String()
			if !p.Truncated && !(p.Version == 4 && p.IPv4.TotalLen == 0) {
				t.Fatalf("QuoteDiff(p, p) reports %v", c)
			}
		}
		for q := p.Quote; q != nil; q = q.Quote {
			for _, c := range QuoteDiff(p, q) {
				_ = c.String()
			}
			for _, c := range QuoteDiff(q, q) {
				_ = c.String()
			}
			for _, c := range QuoteDiff(q, p) {
				_ = c.String()
			}
		}

		// Answers for any pair: with itself, its quotes and every case.
		pairs := append([]*Packet{p}, others...)
		for q := p.Quote; q != nil; q = q.Quote {
			pairs = append(pairs, q)
		}
		for _, o := range pairs {
			m1, ok1 := Answers(o, p)
			m2, ok2 := Answers(p, o)
			if ok1 && m1.Kind == "" || ok2 && m2.Kind == "" {
				t.Fatalf("a match without a kind: %+v %+v", m1, m2)
			}
			if ok1 {
				// A confirmed match was found through equal keys.
				pk, _ := ProbeKey(o)
				ak, _ := AnswerKey(p)
				if pk != ak {
					t.Fatalf("Answers matched keys %v and %v", pk, ak)
				}
			}
		}
	})
}

// -------------------------------------------------------- FuzzRebuild

// fzRebuildWant returns the bytes a rebuild of p, parsed from in, must
// reproduce: in up to the end of the datagram, with the bytes the Packet
// model deliberately does not keep set to what the builder writes. skip
// names the reason when p's encoding is one the builder cannot reproduce
// by design, so the input proves nothing.
//
// The exceptions, each a non-canonical encoding:
//
//   - IPv4 Total Length below the header length: the parser keeps every
//     byte of the input rather than lose the packet; the builder writes the
//     real length.
//   - IPv4 or TCP option area longer than the options need: zero bytes
//     after an EOL are padding to the parser, and the builder pads to the
//     next 4-byte boundary only, so more than 3 of them shrink the header.
//   - TCP Data Offset below 5: the parser reads no options, the builder
//     writes the real offset.
//   - TCP option tails with an impossible length (OptionsMalformed): the
//     length octet becomes data, so a rebuild writes a new one.
//   - UDP Length other than the segment length: the parser stops the
//     payload at Length (or ignores a Length below 8), the builder writes
//     the segment length.
//   - IPv6 extension headers: not built (IPv6 doc comment).
//
// No exception is needed for IPv4 options otherwise: non-zero bytes after
// an EOL are kept as further options; a record-route or timestamp option
// whose pointer is below the legal minimum (which the builder would read
// as "compute it") or whose unrecorded slots hold non-zero bytes (which
// the builder would zero) is kept as a RawOption, as is any option with an
// impossible length octet; RawOptions are written back byte for byte.
func fzRebuildWant(p *Packet, in []byte) (want []byte, skip string) {
	var end int
	switch p.Version {
	case 4:
		h := &p.IPv4
		if h.TotalLen < h.HeaderLen {
			return nil, "total length below the header length"
		}
		if h.HeaderLen != IPv4HeaderLen+(h.optionsLen()+3)&^3 {
			return nil, "option area padded beyond the next word"
		}
		end = h.TotalLen
	case 6:
		if len(p.IPv6.Extensions) > 0 {
			return nil, "IPv6 extension headers"
		}
		end = IPv6HeaderLen + p.IPv6.PayloadLen
	}
	want = bytes.Clone(in[:end])
	switch p.Transport {
	case TransportUDP:
		if p.UDP.Length != p.TransportBytes {
			return nil, "UDP length is not the segment length"
		}
	case TransportTCP:
		n := 0
		for _, o := range p.TCP.Options {
			n += o.Len()
		}
		if p.TCP.OptionsMalformed {
			return nil, "malformed TCP option"
		}
		if p.TCP.DataOffset != TCPHeaderLen+(n+3)&^3 {
			return nil, "TCP data offset below 5 or option area padded beyond the next word"
		}
	}
	return want, ""
}

// FuzzRebuild: a parsed packet that is whole rebuilds, with its checksums
// kept as parsed, to the bytes it was parsed from (fzRebuildWant lists the
// encodings the builder cannot reproduce by design).
func FuzzRebuild(f *testing.F) {
	fzAddSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(in)
		if err != nil || p.Truncated {
			return
		}
		want, skip := fzRebuildWant(p, in)
		if skip != "" {
			return
		}
		fixChecksums(p)
		got, err := p.Marshal()
		if err != nil {
			// The builder refuses IPv4-mapped addresses in an IPv6
			// header, which the parser accepts.
			if p.Version == 6 && (p.IPv6.Src.Is4In6() || p.IPv6.Dst.Is4In6()) {
				return
			}
			t.Fatalf("parsed packet does not rebuild: %v\nin %x", err, in)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("rebuild differs\n got %x\nwant %x", got, want)
		}
	})
}

// ---------------------------------------------------- option targets

// fzOptionHost is a packet to carry fuzzed options through the builder.
func fzOptionHost() Packet {
	return Packet{Version: 4, IPv4: v4(IPv4{}), Transport: TransportTCP, TCP: TCP{FixedChecksum: true}}
}

// FuzzIPv4Options: decodeOptions never panics, and options it decodes,
// built into a header and decoded again, come back the same. The input is
// also decoded padded with zeros to a multiple of four bytes, the only
// lengths an option area has (IHL counts words): a truncated option at the
// end of an odd-sized input would otherwise swallow the builder's padding.
func FuzzIPv4Options(f *testing.F) {
	for _, b := range fzSeeds() {
		if len(b) > IPv4HeaderLen && b[0]>>4 == 4 {
			hl := min(int(b[0]&0xf)*4, len(b))
			if hl > IPv4HeaderLen {
				f.Add(b[IPv4HeaderLen:hl])
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte{OptRecordRoute, 7, 0, 1, 2, 3, 4, 0})
	f.Add([]byte{OptTimestamp, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, o := range decodeOptions(in) {
			_ = o.String()
		}
		b := append(bytes.Clone(in), make([]byte, (4-len(in)%4)%4)...)
		first := decodeOptions(b)
		p := fzOptionHost()
		p.IPv4.Options = first
		out, err := p.Marshal()
		if err != nil {
			return
		}
		hl := int(out[0]&0xf) * 4
		second := decodeOptions(out[IPv4HeaderLen:hl])
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("options change in a rebuild\narea  %x\nfirst  %v\nbuilt  %x\nsecond %v", b, first, out[IPv4HeaderLen:hl], second)
		}
	})
}

// FuzzTCPOptions: decodeTCPOptions never panics, and options it decodes,
// built into a header and decoded again, come back the same. A malformed
// tail (impossible length octet) is returned holding the bytes after its
// kind, length octet included; the builder writes a correct length
// before them, so the rebuilt option is well formed and carries the same
// data: that is what is checked for it.
func FuzzTCPOptions(f *testing.F) {
	for _, c := range buildCases() {
		if c.pkt.Transport == TransportTCP {
			b := mustMarshal(c.pkt)
			nh, _ := c.pkt.networkHeaderLen()
			th, _ := c.pkt.TCP.headerLen()
			f.Add(b[nh+TCPHeaderLen : nh+th])
		}
	}
	for _, l := range []uint8{0, 1, 2, 3, 4, 255} {
		f.Add([]byte{TCPOptMSS, l, 5, 0xb4})
		f.Add([]byte{TCPOptNOP, TCPOptNOP, TCPOptNOP, l})
	}
	f.Add([]byte{TCPOptNOP, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Add([]byte{TCPOptMSS})
	f.Add([]byte{TCPOptSACK, 0})
	f.Add([]byte{TCPOptEOL, 0, 5})
	f.Fuzz(func(t *testing.T, in []byte) {
		first, malformed := decodeTCPOptions(in)
		for _, o := range first {
			_ = o.String()
		}
		p := fzOptionHost()
		p.TCP.Options = first
		out, err := p.Marshal()
		if err != nil {
			return
		}
		second, malformed2 := decodeTCPOptions(out[IPv4HeaderLen+TCPHeaderLen : IPv4HeaderLen+int(out[IPv4HeaderLen+12]>>4)*4])
		if malformed2 {
			t.Fatalf("built options decode as malformed\nin %x\nbuilt %x", in, out)
		}
		if malformed {
			if len(first) != len(second) {
				t.Fatalf("malformed tail: %d options rebuilt as %d", len(first), len(second))
			}
			n := len(first) - 1
			if !reflect.DeepEqual(first[:n], second[:n]) || first[n].Kind != second[n].Kind || !bytes.Equal(first[n].Data, second[n].Data) {
				t.Fatalf("malformed tail rebuilt differently\nfirst  %v\nsecond %v", first, second)
			}
			return
		}
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("options change in a rebuild\nin %x\nfirst  %v\nsecond %v", in, first, second)
		}
	})
}
