package probe

import (
	"io"
	"runtime"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// PcapngWriter is a small CaptureWriter: a pcapng file (gopacket's pcapgo
// NgWriter) with one interface of link type raw IP (LINKTYPE_RAW, 101:
// every packet starts with its IPv4 or IPv6 header), nanosecond
// timestamps, and per packet the direction flag (inbound, outbound), a
// packet id counting from 1 and a comment linking it to its probe (see
// TapEvent.Comment). Wireshark shows the comments under View ▸ Packet
// Comments, and tshark as frame.comment. It is not safe for concurrent use;
// a Tap calls it from one goroutine.
type PcapngWriter struct {
	w       *pcapgo.NgWriter
	id      uint64
	comment []byte
	comms   [1]string
	flags   pcapgo.NgEpbFlags
	opts    pcapgo.NgPacketOptions
}

// NewPcapngWriter writes the section and interface headers to w and
// returns the writer; comment, when not empty, becomes the section comment
// (say what was probed). Flush (or the Tap's Close) writes out what is
// buffered.
func NewPcapngWriter(w io.Writer, comment string) (*PcapngWriter, error) {
	intf := pcapgo.NgInterface{
		Name:                "echolot",
		Description:         "packets sent and received by the echolot probe engine (IP headers rebuilt for datagram and IPv6 sockets)",
		OS:                  runtime.GOOS,
		LinkType:            layers.LinkTypeRaw,
		SnapLength:          0,
		TimestampResolution: 9,
	}
	nw, err := pcapgo.NewNgWriterInterface(w, intf, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware:    runtime.GOARCH,
		OS:          runtime.GOOS,
		Application: "echolot",
		Comment:     comment,
	}})
	if err != nil {
		return nil, err
	}
	p := &PcapngWriter{w: nw}
	p.opts.Flags = &p.flags
	p.opts.PacketID = &p.id
	return p, nil
}

// WriteEvent writes ev as one enhanced packet block.
func (p *PcapngWriter) WriteEvent(ev *TapEvent) error {
	p.id++
	p.flags.Direction = pcapgo.NgEpbFlagDirectionInbound
	if ev.Dir == DirSent {
		p.flags.Direction = pcapgo.NgEpbFlagDirectionOutbound
	}
	p.comment = ev.AppendComment(p.comment[:0])
	p.comms[0] = string(p.comment)
	p.opts.Comments = p.comms[:]
	ci := gopacket.CaptureInfo{Timestamp: ev.Time, CaptureLength: len(ev.Data), Length: len(ev.Data)}
	return p.w.WritePacketWithOptions(ci, ev.Data, p.opts)
}

// Flush writes out what is buffered.
func (p *PcapngWriter) Flush() error { return p.w.Flush() }

// Packets returns how many packets were written.
func (p *PcapngWriter) Packets() uint64 { return p.id }
