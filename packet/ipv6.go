package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv6HeaderLen is the length of the fixed IPv6 header (RFC 8200 §3).
const IPv6HeaderLen = 40

// IPv6 is an IPv6 header (RFC 8200 §3). Payload Length is always computed by
// the builder and Next Header unless set. Extension headers are not built;
// when parsing, the ones in front of the transport are skipped and listed in
// Extensions.
type IPv6 struct {
	// TrafficClass is the traffic class octet: DSCP in the upper six bits,
	// ECN in the lower two (RFC 8200 §7, RFC 2474, RFC 3168).
	TrafficClass uint8
	// FlowLabel is the 20-bit flow label (RFC 8200 §6, RFC 6437).
	FlowLabel uint32
	// NextHeader is the protocol of what follows. Zero means computed from
	// the transport layer when building (58 ICMPv6, 6 TCP, 17 UDP).
	NextHeader uint8
	// HopLimit is the hop limit, IPv6's TTL.
	HopLimit uint8
	// Src and Dst are the source and destination addresses.
	Src, Dst netip.Addr

	// PayloadLen is the Payload Length field as parsed; the builder ignores
	// it.
	PayloadLen int
	// Extensions lists the extension headers skipped when parsing, as
	// next-header numbers in order (0 hop-by-hop, 43 routing, 44 fragment,
	// 60 destination options).
	Extensions []uint8
	// Upper is the protocol found after the extension headers when
	// parsing (44 when the packet is a fragment other than the first, which
	// holds no upper-layer header). The builder ignores it.
	Upper uint8
}

// DSCP returns the upper six bits of the traffic class.
func (h *IPv6) DSCP() uint8 { return h.TrafficClass >> 2 }

// ECN returns the lower two bits of the traffic class.
func (h *IPv6) ECN() uint8 { return h.TrafficClass & 3 }

func (h *IPv6) marshal(b []byte, payloadLen int, next uint8) error {
	if h.FlowLabel > 0xfffff {
		return fieldErr("ip6.flow", h.FlowLabel, "the flow label is 20 bits: 0–0xfffff")
	}
	if !h.Src.Is6() || h.Src.Is4In6() {
		return fieldErr("ip6.src", h.Src, "an IPv6 header needs an IPv6 source address (the checksums of ICMPv6, UDP and TCP cover it)")
	}
	if !h.Dst.Is6() || h.Dst.Is4In6() {
		return fieldErr("ip6.dst", h.Dst, "an IPv6 header needs an IPv6 destination address")
	}
	if payloadLen > 0xffff {
		return fieldErr("ip6.plen", payloadLen, "the payload length field is 16 bits: at most 65535 bytes (jumbograms are not built)")
	}
	binary.BigEndian.PutUint32(b, 6<<28|uint32(h.TrafficClass)<<20|h.FlowLabel)
	binary.BigEndian.PutUint16(b[4:], uint16(payloadLen))
	b[6] = next
	b[7] = h.HopLimit
	s, d := h.Src.As16(), h.Dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return nil
}

// decode parses an IPv6 header and skips extension headers. It returns the
// offset of the upper-layer header, the upper-layer protocol, the end of the
// packet within b, and whether b was shorter than Payload Length says.
func (h *IPv6) decode(b []byte) (off int, proto uint8, end int, truncated bool, err error) {
	if len(b) < IPv6HeaderLen {
		return 0, 0, 0, true, fieldErr("ip6", len(b), "an IPv6 header needs 40 bytes")
	}
	w := binary.BigEndian.Uint32(b)
	if w>>28 != 6 {
		return 0, 0, 0, false, fieldErr("ip6.version", w>>28, "expected 6")
	}
	*h = IPv6{
		TrafficClass: uint8(w >> 20),
		FlowLabel:    w & 0xfffff,
		PayloadLen:   int(binary.BigEndian.Uint16(b[4:])),
		NextHeader:   b[6],
		HopLimit:     b[7],
		Src:          netip.AddrFrom16([16]byte(b[8:24])),
		Dst:          netip.AddrFrom16([16]byte(b[24:40])),
	}
	end = IPv6HeaderLen + h.PayloadLen
	if end > len(b) {
		end, truncated = len(b), true
	}
	off, proto = IPv6HeaderLen, h.NextHeader
	for {
		switch proto {
		case 0, 43, 60: // hop-by-hop, routing, destination options (RFC 8200 §4)
			if off+2 > end {
				h.Upper = proto
				return off, proto, end, truncated, nil
			}
			n := 8 + 8*int(b[off+1])
			h.Extensions = append(h.Extensions, proto)
			proto = b[off]
			off += n
		case 44: // fragment (RFC 8200 §4.5)
			if off+8 > end {
				h.Upper = proto
				return off, proto, end, truncated, nil
			}
			h.Extensions = append(h.Extensions, proto)
			next := b[off]
			fragOff := binary.BigEndian.Uint16(b[off+2:]) >> 3
			off += 8
			if fragOff != 0 {
				// Not the first fragment: no upper-layer header here.
				h.Upper = 44
				return off, 44, end, truncated, nil
			}
			proto = next
		default:
			h.Upper = proto
			return off, proto, end, truncated, nil
		}
		if off > end {
			h.Upper = proto
			return end, proto, end, true, nil
		}
	}
}
