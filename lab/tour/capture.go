package tour

import (
	"fmt"
	"sync"
	"time"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/pcapio"
)

// Capture records every frame on one interface of a lab node with a
// pcapio.Sniffer (AF_PACKET, no libpcap) opened inside the node's
// namespace. The tour's probes are iputils ping's until it runs on the
// probe engine, so the matching is done offline with pcapio.Match.
type Capture struct {
	s      *pcapio.Sniffer
	node   string
	mu     sync.Mutex
	frames []pcapio.Frame
	done   chan struct{}
}

// maxFrames bounds the memory a capture may take.
const maxFrames = 100000

// StartCapture starts capturing on iface of node; open must run its
// function inside the node's namespace (lab.InNode).
func StartCapture(open func(fn func() error) error, node, iface string) (*Capture, error) {
	c := &Capture{node: node, done: make(chan struct{})}
	err := open(func() error {
		s, err := pcapio.Sniff(iface, pcapio.SniffOptions{})
		c.s = s
		return err
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
		f, err := c.s.Next()
		if err != nil {
			return
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
func (c *Capture) Since(mark int) []pcapio.Frame {
	time.Sleep(50 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]pcapio.Frame(nil), c.frames[mark:]...)
}

// Stop ends the capture and returns every frame.
func (c *Capture) Stop() []pcapio.Frame {
	c.s.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// Interface describes the captured interface for a capture file.
func (c *Capture) Interface() pcapio.Interface {
	ifc := c.s.Interface()
	ifc.Name = c.node + ":" + ifc.Name
	ifc.Description = "echolot lab node " + c.node + ", AF_PACKET capture"
	return ifc
}

// Exchange is a probe seen leaving and the first answer matched to it
// (Answer nil when none was seen).
type Exchange struct {
	Probe, Answer *pcapio.Frame
	Match         packet.Match
	RTT           time.Duration
}

// Match ties answers among frames to their probes with pcapio.Match
// (packet's keys, never addresses alone); duplicates are left out.
func Match(frames []pcapio.Frame) []Exchange {
	var out []Exchange
	for _, e := range pcapio.Match(frames) {
		if e.Duplicate {
			continue
		}
		x := Exchange{Probe: &frames[e.Probe], Match: e.Match, RTT: e.RTT}
		if e.Answer >= 0 {
			x.Answer = &frames[e.Answer]
		}
		out = append(out, x)
	}
	return out
}

// writeCapture writes frames to path as pcapng, annotated by pcapio: every
// probe and answer linked by a comment, unmatched answers marked.
func writeCapture(path string, ifc pcapio.Interface, frames []pcapio.Frame) error {
	pcapio.Annotate(frames)
	w, err := pcapio.Create(path, pcapio.Options{Interfaces: []pcapio.Interface{ifc},
		Section: pcapio.SectionInfo{Application: "echolot lab tour"}, Lossless: true})
	if err != nil {
		return fmt.Errorf("writing the capture: %w", err)
	}
	for i, f := range frames {
		r := f.Record()
		r.ID = uint64(i + 1)
		if err := w.WritePacket(r); err != nil {
			w.Close()
			return fmt.Errorf("writing the capture %s: %w", path, err)
		}
	}
	return w.Close()
}
