package packet

import (
	"encoding/binary"
	"net/netip"
)

// Checksum returns the Internet checksum of b (RFC 1071): the ones' complement
// of the ones' complement sum of its 16-bit big-endian words, an odd final byte
// padded with zero. Writing the result into a checksum field that was zero
// makes the checksum of the whole verify to zero.
func Checksum(b []byte) uint16 {
	return fold(sum(0, b))
}

// ChecksumAdd adds b to the running Internet checksum sum s (RFC 1071):
// start from 0, add every piece the checksum covers (a pseudo-header, a
// header with its checksum field skipped, a payload) and finish with
// ChecksumFold. Pieces must start at even offsets of the covered data.
func ChecksumAdd(s uint64, b []byte) uint64 { return sum(s, b) }

// ChecksumFold finishes a running sum from ChecksumAdd: folds it to 16
// bits and complements it.
func ChecksumFold(s uint64) uint16 { return fold(s) }

// ChecksumUpdate returns checksum cs updated for one 16-bit word of the
// covered data changing from old to new, without summing the data again:
// HC' = ~(~HC + ~m + m') (RFC 1624 §3, eqn. 3). A byte change is a word
// change with the other byte of the word unchanged.
func ChecksumUpdate(cs, old, new uint16) uint16 {
	s := uint32(^cs) + uint32(^old) + uint32(new)
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return ^uint16(s)
}

// sum adds b as big-endian 16-bit words to the running 32-bit sum s, without
// folding. Eight bytes are added per step; the carries are folded at the end.
func sum(s uint64, b []byte) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s += v >> 32
		s += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold reduces a running sum to 16 bits and complements it.
func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = (s & 0xffff) + (s >> 16)
	}
	return ^uint16(s)
}

// pseudoSum is the running sum of the pseudo-header that UDP, TCP (RFC 768,
// RFC 9293 §3.1) and ICMPv6 (RFC 8200 §8.1) include in their checksums.
// With v6 false the addresses are those of an IPv4 header and are summed as
// 4 bytes (IPv4-mapped ones unmapped; invalid ones as 0.0.0.0); with v6 true
// as 16 bytes, whatever they hold.
func pseudoSum(v6 bool, src, dst netip.Addr, proto uint8, length int) uint64 {
	var s uint64
	if !v6 {
		a, b := as4(src), as4(dst)
		s = sum(s, a[:])
		s = sum(s, b[:])
	} else {
		a, b := as16(src), as16(dst)
		s = sum(s, a[:])
		s = sum(s, b[:])
	}
	s += uint64(proto)
	s += uint64(length)
	return s
}

// transportChecksum computes the checksum of a transport segment seg with the
// pseudo-header of src and dst. UDP over IPv4 sends a computed zero as 0xffff
// (RFC 768); the caller applies that rule.
func transportChecksum(v6 bool, src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	return fold(sum(pseudoSum(v6, src, dst, proto, len(seg)), seg))
}

// as4 returns the 4 bytes of an IPv4 (or IPv4-mapped) address, zeros for
// anything else.
func as4(a netip.Addr) [4]byte {
	if a = a.Unmap(); a.Is4() {
		return a.As4()
	}
	return [4]byte{}
}

// as16 returns the 16 bytes of an address, zeros for an invalid one.
func as16(a netip.Addr) [16]byte {
	if a.IsValid() {
		return a.As16()
	}
	return [16]byte{}
}
