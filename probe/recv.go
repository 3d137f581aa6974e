package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// rxState is one receiving goroutine's scratch space: nothing in it is
// allocated per packet.
type rxState struct {
	rc        *rxConn
	buf       []byte
	m         sock.Msg
	syn       []byte // datagram rebuilt around what the socket returned
	ans       packet.Packet
	probe     packet.Packet
	probeWire []byte
	quoteBuf  []byte
	txBuf     []byte
	txMsg     sock.Msg
	rst       []byte
	rstPkt    packet.Packet
}

func newRxState(rc *rxConn) *rxState {
	return &rxState{rc: rc, buf: make([]byte, 1<<16+512), syn: make([]byte, 0, 2048), probeWire: make([]byte, 0, 2048)}
}

// rxMeta is what is known about a received packet besides its bytes.
type rxMeta struct {
	data     []byte // the datagram from its IP header
	synth    bool   // the IP header (or the whole error) was rebuilt
	at       time.Time
	kernel   bool // at is the kernel's receive timestamp
	fromSelf bool // sent by this host to itself (a local error)
	ttl      int
	partial  bool // an ICMP error from a datagram socket's error queue
}

// recvLoop reads one socket until the engine stops it (a read deadline in
// the past) or it fails.
func (e *Engine) recvLoop(rs *rxState) {
	defer e.rxWG.Done()
	for {
		if err := rs.rc.c.Recv(rs.buf, &rs.m); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			if !errors.Is(err, os.ErrClosed) {
				err = fmt.Errorf("probe: receiving on the %v: %w", rs.rc.c, err)
			}
			e.mu.Lock()
			if e.fatal == nil {
				e.fatal = err
			}
			e.mu.Unlock()
			e.poke()
			return
		}
		e.handle(rs)
	}
}

// handle turns one message into a Result.
func (e *Engine) handle(rs *rxState) {
	m := &rs.m
	switch m.Kind {
	case sock.KindTxTimestamp:
		if !m.Time.IsZero() {
			e.mu.Lock()
			e.txs[m.TxID%txRing] = txStamp{id: m.TxID, ns: m.Time.UnixNano(), valid: true}
			e.mu.Unlock()
		}
		return
	case sock.KindError:
		e.handleErrQueue(rs)
		return
	case sock.KindPacket:
	default:
		return // soft errors: the entry itself comes as KindError
	}
	meta := rxMeta{at: m.Time, kernel: !m.Time.IsZero(), ttl: m.TTL, fromSelf: m.FromSelf()}
	if !meta.kernel {
		meta.at = time.Now()
	}
	meta.data, meta.synth = e.datagram(rs)
	if err := rs.ans.Decode(meta.data); err != nil {
		e.unrelated(rs, &meta, nil, "malformed")
		return
	}
	if meta.ttl < 0 {
		meta.ttl = int(rs.ans.TTL())
	}
	e.match(rs, &rs.ans, &meta)
}

// datagram returns what was read as a whole IP datagram, rebuilding the IP
// header where the kernel stripped it.
func (e *Engine) datagram(rs *rxState) ([]byte, bool) {
	m := &rs.m
	switch rs.rc.kind {
	case rxIPv6, rxPing6:
		rs.syn = m.AppendIPv6Header(rs.syn[:0], rs.rc.proto)
		rs.syn = append(rs.syn, m.Data...)
		return rs.syn, true
	case rxPing4:
		dst := m.Dst
		if !dst.IsValid() {
			dst = e.local
		}
		rs.syn = appendIPv4Header(rs.syn[:0], m.From, dst, m.TTL, m.TOS, m.Options(), packet.ProtoICMP, len(m.Data))
		rs.syn = append(rs.syn, m.Data...)
		return rs.syn, true
	case rxUDP:
		dst := m.Dst
		if !dst.IsValid() {
			dst = e.local
		}
		p := packet.Packet{Transport: packet.TransportUDP, UDP: packet.UDP{SrcPort: m.Port, DstPort: e.be.port}, Payload: m.Data}
		if e.be.family == sock.IPv6 {
			p.Version = 6
			p.IPv6 = packet.IPv6{Src: m.From, Dst: dst, HopLimit: uint8(max(m.TTL, 0)), TrafficClass: uint8(max(m.TOS, 0))}
		} else {
			p.Version = 4
			p.IPv4 = packet.IPv4{Src: m.From, Dst: dst, TTL: uint8(max(m.TTL, 0)), TOS: uint8(max(m.TOS, 0))}
		}
		if b, err := p.AppendTo(rs.syn[:0]); err == nil {
			rs.syn = b
			return rs.syn, true
		}
		return m.Data, true
	}
	return m.Data, false
}

// handleErrQueue turns an error-queue entry of a datagram socket (an ICMP
// error about one of our probes, or a local refusal) into an ICMP error
// datagram quoting the probe, and matches it like a received one. The
// kernel keeps the quoted transport header and data but not the quoted IP
// header: the quote gets the probe's IP header as echolot built it.
func (e *Engine) handleErrQueue(rs *rxState) {
	m := &rs.m
	ee := &m.Err
	meta := rxMeta{at: m.Time, kernel: !m.Time.IsZero(), ttl: -1, partial: true, synth: true}
	if !meta.kernel {
		meta.at = time.Now()
	}
	v6 := e.be.family == sock.IPv6
	var key packet.Key
	switch rs.rc.kind {
	case rxPing4, rxPing6:
		if len(m.Data) < packet.ICMPHeaderLen {
			e.unrelated(rs, &meta, nil, errName(v6, ee))
			return
		}
		key = packet.Key{Proto: packet.ProtoICMP, Type: packet.ICMPEchoRequest,
			A: binary.BigEndian.Uint16(m.Data[4:]), B: binary.BigEndian.Uint16(m.Data[6:])}
		if v6 {
			key.Proto, key.Type = packet.ProtoICMPv6, packet.ICMPv6EchoRequest
		}
	case rxUDP:
		key = packet.Key{Proto: packet.ProtoUDP, A: e.be.port, B: m.Port, Peer: m.From}
	default:
		return
	}
	e.mu.Lock()
	idx, found := e.keys[key]
	// A probe of an earlier run (Rearm) is answered by nothing this run
	// receives.
	found = found && e.ring[idx].n > e.base
	var n uint64
	if found {
		r := &e.ring[idx]
		hl := int(r.hdrLen)
		if rs.rc.kind == rxUDP {
			hl += packet.UDPHeaderLen
		}
		n = r.n
		rs.quoteBuf = append(rs.quoteBuf[:0], r.wire[:min(hl, len(r.wire))]...)
	}
	e.mu.Unlock()
	if !found {
		e.unrelated(rs, &meta, nil, errName(v6, ee))
		return
	}
	rs.quoteBuf = append(rs.quoteBuf, m.Data...)
	e.errQueueAnswer(rs, &meta, n, key, ee)
}

// errQueueAnswer turns an error-queue entry about probe n, whose quote
// (the probe's IP header as built, then what the kernel returned) is in
// rs.quoteBuf, into the ICMP error it stands for and matches it; local
// refusals other than EMSGSIZE become local results.
func (e *Engine) errQueueAnswer(rs *rxState, meta *rxMeta, n uint64, key packet.Key, ee *sock.ExtErr) {
	v6 := e.be.family == sock.IPv6
	if ee.Origin == sock.OriginLocal && ee.Errno != unix.EMSGSIZE {
		e.localError(n, key, ee.Errno, meta)
		return
	}
	src, typ, code := ee.Offender, ee.Type, ee.Code
	if ee.Origin == sock.OriginLocal || !src.IsValid() {
		src = e.local
	}
	if ee.Origin == sock.OriginLocal {
		meta.fromSelf = true
		typ, code = packet.ICMPDestUnreach, packet.CodeFragNeeded
		if v6 {
			typ, code = packet.ICMPv6PacketTooBig, 0
		}
	}
	p := packet.Packet{Payload: rs.quoteBuf}
	if v6 {
		p.Version, p.Transport = 6, packet.TransportICMPv6
		p.IPv6 = packet.IPv6{Src: src, Dst: e.local, HopLimit: 64}
		if typ == packet.ICMPv6PacketTooBig {
			p.ICMP.ID, p.ICMP.Seq = uint16(ee.Info>>16), uint16(ee.Info)
		}
	} else {
		p.Version, p.Transport = 4, packet.TransportICMP
		p.IPv4 = packet.IPv4{Src: src, Dst: e.local, TTL: 64, TOS: 0xc0}
		if typ == packet.ICMPDestUnreach && code == packet.CodeFragNeeded {
			p.ICMP.Seq = uint16(ee.Info)
		}
	}
	p.ICMP.Type, p.ICMP.Code = typ, code
	b, err := p.AppendTo(rs.syn[:0])
	if err != nil {
		e.unrelated(rs, meta, nil, errName(v6, ee))
		return
	}
	rs.syn = b
	meta.data = b
	if err := rs.ans.Decode(b); err != nil {
		e.unrelated(rs, meta, nil, errName(v6, ee))
		return
	}
	e.match(rs, &rs.ans, meta)
}

func errName(v6 bool, ee *sock.ExtErr) string {
	if ee.Origin == sock.OriginLocal {
		return "local-error"
	}
	return packet.ICMPTypeName(v6, ee.Type, ee.Code)
}

// localError reports a local failure from the error queue other than
// EMSGSIZE.
func (e *Engine) localError(n uint64, key packet.Key, errno unix.Errno, meta *rxMeta) {
	r := Result{Kind: KindLocal, Answer: "local-error", Probe: e.rel(n), Seq: -1, ReplyTTL: -1, From: e.local,
		Received: meta.at, RxKernel: meta.kernel, Err: fmt.Errorf("probe: this host reported %w about probe %d", errno, e.rel(n))}
	e.mu.Lock()
	if idx, ok := e.keys[key]; ok {
		rr := &e.ring[idx]
		r.Seq, r.TTL, r.Pattern = int(rr.seq), int(rr.ttl), e.patName(rr.n)
		if rr.state == recOut {
			rr.state = recFailed
			e.outstanding--
			e.countLocal(r.Answer)
		}
	}
	e.mu.Unlock()
	e.emit(&r)
}

// answerName names a received packet before it is matched.
func answerName(a *packet.Packet) string {
	switch a.Transport {
	case packet.TransportTCP:
		switch f := a.TCP.Flags; {
		case f&packet.TCPRst != 0:
			return "tcp-closed"
		case f&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn|packet.TCPAck:
			return "tcp-open"
		}
		return "tcp-reply"
	case packet.TransportUDP:
		return "udp-reply"
	}
	return a.Kind()
}

// comparesPayload says whether an answer echoes the probe's payload.
func comparesPayload(a *packet.Packet) bool {
	switch a.Transport {
	case packet.TransportICMP:
		return a.ICMP.Type == packet.ICMPEchoReply
	case packet.TransportICMPv6:
		return a.ICMP.Type == packet.ICMPv6EchoReply
	case packet.TransportUDP:
		return true
	}
	return false
}

// unrelated reports a packet that answers none of our probes.
func (e *Engine) unrelated(rs *rxState, meta *rxMeta, ans *packet.Packet, name string) {
	res := Result{Kind: KindUnrelated, Answer: name, Seq: -1, ReplyTTL: meta.ttl, Received: meta.at, RxKernel: meta.kernel}
	if ans != nil {
		res.Answer, res.From = answerName(ans), ans.Src()
	}
	e.mu.Lock()
	e.st.Unrelated++
	e.mu.Unlock()
	e.deliver(rs, &res, meta)
}

// match finds the probe ans answers, classifies it, updates the
// statistics and delivers the Result.
func (e *Engine) match(rs *rxState, ans *packet.Packet, meta *rxMeta) {
	key, ok := packet.AnswerKey(ans)
	e.mu.Lock()
	var r *rec
	if ok {
		// A probe of an earlier run (Rearm) is answered by nothing this
		// run receives: its key is not this run's.
		if idx, found := e.keys[key]; found && e.ring[idx].n > e.base {
			r = &e.ring[idx]
		}
	}
	var mt packet.Match
	if r != nil {
		rs.probeWire = append(rs.probeWire[:0], r.wire...)
		ok = rs.probe.Decode(rs.probeWire) == nil
		if ok {
			mt, ok = packet.Answers(&rs.probe, ans)
		}
		if !ok {
			r = nil
		}
	}
	if r == nil {
		e.mu.Unlock()
		e.unrelated(rs, meta, ans, "")
		return
	}
	res := Result{Answer: answerName(ans), From: ans.Src(), Received: meta.at, RxKernel: meta.kernel,
		ReplyTTL: meta.ttl, PartialQuote: meta.partial && mt.Error,
		Probe: e.rel(r.n), Seq: int(r.seq), TTL: int(r.ttl), Pattern: e.patName(r.n), DifferentAddress: mt.DifferentAddress}
	if mt.Kind != "" {
		res.Answer = mt.Kind
	}
	if mtu, ok := ans.NextHopMTU(); ok {
		res.MTU = mtu
	}
	// Time: the kernel's send timestamp when it came (reading the
	// sender's error queue if it has not been read yet), else the time
	// taken before the send call; the kernel's receive timestamp.
	txNs, txKernel := r.userNs, false
	if r.txKnown {
		s := e.txs[r.txID%txRing]
		if !(s.valid && s.id == r.txID) {
			switch {
			case e.be.txPoll:
				e.pollTx(e.be.send, &rs.txBuf, &rs.txMsg, true)
			case rs.rc.tx:
				e.pollTx(rs.rc.c, &rs.txBuf, &rs.txMsg, true)
			}
			s = e.txs[r.txID%txRing]
		}
		if s.valid && s.id == r.txID {
			txNs, txKernel = s.ns, true
		}
	}
	res.Sent, res.TxKernel = time.Unix(0, txNs), txKernel
	res.RTT = max(meta.at.Sub(res.Sent), 0)
	local := mt.Error && meta.fromSelf
	var dmg *packet.Damage
	if !mt.Error && comparesPayload(ans) {
		dmg = packet.Compare(rs.probe.Payload, ans.Payload)
	}
	first := false
	switch {
	case !mt.Error && ans.BadTransportChecksum:
		res.Kind = KindCorrupted
		e.st.Corrupted++
	case r.state == recOut:
		r.state = recDone
		e.outstanding--
		first = true
		e.acked = max(e.acked, r.n)
		switch {
		case local:
			res.Kind = KindLocal
			e.countLocal(res.Answer)
		case mt.Error:
			res.Kind = KindError
			e.countError(res.Answer)
		default:
			e.st.Received++
			e.rtt.Add(res.RTT)
			res.Kind = KindReply
			if dmg != nil {
				res.Kind = KindDamaged
				e.st.Damaged++
			}
		}
	case r.state == recDone:
		res.Kind = KindDuplicate
		e.st.Duplicates++
		if !mt.Error {
			e.rtt.Add(res.RTT)
		}
		if dmg != nil {
			e.st.Damaged++
		}
	case r.state == recExpired:
		res.Kind = KindLate
		e.st.Late++
		if dmg != nil {
			e.st.Damaged++
		}
	case r.state == recFailed && local:
		// The kernel's own frag-needed about a send it refused: the
		// refusal was counted already.
		res.Kind = KindLocal
	default:
		res.Kind = KindUnrelated
		e.st.Unrelated++
	}
	res.Damage = dmg
	n := r.n
	e.mu.Unlock()
	if mt.Error && ans.Quote != nil {
		res.Changes = cloneChanges(packet.QuoteDiff(&rs.probe, ans.Quote))
	}
	e.deliver(rs, &res, meta)
	// The RST goes after the SYN-ACK is tapped, so that a capture shows
	// them in the order they crossed the wire.
	if first && res.Answer == "tcp-open" && e.be.sendHdr {
		e.sendRST(rs, ans, n)
	}
	if first {
		// A flood sends the next probe from here, without waking the
		// sender goroutine (which would cost a thread wake-up per probe);
		// otherwise, or when that is not possible, the sender decides.
		if sent, err := e.floodNext(); !sent || err != nil {
			e.poke()
		}
	}
}

// floodNext sends the next probe of a flood right after an answer.
func (e *Engine) floodNext() (bool, error) {
	if !e.opts.Flood {
		return false, nil
	}
	sent, err := e.sendNext(time.Now(), true)
	if err != nil && !errors.Is(err, errBusy) {
		e.mu.Lock()
		if e.fatal == nil {
			e.fatal = err
		}
		e.mu.Unlock()
	}
	return sent, err
}

// deliver completes a Result (options, kept packet), taps the packet and
// hands the Result on.
func (e *Engine) deliver(rs *rxState, res *Result, meta *rxMeta) {
	if meta.data != nil && (e.opts.KeepPackets || len(meta.data) > packet.IPv4HeaderLen && meta.data[0] > 0x45 && meta.data[0]>>4 == 4) {
		cp := bytes.Clone(meta.data)
		if pk, err := packet.Parse(cp); err == nil {
			if pk.Version == 4 && len(pk.IPv4.Options) > 0 {
				res.IPOptions = pk.IPv4.Options
			}
			if e.opts.KeepPackets {
				res.Packet, res.Bytes = pk, cp
			}
		}
	}
	if meta.data != nil {
		if ev := e.opts.Tap.get(); ev != nil {
			*ev = TapEvent{Dir: DirReceived, Time: res.Received, TimeKernel: res.RxKernel,
				Data: append(ev.Data[:0], meta.data...), Synthesized: meta.synth,
				Probe: res.Probe, Seq: res.Seq, TTL: res.TTL, Kind: res.Kind, Answer: res.Answer,
				From: res.From, RTT: res.RTT, MTU: res.MTU, Changes: res.Changes, Damage: res.Damage}
			e.opts.Tap.put(ev)
		}
	}
	e.emit(res)
}

// sendRST resets the half-open connection a SYN-ACK announced: RST with
// the sequence number the SYN-ACK acknowledged (RFC 9293 §3.10.7.3), as
// Nping does. The Linux kernel of this host sends its own RST as well,
// since no socket of its own owns the connection (see the package
// documentation); ours also covers the cases where it does not.
func (e *Engine) sendRST(rs *rxState, ans *packet.Packet, n uint64) {
	p := &rs.rstPkt
	*p = packet.Packet{Version: ans.Version, Transport: packet.TransportTCP,
		TCP: packet.TCP{SrcPort: ans.TCP.DstPort, DstPort: ans.TCP.SrcPort, Seq: ans.TCP.Ack, Flags: packet.TCPRst}}
	if ans.Version == 6 {
		p.IPv6 = packet.IPv6{Src: ans.Dst(), Dst: ans.Src(), HopLimit: 64}
	} else {
		p.IPv4 = packet.IPv4{Src: ans.Dst(), Dst: ans.Src(), TTL: 64, DF: true, ID: e.ipid ^ 0x8000 + uint16(n)}
	}
	b, err := p.AppendTo(rs.rst[:0])
	if err != nil {
		return
	}
	rs.rst = b
	e.sendMu.Lock()
	sent, err := e.be.send.Send(b, netip.AddrPortFrom(ans.Src(), 0), nil)
	if err == nil {
		e.mu.Lock()
		e.st.ResetsSent++
		if sent.Tx == sock.TxKernel {
			e.txNext = sent.ID + 1
		}
		e.mu.Unlock()
	}
	e.sendMu.Unlock()
	if err != nil {
		return
	}
	if ev := e.opts.Tap.get(); ev != nil {
		*ev = TapEvent{Dir: DirSent, Time: sent.Time, Data: append(ev.Data[:0], b...), Probe: e.rel(n), Seq: -1, TTL: 64, Reset: true}
		e.opts.Tap.put(ev)
	}
}

// cloneChanges copies the byte slices of a quote diff, which alias the
// receive buffers.
func cloneChanges(cs []packet.Change) []packet.Change {
	for i := range cs {
		if b, ok := cs[i].Sent.([]byte); ok {
			cs[i].Sent = bytes.Clone(b)
		}
		if b, ok := cs[i].Seen.([]byte); ok {
			cs[i].Seen = bytes.Clone(b)
		}
	}
	return cs
}
