package pcapio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzRead feeds arbitrary bytes to the reader. It must never panic; every
// error must be a *FormatError; frames must lie inside the file in order;
// Annotate must cope with whatever was read; and the frames, written again
// as pcapng, must read back the same.
//
// The seed corpus: the sample exchanges in both formats and byte orders,
// truncated and gzipped variants, and every capture in testdata/.
func FuzzRead(f *testing.F) {
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
			b := sampleFile(f, format, order)
			f.Add(b)
			f.Add(b[:len(b)-7])
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.pcap*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := NewReader(bytes.NewReader(b))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("NewReader: %T %v", err, err)
			}
			return
		}
		var frames []Frame
		last := int64(-1)
		for {
			fr, err := rd.Next()
			if err != nil {
				var fe *FormatError
				if err != io.EOF && !errors.As(err, &fe) {
					t.Fatalf("Next: %T %v", err, err)
				}
				break
			}
			if fr.Offset <= last || len(fr.Data) > fr.Len || fr.Iface >= len(rd.Interfaces()) || fr.Number != len(frames)+1 {
				t.Fatalf("frame %d: offset %d after %d, %d of %d bytes, iface %d of %d", fr.Number, fr.Offset, last, len(fr.Data), fr.Len, fr.Iface, len(rd.Interfaces()))
			}
			last = fr.Offset
			frames = append(frames, fr)
		}
		Annotate(frames)
		roundTrip(t, rd.Interfaces(), frames)
	})
}

// roundTrip writes frames as pcapng with the reader's interfaces and checks
// that they read back the same.
func roundTrip(t *testing.T, ifs []InterfaceInfo, frames []Frame) {
	var wifs []Interface
	for _, i := range ifs {
		lt := i.LinkType
		if lt == LinkNull {
			return // the writer does not write BSD loopback
		}
		wifs = append(wifs, Interface{Name: i.Name, Description: i.Description, LinkType: lt})
	}
	var keep []Frame
	for _, f := range frames {
		if f.Time.Before(time.Unix(0, 0)) || f.Time.Year() >= 2262 {
			continue
		}
		keep = append(keep, f)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Interfaces: wifs, Lossless: true, QueueLen: 16})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range keep {
		if err := w.WritePacket(f.Record()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil || len(back) != len(keep) {
		t.Fatalf("read back %d of %d frames: %v", len(back), len(keep), err)
	}
	for i, f := range keep {
		g := back[i]
		if !bytes.Equal(f.Data, g.Data) || !f.Time.Equal(g.Time) || f.Dir != g.Dir || f.ID != g.ID || f.Iface != g.Iface || f.LinkType != g.LinkType || f.Len != g.Len {
			t.Fatalf("frame %d changed:\n%+v\n%+v", i+1, f, g)
		}
		if len(f.Comments) != len(g.Comments) {
			t.Fatalf("frame %d: comments %q became %q", i+1, f.Comments, g.Comments)
		}
		for j, c := range f.Comments {
			if utf8.ValidString(c) && c != g.Comments[j] {
				t.Fatalf("frame %d: comment %q became %q", i+1, c, g.Comments[j])
			}
		}
	}
}
