package packet

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// TCPHeaderLen is the length of a TCP header without options (RFC 9293 §3.1).
const TCPHeaderLen = 20

// MaxTCPOptionsLen is the most option bytes a TCP header holds: Data Offset
// is 4 bits, at most 15 words of which 5 are the fixed header.
const MaxTCPOptionsLen = 40

// TCPFlags holds the TCP control bits (RFC 9293 §3.1) and the AE bit
// (RFC 3540's NS, now Accurate ECN, bit 8).
type TCPFlags uint16

// TCP control bits.
const (
	TCPFin TCPFlags = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
	TCPEce
	TCPCwr
	TCPAe
)

var tcpFlagNames = [...]string{"F", "S", "R", "P", "A", "U", "E", "C", "AE"}

// String spells the flags as tcpdump does: "S", "SA", "RA", "FPA"; "." for
// none.
func (f TCPFlags) String() string {
	if f == 0 {
		return "."
	}
	var s strings.Builder
	for i, n := range tcpFlagNames {
		if f&(1<<i) != 0 {
			s.WriteString(n)
		}
	}
	return s.String()
}

// ParseTCPFlags reads flags spelled as String writes them, in any order
// ("S", "SA", "AS", "FPU", "."), also in lower case.
func ParseTCPFlags(s string) (TCPFlags, error) {
	var f TCPFlags
	if s == "." || s == "" {
		return 0, nil
	}
	u := strings.ToUpper(s)
	for i := 0; i < len(u); i++ {
		if strings.HasPrefix(u[i:], "AE") {
			f |= TCPAe
			i++
			continue
		}
		switch u[i] {
		case 'F':
			f |= TCPFin
		case 'S':
			f |= TCPSyn
		case 'R':
			f |= TCPRst
		case 'P':
			f |= TCPPsh
		case 'A':
			f |= TCPAck
		case 'U':
			f |= TCPUrg
		case 'E':
			f |= TCPEce
		case 'C':
			f |= TCPCwr
		default:
			return 0, fieldErr("tcp.flags", s, "flags are letters of FSRPAUEC (and AE), e.g. \"S\" or \"SA\"; %q is not one", u[i])
		}
	}
	return f, nil
}

// TCP option kinds (RFC 9293 §3.2, RFC 7323, RFC 2018).
const (
	TCPOptEOL           = 0
	TCPOptNOP           = 1
	TCPOptMSS           = 2
	TCPOptWindowScale   = 3
	TCPOptSACKPermitted = 4
	TCPOptSACK          = 5
	TCPOptTimestamps    = 8
)

// TCPOption is one TCP option: its kind and the bytes after the kind and
// length octets. EOL and NOP are single bytes and have no data. Use the
// constructors MSS, WindowScale, SACKPermitted, Timestamps and SACK for the
// common ones.
type TCPOption struct {
	Kind uint8
	Data []byte
}

// Len returns the encoded length: 1 for EOL and NOP, 2 + len(Data)
// otherwise.
func (o TCPOption) Len() int {
	if o.Kind == TCPOptEOL || o.Kind == TCPOptNOP {
		return 1
	}
	return 2 + len(o.Data)
}

// String describes the option as tcpdump does: "mss 1460", "wscale 7",
// "sackOK", "TS val 1 ecr 0", "nop", "eol", "sack 1 {a:b}", "opt-N 0x…".
func (o TCPOption) String() string {
	switch o.Kind {
	case TCPOptEOL:
		return "eol"
	case TCPOptNOP:
		return "nop"
	case TCPOptMSS:
		if len(o.Data) == 2 {
			return "mss " + itoa(int(binary.BigEndian.Uint16(o.Data)))
		}
	case TCPOptWindowScale:
		if len(o.Data) == 1 {
			return "wscale " + itoa(int(o.Data[0]))
		}
	case TCPOptSACKPermitted:
		if len(o.Data) == 0 {
			return "sackOK"
		}
	case TCPOptTimestamps:
		if len(o.Data) == 8 {
			return "TS val " + utoa(binary.BigEndian.Uint32(o.Data)) + " ecr " + utoa(binary.BigEndian.Uint32(o.Data[4:]))
		}
	case TCPOptSACK:
		if len(o.Data)%8 == 0 {
			s := "sack " + itoa(len(o.Data)/8)
			for i := 0; i+8 <= len(o.Data); i += 8 {
				s += " {" + utoa(binary.BigEndian.Uint32(o.Data[i:])) + ":" + utoa(binary.BigEndian.Uint32(o.Data[i+4:])) + "}"
			}
			return s
		}
	}
	return "opt-" + itoa(int(o.Kind)) + " 0x" + hex.EncodeToString(o.Data)
}

// MSS returns the Maximum Segment Size option (kind 2, RFC 9293 §3.2).
func MSS(v uint16) TCPOption {
	return TCPOption{Kind: TCPOptMSS, Data: binary.BigEndian.AppendUint16(nil, v)}
}

// WindowScale returns the Window Scale option (kind 3, RFC 7323 §2.2).
func WindowScale(shift uint8) TCPOption {
	return TCPOption{Kind: TCPOptWindowScale, Data: []byte{shift}}
}

// SACKPermitted returns the SACK-Permitted option (kind 4, RFC 2018 §2).
func SACKPermitted() TCPOption { return TCPOption{Kind: TCPOptSACKPermitted} }

// Timestamps returns the Timestamps option (kind 8, RFC 7323 §3.2).
func Timestamps(val, echo uint32) TCPOption {
	d := binary.BigEndian.AppendUint32(make([]byte, 0, 8), val)
	return TCPOption{Kind: TCPOptTimestamps, Data: binary.BigEndian.AppendUint32(d, echo)}
}

// SACK returns a SACK option (kind 5, RFC 2018 §3) with blocks given as
// left, right edge pairs.
func SACK(edges ...uint32) TCPOption {
	d := make([]byte, 0, 4*len(edges))
	for _, e := range edges {
		d = binary.BigEndian.AppendUint32(d, e)
	}
	return TCPOption{Kind: TCPOptSACK, Data: d}
}

// TCP is a TCP header (RFC 9293 §3.1). Data Offset is computed by the
// builder; the checksum, over the pseudo-header too, is computed unless
// FixedChecksum is set.
type TCP struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            TCPFlags
	// Reserved holds the three reserved bits between Data Offset and the
	// AE bit (RFC 9293 §3.1); they must be zero on the wire.
	Reserved      uint8
	Window        uint16
	Checksum      uint16
	FixedChecksum bool
	Urgent        uint16
	// Options are written in order and padded with zero (EOL) bytes to a
	// multiple of four; at most 40 bytes.
	Options []TCPOption
	// DataOffset is the header length in bytes as parsed; the builder
	// ignores it.
	DataOffset int
	// OptionsMalformed is set by the parser when an option's length octet
	// was impossible; the last option then holds the raw remainder.
	OptionsMalformed bool
}

func (t *TCP) headerLen() (int, error) {
	n := 0
	for _, o := range t.Options {
		n += o.Len()
	}
	if n > MaxTCPOptionsLen {
		return 0, fieldErr("tcp.options", n, "a TCP header holds at most 40 option bytes (Data Offset is 4 bits)")
	}
	for i, o := range t.Options {
		if o.Len() > 255 {
			return 0, fieldErr("tcp.options["+itoa(i+1)+"]", o.Len(), "an option's length octet holds at most 255")
		}
	}
	return TCPHeaderLen + (n+3)&^3, nil
}

// marshal writes the header, without checksum, into b (headerLen bytes).
func (t *TCP) marshal(b []byte) {
	binary.BigEndian.PutUint16(b, t.SrcPort)
	binary.BigEndian.PutUint16(b[2:], t.DstPort)
	binary.BigEndian.PutUint32(b[4:], t.Seq)
	binary.BigEndian.PutUint32(b[8:], t.Ack)
	binary.BigEndian.PutUint16(b[12:], uint16(len(b)/4)<<12|uint16(t.Reserved&7)<<9|uint16(t.Flags&0x1ff))
	binary.BigEndian.PutUint16(b[14:], t.Window)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:], t.Urgent)
	off := TCPHeaderLen
	for _, o := range t.Options {
		b[off] = o.Kind
		if o.Kind == TCPOptEOL || o.Kind == TCPOptNOP {
			off++
			continue
		}
		b[off+1] = uint8(2 + len(o.Data))
		copy(b[off+2:], o.Data)
		off += 2 + len(o.Data)
	}
	clear(b[off:])
}

// decodeTCPOptions parses TCP options; it never fails. Zero padding after
// an EOL is not returned. A tail whose length octet is impossible is
// returned as one option of its kind holding the bytes after the kind octet,
// and malformed is true.
func decodeTCPOptions(b []byte) (opts []TCPOption, malformed bool) {
	for len(b) > 0 {
		k := b[0]
		if k == TCPOptEOL {
			if allZero(b) {
				return opts, false
			}
			opts = append(opts, TCPOption{Kind: k})
			b = b[1:]
			continue
		}
		if k == TCPOptNOP {
			opts = append(opts, TCPOption{Kind: k})
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			return append(opts, TCPOption{Kind: k, Data: b[1:]}), true
		}
		n := int(b[1])
		o := TCPOption{Kind: k}
		if n > 2 {
			o.Data = b[2:n]
		}
		opts = append(opts, o)
		b = b[n:]
	}
	return opts, false
}

func utoa(v uint32) string { return itoa(int(v)) }
