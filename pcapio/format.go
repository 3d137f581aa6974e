package pcapio

import "strconv"

// Format is a capture file format.
type Format uint8

// Formats.
const (
	// FormatAuto lets Create choose: classic pcap when the file name ends
	// in ".pcap", pcapng otherwise. NewWriter takes it as FormatPcapng.
	FormatAuto Format = iota
	// FormatPcapng is pcapng (draft-ietf-opsawg-pcapng): several
	// interfaces with their own link types, names and descriptions,
	// nanosecond timestamps, and per-packet comments, direction flags and
	// packet ids.
	FormatPcapng
	// FormatPcap is classic libpcap format with nanosecond timestamps
	// (magic 0xa1b23c4d): one link type for the whole file, and no room
	// for comments, directions or packet ids, which the writer leaves out.
	FormatPcap
)

// String returns "auto", "pcapng" or "pcap".
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatPcapng:
		return "pcapng"
	case FormatPcap:
		return "pcap"
	}
	return "format-" + strconv.Itoa(int(f))
}

// LinkType is a LINKTYPE_ value from the tcpdump.org link-layer header
// types registry: what a captured record starts with.
type LinkType uint16

// Link types the writer writes and the reader understands. The reader finds
// the IP header behind each of them; records of other link types are read
// with Frame.IP nil.
const (
	// LinkNull is BSD loopback: a 4-byte address family in the byte order
	// of the capturing host.
	LinkNull LinkType = 0
	// LinkEthernet is Ethernet II (also 802.3 with LLC/SNAP), with any
	// number of 802.1Q / 802.1ad VLAN tags.
	LinkEthernet LinkType = 1
	// LinkRawDLT12 is DLT_RAW as most systems number it (12). Files
	// written with the DLT value instead of LINKTYPE_RAW exist; the reader
	// takes it as raw IP.
	LinkRawDLT12 LinkType = 12
	// LinkRawDLT14 is DLT_RAW as OpenBSD numbers it (14); read as raw IP.
	LinkRawDLT14 LinkType = 14
	// LinkRaw is LINKTYPE_RAW (101): each record is an IPv4 or IPv6
	// datagram, the version nibble telling which. It is what echolot writes
	// for packets from its sockets, so both families share one file.
	LinkRaw LinkType = 101
	// LinkLoop is OpenBSD loopback: a 4-byte address family in network
	// byte order.
	LinkLoop LinkType = 108
	// LinkLinuxSLL is Linux cooked capture v1 (tcpdump -i any before
	// libpcap 1.10): a 16-byte header with the packet type (which says
	// whether the host sent the packet) and the protocol.
	LinkLinuxSLL LinkType = 113
	// LinkIPv4 is LINKTYPE_IPV4 (228): raw IPv4 only.
	LinkIPv4 LinkType = 228
	// LinkIPv6 is LINKTYPE_IPV6 (229): raw IPv6 only.
	LinkIPv6 LinkType = 229
	// LinkLinuxSLL2 is Linux cooked capture v2 (tcpdump -i any since
	// libpcap 1.10): a 20-byte header adding the interface index.
	LinkLinuxSLL2 LinkType = 276
)

// String returns the link type's name as tcpdump.org spells it without the
// LINKTYPE_ prefix ("ETHERNET", "RAW", "LINUX_SLL2", ...) or "linktype-N".
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "ETHERNET"
	case LinkRawDLT12:
		return "RAW(12)"
	case LinkRawDLT14:
		return "RAW(14)"
	case LinkRaw:
		return "RAW"
	case LinkLoop:
		return "LOOP"
	case LinkLinuxSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkLinuxSLL2:
		return "LINUX_SLL2"
	}
	return "linktype-" + strconv.Itoa(int(l))
}

// Direction says whether a packet was sent or received by the host that
// captured it.
type Direction uint8

// Directions. They are the values of the direction bits of the pcapng
// epb_flags option (draft-ietf-opsawg-pcapng §4.3.1).
const (
	// DirUnknown: the capture does not say (classic pcap, Ethernet
	// captures by tcpdump).
	DirUnknown Direction = 0
	// DirIn: received (inbound).
	DirIn Direction = 1
	// DirOut: sent (outbound).
	DirOut Direction = 2
)

// String returns "unknown", "in" or "out".
func (d Direction) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	case DirUnknown:
		return "unknown"
	}
	return "direction-" + strconv.Itoa(int(d))
}

// pcapng block types (draft-ietf-opsawg-pcapng §4, §10.1).
const (
	blockSHB = 0x0A0D0D0A // section header
	blockIDB = 0x00000001 // interface description
	blockPB  = 0x00000002 // packet (obsolete)
	blockSPB = 0x00000003 // simple packet
	blockNRB = 0x00000004 // name resolution
	blockISB = 0x00000005 // interface statistics
	blockEPB = 0x00000006 // enhanced packet
)

// byteOrderMagic is the SHB byte-order magic.
const byteOrderMagic = 0x1A2B3C4D

// pcapng option codes.
const (
	optEndOfOpt   = 0
	optComment    = 1
	shbHardware   = 2
	shbOS         = 3
	shbUserAppl   = 4
	ifName        = 2
	ifDescription = 3
	ifTSResol     = 9
	ifTSOffset    = 14
	epbFlags      = 2
	epbPacketID   = 5
	isbIfDrop     = 4
	isbStartTime  = 2
	isbEndTime    = 3
)

// Classic pcap magics (as read in the file's own byte order).
const (
	pcapMagicMicros = 0xa1b2c3d4
	pcapMagicNanos  = 0xa1b23c4d
)

// maxSnapLen is the snapshot length written into classic pcap headers when
// none was asked for: libpcap's MAXIMUM_SNAPLEN.
const maxSnapLen = 262144
