package tour

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/echolot/echolot/packet"
)

// Frame is one Ethernet frame seen on the captured interface.
type Frame struct {
	Info gopacket.CaptureInfo
	Data []byte
	// Out is set for frames the captured node sent.
	Out bool
	// IP is the parsed IP datagram, nil for frames that carry none (ARP).
	IP *packet.Packet
}

// Capture records every frame on one interface of a lab node, through an
// AF_PACKET socket opened inside the node's namespace (gopacket's pcapgo,
// no libpcap). It stands in for the capture tap of the probe engine until
// that lands.
type Capture struct {
	h      *pcapgo.EthernetHandle
	mac    []byte
	iface  string
	node   string
	local  netip.Addr
	mu     sync.Mutex
	frames []Frame
	done   chan struct{}
}

// maxFrames bounds the memory a capture may take.
const maxFrames = 100000

// StartCapture starts capturing on iface, opened by the open function
// (which must run it inside the node's namespace). local is the node's own
// address, which tells sent from received frames.
func StartCapture(open func(fn func() error) error, node, iface string, local netip.Addr) (*Capture, error) {
	c := &Capture{iface: iface, node: node, local: local, done: make(chan struct{})}
	err := open(func() error {
		h, err := pcapgo.NewEthernetHandle(iface)
		if err != nil {
			return err
		}
		c.h = h
		c.mac = h.LocalAddr()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("capture on %s:%s: %w", node, iface, err)
	}
	go c.read()
	return c, nil
}

func (c *Capture) read() {
	defer close(c.done)
	for {
		data, ci, err := c.h.ReadPacketData()
		if err != nil {
			return
		}
		f := Frame{Info: ci, Data: data}
		if len(data) > 14 {
			// Frames from the interface's own MAC are the node's.
			f.Out = len(c.mac) == 6 && bytes.Equal(data[6:12], c.mac)
			switch binary.BigEndian.Uint16(data[12:]) {
			case 0x0800, 0x86dd:
				if p, err := packet.Parse(data[14:]); err == nil {
					f.IP = p
					if len(c.mac) != 6 {
						f.Out = p.Src() == c.local
					}
				}
			}
		}
		c.mu.Lock()
		if len(c.frames) < maxFrames {
			c.frames = append(c.frames, f)
		}
		c.mu.Unlock()
	}
}

// Mark returns the number of frames captured so far, to read the frames of
// one step with Since.
func (c *Capture) Mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

// Since returns the frames captured after mark, waiting briefly so that
// frames already on their way are included.
func (c *Capture) Since(mark int) []Frame {
	time.Sleep(50 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames[mark:]...)
}

// Stop ends the capture and returns every frame.
func (c *Capture) Stop() []Frame {
	c.h.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// Exchange is a probe seen leaving and the answer matched to it.
type Exchange struct {
	Probe, Answer       *Frame
	ProbeIdx, AnswerIdx int // indexes in the frames given to Match
	Match               packet.Match
	RTT                 time.Duration
}

// Match ties every answer among frames to the probe it answers, with
// packet's keys (never by address alone). Probes without an answer are
// returned with Answer nil.
func Match(frames []Frame) []Exchange {
	byKey := map[packet.Key]int{} // key → index into out
	var out []Exchange
	for i := range frames {
		f := &frames[i]
		if f.IP == nil {
			continue
		}
		if f.Out {
			if k, ok := packet.ProbeKey(f.IP); ok && !isAnswerType(f.IP) {
				byKey[k] = len(out)
				out = append(out, Exchange{Probe: f, ProbeIdx: i, AnswerIdx: -1})
			}
			continue
		}
		k, ok := packet.AnswerKey(f.IP)
		if !ok {
			continue
		}
		j, ok := byKey[k]
		if !ok {
			continue
		}
		e := &out[j]
		m, ok := packet.Answers(e.Probe.IP, f.IP)
		if !ok || e.Answer != nil {
			continue
		}
		e.Answer, e.AnswerIdx, e.Match = f, i, m
		e.RTT = f.Info.Timestamp.Sub(e.Probe.Info.Timestamp)
	}
	return out
}

// isAnswerType reports packets that are answers themselves (an echo reply
// the node sends as a server), so they are not taken for probes.
func isAnswerType(p *packet.Packet) bool {
	switch p.Transport {
	case packet.TransportICMP:
		return p.ICMP.Type == packet.ICMPEchoReply || p.ICMP.Type == packet.ICMPTimestampReply || p.IsICMPError()
	case packet.TransportICMPv6:
		return p.ICMP.Type == packet.ICMPv6EchoReply || p.IsICMPError()
	}
	return false
}

// WritePcapng writes frames to w as pcapng: one Ethernet interface named
// after the node and interface, nanosecond timestamps, direction flags,
// packet ids, and comments that link each answer to its probe ("answer to
// probe 3 (frame 5): time-exceeded from 198.18.2.2 rtt=0.412ms changed:
// tos 0x10→0x28") and say so when a packet answers nothing.
func WritePcapng(w io.Writer, node, iface string, frames []Frame) error {
	comments := make([][]string, len(frames))
	for n, e := range Match(frames) {
		probeNo := n + 1
		p := e.Probe.IP
		comments[e.ProbeIdx] = append(comments[e.ProbeIdx], fmt.Sprintf("probe %d: %s", probeNo, p.Summary()))
		if e.Answer == nil {
			comments[e.ProbeIdx] = append(comments[e.ProbeIdx], fmt.Sprintf("probe %d: no answer captured", probeNo))
			continue
		}
		c := fmt.Sprintf("answer to probe %d (frame %d): %s from %v rtt=%.3fms", probeNo, e.ProbeIdx+1, e.Match.Kind, e.Answer.IP.Src(), float64(e.RTT.Nanoseconds())/1e6)
		if e.Match.Error && e.Answer.IP.Quote != nil {
			var ch []string
			for _, x := range packet.QuoteDiff(p, e.Answer.IP.Quote) {
				if !x.Expected {
					ch = append(ch, x.String())
				}
			}
			if len(ch) > 0 {
				c += " changed: " + joinComma(ch)
			}
		} else if d := packet.Compare(p.Payload, e.Answer.IP.Payload); d != nil && e.Match.Kind == "echo-reply" {
			c += " payload damaged: " + d.String()
		}
		comments[e.AnswerIdx] = append(comments[e.AnswerIdx], c)
	}
	nw, err := pcapgo.NewNgWriterInterface(w, pcapgo.NgInterface{
		Name:        node + ":" + iface,
		Description: "echolot lab node " + node + ", interface " + iface,
		LinkType:    layers.LinkTypeEthernet,
		SnapLength:  0,
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "echolot lab tour"}})
	if err != nil {
		return err
	}
	for i, f := range frames {
		id := uint64(i + 1)
		dir := pcapgo.NgEpbFlagDirectionInbound
		if f.Out {
			dir = pcapgo.NgEpbFlagDirectionOutbound
		}
		ci := f.Info
		ci.InterfaceIndex = 0
		opts := pcapgo.NgPacketOptions{Comments: comments[i], PacketID: &id, Flags: &pcapgo.NgEpbFlags{Direction: dir}}
		if f.IP != nil && len(comments[i]) == 0 && !f.Out {
			opts.Comments = []string{"unmatched: answers no probe seen in this capture"}
		}
		if err := nw.WritePacketWithOptions(ci, f.Data, opts); err != nil {
			return err
		}
	}
	return nw.Flush()
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
