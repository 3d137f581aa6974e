package pcapio

import (
	"encoding/binary"

	"github.com/echolot/echolot/packet"
)

// EtherTypes the decapsulation follows.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100 // 802.1Q
	etherQinQ  = 0x88a8 // 802.1ad
	etherQinQ2 = 0x9100 // pre-standard QinQ
)

// Linux cooked-capture packet types (sll_pkttype).
const (
	sllHost     = 0
	sllOutgoing = 4
)

// decodeLink finds the IP datagram in f.Data for f.LinkType, parses it
// into f.IP, and takes the direction from Linux cooked headers when the
// record did not give one.
func decodeLink(f *Frame) {
	f.NetOffset = -1
	off, dir := netOffset(f.LinkType, f.Data)
	if f.Dir == DirUnknown {
		f.Dir = dir
	}
	if off < 0 || off >= len(f.Data) {
		return
	}
	p := new(packet.Packet)
	if p.Decode(f.Data[off:]) != nil {
		return
	}
	f.NetOffset, f.IP = off, p
}

// netOffset returns where the IP header starts in a record of link type
// lt, or -1, and the direction the link-layer header tells.
func netOffset(lt LinkType, b []byte) (int, Direction) {
	switch lt {
	case LinkRaw, LinkRawDLT12, LinkRawDLT14, LinkIPv4, LinkIPv6:
		return ipAt(b, 0), DirUnknown
	case LinkEthernet:
		if len(b) < 14 {
			return -1, DirUnknown
		}
		return etherFollow(b, binary.BigEndian.Uint16(b[12:]), 14), DirUnknown
	case LinkNull, LinkLoop:
		if len(b) < 4 {
			return -1, DirUnknown
		}
		fam := binary.BigEndian.Uint32(b)
		if lt == LinkNull && fam > 0xffff {
			fam = binary.LittleEndian.Uint32(b) // the capturing host's byte order
		}
		switch fam {
		case 2, 10, 24, 28, 30: // AF_INET; AF_INET6 of Linux, NetBSD/OpenBSD, FreeBSD, macOS
			return ipAt(b, 4), DirUnknown
		}
		return -1, DirUnknown
	case LinkLinuxSLL:
		if len(b) < 16 {
			return -1, DirUnknown
		}
		return etherFollow(b, binary.BigEndian.Uint16(b[14:]), 16), sllDir(binary.BigEndian.Uint16(b))
	case LinkLinuxSLL2:
		if len(b) < 20 {
			return -1, DirUnknown
		}
		return etherFollow(b, binary.BigEndian.Uint16(b), 20), sllDir(uint16(b[10]))
	}
	return -1, DirUnknown
}

// sllDir maps a Linux packet type to a direction.
func sllDir(t uint16) Direction {
	if t == sllOutgoing {
		return DirOut
	}
	if t <= 3 {
		return DirIn // to us, broadcast, multicast, to another host
	}
	return DirUnknown
}

// etherFollow follows EtherType t whose payload starts at b[p:],
// through VLAN tags and an LLC/SNAP header, and returns the offset of an IP
// header or -1.
func etherFollow(b []byte, t uint16, p int) int {
	for i := 0; i < 8; i++ { // at most 8 stacked tags
		switch {
		case t == etherIPv4 || t == etherIPv6:
			return ipAt(b, p)
		case t == etherVLAN || t == etherQinQ || t == etherQinQ2:
			if len(b) < p+4 {
				return -1
			}
			t, p = binary.BigEndian.Uint16(b[p+2:]), p+4 // TCI, then the next EtherType
		case t <= 1500:
			// An 802.3 length: LLC follows. SNAP (AA AA 03, OUI 00 00 00)
			// carries an EtherType.
			if len(b) >= p+8 && b[p] == 0xaa && b[p+1] == 0xaa && b[p+2] == 0x03 && b[p+3] == 0 && b[p+4] == 0 && b[p+5] == 0 {
				t, p = binary.BigEndian.Uint16(b[p+6:]), p+8
				continue
			}
			return -1
		default:
			return -1
		}
	}
	return -1
}

// ipAt returns off if b[off:] starts like an IPv4 or IPv6 header, else -1.
func ipAt(b []byte, off int) int {
	if off < len(b) && (b[off]>>4 == 4 || b[off]>>4 == 6) {
		return off
	}
	return -1
}
