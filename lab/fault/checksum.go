package fault

import (
	"encoding/binary"

	"github.com/echolot/echolot/packet"
)

// The running sum, fold and RFC 1624 update are packet's (ChecksumAdd,
// ChecksumFold, ChecksumUpdate), called directly so that they inline on
// the per-frame path; these helpers apply them to frame bytes in place.

// ipv4HeaderChecksum computes the IPv4 header checksum of the header at
// f[ip:ip+hl] with its checksum field taken as zero (RFC 791 §3.1).
func ipv4HeaderChecksum(f []byte, ip, hl int) uint16 {
	s := packet.ChecksumAdd(0, f[ip:ip+10])
	return packet.ChecksumFold(packet.ChecksumAdd(s, f[ip+12:ip+hl]))
}

// transportChecksum computes the checksum of the transport segment
// f[v.l4:v.cend] with its checksum field taken as zero, over the
// pseudo-header of RFC 768, RFC 9293 §3.1 and RFC 8200 §8.1 (ICMP over
// IPv4 has none, RFC 792).
func transportChecksum(f []byte, v *view) uint16 {
	var s uint64
	if v.pseudo() {
		a, b := v.addrs()
		s = packet.ChecksumAdd(s, f[a:b])
		s += uint64(v.proto) + uint64(v.cend-v.l4)
	}
	s = packet.ChecksumAdd(s, f[v.l4:v.csum])
	return packet.ChecksumFold(packet.ChecksumAdd(s, f[v.csum+2:v.cend]))
}

// putTransportChecksum writes cs into the transport checksum field,
// writing a UDP checksum of zero as all ones (RFC 768; RFC 8200 §8.1).
func putTransportChecksum(f []byte, v *view, cs uint16) {
	if cs == 0 && v.proto == protoUDP {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(f[v.csum:], cs)
}
