package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv4HeaderLen is the length of an IPv4 header without options (RFC 791 §3.1).
const IPv4HeaderLen = 20

// MaxIPv4OptionsLen is the most option bytes an IPv4 header can carry: the
// 4-bit IHL field counts at most 15 words, 5 of which are the fixed header
// (RFC 791 §3.1).
const MaxIPv4OptionsLen = 40

// IPv4 is an IPv4 header (RFC 791 §3.1). Version, IHL and Total Length are
// always computed by the builder; Protocol and the header checksum are
// computed unless set explicitly. After parsing, every field holds what was
// on the wire, HeaderLen and TotalLen included.
type IPv4 struct {
	// TOS is the whole type-of-service octet: DSCP in the upper six bits
	// (RFC 2474 §3), ECN in the lower two (RFC 3168 §5). See DSCP and ECN.
	TOS uint8
	// ID is the Identification field. The builder writes it as given; the
	// Linux kernel replaces a zero ID on raw sends only when DF is clear.
	ID uint16
	// Evil is the reserved flag bit (bit 0 of the flags, RFC 791 §3.1;
	// RFC 3514 calls it the evil bit). It must be zero on the wire.
	Evil bool
	// DF is the Don't Fragment flag.
	DF bool
	// MF is the More Fragments flag.
	MF bool
	// FragOffset is the fragment offset in 8-byte units (0–8191).
	FragOffset uint16
	// TTL is the time-to-live (hop limit) octet.
	TTL uint8
	// Protocol is the next protocol number (IANA). Zero means "computed
	// from the transport layer" when building (1 ICMP, 6 TCP, 17 UDP).
	Protocol uint8
	// Checksum is the header checksum. The builder computes it unless
	// FixedChecksum is set, in which case Checksum is written as is (to send
	// a deliberately wrong one). Note that Linux rewrites it on raw sends.
	Checksum uint16
	// FixedChecksum makes the builder write Checksum instead of computing it.
	FixedChecksum bool
	// Src and Dst are the source and destination addresses. An invalid
	// (zero) Src is written as 0.0.0.0, which the kernel fills in on raw
	// sends.
	Src, Dst netip.Addr
	// Options are the IPv4 options in wire order (RFC 791 §3.1). The builder
	// computes their lengths and pads the header with zero (EOL) bytes to a
	// multiple of four.
	Options []Option

	// HeaderLen is the header length in bytes (IHL×4) as parsed. The builder
	// ignores it.
	HeaderLen int
	// TotalLen is the Total Length field as parsed. The builder ignores it.
	TotalLen int
}

// DSCP returns the Differentiated Services codepoint, the upper six bits of
// the TOS octet (RFC 2474 §3).
func (h *IPv4) DSCP() uint8 { return h.TOS >> 2 }

// ECN returns the ECN field, the lower two bits of the TOS octet (RFC 3168 §5):
// 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
func (h *IPv4) ECN() uint8 { return h.TOS & 3 }

// SetDSCP sets the upper six bits of TOS, keeping ECN. It fails for values
// above 63.
func (h *IPv4) SetDSCP(v int) error {
	if v < 0 || v > 63 {
		return fieldErr("ip.dscp", v, "DSCP is 6 bits: 0–63")
	}
	h.TOS = uint8(v)<<2 | h.TOS&3
	return nil
}

// SetECN sets the lower two bits of TOS, keeping DSCP. It fails for values
// above 3.
func (h *IPv4) SetECN(v int) error {
	if v < 0 || v > 3 {
		return fieldErr("ip.ecn", v, "ECN is 2 bits: 0–3")
	}
	h.TOS = h.TOS&^3 | uint8(v)
	return nil
}

// flagsFragment encodes the flags and fragment offset word.
func (h *IPv4) flagsFragment() uint16 {
	w := h.FragOffset & 0x1fff
	if h.Evil {
		w |= 0x8000
	}
	if h.DF {
		w |= 0x4000
	}
	if h.MF {
		w |= 0x2000
	}
	return w
}

// optionsLen returns the encoded length of the options before padding.
func (h *IPv4) optionsLen() int {
	n := 0
	for _, o := range h.Options {
		n += o.Len()
	}
	return n
}

// headerLen returns the header length the builder will write, padding
// included, and an error when the options do not fit.
func (h *IPv4) headerLen() (int, error) {
	for i, o := range h.Options {
		if c, ok := o.(interface{ check(int) error }); ok {
			if err := c.check(i); err != nil {
				return 0, err
			}
		}
	}
	n := h.optionsLen()
	if n > MaxIPv4OptionsLen {
		limit := "an IPv4 header holds at most 40 option bytes (IHL is 4 bits)"
		for _, o := range h.Options {
			if rr, ok := o.(*RecordRoute); ok && rr.slots() == maxRouteSlots {
				limit += "; record route with 9 slots alone takes 39, so give it fewer slots to combine it with another option"
				break
			}
		}
		return 0, &FieldError{Field: "ip.options", Value: optionSizes(h.Options, n), Limit: limit}
	}
	return IPv4HeaderLen + (n+3)&^3, nil
}

// optionSizes describes the sizes of options for an error message, e.g.
// "79 bytes (rr 39 + ts 40)".
func optionSizes(opts []Option, total int) string {
	s := itoa(total) + " bytes ("
	for i, o := range opts {
		if i > 0 {
			s += " + "
		}
		s += o.Name() + " " + itoa(o.Len())
	}
	return s + ")"
}

// marshal writes the header into b, which must be exactly headerLen bytes,
// for a packet of total bytes carrying protocol proto.
func (h *IPv4) marshal(b []byte, total int, proto uint8) error {
	if h.FragOffset > 0x1fff {
		return fieldErr("ip.frag", h.FragOffset, "the fragment offset is 13 bits: 0–8191 (units of 8 bytes)")
	}
	if h.Src.IsValid() && !h.Src.Unmap().Is4() {
		return fieldErr("ip.src", h.Src, "an IPv4 header needs an IPv4 source address")
	}
	if !h.Dst.IsValid() || !h.Dst.Unmap().Is4() {
		return fieldErr("ip.dst", h.Dst, "an IPv4 header needs an IPv4 destination address")
	}
	if total > 0xffff {
		return fieldErr("ip.len", total, "the IPv4 total length field is 16 bits: at most 65535 bytes")
	}
	hl := len(b)
	b[0] = 0x40 | uint8(hl/4)
	b[1] = h.TOS
	binary.BigEndian.PutUint16(b[2:], uint16(total))
	binary.BigEndian.PutUint16(b[4:], h.ID)
	binary.BigEndian.PutUint16(b[6:], h.flagsFragment())
	b[8] = h.TTL
	b[9] = proto
	b[10], b[11] = 0, 0
	src, dst := as4(h.Src), as4(h.Dst) // unset: 0.0.0.0
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	off := IPv4HeaderLen
	for i, o := range h.Options {
		n, err := o.marshal(b[off:], h, i)
		if err != nil {
			return err
		}
		off += n
	}
	clear(b[off:hl])
	cs := h.Checksum
	if !h.FixedChecksum {
		cs = Checksum(b[:hl])
	}
	binary.BigEndian.PutUint16(b[10:], cs)
	return nil
}

// decodeIPv4 parses an IPv4 header from b. It returns the header length and
// the end of the datagram within b (Total Length, clipped to len(b)), and
// reports truncated when b holds fewer bytes than Total Length says.
func (h *IPv4) decode(b []byte) (hl, end int, truncated bool, err error) {
	if len(b) < IPv4HeaderLen {
		return 0, 0, true, fieldErr("ip", len(b), "an IPv4 header needs 20 bytes")
	}
	if b[0]>>4 != 4 {
		return 0, 0, false, fieldErr("ip.version", b[0]>>4, "expected 4")
	}
	hl = int(b[0]&0x0f) * 4
	if hl < IPv4HeaderLen {
		return 0, 0, false, fieldErr("ip.ihl", hl/4, "IHL must be at least 5 words")
	}
	if hl > len(b) {
		return 0, 0, true, fieldErr("ip.ihl", hl/4, "the header is longer than the %d bytes present", len(b))
	}
	*h = IPv4{
		TOS:       b[1],
		TotalLen:  int(binary.BigEndian.Uint16(b[2:])),
		ID:        binary.BigEndian.Uint16(b[4:]),
		TTL:       b[8],
		Protocol:  b[9],
		Checksum:  binary.BigEndian.Uint16(b[10:]),
		Src:       netip.AddrFrom4([4]byte(b[12:16])),
		Dst:       netip.AddrFrom4([4]byte(b[16:20])),
		HeaderLen: hl,
	}
	ff := binary.BigEndian.Uint16(b[6:])
	h.Evil = ff&0x8000 != 0
	h.DF = ff&0x4000 != 0
	h.MF = ff&0x2000 != 0
	h.FragOffset = ff & 0x1fff
	if hl > IPv4HeaderLen {
		h.Options = decodeOptions(b[IPv4HeaderLen:hl])
	}
	end = h.TotalLen
	if end < hl {
		// A total length shorter than the header is malformed; keep
		// what is there rather than lose the packet.
		end = len(b)
	}
	if end > len(b) {
		end, truncated = len(b), true
	}
	return hl, end, truncated, nil
}
