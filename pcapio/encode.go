package pcapio

import (
	"encoding/binary"
	"time"
	"unicode/utf8"
)

// byteOrder is what the encoder needs of a byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// encoder appends whole pcap and pcapng structures to a byte slice. Every
// block is built completely in memory, so the writer only ever hands whole
// blocks to the operating system.
type encoder struct {
	order   byteOrder
	format  Format
	tsresol uint8 // pcapng if_tsresol written in IDBs; 9 (nanoseconds) unless a test sets another
}

func (e *encoder) u16(b []byte, v uint16) []byte { return e.order.AppendUint16(b, v) }
func (e *encoder) u32(b []byte, v uint32) []byte { return e.order.AppendUint32(b, v) }
func (e *encoder) u64(b []byte, v uint64) []byte { return e.order.AppendUint64(b, v) }

// pad4 pads b with zeros after n bytes of a field to the next multiple of
// four.
func pad4(b []byte, n int) []byte {
	for ; n%4 != 0; n++ {
		b = append(b, 0)
	}
	return b
}

// maxOptLen is the most an option value can hold: its length is 16 bits.
const maxOptLen = 0xffff

// optText appends a text option (a comment, a name). Text longer than an
// option can hold is cut at a UTF-8 boundary; invalid UTF-8 is replaced,
// since pcapng strings are UTF-8 and readers may refuse others.
func (e *encoder) optText(b []byte, code uint16, s string) []byte {
	start := len(b)
	b = e.u16(b, code)
	b = e.u16(b, 0)
	if utf8.ValidString(s) {
		b = append(b, s...)
	} else {
		for _, r := range s { // invalid bytes come back as U+FFFD
			b = utf8.AppendRune(b, r)
		}
	}
	return e.endOpt(b, start)
}

// endOpt fills in the length of the option that starts at start, whose
// value runs to the end of b, cutting it to maxOptLen at a UTF-8 boundary,
// and pads it.
func (e *encoder) endOpt(b []byte, start int) []byte {
	v := b[start+4:]
	if len(v) > maxOptLen {
		n := maxOptLen
		for n > 0 && !utf8.RuneStart(v[n]) {
			n--
		}
		b = b[:start+4+n]
		v = v[:n]
	}
	e.order.PutUint16(b[start+2:], uint16(len(v)))
	return pad4(b, len(v))
}

// endBlock fills in the total length of the block that starts at start and
// appends the trailing copy of it.
func (e *encoder) endBlock(b []byte, start int) []byte {
	total := uint32(len(b) - start + 4)
	e.order.PutUint32(b[start+4:], total)
	return e.u32(b, total)
}

// SectionInfo describes the capture as a whole, in the pcapng section
// header. Classic pcap files have no room for it.
type SectionInfo struct {
	// Application is written as shb_userappl; empty means "echolot".
	Application string
	// OS is written as shb_os, Hardware as shb_hardware, when not empty.
	OS, Hardware string
	// Comment is written as the section comment when not empty.
	Comment string
}

// appendHeader appends the file header: the pcapng section header block,
// or the classic pcap file header (which takes its link type and snapshot
// length from the first interface).
func (e *encoder) appendHeader(b []byte, s SectionInfo, ifs []Interface) []byte {
	if e.format == FormatPcap {
		snap := maxSnapLen
		lt := LinkRaw
		if len(ifs) > 0 {
			lt = ifs[0].linkType()
			if ifs[0].SnapLen > 0 {
				snap = ifs[0].SnapLen
			}
		}
		b = e.u32(b, pcapMagicNanos)
		b = e.u16(b, 2)
		b = e.u16(b, 4)
		b = e.u32(b, 0) // thiszone
		b = e.u32(b, 0) // sigfigs
		b = e.u32(b, uint32(snap))
		return e.u32(b, uint32(lt))
	}
	start := len(b)
	b = e.u32(b, blockSHB)
	b = e.u32(b, 0)
	b = e.u32(b, byteOrderMagic)
	b = e.u16(b, 1)
	b = e.u16(b, 0)
	b = e.u64(b, ^uint64(0)) // section length not given: the file is written as a stream
	if s.Comment != "" {
		b = e.optText(b, optComment, s.Comment)
	}
	if s.Hardware != "" {
		b = e.optText(b, shbHardware, s.Hardware)
	}
	if s.OS != "" {
		b = e.optText(b, shbOS, s.OS)
	}
	app := s.Application
	if app == "" {
		app = "echolot"
	}
	b = e.optText(b, shbUserAppl, app)
	b = e.u32(b, optEndOfOpt)
	return e.endBlock(b, start)
}

// appendIDB appends a pcapng interface description block.
func (e *encoder) appendIDB(b []byte, ifc Interface) []byte {
	start := len(b)
	b = e.u32(b, blockIDB)
	b = e.u32(b, 0)
	b = e.u16(b, uint16(ifc.linkType()))
	b = e.u16(b, 0)
	b = e.u32(b, uint32(max(ifc.SnapLen, 0)))
	if ifc.Name != "" {
		b = e.optText(b, ifName, ifc.Name)
	}
	if ifc.Description != "" {
		b = e.optText(b, ifDescription, ifc.Description)
	}
	b = e.u16(b, ifTSResol)
	b = e.u16(b, 1)
	b = append(b, e.tsresol, 0, 0, 0)
	b = e.u32(b, optEndOfOpt)
	return e.endBlock(b, start)
}

// units converts t to the timestamp units of the IDBs this encoder writes.
func (e *encoder) units(t time.Time) uint64 {
	ns := t.UnixNano()
	if ns < 0 || t.Year() > 2262 {
		ns = 0
	}
	switch r := e.tsresol; {
	case r == 9:
		return uint64(ns)
	case r < 9:
		return uint64(ns) / pow10[9-r]
	case r&0x80 != 0: // 2^-n, test files only
		n := r & 0x7f
		sec, frac := uint64(ns)/1e9, uint64(ns)%1e9
		return sec<<n | frac<<n/1e9
	default:
		return uint64(ns) * pow10[r-9]
	}
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// appendRecord appends one packet: an enhanced packet block with its
// options, or a classic pcap record header and data. comments are written
// first, then the linkage comment.
func (e *encoder) appendRecord(b []byte, r *Record, snap int, comments []string, link *Link) []byte {
	data := r.Data
	orig := max(r.Len, len(data))
	if snap > 0 && len(data) > snap {
		data = data[:snap]
	}
	if e.format == FormatPcap {
		ns := r.Time.UnixNano()
		if ns < 0 || r.Time.Year() > 2106 {
			ns = 0
		}
		b = e.u32(b, uint32(ns/1e9))
		b = e.u32(b, uint32(ns%1e9))
		b = e.u32(b, uint32(len(data)))
		b = e.u32(b, uint32(orig))
		return append(b, data...)
	}
	start := len(b)
	ts := e.units(r.Time)
	b = e.u32(b, blockEPB)
	b = e.u32(b, 0)
	b = e.u32(b, uint32(r.Iface))
	b = e.u32(b, uint32(ts>>32))
	b = e.u32(b, uint32(ts))
	b = e.u32(b, uint32(len(data)))
	b = e.u32(b, uint32(orig))
	b = append(b, data...)
	b = pad4(b, len(data))
	opts := false
	for _, c := range comments {
		b = e.optText(b, optComment, c)
		opts = true
	}
	if link != nil && link.Kind != NoLink {
		o := len(b)
		b = e.u16(b, optComment)
		b = e.u16(b, 0)
		b = link.AppendComment(b)
		if !utf8.Valid(b[o+4:]) {
			s := string(b[o+4:])
			b = e.optText(b[:o], optComment, s)
		} else {
			b = e.endOpt(b, o)
		}
		opts = true
	}
	if r.Dir == DirIn || r.Dir == DirOut {
		b = e.u16(b, epbFlags)
		b = e.u16(b, 4)
		b = e.u32(b, uint32(r.Dir))
		opts = true
	}
	if r.ID != 0 {
		b = e.u16(b, epbPacketID)
		b = e.u16(b, 8)
		b = e.u64(b, r.ID)
		opts = true
	}
	if opts {
		b = e.u32(b, optEndOfOpt)
	}
	return e.endBlock(b, start)
}

// appendDropStats appends an interface statistics block saying how many
// records for interface iface the writer dropped: isb_ifdrop (the count
// Wireshark shows as the interface's dropped packets; here the "interface"
// is echolot's capture tap), with a comment saying why.
func (e *encoder) appendDropStats(b []byte, iface int, dropped uint64, comment string, t time.Time) []byte {
	start := len(b)
	ts := e.units(t)
	b = e.u32(b, blockISB)
	b = e.u32(b, 0)
	b = e.u32(b, uint32(iface))
	b = e.u32(b, uint32(ts>>32))
	b = e.u32(b, uint32(ts))
	b = e.optText(b, optComment, comment)
	b = e.u16(b, isbIfDrop)
	b = e.u16(b, 8)
	b = e.u64(b, dropped)
	b = e.u32(b, optEndOfOpt)
	return e.endBlock(b, start)
}
