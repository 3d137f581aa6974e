package fault

import "encoding/binary"

// Ethernet and IP constants used when looking into frames.
const (
	ethHeaderLen  = 14     // destination, source, EtherType (IEEE 802.3)
	etherTypeIPv4 = 0x0800 // RFC 894
	etherTypeIPv6 = 0x86dd // RFC 2464
	ipv4HeaderLen = 20     // RFC 791 §3.1
	ipv6HeaderLen = 40     // RFC 8200 §3

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// view locates the parts of an IP datagram inside an Ethernet frame. All
// positions are indexes into the frame.
type view struct {
	v6 bool
	// ip is where the IP header starts; l4 where the IP header (IPv4
	// options and IPv6 extension headers included) ends.
	ip, l4 int
	// end is where the datagram ends: the IP length fields, clipped to the
	// frame.
	end int
	// proto is the protocol number the IP header carries (for IPv6 the
	// next header after the extension headers).
	proto uint8
	// transport is set when a transport header starts at l4: the datagram
	// is not a fragment other than the first, and proto is ICMP (IPv4),
	// ICMPv6 (IPv6), UDP or TCP.
	transport bool
	// frag is set for any fragment, first or not.
	frag bool
	// pl and pend delimit the transport payload (pend < end for UDP with
	// bytes beyond its length field). Without a transport header pl is l4.
	pl, pend int
	// csum is the position of the transport checksum field, or -1 when
	// there is none in this frame (or it is an unused zero UDP checksum
	// over IPv4, RFC 768). cend is the end of what that checksum covers.
	csum, cend int
	// control marks NDP (RFC 4861 types 133–137) and MLD (RFC 2710,
	// RFC 3810 types 130–132, 143) messages, which rules never touch.
	control bool
}

// parseFrame locates the IP datagram in an Ethernet frame. It reports false
// for frames that are not IPv4 or IPv6 (ARP, VLAN-tagged, LLDP, …) and for
// IP headers too malformed to locate the payload; such frames are forwarded
// untouched. It does not allocate.
func parseFrame(f []byte) (v view, ok bool) {
	if len(f) < ethHeaderLen {
		return v, false
	}
	v.ip = ethHeaderLen
	switch binary.BigEndian.Uint16(f[12:]) {
	case etherTypeIPv4:
		if len(f) < v.ip+ipv4HeaderLen || f[v.ip]>>4 != 4 {
			return v, false
		}
		hl := int(f[v.ip]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(f[v.ip+2:]))
		if hl < ipv4HeaderLen || v.ip+hl > len(f) || total < hl {
			return v, false
		}
		v.l4 = v.ip + hl
		v.end = min(v.ip+total, len(f))
		v.proto = f[v.ip+9]
		ff := binary.BigEndian.Uint16(f[v.ip+6:])
		v.frag = ff&0x3fff != 0 // MF or a fragment offset
		v.transport = ff&0x1fff == 0 && (v.proto == protoICMP || v.proto == protoUDP || v.proto == protoTCP)
	case etherTypeIPv6:
		if len(f) < v.ip+ipv6HeaderLen || f[v.ip]>>4 != 6 {
			return v, false
		}
		v.v6 = true
		v.end = min(v.ip+ipv6HeaderLen+int(binary.BigEndian.Uint16(f[v.ip+4:])), len(f))
		v.l4 = v.ip + ipv6HeaderLen
		v.proto = f[v.ip+6]
		first := true
	ext:
		for {
			switch v.proto {
			case 0, 43, 60, 51: // hop-by-hop, routing, destination options (RFC 8200 §4), AH (RFC 4302)
				if v.l4+2 > v.end {
					return v, false
				}
				n := 8 + 8*int(f[v.l4+1])
				if v.proto == 51 {
					n = 4 * (int(f[v.l4+1]) + 2)
				}
				v.proto = f[v.l4]
				v.l4 += n
			case 44: // fragment (RFC 8200 §4.5)
				if v.l4+8 > v.end {
					return v, false
				}
				v.frag = true
				first = binary.BigEndian.Uint16(f[v.l4+2:])>>3 == 0
				v.proto = f[v.l4]
				v.l4 += 8
			default:
				break ext
			}
			if v.l4 > v.end {
				return v, false
			}
		}
		v.transport = first && (v.proto == protoICMPv6 || v.proto == protoUDP || v.proto == protoTCP)
	default:
		return v, false
	}
	v.pl, v.pend, v.csum, v.cend = v.l4, v.end, -1, v.end
	if !v.transport {
		return v, true
	}
	seg := v.end - v.l4
	switch v.proto {
	case protoICMP, protoICMPv6:
		v.pl = min(v.l4+8, v.end)
		v.csum = v.l4 + 2
		if v.v6 && seg >= 1 {
			switch f[v.l4] {
			case 130, 131, 132, 143, 133, 134, 135, 136, 137:
				v.control = true
			}
		}
	case protoUDP:
		v.pl = min(v.l4+8, v.end)
		v.csum = v.l4 + 6
		if seg >= 8 {
			if n := int(binary.BigEndian.Uint16(f[v.l4+4:])); n >= 8 && n <= seg {
				v.pend, v.cend = v.l4+n, v.l4+n
			}
			if !v.v6 && f[v.l4+6] == 0 && f[v.l4+7] == 0 {
				v.csum = -1 // no checksum (RFC 768)
			}
		}
	case protoTCP:
		v.csum = v.l4 + 16
		v.pl = v.end
		if seg >= 13 {
			if off := int(f[v.l4+12]>>4) * 4; off >= 20 && off <= seg {
				v.pl = v.l4 + off
			}
		}
	}
	if v.csum+2 > v.end {
		v.csum = -1
	}
	return v, true
}

// pseudo reports whether the transport checksum covers a pseudo-header
// with the addresses (UDP, TCP, ICMPv6; not ICMP over IPv4).
func (v *view) pseudo() bool { return v.v6 || v.proto != protoICMP }

// addrs returns the positions of the source and destination addresses,
// which are adjacent: [a, b).
func (v *view) addrs() (a, b int) {
	if v.v6 {
		return v.ip + 8, v.ip + 40
	}
	return v.ip + 12, v.ip + 20
}

// matches reports whether the datagram passes the protocol filter p.
func (v *view) matches(p Proto) bool {
	switch p {
	case ProtoAny:
		return true
	case ProtoICMP:
		return !v.v6 && v.proto == protoICMP
	case ProtoICMPv6:
		return v.v6 && v.proto == protoICMPv6
	case ProtoUDP:
		return v.proto == protoUDP
	case ProtoTCP:
		return v.proto == protoTCP
	}
	return false
}

// region returns the bytes offsets count from under base b: the datagram
// for FromIP, the transport payload for FromPayload, as [start, end).
func (v *view) region(b Base) (int, int) {
	if b == FromIP {
		return v.ip, v.end
	}
	return v.pl, v.pend
}
