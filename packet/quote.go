package packet

import (
	"fmt"

	"golang.org/x/net/icmp"
)

// rfc4884MinOriginal is the least length of the original-datagram field when
// an extension structure follows it (RFC 4884 §4.1, §4.2).
const rfc4884MinOriginal = 128

// decodeQuote decodes the original datagram an ICMP error quotes and, when
// the RFC 4884 length attribute announces one, its extension structure. seg
// is the whole ICMP message. Linux quotes as much of the probe as fits in
// 576 bytes with length 0, so without the attribute everything after the
// header is quote: echolot never guesses an extension from the length alone.
func (p *Packet) decodeQuote(seg []byte, depth int) {
	body := p.Payload
	orig := body
	if l := p.ExtensionLen(); l > 0 {
		switch {
		case l < rfc4884MinOriginal:
			p.ExtensionProblem = fmt.Sprintf("length attribute %d bytes is below RFC 4884's minimum of %d; extension structure ignored", l, rfc4884MinOriginal)
		case l+4 > len(body):
			p.ExtensionProblem = fmt.Sprintf("length attribute %d bytes, but only %d bytes follow the header", l, len(body))
		default:
			orig = body[:l]
			p.decodeExtensions(seg, body[l:])
		}
	}
	q := new(Packet)
	if q.decode(orig, depth+1) == nil {
		// A quote is a prefix of the datagram; its own length
		// fields describe the original, so it is normally truncated.
		p.Quote = q
	}
}

// decodeExtensions validates the extension header (RFC 4884 §7: version 2,
// checksum over the whole structure) and decodes the objects with
// golang.org/x/net/icmp.
func (p *Packet) decodeExtensions(seg, ext []byte) {
	if v := ext[0] >> 4; v != 2 {
		p.ExtensionProblem = fmt.Sprintf("extension header version %d, RFC 4884 defines 2", v)
		return
	}
	if ext[2]|ext[3] != 0 && Checksum(ext) != 0 {
		p.ExtensionProblem = "extension structure checksum does not verify"
		return
	}
	proto := ProtoICMP
	if p.Transport == TransportICMPv6 {
		proto = ProtoICMPv6
	}
	m, err := icmp.ParseMessage(proto, seg)
	if err != nil {
		p.ExtensionProblem = "extension objects: " + err.Error()
		return
	}
	switch b := m.Body.(type) {
	case *icmp.DstUnreach:
		p.Extensions = b.Extensions
	case *icmp.TimeExceeded:
		p.Extensions = b.Extensions
	case *icmp.ParamProb:
		p.Extensions = b.Extensions
	}
}
