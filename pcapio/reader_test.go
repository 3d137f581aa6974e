package pcapio

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/tshark"
)

// sampleFile returns the bytes of the sample exchanges written in format.
func sampleFile(t testing.TB, format Format, order byteOrder) []byte {
	t.Helper()
	s := sampleExchanges(t)
	var buf bytes.Buffer
	w, err := newWriter(&buf, Options{Format: format}, order)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.recs {
		if err := w.WritePacket(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// boundaries returns the offsets where the structures of a pcap or pcapng
// file end (the header or a block or record), and for each whether a frame
// ends there.
func boundaries(t testing.TB, b []byte, format Format, order binary.ByteOrder) (ends []int, frame []bool) {
	t.Helper()
	if format == FormatPcap {
		off := 24
		ends, frame = append(ends, off), append(frame, false)
		for off < len(b) {
			off += 16 + int(order.Uint32(b[off+8:]))
			ends, frame = append(ends, off), append(frame, true)
		}
		return
	}
	for off := 0; off < len(b); {
		typ := order.Uint32(b[off:])
		off += int(order.Uint32(b[off+4:]))
		ends, frame = append(ends, off), append(frame, typ == blockEPB)
	}
	return
}

// TestTruncatedEverywhere cuts sample files at every byte and checks that
// the reader returns exactly the frames before the cut, and an error
// naming the offset of the cut structure and wrapping ErrTruncated — or
// no error when the cut falls between structures.
func TestTruncatedEverywhere(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format Format
		order  byteOrder
	}{
		{"pcapng-le", FormatPcapng, binary.LittleEndian}, {"pcapng-be", FormatPcapng, binary.BigEndian},
		{"pcap-le", FormatPcap, binary.LittleEndian}, {"pcap-be", FormatPcap, binary.BigEndian},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := sampleFile(t, tc.format, tc.order)
			ends, isFrame := boundaries(t, full, tc.format, tc.order)
			checkCuts(t, full, ends, isFrame)
		})
	}
	// The captures made by tcpdump and dumpcap in the lab, too.
	files, _ := filepath.Glob(filepath.Join("testdata", "lab", "*.pcap*"))
	if len(files) < 5 {
		t.Fatalf("lab captures missing: %v", files)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			full, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			format := FormatPcapng
			if strings.HasSuffix(name, ".pcap") {
				format = FormatPcap
			}
			ends, isFrame := boundaries(t, full, format, binary.LittleEndian)
			checkCuts(t, full, ends, isFrame)
		})
	}
}

// checkCuts cuts full at every byte and checks what Read returns: the
// frames that end before the cut, and no error at a boundary between
// structures or else a FormatError wrapping ErrTruncated at the offset of
// the cut structure.
func checkCuts(t *testing.T, full []byte, ends []int, isFrame []bool) {
	t.Helper()
	if ends[len(ends)-1] != len(full) {
		t.Fatalf("walked to %d of %d bytes", ends[len(ends)-1], len(full))
	}
	for cut := 0; cut < len(full); cut++ {
		frames, err := Read(bytes.NewReader(full[:cut]))
		wantFrames, start, clean := 0, 0, false
		for i, e := range ends {
			if e <= cut {
				if isFrame[i] {
					wantFrames++
				}
				start = e
				clean = e == cut
			}
		}
		if len(frames) != wantFrames {
			t.Fatalf("cut at %d: %d frames, want %d", cut, len(frames), wantFrames)
		}
		if clean && cut >= ends[0] {
			if err != nil {
				t.Errorf("cut at %d (a boundary): %v", cut, err)
			}
			continue
		}
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: error %v, want a FormatError wrapping ErrTruncated", cut, err)
		}
		if fe.Offset != int64(start) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d:", start)) {
			t.Errorf("cut at %d: %v; want offset %d", cut, err, start)
		}
	}
}

// TestTruncatedFileJudgedByTshark: tshark too reads the records before a
// cut and says the file was cut short; the reader says where.
func TestTruncatedFileJudgedByTshark(t *testing.T) {
	full := sampleFile(t, FormatPcapng, binary.LittleEndian)
	ends, _ := boundaries(t, full, FormatPcapng, binary.LittleEndian)
	cut := ends[len(ends)-2] + 10 // 10 bytes into the last block
	path := filepath.Join(t.TempDir(), "cut.pcapng")
	os.WriteFile(path, full[:cut], 0o644)
	_, stderr, _ := runTshark(t, path)
	if !strings.Contains(stderr, "cut short in the middle of a packet") {
		t.Errorf("tshark on a cut file says %q", stderr)
	}
	frames, err := ReadFile(path)
	want := fmt.Sprintf("offset %d: enhanced packet block: the file ends after 10 of the block's %d bytes", ends[len(ends)-2], ends[len(ends)-1]-ends[len(ends)-2])
	if len(frames) != 6 || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%d frames, error %v; want 6 and %q", len(frames), err, want)
	}
}

// TestDamagedLabCaptures cuts and corrupts captures made by tcpdump and
// dumpcap in the lab: the reader and tshark read the same frames before
// the damage, and the reader says where it is.
func TestDamagedLabCaptures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		damage func(b []byte, ends []int) []byte
		frames int
		want   func(ends []int) string
	}{
		{"client-to-r1.pcap", func(b []byte, ends []int) []byte { return b[:ends[10]+30] }, 10,
			func(ends []int) string {
				return fmt.Sprintf("offset %d: pcap record: the file ends 14 bytes into the record's", ends[10])
			}},
		{"client-to-r1-nanos.pcap", func(b []byte, ends []int) []byte {
			binary.LittleEndian.PutUint32(b[ends[5]+8:], 0x00ffffff) // captured length of record 6
			return b
		}, 5, func(ends []int) string {
			return fmt.Sprintf("offset %d: pcap record: captured length 16777215 exceeds the limit of 262144 bytes", ends[5])
		}},
		{"r1-dumpcap.pcapng", func(b []byte, ends []int) []byte {
			binary.LittleEndian.PutUint32(b[ends[9]-4:], 12) // trailer of block 10
			return b
		}, 6, func(ends []int) string {
			return fmt.Sprintf("offset %d: enhanced packet block: trailing total length 12 differs from the leading %d", ends[8], ends[9]-ends[8])
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			full, err := os.ReadFile(filepath.Join("testdata", "lab", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			format := FormatPcapng
			if strings.HasSuffix(tc.file, ".pcap") {
				format = FormatPcap
			}
			ends, _ := boundaries(t, full, format, binary.LittleEndian)
			b := tc.damage(bytes.Clone(full), ends)
			path := filepath.Join(t.TempDir(), tc.file)
			os.WriteFile(path, b, 0o644)
			frames, err := ReadFile(path)
			if len(frames) != tc.frames || err == nil || !strings.Contains(err.Error(), tc.want(ends)) {
				t.Errorf("%d frames, %v\nwant %d frames and %q", len(frames), err, tc.frames, tc.want(ends))
			}
			out, stderr, _ := runTshark(t, path, "-T", "fields", "-e", "frame.number")
			if n := strings.Count(out, "\n"); n != len(frames) || stderr == "" {
				t.Errorf("tshark reads %d frames (the reader %d) and says %q", n, len(frames), stderr)
			}
			t.Logf("reader: %v; tshark: %s", err, strings.ReplaceAll(stderr, "\n", " "))
		})
	}
}

// corrupt returns a copy of b with f applied.
func corrupt(b []byte, f func(b []byte)) []byte {
	c := bytes.Clone(b)
	f(c)
	return c
}

// tsharkDiffers says why some damaged files are not compared with tshark.
var tsharkDiffers = map[string]string{
	"empty":                "tshark takes an empty file for an empty capture",
	"bad byte-order magic": "tshark's heuristics then take the file for JSON",
}

// TestCorrupted damages sample files in specific ways and checks the
// error text, its offset, and that the frames before the damage are
// returned.
func TestCorrupted(t *testing.T) {
	ng := sampleFile(t, FormatPcapng, binary.LittleEndian)
	ngEnds, _ := boundaries(t, ng, FormatPcapng, binary.LittleEndian)
	shb, idb := ngEnds[0], ngEnds[1] // ends of SHB and IDB
	epb3 := ngEnds[3]                // start of the third EPB
	pc := sampleFile(t, FormatPcap, binary.LittleEndian)
	pcEnds, _ := boundaries(t, pc, FormatPcap, binary.LittleEndian)
	rec2 := pcEnds[2] // start of the third record
	le := binary.LittleEndian
	for _, tc := range []struct {
		name       string
		b          []byte
		wantFrames int
		want       string
	}{
		{"not a capture", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0,
			"offset 0: file header: magic number 0x47455420 is neither pcap"},
		{"empty", nil, 0, "offset 0: file header: the file is empty or shorter than a magic number"},
		{"bad byte-order magic", corrupt(ng, func(b []byte) { le.PutUint32(b[8:], 0x11223344) }), 0,
			"offset 0: section header block: byte-order magic 0x44332211 is not 1a2b3c4d"},
		{"pcapng version 2", corrupt(ng, func(b []byte) { le.PutUint16(b[12:], 2) }), 0,
			"offset 0: section header block: version 2.0, want 1.x"},
		{"block length not a multiple of 4", corrupt(ng, func(b []byte) { le.PutUint32(b[epb3+4:], 101) }), 2,
			fmt.Sprintf("offset %d: enhanced packet block: total length 101 is not a multiple of 4", epb3)},
		{"block length too small", corrupt(ng, func(b []byte) { le.PutUint32(b[epb3+4:], 8) }), 2,
			fmt.Sprintf("offset %d: enhanced packet block: total length 8 is below the minimum of 12", epb3)},
		{"block length huge", corrupt(ng, func(b []byte) { le.PutUint32(b[epb3+4:], 0x7ffffff0) }), 2,
			fmt.Sprintf("offset %d: enhanced packet block: total length 2147483632 exceeds the limit of 16777216 bytes", epb3)},
		{"trailer differs", corrupt(ng, func(b []byte) { le.PutUint32(b[ngEnds[4]-4:], 4) }), 2,
			fmt.Sprintf("offset %d: enhanced packet block: trailing total length 4 differs from the leading %d", epb3, ngEnds[4]-epb3)},
		{"captured length beyond block", corrupt(ng, func(b []byte) { le.PutUint32(b[epb3+20:], 5000) }), 2,
			fmt.Sprintf("offset %d: enhanced packet block: captured length 5000 exceeds the block's", epb3)},
		{"unknown interface", corrupt(ng, func(b []byte) { le.PutUint32(b[epb3+8:], 3) }), 2,
			fmt.Sprintf("offset %d: enhanced packet block: interface id 3, but the section has described 1 interface(s) so far", epb3)},
		{"option overruns block", corrupt(ng, func(b []byte) {
			capLen := int(le.Uint32(b[epb3+20:]))
			le.PutUint16(b[epb3+28+(capLen+3)&^3+2:], 3000)
		}), 2, fmt.Sprintf("offset %d: enhanced packet block: option 1 at block byte", epb3)},
		{"interface option overruns block", corrupt(ng, func(b []byte) {
			i := bytes.Index(b[shb:idb], []byte{9, 0, 1, 0, 9})
			b[shb+i+2] = 200
		}), 0, fmt.Sprintf("offset %d: interface description block: option 9 at block byte", shb)},
		{"pcap version 1", corrupt(pc, func(b []byte) { le.PutUint16(b[4:], 1) }), 0,
			"offset 0: pcap file header: version 1.4, want 2.x"},
		{"pcap captured length huge", corrupt(pc, func(b []byte) { le.PutUint32(b[rec2+8:], 1<<30) }), 2,
			fmt.Sprintf("offset %d: pcap record: captured length 1073741824 exceeds the limit of 262144 bytes", rec2)},
		{"pcap short header", pc[:10], 0, "offset 0: pcap file header: the file ends 10 bytes into it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := Read(bytes.NewReader(tc.b))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tc.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FormatError", err)
			}
			if len(frames) != tc.wantFrames {
				t.Errorf("%d frames before the damage, want %d", len(frames), tc.wantFrames)
			}
			// tshark, the judge, must find the file damaged too, and read
			// the same frames before the damage.
			if why := tsharkDiffers[tc.name]; why != "" {
				t.Logf("not compared with tshark: %s", why)
				return
			}
			path := filepath.Join(t.TempDir(), "corrupt")
			os.WriteFile(path, tc.b, 0o644)
			out, stderr, err := runTshark(t, path, "-T", "fields", "-e", "frame.number")
			if err == nil || !strings.Contains(stderr, "tshark:") {
				t.Errorf("tshark accepts the damaged file: %v %q", err, stderr)
			}
			if n := strings.Count(out, "\n"); n != tc.wantFrames {
				t.Errorf("tshark reads %d frames before the damage; the reader %d", n, tc.wantFrames)
			}
			t.Logf("tshark: %s", strings.ReplaceAll(stderr, "\n", " "))
		})
	}
}

// TestRandomDamageNeverPanics flips, cuts and overwrites bytes of sample
// files many times; the fuzz target does the same open-ended.
func TestRandomDamageNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seeds := [][]byte{
		sampleFile(t, FormatPcapng, binary.LittleEndian), sampleFile(t, FormatPcapng, binary.BigEndian),
		sampleFile(t, FormatPcap, binary.LittleEndian), sampleFile(t, FormatPcap, binary.BigEndian),
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "lab", "*.pcap*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for i := 0; i < 20000; i++ {
		b := bytes.Clone(seeds[i%len(seeds)])
		for n := rng.IntN(4) + 1; n > 0; n-- {
			switch rng.IntN(3) {
			case 0:
				b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
			case 1:
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			case 2:
				b = b[:rng.IntN(len(b))+1]
			}
		}
		frames, err := Read(bytes.NewReader(b))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a FormatError", err, err)
			}
		}
		Annotate(frames)
	}
}

// TestReadLinkTypes reads records of every link type the reader knows,
// written into classic pcap files (one per link type, as other tools write
// them) and checks that tshark reads each file cleanly and that the reader
// finds the IP datagram and the direction.
func TestReadLinkTypes(t *testing.T) {
	s := sampleExchanges(t)
	v4, v6 := s.bytes[0], s.bytes[4]
	sll := func(pkttype uint16, proto uint16, ip []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], pkttype)
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], []byte{2, 0, 0, 0, 0, 1})
		binary.BigEndian.PutUint16(h[14:], proto)
		return append(h, ip...)
	}
	sll2 := func(pkttype byte, proto uint16, ip []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], proto)
		binary.BigEndian.PutUint32(h[4:], 2) // ifindex
		binary.BigEndian.PutUint16(h[8:], 1)
		h[10], h[11] = pkttype, 6
		copy(h[12:], []byte{2, 0, 0, 0, 0, 1})
		return append(h, ip...)
	}
	snap := func(ip []byte) []byte {
		b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
		b = binary.BigEndian.AppendUint16(b, uint16(8+len(ip)))
		b = append(b, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00)
		return append(b, ip...)
	}
	family := func(order byteOrder, af uint32, ip []byte) []byte {
		return append(order.AppendUint32(nil, af), ip...)
	}
	for _, tc := range []struct {
		name   string
		lt     LinkType
		data   []byte
		netOff int
		dir    Direction
		tshark string // a field tshark must fill for the link layer, "" for none
	}{
		{"raw-101-v4", LinkRaw, v4, 0, DirUnknown, "ip.src"},
		{"raw-101-v6", LinkRaw, v6, 0, DirUnknown, "ipv6.src"},
		{"raw-dlt12", LinkRawDLT12, v4, 0, DirUnknown, "ip.src"},
		{"raw-dlt14", LinkRawDLT14, v6, 0, DirUnknown, "ipv6.src"},
		{"ipv4-228", LinkIPv4, v4, 0, DirUnknown, "ip.src"},
		{"ipv6-229", LinkIPv6, v6, 0, DirUnknown, "ipv6.src"},
		{"ethernet", LinkEthernet, ethFrame(v4, 1, 2), 14, DirUnknown, "eth.src"},
		{"ethernet-vlan", LinkEthernet, ethFrame(v6, 1, 2, 100), 18, DirUnknown, "vlan.id"},
		{"ethernet-qinq", LinkEthernet, ethFrame(v4, 1, 2, 100, 200), 22, DirUnknown, "vlan.id"},
		{"ethernet-snap", LinkEthernet, snap(v4), 22, DirUnknown, "llc.type"},
		{"sll-outgoing", LinkLinuxSLL, sll(4, 0x0800, v4), 16, DirOut, "sll.pkttype"},
		{"sll-host", LinkLinuxSLL, sll(0, 0x86dd, v6), 16, DirIn, "sll.pkttype"},
		{"sll2-outgoing", LinkLinuxSLL2, sll2(4, 0x86dd, v6), 20, DirOut, "sll.ifindex"},
		{"sll2-host", LinkLinuxSLL2, sll2(0, 0x0800, v4), 20, DirIn, "sll.ifindex"},
		{"null-le", LinkNull, family(binary.LittleEndian, 2, v4), 4, DirUnknown, "null.family"},
		{"null-be-v6", LinkNull, family(binary.BigEndian, 24, v6), 4, DirUnknown, "null.family"},
		{"loop", LinkLoop, family(binary.BigEndian, 2, v4), 4, DirUnknown, "null.family"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name+".pcap")
			f, _ := os.Create(path)
			var hdr []byte
			le := binary.LittleEndian
			hdr = le.AppendUint32(hdr, pcapMagicMicros)
			hdr = le.AppendUint16(hdr, 2)
			hdr = le.AppendUint16(hdr, 4)
			hdr = le.AppendUint64(hdr, 0)
			hdr = le.AppendUint32(hdr, 65535)
			hdr = le.AppendUint32(hdr, uint32(tc.lt))
			hdr = le.AppendUint32(hdr, 1700000000)
			hdr = le.AppendUint32(hdr, 250000)
			hdr = le.AppendUint32(hdr, uint32(len(tc.data)))
			hdr = le.AppendUint32(hdr, uint32(len(tc.data)))
			f.Write(append(hdr, tc.data...))
			f.Close()
			checkTshark(t, path, 1)
			if tc.tshark != "" {
				rows := tshark.FieldsFile(t, path, tc.tshark, "icmp.seq", "icmpv6.echo.sequence_number")
				if len(rows) != 1 || rows[0][0] == "" || rows[0][1]+rows[0][2] == "" {
					t.Errorf("tshark does not dissect it: %q", rows)
				}
			}
			frames, err := ReadFile(path)
			if err != nil || len(frames) != 1 {
				t.Fatalf("%d frames, %v", len(frames), err)
			}
			fr := frames[0]
			if fr.LinkType != tc.lt || fr.NetOffset != tc.netOff || fr.IP == nil || fr.Dir != tc.dir {
				t.Errorf("link %v net offset %d ip %v dir %v; want %v %d %v", fr.LinkType, fr.NetOffset, fr.IP != nil, fr.Dir, tc.lt, tc.netOff, tc.dir)
			}
			if !fr.Time.Equal(time.Unix(1700000000, 250000000)) {
				t.Errorf("time %v", fr.Time)
			}
		})
	}
}

// TestNonIPFrames: ARP and unknown link types are read with IP nil.
func TestNonIPFrames(t *testing.T) {
	arp := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06}, make([]byte, 28)...)
	for _, tc := range []struct {
		lt   LinkType
		data []byte
	}{{LinkEthernet, arp}, {LinkType(147), []byte{0x45, 0, 0, 20}}, {LinkEthernet, arp[:13]}, {LinkLinuxSLL2, arp[:19]}, {LinkRaw, []byte{0x55}}} {
		f := Frame{LinkType: tc.lt, Data: tc.data}
		decodeLink(&f)
		if f.IP != nil || f.NetOffset != -1 {
			t.Errorf("%v % x: found IP at %d", tc.lt, tc.data, f.NetOffset)
		}
	}
}

// TestGzipAndSections reads a gzipped file and a pcapng file of two
// sections (two files concatenated), whose interfaces are numbered across
// sections.
func TestGzipAndSections(t *testing.T) {
	a := sampleFile(t, FormatPcapng, binary.LittleEndian)
	b := sampleFile(t, FormatPcapng, binary.BigEndian)
	two := append(bytes.Clone(a), b...)
	path := filepath.Join(t.TempDir(), "two-sections.pcapng")
	os.WriteFile(path, two, 0o644)
	checkTshark(t, path, 14)
	rd, frames := readAll(t, path)
	if len(frames) != 14 || len(rd.Interfaces()) != 2 || rd.Interfaces()[1].Section != 1 || frames[13].Iface != 1 || frames[13].Number != 14 {
		t.Errorf("%d frames, interfaces %+v, last frame iface %d", len(frames), rd.Interfaces(), frames[len(frames)-1].Iface)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(a)
	zw.Close()
	gzPath := filepath.Join(t.TempDir(), "sample.pcapng.gz")
	os.WriteFile(gzPath, gz.Bytes(), 0o644)
	checkTshark(t, gzPath, 7)
	frames, err := ReadFile(gzPath)
	if err != nil || len(frames) != 7 || frames[0].Comments[0] != "probe 17 seq=17 ttl=3 pattern=a5" {
		t.Errorf("gzip: %d frames, %v", len(frames), err)
	}
	if _, err := Read(bytes.NewReader(gz.Bytes()[:30])); err == nil {
		t.Error("a cut gzip stream read without error")
	}
}

// TestSimpleAndObsoletePacketBlocks reads the other two packet blocks of
// pcapng: the simple packet block (no timestamp, interface 0) and the
// obsolete packet block (with pack_flags).
func TestSimpleAndObsoletePacketBlocks(t *testing.T) {
	s := sampleExchanges(t)
	e := encoder{order: binary.LittleEndian, format: FormatPcapng, tsresol: 6}
	b := e.appendHeader(nil, SectionInfo{}, nil)
	b = e.appendIDB(b, Interface{Name: "spb", SnapLen: 50})
	// SPB
	start := len(b)
	b = e.u32(b, blockSPB)
	b = e.u32(b, 0)
	b = e.u32(b, uint32(len(s.bytes[0])))
	b = append(b, s.bytes[0][:50]...) // a writer keeps only the snapshot length
	b = pad4(b, 50)
	b = e.endBlock(b, start)
	// PB with a comment and flags
	start = len(b)
	b = e.u32(b, blockPB)
	b = e.u32(b, 0)
	b = e.u16(b, 0)
	b = e.u16(b, 0) // drops count
	units := uint64(1700000000*1000000 + 5)
	b = e.u32(b, uint32(units>>32))
	b = e.u32(b, uint32(units))
	b = e.u32(b, uint32(len(s.bytes[1])))
	b = e.u32(b, uint32(len(s.bytes[1])))
	b = append(b, s.bytes[1]...)
	b = pad4(b, len(s.bytes[1]))
	b = e.optText(b, optComment, "old style")
	b = e.u16(b, epbFlags)
	b = e.u16(b, 4)
	b = e.u32(b, uint32(DirIn))
	b = e.u32(b, 0)
	b = e.endBlock(b, start)
	// A name resolution block and an unknown block, skipped.
	for _, typ := range []uint32{blockNRB, 0x80000001} {
		start = len(b)
		b = e.u32(b, typ)
		b = e.u32(b, 0)
		b = e.u32(b, 0)
		b = e.endBlock(b, start)
	}
	path := filepath.Join(t.TempDir(), "spb.pcapng")
	os.WriteFile(path, b, 0o644)
	rows := tshark.FieldsFile(t, path, "frame.cap_len", "frame.comment")
	if len(rows) != 2 {
		t.Fatalf("tshark reads %d frames", len(rows))
	}
	frames, err := ReadFile(path)
	if err != nil || len(frames) != 2 {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	if len(frames[0].Data) != 50 || frames[0].Len != len(s.bytes[0]) || rows[0][0] != "50" {
		t.Errorf("SPB: %d of %d bytes (tshark %s)", len(frames[0].Data), frames[0].Len, rows[0][0])
	}
	if frames[1].Dir != DirIn || len(frames[1].Comments) != 1 || frames[1].Comments[0] != rows[1][1] ||
		!frames[1].Time.Equal(time.Unix(1700000000, 5000)) {
		t.Errorf("PB: %+v (tshark comment %q)", frames[1], rows[1][1])
	}
}

func TestReaderStopsAtError(t *testing.T) {
	full := sampleFile(t, FormatPcap, binary.LittleEndian)
	rd, err := NewReader(bytes.NewReader(full[:len(full)-3]))
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for i := 0; i < 10; i++ {
		if _, err := rd.Next(); err != nil {
			if last != nil && err != last {
				t.Errorf("error changed: %v then %v", last, err)
			}
			last = err
		}
	}
	if last == nil || last == io.EOF {
		t.Errorf("got %v", last)
	}
	if rd.Format() != FormatPcap || rd.Interfaces()[0].Resolution != time.Nanosecond {
		t.Errorf("format %v interfaces %+v", rd.Format(), rd.Interfaces())
	}
}
