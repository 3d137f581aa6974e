package probe

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// Engine sends probes built from a Probe, matches everything that comes
// back to the probe that caused it, times it and keeps statistics. Make one
// with New inside the network namespace to probe from, call Run, then
// Close. To send again through the same sockets, re-arm it with Rearm
// between runs.
type Engine struct {
	opts  Options
	probe Probe
	tmpl  packet.Packet
	pats  []packet.Pattern
	be    *backend
	pacer *pacer
	sig   sockSig // what the sockets were opened for (rearm.go)

	local, dst netip.Addr
	srcs       map[srcKey]netip.Addr // sources looked up, for Rearm
	// base is the number of probes the earlier runs sent: this run's
	// probe k is the engine's probe base+k, whose number the ICMP sequence
	// number, source port, TCP sequence number and IPv4 ID derive from.
	base       uint64
	rearmed    bool // Run discards what the sockets queued between runs
	closed     atomic.Bool
	portLo     uint16
	portN      int
	portsOwned bool
	nonce      uint64
	ipid       uint16
	isn        uint32
	window     int

	mu          sync.Mutex
	ring        []rec
	mask        uint64
	keys        map[packet.Key]uint32
	outstanding int
	sentN       uint64 // highest probe number handed to the kernel
	tail        uint64 // oldest probe number that may still be outstanding
	acked       uint64 // highest probe number answered
	st          Stats
	rtt         RTTAccumulator
	txs         [txRing]txStamp
	lastSendNs  int64
	fatal       error
	// txNext is the send counter the kernel will give the next packet on
	// the sender (SOF_TIMESTAMPING_OPT_ID counts successful sends); it is
	// assigned before the send, under sendMu, so that an answer processed
	// before Send returns still finds its kernel timestamp.
	txNext uint32
	// sendMu serialises sends (the sender loop, flood sends from the
	// receivers, RSTs) and guards nextN, the number of the next probe.
	sendMu   sync.Mutex
	nextN    uint64
	stopping atomic.Bool

	wake  chan struct{}
	cbMu  sync.Mutex
	state atomic.Int32
	rxWG  sync.WaitGroup
	once  sync.Once

	// sender scratch
	slab   []byte // memory for the ring's datagram buffers
	pkt    packet.Packet
	payBuf []byte
	so     sock.SendOpts
	txBuf  []byte
	txMsg  sock.Msg
}

// rec is the memory of one probe: a ring indexed by probe number.
type rec struct {
	n       uint64
	key     packet.Key
	state   uint8
	txKnown bool
	userNs  int64 // send time taken just before the send call (Unix ns)
	txID    uint32
	seq     int32
	ttl     uint8
	wire    []byte // the datagram as built, IP header first
	hdrLen  int32  // its IP header length
}

// Probe states.
const (
	recFree    uint8 = iota
	recOut           // sent, waiting for its answer
	recDone          // answered
	recExpired       // timed out
	recFailed        // refused locally
)

// txStamp is a kernel send timestamp waiting to be claimed.
type txStamp struct {
	id    uint32
	ns    int64
	valid bool
}

const txRing = 4096

// errBusy: the probe's match key is held by an outstanding probe.
var errBusy = errors.New("key busy")

// maxProbeMemory bounds the bytes the probe ring keeps for sent datagrams.
const maxProbeMemory = 32 << 20

// New prepares an engine for p: it checks the template, fills in the
// defaults listed on Probe, picks the engine's identifiers and opens its
// sockets. Sockets belong to the network namespace of the calling thread,
// so call New inside the namespace to probe from (lab.InNode does that);
// Run may then be called from anywhere. When sockets cannot be opened the
// error says what is missing and how to grant it.
func New(p Probe, o Options) (*Engine, error) {
	e := &Engine{wake: make(chan struct{}, 1)}
	a, err := e.arm(p, o)
	if err != nil {
		return nil, err
	}
	e.apply(&a)
	e.nonce = rand.Uint64()
	e.ipid = uint16(rand.Uint32())
	e.isn = rand.Uint32()

	e.be, err = openBackend(&e.tmpl, &e.probe, &e.opts, e.reservePorts)
	if err != nil {
		e.releaseIDs()
		return nil, err
	}
	if e.be.mode == ModeDgram && e.tmpl.Transport == packet.TransportUDP {
		e.portLo, e.portN = e.be.port, 1
	}
	e.sig = sigOf(&e.tmpl, &e.probe, &e.opts, e.be.mode)
	// Build probe 1 now: a template the builder refuses fails here.
	maxLen, err := e.buildAll()
	if err != nil {
		e.Close()
		return nil, err
	}
	e.allocRing(e.ringSize(maxLen))
	e.tail = 1
	e.nextN = 1
	e.pacer = newPacer(&e.opts)
	return e, nil
}

// srcKey is a destination and a device: what a source address is looked
// up for.
type srcKey struct {
	dst    netip.Addr
	device string
}

// armed is what one run takes from its Probe and Options: checked, with
// the defaults filled in.
type armed struct {
	opts       Options
	probe      Probe
	tmpl       packet.Packet
	pats       []packet.Pattern
	local, dst netip.Addr
}

// arm checks p and o for a run of e and fills in their defaults; it
// changes nothing in e but the cache of source addresses.
func (e *Engine) arm(p Probe, o Options) (armed, error) {
	if err := o.check(); err != nil {
		return armed{}, err
	}
	a := armed{opts: o, probe: p, tmpl: p.Packet}
	t := &a.tmpl
	if err := checkTemplate(t); err != nil {
		return armed{}, err
	}
	a.dst = t.Dst()
	if !t.Src().IsValid() || t.Src().IsUnspecified() {
		k := srcKey{a.dst, o.Device}
		src, ok := e.srcs[k]
		if !ok {
			var err error
			if src, err = SourceFor(a.dst, o.Device, o.Mark); err != nil {
				return armed{}, err
			}
			if e.srcs == nil || len(e.srcs) >= 256 {
				e.srcs = map[srcKey]netip.Addr{}
			}
			e.srcs[k] = src
		}
		t.SetSrc(src)
	}
	a.local = t.Src()
	a.pats = p.Patterns
	if len(a.pats) == 0 {
		a.pats = []packet.Pattern{packet.BytesPattern("payload", t.Payload, len(t.Payload))}
	}
	if len(a.pats) > 1<<16 {
		return armed{}, fmt.Errorf("probe: %d patterns: at most 65536", len(a.pats))
	}
	return a, nil
}

// apply makes a the engine's run settings and returns the ones it had.
func (e *Engine) apply(a *armed) armed {
	old := armed{opts: e.opts, probe: e.probe, tmpl: e.tmpl, pats: e.pats, local: e.local, dst: e.dst}
	e.opts, e.probe, e.tmpl, e.pats = a.opts, a.probe, a.tmpl, a.pats
	e.local, e.dst = a.local, a.dst
	return old
}

// buildAll builds the run's first probe with each payload pattern (without
// Vary), so that a template the builder refuses fails before Run, and
// returns the longest one's length.
func (e *Engine) buildAll() (int, error) {
	maxLen := 0
	for i := range e.pats {
		if err := e.build(e.base+uint64(i+1), time.Now(), false); err != nil {
			return 0, err
		}
		l, _ := e.pkt.Len()
		maxLen = max(maxLen, l)
	}
	return maxLen, nil
}

// checkTemplate validates a template and fills in its defaults.
func checkTemplate(t *packet.Packet) error {
	switch t.Version {
	case 4, 6:
	default:
		return fmt.Errorf("probe: template ip.version %d: a probe is IPv4 (4) or IPv6 (6)", t.Version)
	}
	if !t.Dst().IsValid() || t.Dst().IsUnspecified() {
		return fmt.Errorf("probe: template has no destination address (ip.dst): set one")
	}
	if t.Version == 4 && !(t.Dst().Is4() || t.Dst().Is4In6()) || t.Version == 6 && t.Dst().Is4() {
		return fmt.Errorf("probe: destination %v is not an IPv%d address", t.Dst(), t.Version)
	}
	switch t.Transport {
	case packet.TransportICMP:
		if t.Version != 4 {
			return fmt.Errorf("probe: an ICMP (v4) probe over IPv6: use icmp6")
		}
		if t.ICMP.Type != packet.ICMPEchoRequest && t.ICMP.Type != packet.ICMPTimestamp {
			return fmt.Errorf("probe: ICMP type %d: the engine sends echo requests (8) and timestamp requests (13), whose answers it can match", t.ICMP.Type)
		}
	case packet.TransportICMPv6:
		if t.ICMP.Type != packet.ICMPv6EchoRequest {
			return fmt.Errorf("probe: ICMPv6 type %d: the engine sends echo requests (128)", t.ICMP.Type)
		}
	case packet.TransportUDP:
	case packet.TransportTCP:
		if t.TCP.Flags == 0 {
			t.TCP.Flags = packet.TCPSyn
		}
		if t.TCP.Window == 0 {
			t.TCP.Window = 1024
		}
	default:
		if t.Version != 4 {
			return fmt.Errorf("probe: raw IPv6 probes without a transport cannot be matched: use icmp6, udp or tcp")
		}
	}
	if t.Version == 4 && t.IPv4.TTL == 0 {
		t.IPv4.TTL = 64
	}
	if t.Version == 6 && t.IPv6.HopLimit == 0 {
		t.IPv6.HopLimit = 64
	}
	return nil
}

// reservePorts gives openRaw the engine's source-port range.
func (e *Engine) reservePorts() (uint16, error) {
	if sp := templatePort(&e.tmpl); sp != 0 {
		e.portLo, e.portN = sp, 1
		e.opts.PortRange = 1
		return sp, nil
	}
	lo, err := reservePorts(e.opts.PortRange)
	if err != nil {
		return 0, err
	}
	e.portLo, e.portN, e.portsOwned = lo, e.opts.PortRange, true
	return lo, nil
}

// templatePort is the source port a UDP or TCP template fixes, 0 when it
// leaves it to the engine.
func templatePort(t *packet.Packet) uint16 {
	switch t.Transport {
	case packet.TransportUDP:
		return t.UDP.SrcPort
	case packet.TransportTCP:
		return t.TCP.SrcPort
	}
	return 0
}

func (e *Engine) releaseIDs() {
	if e.portsOwned {
		releasePorts(e.portLo)
		e.portsOwned = false
	}
	if e.be != nil && e.be.id != 0 {
		releaseICMPID(e.be.family, e.be.id)
	}
}

// ringSize is the number of probe records a run needs: a power of two, up
// to 65536 (the ICMP sequence space), fewer for big probes so that the
// datagrams kept stay within maxProbeMemory, and no more than a short run
// needs. It also sets the run's window.
func (e *Engine) ringSize(probeLen int) int {
	h := maxProbeMemory / (probeLen + 160)
	h = min(max(h, 1024), 1<<16)
	if e.opts.Count > 0 {
		h = min(h, max(1024, e.opts.Count*2))
	}
	h = 1 << (bits.Len(uint(h)) - 1) // round down to a power of two
	e.window = h / 2
	if e.opts.Window > 0 {
		e.window = min(e.opts.Window, h/2)
	}
	return h
}

// allocRing allocates the probe memory: h records, none in use.
func (e *Engine) allocRing(h int) {
	e.ring = make([]rec, h)
	e.mask = uint64(h - 1)
	e.keys = make(map[packet.Key]uint32, min(h, 4096))
}

// ID returns the engine's ICMP echo identifier (0 for UDP and TCP probes).
func (e *Engine) ID() uint16 { return e.be.id }

// Ports returns the engine's range of UDP or TCP source ports (lo = hi = 0
// for ICMP probes and for TCP-connect probes, whose ports the kernel
// chooses per probe).
func (e *Engine) Ports() (lo, hi uint16) {
	if e.portN == 0 {
		return 0, 0
	}
	return e.portLo, e.portLo + uint16(e.portN) - 1
}

// Mode returns ModeRaw or ModeDgram: the sockets New opened.
func (e *Engine) Mode() Mode { return e.be.mode }

// RawUnavailable says, when ModeAuto fell back to datagram sockets, why
// raw sockets could not be opened (a *sock.PrivilegeError naming
// CAP_NET_RAW); nil otherwise.
func (e *Engine) RawUnavailable() error { return e.be.rawErr }

// Source returns the source address of the probes.
func (e *Engine) Source() netip.Addr { return e.local }

// Close closes the engine's sockets and releases its identifiers. It
// stops a running Run (which then returns its statistics).
func (e *Engine) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		if e.be != nil {
			e.be.close()
		}
		e.releaseIDs()
	})
	return nil
}

// build fills e.pkt with probe n; now is the send time for the stamp. vary
// says whether to call Probe.Vary.
func (e *Engine) build(n uint64, now time.Time, vary bool) error {
	p := &e.pkt
	*p = e.tmpl
	k := n - e.base // the probe's number in this run
	pat := &e.pats[(k-1)%uint64(len(e.pats))]
	e.payBuf = packet.AppendPayload(e.payBuf[:0], *pat, e.probe.Stamp, packet.Stamp{Sent: now.UnixNano(), Nonce: e.nonce ^ n})
	p.Payload = e.payBuf
	switch p.Transport {
	case packet.TransportICMP, packet.TransportICMPv6:
		p.ICMP.ID = e.be.id
		p.ICMP.Seq = uint16(n)
	case packet.TransportUDP:
		if e.tmpl.UDP.SrcPort == 0 {
			p.UDP.SrcPort = e.portLo + uint16((n-1)%uint64(e.portN))
		}
	case packet.TransportTCP:
		if e.tmpl.TCP.SrcPort == 0 && e.portN > 0 {
			// (A TCP-connect probe's port is the kernel's: see send.)
			p.TCP.SrcPort = e.portLo + uint16((n-1)%uint64(e.portN))
		}
		if e.tmpl.TCP.Seq == 0 {
			p.TCP.Seq = e.isn + uint32(n)*0x10001
		}
	}
	if p.Version == 4 && e.tmpl.IPv4.ID == 0 {
		p.IPv4.ID = e.ipid + uint16(n)
	}
	if vary && e.probe.Vary != nil {
		e.probe.Vary(k, p)
	}
	if _, ok := packet.ProbeKey(p); !ok {
		return fmt.Errorf("probe: probe %d cannot be matched to any answer (%s): check the transport header and Vary", k, p.Summary())
	}
	_, err := p.Len()
	return err
}

// Run sends the probes and processes answers until Options.Count probes
// were sent and answered or timed out, the deadline passes, or ctx is
// cancelled; then it returns the statistics. Cancellation is a normal way
// to stop (StopReason "cancelled") and returns a nil error, as does the
// engine being closed; an error means the engine could not go on (a socket
// failed, a probe could not be built). Run may be called once after New
// and once after each Rearm; the statistics are those of this run.
func (e *Engine) Run(ctx context.Context) (Stats, error) {
	if !e.state.CompareAndSwap(0, 1) {
		return e.Stats(), errors.New("probe: Run was already called on this engine: re-arm it with Rearm, or make a new one with New")
	}
	if e.rearmed && !e.closed.Load() {
		// What came while no run was going (answers to earlier runs,
		// other programs' errors) is dropped, as fresh sockets would
		// not have seen it.
		e.be.discard()
	}
	for _, rc := range e.be.rx {
		rs := newRxState(rc)
		e.rxWG.Add(1)
		go e.recvLoop(rs)
	}
	o := &e.opts
	start := time.Now()
	epoch := start
	mono := func(t time.Time) int64 { return int64(t.Sub(epoch)) }
	e.mu.Lock()
	e.st.Start = start
	e.mu.Unlock()
	var deadline time.Time
	if o.Deadline > 0 {
		deadline = start.Add(o.Deadline)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		reason string
		runErr error
	)
	for {
		now := time.Now()
		if ctx.Err() != nil {
			reason = "cancelled"
			break
		}
		if !deadline.IsZero() && !now.Before(deadline) {
			reason = "deadline"
			break
		}
		nextExp := e.expire(now)
		e.mu.Lock()
		outstanding, inflight, fatal := e.outstanding, int(e.sentN-e.acked), e.fatal
		ewma, received, maxRTT := time.Duration(e.rtt.ew8/8), e.st.Received+e.st.Errors, e.rtt.s.Max
		sentN, lastNs := e.sentN, e.lastSendNs
		e.mu.Unlock()
		var lastSend int64 // on the pacer's clock; 0: nothing sent yet
		lastWall := time.Unix(0, lastNs)
		if lastNs != 0 {
			lastSend = lastNs - epoch.UnixNano()
		}
		if fatal != nil {
			if e.state.Load() == 2 || errors.Is(fatal, os.ErrClosed) {
				reason = "closed"
			} else {
				runErr = fatal
			}
			break
		}
		var until time.Time
		switch {
		case o.Count > 0 && sentN-e.base >= uint64(o.Count):
			if outstanding == 0 {
				reason = "count"
				break
			}
			// Like ping: after the last probe wait for twice the
			// longest RTT seen (at least one interval; here also at
			// least 100 ms, so that a reply slowed by a busy host is not
			// lost), or the timeout when nothing came back.
			if received > 0 {
				linger := min(max(2*maxRTT, o.Interval, 100*time.Millisecond), o.Timeout)
				if !now.Before(lastWall.Add(linger)) {
					reason = "count"
					break
				}
				until = lastWall.Add(linger)
				if !nextExp.IsZero() && nextExp.Before(until) {
					until = nextExp
				}
			} else {
				until = nextExp
			}
		case outstanding >= e.window:
			until = nextExp
		default:
			if o.Adaptive {
				e.pacer.rtt(ewma)
			}
			due := e.pacer.due(mono(now), inflight, lastSend)
			if due <= mono(now) {
				sent, err := e.sendNext(now, false)
				switch {
				case sent:
					e.pacer.sent()
					continue
				case err == nil || errors.Is(err, errBusy):
					until = nextExp
				default:
					runErr = err
				}
				break
			}
			until = epoch.Add(time.Duration(due))
			if !nextExp.IsZero() && nextExp.Before(until) {
				until = nextExp
			}
		}
		if reason != "" || runErr != nil {
			break
		}
		if !deadline.IsZero() && (until.IsZero() || deadline.Before(until)) {
			until = deadline
		}
		e.sleep(ctx, timer, until)
	}
	e.stopping.Store(true)
	e.sendMu.Lock() // wait for a flood send from a receiver to finish
	e.sendMu.Unlock()
	if runErr != nil && errors.Is(runErr, os.ErrClosed) {
		runErr, reason = nil, "closed"
	}
	// Stop the receivers and report what is still unanswered.
	for _, rc := range e.be.rx {
		rc.c.SetReadDeadline(time.Unix(1, 0))
	}
	e.rxWG.Wait()
	if e.be.tcp != nil {
		e.be.tcp.stop() // close the connect probes' sockets
	}
	for _, rc := range e.be.rx {
		rc.c.SetReadDeadline(time.Time{})
	}
	e.expireAll()
	e.state.Store(2)
	e.mu.Lock()
	e.st.StopReason = reason
	if e.lastSendNs != 0 {
		e.st.Elapsed = time.Duration(e.lastSendNs - start.UnixNano())
	}
	e.mu.Unlock()
	return e.Stats(), runErr
}

// sleep waits until until (zero: no time limit), an answer, or ctx.
func (e *Engine) sleep(ctx context.Context, timer *time.Timer, until time.Time) {
	if !until.IsZero() {
		d := time.Until(until)
		if d <= 0 {
			return
		}
		timer.Reset(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-e.wake:
		case <-ctx.Done():
		}
		return
	}
	select {
	case <-e.wake:
	case <-ctx.Done():
	}
}

// poke wakes the sender.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the statistics.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st.clone()
	s.RTT = e.rtt.Stats()
	s.TapDropped = int64(e.opts.Tap.Dropped())
	if s.StopReason == "" && !s.Start.IsZero() {
		s.Elapsed = time.Duration(e.lastSendNs - s.Start.UnixNano())
	}
	return s
}

// sendNext sends the next probe unless the count is reached or the engine
// stops. With flood set (a receiver sending the next probe of a flood as
// soon as an answer came, without waking the sender goroutine) it sends
// only while fewer than Preload probes are in flight and the window has
// room. It reports whether a probe was sent.
func (e *Engine) sendNext(now time.Time, flood bool) (bool, error) {
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	if e.stopping.Load() {
		return false, nil
	}
	n := e.nextN
	if e.opts.Count > 0 && n-e.base > uint64(e.opts.Count) {
		return false, nil
	}
	if flood {
		e.mu.Lock()
		ok := int(e.sentN-e.acked) < e.opts.Preload && e.outstanding < e.window
		e.mu.Unlock()
		if !ok {
			return false, nil
		}
	}
	if err := e.send(n, now); err != nil {
		return false, err
	}
	e.nextN++
	return true, nil
}

// send builds probe n and sends it; e.sendMu is held.
func (e *Engine) send(n uint64, now time.Time) error {
	if err := e.build(n, now, true); err != nil {
		return err
	}
	p := &e.pkt
	// A TCP-connect probe is a connect(2) on a socket of its own: started
	// first, since the kernel chooses its source port, part of the key.
	var dial dialResp
	if e.be.tcp != nil {
		var err error
		dial, err = e.be.tcp.dial(netip.AddrPortFrom(p.Dst(), p.TCP.DstPort), int(p.TTL()), int(p.TOS()), e.window)
		if err != nil {
			return err
		}
		if dial.err == nil {
			p.TCP.SrcPort = dial.c.LocalPort()
			now = dial.t0
		}
	}
	key, _ := packet.ProbeKey(p)
	e.mu.Lock()
	if idx, ok := e.keys[key]; ok && e.ring[idx].state == recOut {
		e.mu.Unlock()
		if dial.c != nil {
			e.be.tcp.release(dial.c)
		}
		return errBusy
	}
	idx := uint32(n & e.mask)
	r := &e.ring[idx]
	var evicted Result
	if r.state == recOut {
		// Forgotten after len(ring) later probes: report it now.
		evicted = e.timeoutLocked(r)
	}
	if r.state != recFree {
		if j, ok := e.keys[r.key]; ok && j == idx {
			delete(e.keys, r.key)
		}
	}
	if l, _ := p.Len(); cap(r.wire) < l {
		// Carve the slot's buffer from a slab: one allocation per 64 KiB,
		// not per slot, while the ring fills.
		c := (l + 63) &^ 63
		if len(e.slab) < c {
			e.slab = make([]byte, max(c, 64<<10))
		}
		r.wire, e.slab = e.slab[:0:c], e.slab[c:]
	}
	wire, err := p.AppendTo(r.wire[:0])
	if err != nil {
		e.mu.Unlock()
		return err
	}
	r.wire = wire
	r.n, r.key, r.state, r.txKnown = n, key, recOut, e.be.txOn
	r.txID = e.txNext
	r.userNs = now.UnixNano()
	r.seq = -1
	if p.Transport == packet.TransportICMP || p.Transport == packet.TransportICMPv6 {
		r.seq = int32(p.ICMP.Seq)
	}
	r.ttl = p.TTL()
	r.hdrLen = int32(len(wire) - transportLen(p))
	e.keys[key] = idx
	e.outstanding++
	e.sentN = n
	e.st.Transmitted++
	e.lastSendNs = now.UnixNano()
	e.mu.Unlock()
	if evicted.Kind != 0 {
		e.emit(&evicted)
	}

	dst := netip.AddrPortFrom(p.Dst(), 0)
	if p.Transport == packet.TransportUDP && !e.be.sendHdr {
		dst = netip.AddrPortFrom(p.Dst(), p.UDP.DstPort)
	}
	so := e.be.sendOpts(p, &e.so)
	off := 0 // a datagram socket takes what follows the IP (and UDP) header
	if !e.be.sendHdr {
		off = int(r.hdrLen)
		if p.Transport == packet.TransportUDP {
			off += packet.UDPHeaderLen
		}
	}
	// The probe is tapped before it is sent: its answer can be processed
	// before the send call returns, and the capture must stay in order.
	if ev := e.opts.Tap.get(); ev != nil {
		*ev = TapEvent{Dir: DirSent, Time: time.Now(), Data: append(ev.Data[:0], wire...), Synthesized: !e.be.sendHdr,
			Probe: e.rel(n), Seq: int(r.seq), TTL: int(p.TTL()), Pattern: e.patName(n)}
		e.opts.Tap.put(ev)
	}
	if e.be.tcp != nil {
		return e.sentTCP(n, idx, key, dial, p)
	}
	var (
		sent sock.Sent
		serr error
	)
	for try := 0; ; try++ {
		sent, serr = e.be.send.Send(wire[off:], dst, so)
		if serr == nil || !errors.Is(serr, syscall.ENOBUFS) || try == 20 {
			break
		}
		time.Sleep(time.Millisecond) // device queue full: slow down
	}
	if serr != nil {
		if errors.Is(serr, os.ErrClosed) {
			return serr
		}
		e.sendFailed(n, idx, serr, p)
		return nil
	}
	if e.be.txPoll {
		e.pollTx(e.be.send, &e.txBuf, &e.txMsg, false)
	}
	e.mu.Lock()
	if sent.Tx == sock.TxKernel {
		e.txNext = sent.ID + 1
	}
	if r.n == n {
		r.userNs = sent.Time.UnixNano()
		r.txID, r.txKnown = sent.ID, sent.Tx == sock.TxKernel
	}
	e.mu.Unlock()
	return nil
}

// patName names the payload pattern of the engine's probe n ("" when the
// probe has no Patterns, or n is a probe of an earlier run).
func (e *Engine) patName(n uint64) string {
	if len(e.probe.Patterns) == 0 || n <= e.base {
		return ""
	}
	return e.pats[(n-e.base-1)%uint64(len(e.pats))].Name
}

// rel turns the engine's probe number n into the number this run gives
// it (from 1); 0 for a probe of an earlier run.
func (e *Engine) rel(n uint64) uint64 {
	if n <= e.base {
		return 0
	}
	return n - e.base
}

// transportLen is the number of bytes after the IP header.
func transportLen(p *packet.Packet) int {
	l, _ := p.Len()
	if p.Version == 6 {
		return l - packet.IPv6HeaderLen
	}
	hl := packet.IPv4HeaderLen
	for _, o := range p.IPv4.Options {
		hl += o.Len()
	}
	return l - (hl+3)&^3
}

// sendFailed records a probe the kernel refused.
func (e *Engine) sendFailed(n uint64, idx uint32, err error, p *packet.Packet) {
	r := Result{Kind: KindLocal, Answer: "send-error", Probe: e.rel(n), Seq: -1, TTL: int(p.TTL()), ReplyTTL: -1,
		Err: err, From: e.local, Sent: time.Now(), Pattern: e.patName(n)}
	if p.Transport == packet.TransportICMP || p.Transport == packet.TransportICMPv6 {
		r.Seq = int(p.ICMP.Seq)
	}
	var me *sock.MTUError
	if errors.As(err, &me) {
		r.Answer, r.MTU = "frag-needed", me.MTU
		if p.Version == 6 {
			r.Answer = "packet-too-big"
		}
	}
	e.mu.Lock()
	rr := &e.ring[idx]
	if rr.n == n && rr.state == recOut {
		rr.state = recFailed
		e.outstanding--
		e.countLocal(r.Answer)
	}
	// Otherwise the frag-needed the kernel generated about this refusal
	// was processed (and counted) while the send call was still running.
	// The probe's key stays in the table: that frag-needed, when it comes
	// later, is matched and reported as local too.
	e.mu.Unlock()
	e.emit(&r)
}

func (e *Engine) countLocal(kind string) {
	e.st.Local++
	if e.st.LocalByKind == nil {
		e.st.LocalByKind = map[string]int64{}
	}
	e.st.LocalByKind[kind]++
}

func (e *Engine) countError(kind string) {
	e.st.Errors++
	if e.st.ErrorsByKind == nil {
		e.st.ErrorsByKind = map[string]int64{}
	}
	e.st.ErrorsByKind[kind]++
}

// pollTx reads the kernel send timestamps queued on c's error queue
// without waiting. locked says whether e.mu is held; it is held while the
// queue is read, so that a stamp taken off the queue is stored before the
// receiver can look for it (otherwise a reply handled in between finds
// neither the stamp in e.txs nor on the queue, and is timed from the
// user-space clock).
func (e *Engine) pollTx(c *sock.Conn, buf *[]byte, m *sock.Msg, locked bool) {
	if *buf == nil {
		*buf = make([]byte, 512)
	}
	if !locked {
		e.mu.Lock()
		defer e.mu.Unlock()
	}
	for range 64 {
		ok, err := c.PollErrQueue(*buf, m)
		if !ok || err != nil {
			return
		}
		if m.Kind == sock.KindTxTimestamp && !m.Time.IsZero() {
			e.txs[m.TxID%txRing] = txStamp{id: m.TxID, ns: m.Time.UnixNano(), valid: true}
		}
	}
}

// expire times out the probes whose timeout has passed and returns when the
// next one will (zero when none is outstanding).
func (e *Engine) expire(now time.Time) time.Time {
	var out []Result
	var next time.Time
	tmo := int64(e.opts.Timeout)
	nowNs := now.UnixNano()
	e.mu.Lock()
	for e.tail <= e.sentN {
		r := &e.ring[e.tail&e.mask]
		if r.n != e.tail || r.state != recOut {
			e.tail++
			continue
		}
		if r.userNs+tmo > nowNs {
			next = time.Unix(0, r.userNs+tmo)
			break
		}
		out = append(out, e.timeoutLocked(r))
		e.tail++
	}
	e.mu.Unlock()
	for i := range out {
		e.emit(&out[i])
	}
	return next
}

// expireAll times out every probe still outstanding (the engine stops).
func (e *Engine) expireAll() {
	var out []Result
	e.mu.Lock()
	for ; e.tail <= e.sentN; e.tail++ {
		r := &e.ring[e.tail&e.mask]
		if r.n == e.tail && r.state == recOut {
			out = append(out, e.timeoutLocked(r))
		}
	}
	e.mu.Unlock()
	for i := range out {
		e.emit(&out[i])
	}
}

// timeoutLocked marks r timed out and returns its record.
func (e *Engine) timeoutLocked(r *rec) Result {
	r.state = recExpired
	e.outstanding--
	e.st.Timeouts++
	return Result{Kind: KindTimeout, Probe: e.rel(r.n), Seq: int(r.seq), TTL: int(r.ttl), ReplyTTL: -1,
		Sent: time.Unix(0, r.userNs), Pattern: e.patName(r.n)}
}

// emit hands a result to the Results callback.
func (e *Engine) emit(r *Result) {
	if e.opts.Results == nil {
		return
	}
	e.cbMu.Lock()
	defer e.cbMu.Unlock()
	e.opts.Results(*r)
}
