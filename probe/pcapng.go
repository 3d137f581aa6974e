package probe

import (
	"io"
	"runtime"

	"github.com/echolot/echolot/pcapio"
)

// PcapngWriter is the CaptureWriter for capture files: it hands every
// tapped packet to a pcapio.Writer (pcapng, one interface of link type raw
// IP so IPv4 and IPv6 share it, nanosecond timestamps, the direction flag,
// a packet id counting from 1, and a comment linking the packet to its
// probe: see TapEvent.Comment). Wireshark shows the comments under View ▸
// Packet Comments, and tshark as frame.comment. pcapio writes whole blocks
// with single write calls, so a capture cut short by SIGKILL is readable up
// to its last complete record.
//
// A Tap calls WriteEvent from its own goroutine, off the probe path, so the
// pcapio writer runs lossless: the Tap's bounded queue is where records are
// dropped, and counted, when the disk cannot keep up.
type PcapngWriter struct {
	w       *pcapio.Writer
	id      uint64
	comment []byte
	comms   [1]string
}

// NewPcapngWriter starts a pcapng capture on w; comment, when not empty,
// becomes the section comment (say what was probed). Close (called by the
// Tap's Close) writes out what is buffered and ends the file's writer.
func NewPcapngWriter(w io.Writer, comment string) (*PcapngWriter, error) {
	pw, err := pcapio.NewWriter(w, pcapio.Options{
		Format: pcapio.FormatPcapng,
		Interfaces: []pcapio.Interface{{
			Name:        "echolot",
			Description: "packets sent and received by the echolot probe engine (IP headers rebuilt for datagram and IPv6 sockets)",
			LinkType:    pcapio.LinkRaw,
		}},
		Section:  pcapio.SectionInfo{Application: "echolot", OS: runtime.GOOS, Hardware: runtime.GOARCH, Comment: comment},
		Lossless: true,
	})
	if err != nil {
		return nil, err
	}
	return &PcapngWriter{w: pw}, nil
}

// WriteEvent writes ev as one record with its linkage comment.
func (p *PcapngWriter) WriteEvent(ev *TapEvent) error {
	p.id++
	dir := pcapio.DirIn
	if ev.Dir == DirSent {
		dir = pcapio.DirOut
	}
	p.comment = ev.AppendComment(p.comment[:0])
	p.comms[0] = string(p.comment)
	return p.w.WritePacket(pcapio.Record{Time: ev.Time, Data: ev.Data, Dir: dir, ID: p.id, Comments: p.comms[:]})
}

// Flush writes out what is buffered.
func (p *PcapngWriter) Flush() error { return p.w.Flush() }

// Close writes out what is buffered and stops the file's writer; it does
// not close the io.Writer given to NewPcapngWriter.
func (p *PcapngWriter) Close() error { return p.w.Close() }

// Packets returns how many packets were handed to the file.
func (p *PcapngWriter) Packets() uint64 { return p.id }
