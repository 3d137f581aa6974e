package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// TCP-connect probes: without CAP_NET_RAW a TCP probe is a non-blocking
// connect(2) on a socket of its own (sock.DialTCP), with the probe's TTL /
// hop limit and TOS / traffic class and IP_RECVERR. A goroutine per
// outstanding probe waits for the outcome: connected (tcp-open; the
// socket is closed at once with SO_LINGER 0, so the kernel resets the
// connection), refused (tcp-closed), an ICMP error on the error queue
// (time exceeded, unreachable, ...) or the timeout; the socket is closed
// after its first answer, since the kernel would otherwise keep
// retransmitting the SYN. The answers are turned into the packets they
// stand for (a SYN-ACK, a RST, an ICMP error quoting the SYN) and matched
// like received ones, so statistics, the tap and Results treat them as any
// other probe's.

// connector opens the sockets of TCP-connect probes in the network
// namespace the engine was created in, on a locked OS thread of its own
// that never leaves that namespace: the goroutine exits without unlocking,
// so the runtime discards the thread.
type connector struct {
	family sock.Family
	pmtu   sock.PMTUMode
	src    netip.Addr // the template's source address, bound when set
	sport  uint16     // the template's source port, bound when set
	device string     // Options.Device
	mark   uint32     // Options.Mark

	req   chan dialReq
	reply chan dialResp
	quit  chan struct{}
	dmu   sync.Mutex // one dial at a time (reply is shared)

	mu     sync.Mutex
	conns  map[*sock.Conn]struct{}
	sem    chan struct{} // bounds the open sockets (the engine's window)
	closed bool
	wg     sync.WaitGroup
	once   sync.Once

	rx   rxConn
	pool sync.Pool // *rxState
}

type dialReq struct {
	dst netip.AddrPort
	o   sock.Options
}

type dialResp struct {
	c   *sock.Conn
	t0  time.Time // just before the connect
	err error
}

// errClosedConnector: the engine is closing.
var errClosedConnector = fmt.Errorf("probe: TCP connect: %w", os.ErrClosed)

// connectable checks that a TCP template asks for nothing a connect(2)
// cannot send: a plain SYN whose flags, sequence number, window and options
// the kernel chooses, without payload.
func connectable(p *Probe) error {
	t := &p.Packet.TCP
	var what string
	switch {
	case t.Flags != 0 && t.Flags != packet.TCPSyn:
		what = fmt.Sprintf("flags %v (a connect sends SYN only)", t.Flags)
	case len(t.Options) > 0:
		what = "TCP options (the kernel chooses a connect's options)"
	case t.Seq != 0 || t.Ack != 0:
		what = "a sequence or acknowledgement number (the kernel chooses a connect's)"
	case t.Window != 0:
		what = "a window (the kernel chooses a connect's)"
	case t.Urgent != 0 || t.Reserved != 0 || t.FixedChecksum:
		what = "urgent pointer, reserved bits or a fixed checksum"
	case len(p.Packet.Payload) > 0 || p.Stamp == packet.StampHead || p.Stamp == packet.StampTail:
		what = "a payload (a SYN sent by connect carries none)"
	case p.Packet.Version == 4 && len(p.Packet.IPv4.Options) > 0:
		what = "IPv4 options"
	}
	for i := range p.Patterns {
		if what == "" && len(p.Patterns[i].Bytes) > 0 {
			what = "a payload pattern (a SYN sent by connect carries none)"
		}
	}
	if what == "" {
		return nil
	}
	return fmt.Errorf("probe: a TCP probe with %s needs raw sockets: without them TCP probes are plain connect() SYNs; grant CAP_NET_RAW (`sudo setcap cap_net_raw+ep %s`) or run as root", what, exe())
}

// newConnector starts the socket-opening thread in the calling thread's
// network namespace.
func newConnector(f sock.Family, tmpl *packet.Packet, orig *packet.Packet, o *Options) (*connector, error) {
	c := &connector{family: f, pmtu: o.PMTU, device: o.Device, mark: o.Mark, req: make(chan dialReq), reply: make(chan dialResp),
		quit: make(chan struct{}), conns: map[*sock.Conn]struct{}{}}
	if f == sock.IPv4 && !tmpl.IPv4.DF && o.PMTU == sock.PMTUProbe {
		c.pmtu = sock.PMTUDont // DF clear, as the template says
	}
	if s := orig.Src(); s.IsValid() && !s.IsUnspecified() {
		c.src = s
	}
	c.sport = orig.TCP.SrcPort
	c.rx = rxConn{kind: rxTCP, proto: packet.ProtoTCP}
	c.pool.New = func() any {
		return &rxState{rc: &c.rx, buf: make([]byte, 2048), syn: make([]byte, 0, 2048), probeWire: make([]byte, 0, 2048)}
	}
	// The namespace of the calling thread (New's caller, e.g. lab.InNode).
	nsfd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		nsfd = -1 // no procfs: every thread is taken to be in the same namespace
	}
	ready := make(chan error, 1)
	go c.loop(nsfd, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

// loop is the connector's thread.
func (c *connector) loop(nsfd int, ready chan<- error) {
	runtime.LockOSThread()
	// Deliberately never unlocked: when this goroutine exits the runtime
	// terminates the thread, so a thread switched into another namespace
	// is never handed back to the scheduler.
	if nsfd >= 0 {
		same, err := sameNetns(nsfd)
		if err == nil && !same {
			if err = unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
				err = fmt.Errorf("probe: TCP connect probes: entering the engine's network namespace: %w", err)
			}
		}
		unix.Close(nsfd)
		if err != nil {
			ready <- err
			return
		}
	}
	ready <- nil
	for {
		select {
		case r := <-c.req:
			var resp dialResp
			resp.t0 = time.Now()
			resp.c, resp.err = sock.DialTCP(r.dst, &r.o)
			c.reply <- resp
		case <-c.quit:
			return
		}
	}
}

// sameNetns reports whether the calling thread is in the namespace nsfd
// refers to.
func sameNetns(nsfd int) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(nsfd, &a); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/thread-self/ns/net", &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// dial starts the connect of one probe; it waits while window sockets are
// open.
func (c *connector) dial(dst netip.AddrPort, ttl, tos, window int) (dialResp, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return dialResp{}, errClosedConnector
	}
	if c.sem == nil {
		c.sem = make(chan struct{}, max(window, 1))
	}
	sem := c.sem
	c.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-c.quit:
		return dialResp{}, errClosedConnector
	}
	c.dmu.Lock()
	defer c.dmu.Unlock()
	r := dialReq{dst: dst, o: sock.Options{PMTU: c.pmtu, TTL: ttl, TOS: tos, Src: c.src, Port: c.sport, Device: c.device, Mark: c.mark}}
	select {
	case c.req <- r:
	case <-c.quit:
		<-sem
		return dialResp{}, errClosedConnector
	}
	resp := <-c.reply
	if resp.err != nil {
		<-sem
		return resp, nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		resp.c.Close()
		<-sem
		return dialResp{}, errClosedConnector
	}
	c.conns[resp.c] = struct{}{}
	c.wg.Add(1)
	c.mu.Unlock()
	// Kernel timestamps for the ICMP errors read from the error queue; set
	// right after the connect, long before an answer can come.
	if rc, err := resp.c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) })
	}
	return resp, nil
}

// release closes a probe's socket and frees its place in the window.
func (c *connector) release(conn *sock.Conn) {
	conn.Close()
	c.mu.Lock()
	if _, ok := c.conns[conn]; ok {
		delete(c.conns, conn)
		<-c.sem
	}
	c.mu.Unlock()
	c.wg.Done()
}

// stop closes every open probe socket and waits for their goroutines.
func (c *connector) stop() {
	c.mu.Lock()
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// close stops the connector for good.
func (c *connector) close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.quit)
		c.stop()
	})
}

// tcpProbe is one outstanding TCP-connect probe.
type tcpProbe struct {
	conn     *sock.Conn
	n        uint64
	idx      uint32
	key      packet.Key
	deadline time.Time
}

// watchTCP waits for the outcome of a connect probe and reports it. The
// timeout itself is reported by the engine (expire); the socket is closed
// then.
func (e *Engine) watchTCP(tp tcpProbe) {
	released := false
	// rel closes the socket: before the answer is reported, so that the
	// next probe of a flood, sent from the report, finds room in the
	// window.
	rel := func() {
		if !released {
			released = true
			e.be.tcp.release(tp.conn)
		}
	}
	defer rel()
	tp.conn.SetWriteDeadline(tp.deadline)
	for {
		st, errno, err := tp.conn.WaitConnect()
		at := time.Now()
		if err != nil {
			return // timed out, or the engine closed it
		}
		switch {
		case st == sock.ConnectOpen || st == sock.ConnectFailed && (errno == unix.ECONNRESET || errno == unix.EPIPE):
			// ECONNRESET, EPIPE: the handshake completed and the server
			// reset the connection before we looked.
			rel()
			e.tcpReply(tp, packet.TCPSyn|packet.TCPAck, at)
			return
		case st == sock.ConnectRefused:
			rel()
			e.tcpReply(tp, packet.TCPRst|packet.TCPAck, at)
			return
		}
		// An ICMP error (the kernel gave up, or keeps retransmitting the
		// SYN): the details are on the error queue.
		if e.tcpErrQueue(tp, rel) {
			e.poke()
			return
		}
		if st == sock.ConnectFailed {
			rel()
			meta := rxMeta{at: at, ttl: -1}
			e.localError(tp.n, tp.key, errno, &meta)
			e.poke()
			return
		}
	}
}

// tcpRecSeq returns the sequence number recorded for the probe (as built:
// the kernel's own is not known) and whether the record is still the
// probe's.
func (e *Engine) tcpRecSeq(tp *tcpProbe) (uint32, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := &e.ring[tp.idx]
	if r.n != tp.n || len(r.wire) < int(r.hdrLen)+8 {
		return 0, false
	}
	return binary.BigEndian.Uint32(r.wire[r.hdrLen+4:]), true
}

// tcpReply reports a connect that was answered by the server: the answer
// is rebuilt as the SYN-ACK or RST the kernel received and matched.
func (e *Engine) tcpReply(tp tcpProbe, flags packet.TCPFlags, at time.Time) {
	seq, ok := e.tcpRecSeq(&tp)
	if !ok {
		return // forgotten: reported as a timeout already
	}
	rs := e.be.tcp.pool.Get().(*rxState)
	defer e.be.tcp.pool.Put(rs)
	p := packet.Packet{Transport: packet.TransportTCP,
		TCP: packet.TCP{SrcPort: tp.key.B, DstPort: tp.key.A, Ack: seq + 1, Flags: flags}}
	if e.be.family == sock.IPv6 {
		p.Version, p.IPv6 = 6, packet.IPv6{Src: tp.key.Peer, Dst: e.local, HopLimit: 64}
	} else {
		p.Version, p.IPv4 = 4, packet.IPv4{Src: tp.key.Peer, Dst: e.local, TTL: 64}
	}
	b, err := p.AppendTo(rs.syn[:0])
	if err != nil {
		return
	}
	rs.syn = b
	if err := rs.ans.Decode(b); err != nil {
		return
	}
	meta := rxMeta{data: b, synth: true, at: at, ttl: -1}
	e.match(rs, &rs.ans, &meta)
}

// tcpErrQueue reads the probe socket's error queue and reports the first
// ICMP (or local) error on it; it says whether there was one.
func (e *Engine) tcpErrQueue(tp tcpProbe, rel func()) bool {
	rs := e.be.tcp.pool.Get().(*rxState)
	defer e.be.tcp.pool.Put(rs)
	m := &rs.m
	for range 8 {
		ok, err := tp.conn.PollErrQueue(rs.buf, m)
		if !ok || err != nil {
			return false
		}
		if m.Kind != sock.KindError {
			continue
		}
		rel()
		meta := rxMeta{at: m.Time, kernel: !m.Time.IsZero(), ttl: -1, partial: true, synth: true}
		if !meta.kernel {
			meta.at = time.Now()
		}
		// The error queue holds the SYN's TCP header as the kernel sent it
		// (sequence number, window, options of its own): the probe's
		// record becomes that SYN, with the ports this engine sent, so the
		// quote diff shows what the path changed, not what the kernel
		// chose.
		e.mu.Lock()
		r := &e.ring[tp.idx]
		if r.n != tp.n {
			e.mu.Unlock()
			e.unrelated(rs, &meta, nil, errName(e.be.family == sock.IPv6, &m.Err))
			return true
		}
		hl := int(r.hdrLen)
		if w, ok := synAsSent(r.wire, hl, e.be.family == sock.IPv6, m.Data); ok {
			r.wire = w
		}
		rs.quoteBuf = append(append(rs.quoteBuf[:0], r.wire[:hl]...), m.Data...)
		e.mu.Unlock()
		e.errQueueAnswer(rs, &meta, tp.n, tp.key, &m.Err)
		return true
	}
	return false
}

// synAsSent returns the probe datagram wire (IP header hl bytes long) with
// its TCP header replaced by the one quoted from the error queue, except
// for the ports, which stay the probe's. ok is false when the quote is too
// short to say anything beyond the ports and sequence number.
func synAsSent(wire []byte, hl int, v6 bool, quoted []byte) ([]byte, bool) {
	if len(quoted) < packet.TCPHeaderLen || len(wire) < hl+packet.TCPHeaderLen {
		if len(quoted) >= 8 && len(wire) >= hl+8 {
			out := append([]byte(nil), wire...)
			copy(out[hl+4:hl+8], quoted[4:8]) // the kernel's sequence number
			return out, true
		}
		return nil, false
	}
	doff := int(quoted[12]>>4) * 4
	if doff < packet.TCPHeaderLen || doff > len(quoted) {
		doff = packet.TCPHeaderLen
	}
	out := make([]byte, 0, hl+doff)
	out = append(out, wire[:hl]...)
	out = append(out, quoted[:doff]...)
	copy(out[hl:hl+4], wire[hl:hl+4]) // the ports as sent
	if v6 {
		binary.BigEndian.PutUint16(out[4:], uint16(doff))
	} else {
		binary.BigEndian.PutUint16(out[2:], uint16(hl+doff))
		out[10], out[11] = 0, 0
		binary.BigEndian.PutUint16(out[10:], packet.Checksum(out[:hl]))
	}
	return out, true
}

// sentTCP completes the send of a TCP-connect probe registered in the ring
// at idx: a connect that failed at once (no route, no usable source
// address, ...) is a local condition; otherwise a goroutine waits for its
// outcome. e.sendMu is held.
func (e *Engine) sentTCP(n uint64, idx uint32, key packet.Key, dial dialResp, p *packet.Packet) error {
	if dial.err != nil {
		e.sendFailed(n, idx, dial.err, p)
		return nil
	}
	tp := tcpProbe{conn: dial.c, n: n, idx: idx, key: key, deadline: dial.t0.Add(e.opts.Timeout)}
	go e.watchTCP(tp)
	return nil
}
