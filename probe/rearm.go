package probe

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// Re-arming. New opens sockets, reserves an ICMP identifier or a range of
// source ports and attaches BPF filters: most of the cost of a short run
// (an sr1 in a Lua loop). Rearm keeps all of that and prepares the engine
// for another Run with a new Probe and Options, as long as they need the
// same sockets.
//
// What keeps the runs apart: the engine numbers its probes across runs,
// and the identifiers it fills in derive from that number (ICMP sequence
// number, source port from its range, TCP sequence number, IPv4 ID), so a
// probe of the new run never has the match key of a recent probe of an
// earlier one. The probe records of earlier runs stay in the ring, and an
// answer whose key leads to one of them is reported as KindUnrelated,
// never as an answer to this run. What the sockets queued between runs is
// discarded when the next run starts. Result.Probe, TapEvent.Probe and
// the n of Probe.Vary count from 1 again in every run.

// ErrNeedsNewEngine is wrapped by the errors of Rearm when the engine's
// sockets cannot serve the new Probe and Options (another family,
// transport, mode, PMTU mode, device, fixed identifier or port), when the
// engine's last run failed, or when reuse could confuse the runs' answers
// (UDP through a datagram socket). The engine is unchanged: close it and
// make a new one with New.
var ErrNeedsNewEngine = errors.New("make a new engine with New")

// sockSig is what an engine's sockets were opened for: two Probe and
// Options pairs with equal signatures can share the sockets.
type sockSig struct {
	version   int
	transport packet.Transport
	mode      Mode // as asked; the engine's own is Engine.Mode
	pmtu      sock.PMTUMode
	kernelTx  bool
	recvBuf   int
	device    string
	mark      uint32
	broadcast bool
	sendBuf   int
	icmpID    uint16 // an ICMP identifier the template fixes
	sport     uint16 // a source port the template fixes
	portRange int    // raw UDP and TCP: the reserved range's size
	// Datagram sockets only: what the kernel applies from the socket.
	icmpType  uint8
	src       netip.Addr // the address they are bound to
	noDF      bool       // IPv4 probes without DF (PMTU "dont")
	ipOpts    string     // IPv4 options set on the socket
	dontFrag6 bool
}

// sigOf is the signature of sockets for template t (checked, source
// filled in), p and o (defaults filled in) in the engine mode m.
func sigOf(t *packet.Packet, p *Probe, o *Options, m Mode) sockSig {
	s := sockSig{version: t.Version, transport: t.Transport, mode: o.Mode, pmtu: o.PMTU,
		kernelTx: o.kernelTx(), recvBuf: o.RecvBuffer, device: o.Device, mark: o.Mark, broadcast: o.Broadcast, sendBuf: o.SendBuffer}
	switch t.Transport {
	case packet.TransportICMP, packet.TransportICMPv6:
		s.icmpID = t.ICMP.ID
	case packet.TransportUDP, packet.TransportTCP:
		s.sport = templatePort(t)
		if s.sport == 0 && m == ModeRaw {
			s.portRange = o.PortRange
		}
	}
	if m != ModeDgram {
		return s
	}
	s.icmpType = t.ICMP.Type
	s.noDF = t.Version == 4 && !t.IPv4.DF && o.PMTU == sock.PMTUProbe
	s.dontFrag6 = p.DontFrag6
	if t.Version == 4 && len(t.IPv4.Options) > 0 {
		b, err := sock.IPv4OptionBytes(kernelOptions(t.IPv4.Options)...)
		if err != nil {
			b = []byte("invalid: " + err.Error())
		}
		s.ipOpts = string(b)
	}
	s.src = t.Src()
	if t.Transport == packet.TransportTCP {
		// A TCP-connect probe's socket is bound only to a source the
		// template gives.
		s.src = netip.Addr{}
		if a := p.Packet.Src(); a.IsValid() && !a.IsUnspecified() {
			s.src = a
		}
	}
	return s
}

// diff names what differs between two signatures, "" when nothing does.
func (s sockSig) diff(o sockSig) string {
	switch {
	case s.version != o.version:
		return fmt.Sprintf("IPv%d, not IPv%d", o.version, s.version)
	case s.transport != o.transport:
		return fmt.Sprintf("%v, not %v", o.transport, s.transport)
	case s.mode != o.mode:
		return fmt.Sprintf("mode %v, not %v", o.mode, s.mode)
	case s.pmtu != o.pmtu:
		return fmt.Sprintf("PMTU mode %v, not %v", o.pmtu, s.pmtu)
	case s.kernelTx != o.kernelTx:
		return "other send timestamps"
	case s.recvBuf != o.recvBuf:
		return fmt.Sprintf("receive buffer %d, not %d", o.recvBuf, s.recvBuf)
	case s.device != o.device:
		return fmt.Sprintf("device %q, not %q", o.device, s.device)
	case s.mark != o.mark:
		return fmt.Sprintf("mark %d, not %d", o.mark, s.mark)
	case s.broadcast != o.broadcast:
		return "another broadcast setting"
	case s.sendBuf != o.sendBuf:
		return fmt.Sprintf("send buffer %d, not %d", o.sendBuf, s.sendBuf)
	case s.icmpID != o.icmpID:
		return fmt.Sprintf("ICMP identifier %d, not %d", o.icmpID, s.icmpID)
	case s.sport != o.sport:
		return fmt.Sprintf("source port %d, not %d", o.sport, s.sport)
	case s.portRange != o.portRange:
		return fmt.Sprintf("port range %d, not %d", o.portRange, s.portRange)
	case s.icmpType != o.icmpType:
		return fmt.Sprintf("ICMP type %d, not %d", o.icmpType, s.icmpType)
	case s.src != o.src:
		return fmt.Sprintf("source address %v, not %v", o.src, s.src)
	case s.noDF != o.noDF:
		return "another DF setting"
	case s.ipOpts != o.ipOpts:
		return "other IPv4 options"
	case s.dontFrag6 != o.dontFrag6:
		return "another DontFrag6"
	}
	return ""
}

// Rearm prepares the engine for another Run with p and o, keeping its
// sockets, identifiers and BPF filters, as if New(p, o) had made it. Call
// it after Run has returned (or before the first Run), never at the same
// time as Run or Close.
//
// The new run's probes continue the engine's numbering of the identifiers
// it fills in (ICMP sequence numbers, source ports, TCP sequence numbers,
// IPv4 IDs), so that an answer to a probe of an earlier run, however
// late, is never taken for an answer to one of this run: it is reported
// as KindUnrelated. That holds for the fields the engine fills in;
// identifiers the template or Vary fix are the caller's to vary. What the
// sockets queued between the runs is discarded when Run starts.
// Result.Probe, TapEvent.Probe and Vary's n count from 1 again, and Stats
// are the new run's.
//
// When the engine's sockets cannot serve p and o (another family,
// transport, Mode, PMTU mode, Device, fixed ICMP identifier or source
// port; for datagram sockets another source address, DF setting or IPv4
// options), the error wraps ErrNeedsNewEngine; an error about p or o is
// New's. Either way the engine is left as it was.
//
// Like New, Rearm looks up the source address towards a destination the
// template gives none for in the calling thread's network namespace
// (once per destination for the engine's life): call it in the namespace
// New was called in (lab.InNode), or set the source.
func (e *Engine) Rearm(p Probe, o Options) error {
	if e.closed.Load() {
		return fmt.Errorf("probe: Rearm: the engine is closed: %w", ErrNeedsNewEngine)
	}
	if e.state.Load() == 1 {
		return errors.New("probe: Rearm: Run has not returned yet: wait for it, or cancel its context, before re-arming the engine")
	}
	e.mu.Lock()
	fatal := e.fatal
	e.mu.Unlock()
	if fatal != nil {
		return fmt.Errorf("probe: Rearm: the engine's last run failed (%v): %w", fatal, ErrNeedsNewEngine)
	}
	a, err := e.arm(p, o)
	if err != nil {
		return err
	}
	if templatePort(&a.tmpl) != 0 {
		a.opts.PortRange = 1 // as reservePorts does
	}
	if d := e.sig.diff(sigOf(&a.tmpl, &a.probe, &a.opts, e.be.mode)); d != "" {
		return fmt.Errorf("probe: Rearm: the new probes need other sockets than this engine's (%s): %w", d, ErrNeedsNewEngine)
	}
	if e.be.mode == ModeDgram && a.tmpl.Transport == packet.TransportUDP {
		return fmt.Errorf("probe: Rearm: UDP probes through a datagram socket all leave from its one source port, so answers to an earlier run could not be told apart: %w", ErrNeedsNewEngine)
	}
	if e.be.tcp != nil {
		if err := connectable(&a.probe); err != nil {
			return err
		}
	}
	base := max(e.sentN, e.nextN-1)
	oldBase, old := e.base, e.apply(&a)
	e.base = base
	maxLen, err := e.buildAll()
	if err != nil {
		e.base = oldBase
		e.apply(&old)
		return err
	}
	h := e.ringSize(maxLen)
	e.mu.Lock()
	if h > len(e.ring) {
		// A bigger run: fresh records. Answers to earlier runs then find
		// no record at all, and are unrelated just the same.
		e.allocRing(h)
	}
	e.st = Stats{}
	e.rtt = RTTAccumulator{}
	e.lastSendNs = 0
	e.outstanding = 0
	e.sentN, e.acked, e.tail = base, base, base+1
	e.mu.Unlock()
	e.nextN = base + 1
	e.stopping.Store(false)
	select {
	case <-e.wake:
	default:
	}
	e.pacer = newPacer(&e.opts)
	if e.be.tcp != nil {
		e.be.tcp.rearm()
	}
	e.rearmed = true
	e.state.Store(0)
	return nil
}

// discard drops what the receiving sockets queued between runs.
func (b *backend) discard() {
	for _, r := range b.rx {
		r.c.Discard()
	}
}

// rearm lets the next run size the window of open probe sockets anew.
func (c *connector) rearm() {
	c.mu.Lock()
	if len(c.conns) == 0 {
		c.sem = nil
	}
	c.mu.Unlock()
}
