package pcapio

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"time"

	"github.com/echolot/echolot/packet"
)

// ErrTruncated is wrapped by the FormatError for a file that ends inside a
// header, block or record: typically a capture cut short when its writer
// was killed.
var ErrTruncated = errors.New("pcapio: the file ends inside a header, block or record (truncated)")

// FormatError reports a damaged capture file: where the damaged structure
// starts and what is wrong with it. The reader stops there; the records
// before it have been returned.
type FormatError struct {
	// Offset is the byte offset in the file (after gzip decompression,
	// for a gzipped file) where the damaged structure starts.
	Offset int64
	// What names the structure: "file header", "section header block",
	// "enhanced packet block", "pcap record", ...
	What string
	// Problem says what is wrong, with the values found.
	Problem string
	// Err is ErrTruncated when the file ends inside the structure, or the
	// underlying read error; nil otherwise.
	Err error
}

// Error returns "pcapio: offset N: WHAT: PROBLEM".
func (e *FormatError) Error() string {
	s := fmt.Sprintf("pcapio: offset %d: %s: %s", e.Offset, e.What, e.Problem)
	if e.Err != nil && e.Err != ErrTruncated {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (e *FormatError) Unwrap() error { return e.Err }

// InterfaceInfo describes one capture interface of a file read.
type InterfaceInfo struct {
	// Name and Description are the pcapng if_name and if_description;
	// empty for classic pcap.
	Name, Description string
	// LinkType is what the interface's records start with.
	LinkType LinkType
	// SnapLen is the snapshot length; zero means none was given.
	SnapLen int
	// Section is the pcapng section (0, 1, ...) the interface belongs to.
	Section int
	// Resolution is the timestamp resolution: time.Nanosecond,
	// time.Microsecond, ... (for a binary if_tsresol, the nearest
	// nanosecond value, at least 1ns).
	Resolution time.Duration

	tsDiv     uint64 // units per second for decimal resolutions
	tsBinary  uint8  // n for a 2^-n resolution; 0 for decimal
	tsDecimal uint8  // n for a 10^-n resolution
	tsOffsetS int64  // if_tsoffset, seconds
}

// Frame is one packet read from a capture file or sniffed live.
type Frame struct {
	// Number is the frame's 1-based position, as Wireshark numbers frames.
	Number int
	// Offset is the file offset of the frame's record (block); -1 for
	// frames sniffed live.
	Offset int64
	// Time is the capture timestamp.
	Time time.Time
	// Iface indexes Reader.Interfaces (0 for classic pcap and sniffing).
	Iface int
	// LinkType is what Data starts with.
	LinkType LinkType
	// Data holds the captured bytes, link-layer header included.
	Data []byte
	// Len is the packet's length on the wire (at least len(Data)).
	Len int
	// Dir is the packet's direction: from pcapng epb_flags, from the
	// packet type of Linux cooked captures, from the source MAC address
	// when sniffing; DirUnknown otherwise (see InferDirection).
	Dir Direction
	// ID is the pcapng epb_packetid, 0 when absent.
	ID uint64
	// Comments are the pcapng opt_comment options, in file order.
	Comments []string
	// NetOffset is where the IP header starts in Data; -1 when the frame
	// carries no IP datagram (ARP, an unknown link type).
	NetOffset int
	// IP is the parsed IP datagram (packet.Decode), aliasing Data; nil
	// when there is none or it could not be parsed.
	IP *packet.Packet
}

// Record returns the frame as a record for a Writer with the frame's link
// type.
func (f *Frame) Record() Record {
	return Record{Time: f.Time, Data: f.Data, Len: f.Len, Dir: f.Dir, ID: f.ID, Iface: f.Iface, Comments: f.Comments}
}

// Reader reads pcap and pcapng files: both byte orders, microsecond and
// nanosecond classic pcap, any pcapng if_tsresol and if_tsoffset, several
// sections and interfaces with different link types, gzip-compressed files.
// Enhanced, simple and obsolete packet blocks are read; other blocks are
// skipped.
type Reader struct {
	r      *bufio.Reader
	off    int64
	format Format
	order  binary.ByteOrder
	err    error
	frames int
	buf    bytes.Buffer

	// classic pcap
	nanos bool
	link  LinkType
	snap  int

	// pcapng
	ifs      []InterfaceInfo
	section  int
	ifBase   int // index in ifs of the current section's interface 0
	sections int
}

// maxBlock bounds a pcapng block and a classic pcap record. Wireshark
// allows blocks up to 128 MiB; no packet comes near 16 MiB, and the bound
// keeps a damaged length from making the reader wait for (and buffer) a
// huge block.
const maxBlock = 16 << 20

// NewReader reads the file header from r and returns a Reader for the
// records. The format is recognised from the magic number; a gzip
// stream is decompressed first.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if m, err := br.Peek(2); err == nil && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FormatError{What: "gzip header", Problem: "cannot decompress", Err: err}
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	rd := &Reader{r: br}
	var magic [4]byte
	if err := rd.full(magic[:], 0, "file header", "the file is empty or shorter than a magic number"); err != nil {
		return nil, err
	}
	switch {
	case binary.LittleEndian.Uint32(magic[:]) == blockSHB:
		rd.format = FormatPcapng
		if err := rd.readSHB(0); err != nil {
			return nil, err
		}
	default:
		rd.format = FormatPcap
		if err := rd.readPcapHeader(magic[:]); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

// Format returns the file's format.
func (r *Reader) Format() Format { return r.format }

// Interfaces returns the interfaces seen so far: one for classic pcap; for
// pcapng, those of every section read so far, in file order.
func (r *Reader) Interfaces() []InterfaceInfo { return r.ifs }

// full reads exactly len(b) bytes at the current offset. A short read is a
// FormatError at offset at (the start of the structure) wrapping
// ErrTruncated; other read errors are wrapped as they are.
func (r *Reader) full(b []byte, at int64, what, problem string) error {
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	if err == nil {
		return nil
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		if problem == "" {
			problem = fmt.Sprintf("the file ends %d bytes into it", r.off-at)
		}
		return &FormatError{Offset: at, What: what, Problem: problem, Err: ErrTruncated}
	}
	return &FormatError{Offset: at, What: what, Problem: "read failed", Err: err}
}

// start reads the first len(b) bytes of a record or block. The file
// ending cleanly before it is io.EOF; ending inside it is a FormatError
// saying "the file ends N bytes into " + into.
func (r *Reader) start(b []byte, what, into string) (at int64, err error) {
	at = r.off
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	switch {
	case err == nil:
		return at, nil
	case err == io.EOF:
		return at, io.EOF
	case err == io.ErrUnexpectedEOF:
		return at, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("the file ends %d bytes into %s", n, into), Err: ErrTruncated}
	}
	return at, &FormatError{Offset: at, What: what, Problem: "read failed", Err: err}
}

func (r *Reader) readPcapHeader(magic []byte) error {
	var hdr [24]byte
	copy(hdr[:], magic)
	switch binary.LittleEndian.Uint32(magic) {
	case pcapMagicMicros:
		r.order = binary.LittleEndian
	case pcapMagicNanos:
		r.order, r.nanos = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(magic) {
		case pcapMagicMicros:
			r.order = binary.BigEndian
		case pcapMagicNanos:
			r.order, r.nanos = binary.BigEndian, true
		default:
			return &FormatError{What: "file header", Problem: fmt.Sprintf("magic number 0x%x is neither pcap (a1b2c3d4, a1b23c4d, either byte order) nor pcapng (0a0d0d0a)", magic)}
		}
	}
	if err := r.full(hdr[4:], 0, "pcap file header", ""); err != nil {
		return err
	}
	if major := r.order.Uint16(hdr[4:]); major < 2 {
		// Like Wireshark, refuse only the versions before 2.
		return &FormatError{What: "pcap file header", Problem: fmt.Sprintf("version %d.%d, want 2.x", major, r.order.Uint16(hdr[6:]))}
	}
	r.snap = int(r.order.Uint32(hdr[16:]))
	// The upper bits of the link-type field may carry FCS information
	// (LINKTYPE_ + FCS length); the type is the low 16 bits.
	r.link = LinkType(r.order.Uint32(hdr[20:]) & 0xffff)
	res := time.Microsecond
	if r.nanos {
		res = time.Nanosecond
	}
	r.ifs = []InterfaceInfo{{LinkType: r.link, SnapLen: r.snap, Resolution: res}}
	return nil
}

// Next returns the next frame. At the clean end of the file it returns
// io.EOF; for a damaged or truncated file, a *FormatError (and the same
// error on every later call). It never panics.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	var f Frame
	var err error
	if r.format == FormatPcap {
		f, err = r.nextPcap()
	} else {
		f, err = r.nextPcapng()
	}
	if err != nil {
		r.err = err
		return Frame{}, err
	}
	r.frames++
	f.Number = r.frames
	decodeLink(&f)
	return f, nil
}

func (r *Reader) nextPcap() (Frame, error) {
	var h [16]byte
	at, err := r.start(h[:], "pcap record header", "the 16-byte record header")
	if err != nil {
		return Frame{}, err
	}
	sec := r.order.Uint32(h[0:])
	frac := r.order.Uint32(h[4:])
	incl := r.order.Uint32(h[8:])
	orig := r.order.Uint32(h[12:])
	limit := uint32(max(maxSnapLen, min(r.snap, maxBlock)))
	if incl > limit {
		return Frame{}, &FormatError{Offset: at, What: "pcap record", Problem: fmt.Sprintf("captured length %d exceeds the limit of %d bytes (snapshot length %d): not a record header, the file is corrupt", incl, limit, r.snap)}
	}
	// A fraction of a second or more (seen in files from broken writers)
	// is carried into the seconds, as Wireshark does.
	ns := int64(frac)
	if !r.nanos {
		ns *= 1000
	}
	// Grow the buffer as bytes arrive, so a bogus length in a short file
	// does not allocate what it claims.
	r.buf.Reset()
	got, err := io.CopyN(&r.buf, r.r, int64(incl))
	r.off += got
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return Frame{}, &FormatError{Offset: at, What: "pcap record", Problem: fmt.Sprintf("the file ends %d bytes into the record's %d bytes of packet data", got, incl), Err: ErrTruncated}
	}
	if err != nil {
		return Frame{}, &FormatError{Offset: at, What: "pcap record", Problem: "read failed", Err: err}
	}
	data := bytes.Clone(r.buf.Bytes())
	return Frame{
		Offset:   at,
		Time:     time.Unix(int64(sec), ns),
		LinkType: r.link,
		Data:     data,
		Len:      max(int(orig), len(data)),
	}, nil
}

// blockName names pcapng block types in errors.
func blockName(t uint32) string {
	switch t {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockPB:
		return "packet block"
	case blockSPB:
		return "simple packet block"
	case blockNRB:
		return "name resolution block"
	case blockISB:
		return "interface statistics block"
	case blockEPB:
		return "enhanced packet block"
	}
	return fmt.Sprintf("block of type 0x%08x", t)
}

// readBlock reads the rest of a block whose 4 type bytes are read, at
// offset at, and returns its body (between the length fields).
func (r *Reader) readBlock(typ uint32, at int64) ([]byte, error) {
	what := blockName(typ)
	var lb [4]byte
	if err := r.full(lb[:], at, what, "the file ends inside the block header"); err != nil {
		return nil, err
	}
	total := r.order.Uint32(lb[:])
	switch {
	case total < 12:
		return nil, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("total length %d is below the minimum of 12", total)}
	case total%4 != 0:
		return nil, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("total length %d is not a multiple of 4", total)}
	case total > maxBlock:
		return nil, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("total length %d exceeds the limit of %d bytes", total, maxBlock)}
	}
	// Grow the buffer as bytes arrive, so a bogus length in a short file
	// does not allocate what it claims.
	r.buf.Reset()
	n, err := io.CopyN(&r.buf, r.r, int64(total-8))
	r.off += n
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("the file ends after %d of the block's %d bytes", n+8, total), Err: ErrTruncated}
		}
		return nil, &FormatError{Offset: at, What: what, Problem: "read failed", Err: err}
	}
	b := r.buf.Bytes()
	body, trailer := b[:len(b)-4], r.order.Uint32(b[len(b)-4:])
	if trailer != total {
		return nil, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("trailing total length %d differs from the leading %d", trailer, total)}
	}
	return body, nil
}

// readSHB reads a section header block whose type bytes are read.
func (r *Reader) readSHB(at int64) error {
	const what = "section header block"
	var hdr [8]byte // total length, byte-order magic
	if err := r.full(hdr[:], at, what, ""); err != nil {
		return err
	}
	switch {
	case binary.LittleEndian.Uint32(hdr[4:]) == byteOrderMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[4:]) == byteOrderMagic:
		r.order = binary.BigEndian
	default:
		return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("byte-order magic 0x%x is not 1a2b3c4d in either byte order", hdr[4:])}
	}
	total := r.order.Uint32(hdr[:])
	switch {
	case total < 28:
		return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("total length %d is below the minimum of 28", total)}
	case total%4 != 0:
		return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("total length %d is not a multiple of 4", total)}
	case total > maxBlock:
		return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("total length %d exceeds the limit of %d bytes", total, maxBlock)}
	}
	r.buf.Reset()
	n, err := io.CopyN(&r.buf, r.r, int64(total-12))
	r.off += n
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("the file ends after %d of the block's %d bytes", n+12, total), Err: ErrTruncated}
		}
		return &FormatError{Offset: at, What: what, Problem: "read failed", Err: err}
	}
	b := r.buf.Bytes()
	if trailer := r.order.Uint32(b[len(b)-4:]); trailer != total {
		return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("trailing total length %d differs from the leading %d", trailer, total)}
	}
	if major := r.order.Uint16(b); major != 1 {
		return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("version %d.%d, want 1.x", major, r.order.Uint16(b[2:]))}
	}
	if r.sections > 0 {
		r.section++
	}
	r.sections++
	r.ifBase = len(r.ifs)
	return nil
}

func (r *Reader) nextPcapng() (Frame, error) {
	for {
		var tb [4]byte
		at, err := r.start(tb[:], "pcapng block", "a block header")
		if err != nil {
			return Frame{}, err
		}
		typ := r.order.Uint32(tb[:])
		if binary.LittleEndian.Uint32(tb[:]) == blockSHB {
			if err := r.readSHB(at); err != nil {
				return Frame{}, err
			}
			continue
		}
		body, err := r.readBlock(typ, at)
		if err != nil {
			return Frame{}, err
		}
		switch typ {
		case blockIDB:
			if err := r.parseIDB(body, at); err != nil {
				return Frame{}, err
			}
		case blockEPB:
			return r.parseEPB(body, at)
		case blockSPB:
			return r.parseSPB(body, at)
		case blockPB:
			return r.parsePB(body, at)
		}
	}
}

// options walks the options in b, calling fn for each; it reports an
// option running past the block.
func (r *Reader) options(b []byte, at int64, what string, fn func(code uint16, v []byte) error) error {
	for off := 0; len(b)-off >= 4; {
		code := r.order.Uint16(b[off:])
		l := int(r.order.Uint16(b[off+2:]))
		if code == optEndOfOpt {
			return nil
		}
		if off+4+l > len(b) {
			return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("option %d at block byte %d has length %d, running past the block's end", code, off+8, l)}
		}
		if err := fn(code, b[off+4:off+4+l]); err != nil {
			return err
		}
		off += 4 + (l+3)&^3
	}
	return nil
}

func (r *Reader) parseIDB(b []byte, at int64) error {
	const what = "interface description block"
	if len(b) < 8 {
		return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("body of %d bytes is shorter than the 8 fixed bytes", len(b))}
	}
	ifc := InterfaceInfo{
		LinkType:   LinkType(r.order.Uint16(b)),
		SnapLen:    int(r.order.Uint32(b[4:])),
		Section:    r.section,
		Resolution: time.Microsecond,
		tsDiv:      1e6,
	}
	err := r.options(b[8:], at, what, func(code uint16, v []byte) error {
		switch code {
		case ifName:
			ifc.Name = string(v)
		case ifDescription:
			ifc.Description = string(v)
		case ifTSResol:
			if len(v) < 1 {
				return nil // malformed: ignored, as Wireshark does
			}
			res := v[0]
			if res&0x80 != 0 {
				n := res & 0x7f
				if n > 63 {
					return &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("if_tsresol 0x%02x: 2^-%d is finer than this reader handles (2^-63)", res, n)}
				}
				ifc.tsBinary, ifc.tsDiv = n, 0
				ifc.Resolution = max(time.Duration(float64(time.Second)/float64(uint64(1)<<n)), 1)
			} else {
				// Finer than 10^-19 s, a 64-bit count spans less than a
				// second: tsDiv 0 marks it (see timestamp).
				ifc.tsDiv, ifc.tsDecimal = 0, res
				if res <= 19 {
					ifc.tsDiv = pow10[res]
				}
				ifc.Resolution = max(time.Second/time.Duration(pow10[min(res, 9)]), 1)
			}
		case ifTSOffset:
			if len(v) == 8 {
				ifc.tsOffsetS = int64(r.order.Uint64(v))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.ifs = append(r.ifs, ifc)
	return nil
}

// iface returns the global index of the section's interface id.
func (r *Reader) iface(id uint32, at int64, what string) (int, error) {
	n := len(r.ifs) - r.ifBase
	if int64(id) >= int64(n) {
		return 0, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("interface id %d, but the section has described %d interface(s) so far", id, n)}
	}
	return r.ifBase + int(id), nil
}

// timestamp converts a pcapng timestamp of interface i to a time.
func (r *Reader) timestamp(i int, units uint64) time.Time {
	ifc := &r.ifs[i]
	var sec, ns uint64
	if ifc.tsBinary != 0 {
		n := ifc.tsBinary
		sec = units >> n
		frac := units & (uint64(1)<<n - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		ns, _ = bits.Div64(hi, lo, uint64(1)<<n) // frac < 2^n, so hi < 2^n: no overflow
		if n == 0 {
			ns = 0
		}
	} else if ifc.tsDiv == 0 { // finer than 10^-19 s
		if e := ifc.tsDecimal - 9; e <= 19 {
			ns = units / pow10[e]
		}
	} else {
		sec = units / ifc.tsDiv
		rem := units % ifc.tsDiv
		if ifc.tsDiv <= 1e9 {
			ns = rem * (1e9 / ifc.tsDiv)
		} else {
			ns = rem / (ifc.tsDiv / 1e9)
		}
	}
	return time.Unix(int64(sec)+ifc.tsOffsetS, int64(ns))
}

func (r *Reader) parseEPB(b []byte, at int64) (Frame, error) {
	const what = "enhanced packet block"
	if len(b) < 20 {
		return Frame{}, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("body of %d bytes is shorter than the 20 fixed bytes", len(b))}
	}
	return r.parsePacket(b, at, what, r.order.Uint32(b))
}

// parsePB parses the obsolete Packet Block: an Enhanced Packet Block
// whose first word is a 16-bit interface id and a 16-bit drop count.
func (r *Reader) parsePB(b []byte, at int64) (Frame, error) {
	const what = "packet block"
	if len(b) < 20 {
		return Frame{}, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("body of %d bytes is shorter than the 20 fixed bytes", len(b))}
	}
	return r.parsePacket(b, at, what, uint32(r.order.Uint16(b)))
}

// parsePacket parses what EPB and PB share after the interface id:
// timestamp, lengths, data and options (comments, direction, packet id).
func (r *Reader) parsePacket(b []byte, at int64, what string, ifaceID uint32) (Frame, error) {
	i, err := r.iface(ifaceID, at, what)
	if err != nil {
		return Frame{}, err
	}
	units := uint64(r.order.Uint32(b[4:]))<<32 | uint64(r.order.Uint32(b[8:]))
	capLen := r.order.Uint32(b[12:])
	orig := r.order.Uint32(b[16:])
	if uint64(capLen) > uint64(len(b)-20) {
		return Frame{}, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("captured length %d exceeds the block's %d bytes of packet data", capLen, len(b)-20)}
	}
	padded := min(int(capLen+3)&^3, len(b)-20)
	f := Frame{
		Offset:   at,
		Time:     r.timestamp(i, units),
		Iface:    i,
		LinkType: r.ifs[i].LinkType,
		Data:     bytes.Clone(b[20 : 20+capLen]),
		Len:      max(int(orig), int(capLen)),
	}
	err = r.options(b[20+padded:], at, what, func(code uint16, v []byte) error {
		switch code {
		case optComment:
			f.Comments = append(f.Comments, string(v))
		case epbFlags:
			if len(v) == 4 {
				f.Dir = Direction(r.order.Uint32(v) & 3)
			}
		case epbPacketID:
			if len(v) == 8 {
				f.ID = r.order.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		return Frame{}, err
	}
	if f.Dir == 3 { // both bits: invalid, say nothing
		f.Dir = DirUnknown
	}
	return f, nil
}

func (r *Reader) parseSPB(b []byte, at int64) (Frame, error) {
	const what = "simple packet block"
	if len(b) < 4 {
		return Frame{}, &FormatError{Offset: at, What: what, Problem: fmt.Sprintf("body of %d bytes is shorter than the 4 fixed bytes", len(b))}
	}
	i, err := r.iface(0, at, what)
	if err != nil {
		return Frame{}, err
	}
	orig := int(r.order.Uint32(b))
	capLen := min(orig, len(b)-4)
	if s := r.ifs[i].SnapLen; s > 0 && capLen > s {
		capLen = s
	}
	return Frame{Offset: at, Iface: i, LinkType: r.ifs[i].LinkType, Data: bytes.Clone(b[4 : 4+capLen]), Len: max(orig, capLen)}, nil
}

// Read reads every frame from r. It returns the frames read before any
// error, and the error (nil at a clean end): a *FormatError for a damaged or
// truncated file.
func Read(r io.Reader) ([]Frame, error) {
	rd, err := NewReader(r)
	if err != nil {
		return nil, err
	}
	var frames []Frame
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}

// ReadFile is Read for the file at path.
func ReadFile(path string) ([]Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcapio: %w", err)
	}
	defer f.Close()
	frames, err := Read(f)
	if err != nil {
		return frames, fmt.Errorf("%s: %w", path, err)
	}
	return frames, nil
}
