package packet

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"golang.org/x/net/icmp"
)

// IP protocol numbers (IANA) of the transports echolot builds.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Transport says which transport header a Packet carries.
type Transport uint8

// Transports.
const (
	// NoTransport: the payload follows the IP header directly, with the
	// protocol number given in IPv4.Protocol or IPv6.NextHeader. Parsing
	// also yields it for non-first fragments and unknown protocols.
	NoTransport Transport = iota
	TransportICMP
	TransportICMPv6
	TransportUDP
	TransportTCP
)

// String returns "raw", "icmp", "icmp6", "udp" or "tcp".
func (t Transport) String() string {
	switch t {
	case TransportICMP:
		return "icmp"
	case TransportICMPv6:
		return "icmp6"
	case TransportUDP:
		return "udp"
	case TransportTCP:
		return "tcp"
	}
	return "raw"
}

// Packet is one IP datagram: an IPv4 or IPv6 header (Version says which),
// at most one transport header (Transport says which) and a payload. The
// same value describes a probe to build and an answer that was parsed. It is
// a plain value: copying it copies the headers, while Payload, options and
// Quote are shared until replaced.
type Packet struct {
	// Version is 4 or 6.
	Version int
	IPv4    IPv4
	IPv6    IPv6

	Transport Transport
	ICMP      ICMP
	UDP       UDP
	TCP       TCP

	// Payload is what follows the transport header: echo data, a UDP or
	// TCP payload, or for ICMP errors the quoted datagram and any RFC 4884
	// extension structure. After parsing it aliases the parsed bytes.
	Payload []byte

	// TransportBytes is the number of bytes found after the network
	// header(s) when parsing: header and payload of the transport. It tells
	// which fields of a short quote were really present (8 bytes hold the
	// ICMP id and seq, UDP ports, length and checksum, TCP ports and seq).
	TransportBytes int

	// Truncated is set by the parser when the bytes ended before the
	// lengths in the headers said they would (always the case for quoted
	// datagrams cut at 8 bytes of transport).
	Truncated bool
	// BadIPChecksum and BadTransportChecksum are set by the parser when a
	// checksum it could verify (the whole header or segment was present)
	// did not verify. A zero UDP checksum over IPv4 means none and is not
	// bad.
	BadIPChecksum, BadTransportChecksum bool
	// ChecksumPredatesRecording is set instead of BadIPChecksum when the
	// IPv4 header checksum verifies once the last record-route or
	// timestamp entry is taken back out. Linux records itself in those
	// options as a packet arrives and recomputes the checksum only when it
	// forwards the packet, so what a raw socket reads, and what a router
	// quotes in a time-exceeded error, carries that stale checksum; it is
	// not damage.
	ChecksumPredatesRecording bool

	// Quote is the original datagram quoted by an ICMP or ICMPv6 error,
	// decoded as far as its bytes go; nil for other packets.
	Quote *Packet
	// Extensions are the RFC 4884 extension objects of an ICMP error:
	// *icmp.MPLSLabelStack (RFC 4950), *icmp.InterfaceInfo (RFC 5837),
	// *icmp.InterfaceIdent and *icmp.RawExtension. They are decoded only
	// when the message's length attribute is non-zero and the extension
	// header has version 2 and a valid checksum.
	Extensions []icmp.Extension
	// ExtensionProblem says why an extension structure announced by the
	// length attribute was not decoded; empty otherwise.
	ExtensionProblem string
}

// Src returns the source address of the network header.
func (p *Packet) Src() netip.Addr {
	if p.Version == 6 {
		return p.IPv6.Src
	}
	return p.IPv4.Src
}

// SetSrc sets the source address of the network header (IPv6 when
// Version is 6, else IPv4).
func (p *Packet) SetSrc(a netip.Addr) {
	if p.Version == 6 {
		p.IPv6.Src = a
	} else {
		p.IPv4.Src = a
	}
}

// Dst returns the destination address of the network header.
func (p *Packet) Dst() netip.Addr {
	if p.Version == 6 {
		return p.IPv6.Dst
	}
	return p.IPv4.Dst
}

// TTL returns the IPv4 TTL or the IPv6 hop limit.
func (p *Packet) TTL() uint8 {
	if p.Version == 6 {
		return p.IPv6.HopLimit
	}
	return p.IPv4.TTL
}

// TOS returns the IPv4 TOS octet or the IPv6 traffic class.
func (p *Packet) TOS() uint8 {
	if p.Version == 6 {
		return p.IPv6.TrafficClass
	}
	return p.IPv4.TOS
}

// Protocol returns the protocol number the network header carries (for
// IPv6 after any extension headers, as far as they were parsed), computing
// it from the transport when the header leaves it zero.
func (p *Packet) Protocol() uint8 {
	explicit := p.IPv4.Protocol
	if p.Version == 6 {
		explicit = p.IPv6.NextHeader
		if len(p.IPv6.Extensions) > 0 {
			explicit = p.IPv6.Upper
		}
	}
	if explicit != 0 || p.Transport == NoTransport {
		return explicit
	}
	return p.transportProto()
}

func (p *Packet) transportProto() uint8 {
	switch p.Transport {
	case TransportICMP:
		return ProtoICMP
	case TransportICMPv6:
		return ProtoICMPv6
	case TransportUDP:
		return ProtoUDP
	case TransportTCP:
		return ProtoTCP
	}
	return 0
}

func (p *Packet) transportHeaderLen() (int, error) {
	switch p.Transport {
	case TransportICMP, TransportICMPv6:
		return ICMPHeaderLen, nil
	case TransportUDP:
		return UDPHeaderLen, nil
	case TransportTCP:
		return p.TCP.headerLen()
	case NoTransport:
		return 0, nil
	}
	return 0, fieldErr("transport", int(p.Transport), "unknown transport")
}

func (p *Packet) networkHeaderLen() (int, error) {
	switch p.Version {
	case 4:
		return p.IPv4.headerLen()
	case 6:
		return IPv6HeaderLen, nil
	}
	return 0, fieldErr("ip.version", p.Version, "a packet is IPv4 (4) or IPv6 (6)")
}

// Len returns the number of bytes AppendTo writes.
func (p *Packet) Len() (int, error) {
	nh, err := p.networkHeaderLen()
	if err != nil {
		return 0, err
	}
	th, err := p.transportHeaderLen()
	if err != nil {
		return 0, err
	}
	return nh + th + len(p.Payload), nil
}

// Marshal returns the packet's wire bytes, starting with the IP header.
func (p *Packet) Marshal() ([]byte, error) {
	return p.AppendTo(nil)
}

// AppendTo appends the packet's wire bytes to b and returns the extended
// buffer. Lengths, protocol numbers, padding and checksums are computed as
// the field docs say. It allocates only when b lacks capacity, so a probe
// loop that reuses its buffer allocates nothing here. On error b is
// returned unchanged.
func (p *Packet) AppendTo(b []byte) ([]byte, error) {
	nh, err := p.networkHeaderLen()
	if err != nil {
		return b, err
	}
	th, err := p.transportHeaderLen()
	if err != nil {
		return b, err
	}
	if p.Version == 4 && p.Transport == TransportICMPv6 {
		return b, fieldErr("transport", "icmp6", "ICMPv6 checksums need an IPv6 pseudo-header: put icmp6 over ip6, or icmp over ip")
	}
	total := nh + th + len(p.Payload)
	start := len(b)
	b = slices.Grow(b, total)[:start+total]
	pkt := b[start:]
	seg := pkt[nh:]
	copy(seg[th:], p.Payload)
	proto := p.Protocol()
	if err := p.marshalTransport(seg, th, proto); err != nil {
		return b[:start], err
	}
	switch p.Version {
	case 4:
		err = p.IPv4.marshal(pkt[:nh], total, proto)
	case 6:
		next := p.IPv6.NextHeader
		if next == 0 {
			next = proto
		}
		err = p.IPv6.marshal(pkt[:nh], th+len(p.Payload), next)
	}
	if err != nil {
		return b[:start], err
	}
	return b, nil
}

// marshalTransport writes the transport header into seg[:th] (the payload
// is already in place) and its checksum.
func (p *Packet) marshalTransport(seg []byte, th int, proto uint8) error {
	src, dst := p.Src(), p.Dst()
	needPseudo := func(what string) error {
		if p.Version == 4 && (!src.IsValid() || !dst.IsValid()) || p.Version == 6 && !src.IsValid() {
			return fieldErr("ip.src", "unset", "the %s checksum covers the source address: set it (or fix the checksum explicitly)", what)
		}
		return nil
	}
	switch p.Transport {
	case TransportICMP, TransportICMPv6:
		h := &p.ICMP
		seg[0], seg[1] = h.Type, h.Code
		seg[2], seg[3] = 0, 0
		binary.BigEndian.PutUint16(seg[4:], h.ID)
		binary.BigEndian.PutUint16(seg[6:], h.Seq)
		cs := h.Checksum
		if !h.FixedChecksum {
			if p.Transport == TransportICMPv6 {
				if err := needPseudo("ICMPv6"); err != nil {
					return err
				}
				cs = transportChecksum(p.Version == 6, src, dst, ProtoICMPv6, seg)
			} else {
				cs = Checksum(seg)
			}
		}
		binary.BigEndian.PutUint16(seg[2:], cs)
	case TransportUDP:
		h := &p.UDP
		if len(seg) > 0xffff {
			return fieldErr("udp.len", len(seg), "the UDP length field is 16 bits: at most 65535 bytes")
		}
		binary.BigEndian.PutUint16(seg, h.SrcPort)
		binary.BigEndian.PutUint16(seg[2:], h.DstPort)
		binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)))
		seg[6], seg[7] = 0, 0
		cs := h.Checksum
		if !h.FixedChecksum {
			if err := needPseudo("UDP"); err != nil {
				return err
			}
			cs = transportChecksum(p.Version == 6, src, dst, proto, seg)
			if cs == 0 {
				cs = 0xffff // RFC 768: a computed zero is sent as all ones
			}
		}
		binary.BigEndian.PutUint16(seg[6:], cs)
	case TransportTCP:
		h := &p.TCP
		h.marshal(seg[:th])
		cs := h.Checksum
		if !h.FixedChecksum {
			if err := needPseudo("TCP"); err != nil {
				return err
			}
			cs = transportChecksum(p.Version == 6, src, dst, proto, seg)
		}
		binary.BigEndian.PutUint16(seg[16:], cs)
	}
	return nil
}

// Parse decodes an IP datagram starting at its IP header. See Decode.
func Parse(b []byte) (*Packet, error) {
	p := new(Packet)
	if err := p.Decode(b); err != nil {
		return nil, err
	}
	return p, nil
}

// Decode parses b, an IP datagram starting at its IP header, into p,
// replacing what p held. It never panics. It fails only when no network
// header can be read; a transport header cut short is decoded as far as it
// goes and sets Truncated. Bytes beyond the IP total length (link padding)
// are ignored. Payload and option data alias b.
func (p *Packet) Decode(b []byte) error {
	return p.decode(b, 0)
}

// maxQuoteDepth bounds ICMP errors quoting ICMP errors quoting …
const maxQuoteDepth = 2

func (p *Packet) decode(b []byte, depth int) error {
	*p = Packet{}
	if len(b) == 0 {
		return fieldErr("ip", 0, "no bytes to parse")
	}
	var (
		off, end  int
		proto     uint8
		truncated bool
		err       error
	)
	switch b[0] >> 4 {
	case 4:
		p.Version = 4
		off, end, truncated, err = p.IPv4.decode(b)
		if err != nil {
			return err
		}
		proto = p.IPv4.Protocol
		if Checksum(b[:off]) != 0 {
			if len(p.IPv4.Options) > 0 && checksumBeforeRecording(&p.IPv4) {
				p.ChecksumPredatesRecording = true
			} else {
				p.BadIPChecksum = true
			}
		}
		if p.IPv4.FragOffset != 0 {
			proto = 0xff // not the first fragment: no transport header
		}
	case 6:
		p.Version = 6
		off, proto, end, truncated, err = p.IPv6.decode(b)
		if err != nil {
			return err
		}
	default:
		return fieldErr("ip.version", b[0]>>4, "expected 4 or 6")
	}
	p.Truncated = truncated
	if off > end {
		off = end
	}
	p.decodeTransport(b[off:end], proto, depth)
	return nil
}

// decodeTransport decodes seg as the transport proto.
func (p *Packet) decodeTransport(seg []byte, proto uint8, depth int) {
	// A transport checksum covers the whole datagram: it can be checked
	// only when nothing was cut and the packet is not a fragment.
	full := !p.Truncated && !p.IPv4.MF && !slices.Contains(p.IPv6.Extensions, 44)
	p.TransportBytes = len(seg)
	switch {
	case proto == ProtoICMP, proto == ProtoICMPv6 && p.Version == 6:
		p.Transport = TransportICMP
		if proto == ProtoICMPv6 {
			p.Transport = TransportICMPv6
		}
		h := &p.ICMP
		if len(seg) >= 2 {
			h.Type, h.Code = seg[0], seg[1]
		}
		if len(seg) >= 4 {
			h.Checksum = binary.BigEndian.Uint16(seg[2:])
		}
		if len(seg) >= 6 {
			h.ID = binary.BigEndian.Uint16(seg[4:])
		}
		if len(seg) < ICMPHeaderLen {
			p.Truncated = true
			return
		}
		h.Seq = binary.BigEndian.Uint16(seg[6:])
		p.Payload = seg[ICMPHeaderLen:]
		if full {
			var cs uint16
			if p.Transport == TransportICMPv6 {
				cs = transportChecksum(true, p.IPv6.Src, p.IPv6.Dst, ProtoICMPv6, seg)
			} else {
				cs = Checksum(seg)
			}
			p.BadTransportChecksum = cs != 0
		}
		if p.IsICMPError() && depth < maxQuoteDepth {
			p.decodeQuote(seg, depth)
		}
	case proto == ProtoUDP:
		p.Transport = TransportUDP
		h := &p.UDP
		if len(seg) >= 4 {
			h.SrcPort = binary.BigEndian.Uint16(seg)
			h.DstPort = binary.BigEndian.Uint16(seg[2:])
		}
		if len(seg) < UDPHeaderLen {
			p.Truncated = true
			return
		}
		h.Length = int(binary.BigEndian.Uint16(seg[4:]))
		h.Checksum = binary.BigEndian.Uint16(seg[6:])
		end := len(seg)
		if h.Length >= UDPHeaderLen && h.Length <= len(seg) {
			end = h.Length
		} else if h.Length > len(seg) {
			p.Truncated = true
			full = false
		}
		p.Payload = seg[UDPHeaderLen:end]
		if full && !(h.Checksum == 0 && p.Version == 4) {
			p.BadTransportChecksum = transportChecksum(p.Version == 6, p.Src(), p.Dst(), ProtoUDP, seg[:end]) != 0
		}
	case proto == ProtoTCP:
		p.Transport = TransportTCP
		h := &p.TCP
		if len(seg) >= 4 {
			h.SrcPort = binary.BigEndian.Uint16(seg)
			h.DstPort = binary.BigEndian.Uint16(seg[2:])
		}
		if len(seg) >= 8 {
			h.Seq = binary.BigEndian.Uint32(seg[4:])
		}
		if len(seg) >= 12 {
			h.Ack = binary.BigEndian.Uint32(seg[8:])
		}
		if len(seg) >= 14 {
			w := binary.BigEndian.Uint16(seg[12:])
			h.DataOffset = int(w>>12) * 4
			h.Flags = TCPFlags(w & 0x1ff)
			h.Reserved = uint8(w>>9) & 7
		}
		if len(seg) < TCPHeaderLen {
			p.Truncated = true
			return
		}
		h.Window = binary.BigEndian.Uint16(seg[14:])
		h.Checksum = binary.BigEndian.Uint16(seg[16:])
		h.Urgent = binary.BigEndian.Uint16(seg[18:])
		hl := h.DataOffset
		if hl < TCPHeaderLen {
			hl = TCPHeaderLen // malformed offset: read no options
		}
		if hl > len(seg) {
			p.Truncated = true
			h.Options, h.OptionsMalformed = decodeTCPOptions(seg[TCPHeaderLen:])
			return
		}
		h.Options, h.OptionsMalformed = decodeTCPOptions(seg[TCPHeaderLen:hl])
		p.Payload = seg[hl:]
		if full {
			p.BadTransportChecksum = transportChecksum(p.Version == 6, p.Src(), p.Dst(), ProtoTCP, seg) != 0
		}
	default:
		p.Transport = NoTransport
		p.Payload = seg
	}
}

// IsICMPError reports whether p is an ICMP or ICMPv6 error message that
// quotes a datagram: destination unreachable, source quench, redirect, time
// exceeded, parameter problem (ICMPv4); destination unreachable, packet too
// big, time exceeded, parameter problem (ICMPv6).
func (p *Packet) IsICMPError() bool {
	switch p.Transport {
	case TransportICMP:
		return isErrorV4(p.ICMP.Type)
	case TransportICMPv6:
		return isErrorV6(p.ICMP.Type)
	}
	return false
}

// Kind names what an ICMP message is as the Lua API spells it
// ("echo-reply", "time-exceeded", "frag-needed", …); for other transports
// it returns the transport's name.
func (p *Packet) Kind() string {
	switch p.Transport {
	case TransportICMP:
		return ICMPTypeName(false, p.ICMP.Type, p.ICMP.Code)
	case TransportICMPv6:
		return ICMPTypeName(true, p.ICMP.Type, p.ICMP.Code)
	}
	return p.Transport.String()
}

// NextHopMTU returns the MTU reported by an ICMPv4 fragmentation-needed
// message (RFC 1191 §4, header bytes 6–7) or an ICMPv6 packet-too-big
// message (RFC 4443 §3.2, bytes 4–7). A zero MTU in a frag-needed message
// comes from a router predating RFC 1191.
func (p *Packet) NextHopMTU() (int, bool) {
	switch {
	case p.Transport == TransportICMP && p.ICMP.Type == ICMPDestUnreach && p.ICMP.Code == CodeFragNeeded:
		return int(p.ICMP.Seq), true
	case p.Transport == TransportICMPv6 && p.ICMP.Type == ICMPv6PacketTooBig:
		return int(p.ICMP.ID)<<16 | int(p.ICMP.Seq), true
	}
	return 0, false
}

// Pointer returns the octet offset a parameter-problem message points at:
// header byte 4 for ICMPv4 (RFC 792), bytes 4–7 for ICMPv6 (RFC 4443 §3.4).
func (p *Packet) Pointer() (int, bool) {
	switch {
	case p.Transport == TransportICMP && p.ICMP.Type == ICMPParamProblem:
		return int(p.ICMP.ID >> 8), true
	case p.Transport == TransportICMPv6 && p.ICMP.Type == ICMPv6ParamProblem:
		return int(p.ICMP.ID)<<16 | int(p.ICMP.Seq), true
	}
	return 0, false
}

// Gateway returns the gateway address of an ICMPv4 redirect (RFC 792,
// header bytes 4–7).
func (p *Packet) Gateway() (netip.Addr, bool) {
	if p.Transport != TransportICMP || p.ICMP.Type != ICMPRedirect {
		return netip.Addr{}, false
	}
	var a [4]byte
	binary.BigEndian.PutUint16(a[:], p.ICMP.ID)
	binary.BigEndian.PutUint16(a[2:], p.ICMP.Seq)
	return netip.AddrFrom4(a), true
}

// ExtensionLen returns the RFC 4884 length attribute in bytes: the length of
// the padded original datagram when an extension structure follows it
// (RFC 4884 §4.1 for ICMPv4 destination unreachable, time exceeded and
// parameter problem, byte 5 in 32-bit words; §4.2 for ICMPv6 destination
// unreachable and time exceeded, byte 4 in 64-bit words). Zero means no
// extension structure is announced; Linux always sends zero.
func (p *Packet) ExtensionLen() int {
	switch p.Transport {
	case TransportICMP:
		switch p.ICMP.Type {
		case ICMPDestUnreach, ICMPTimeExceeded, ICMPParamProblem:
			return 4 * int(p.ICMP.ID&0xff)
		}
	case TransportICMPv6:
		switch p.ICMP.Type {
		case ICMPv6DestUnreach, ICMPv6TimeExceeded:
			return 8 * int(p.ICMP.ID>>8)
		}
	}
	return 0
}
