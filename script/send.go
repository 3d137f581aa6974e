package script

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe"
	"github.com/echolot/echolot/probe/sock"
)

// sendOpts are the options of send, sr and sr1.
type sendOpts struct {
	timeout  time.Duration // how long each probe waits for its answer
	retries  int           // further rounds for the unanswered
	interval time.Duration // between probes; 0: as fast as the rate allows
	rate     float64       // probes per second; 0: no limit
	count    int           // send: copies of each packet
	window   int           // sr: probes outstanding at once
	route    route         // how the sockets are set up for routing
	pmtu     sock.PMTUMode
}

// route is what sets sockets apart in how their packets are routed:
// the interface they are bound to, their firewall mark (policy routing),
// and whether they may send to broadcast addresses.
type route struct {
	iface     string
	mark      uint32
	broadcast bool
}

const (
	defaultTimeout = 2 * time.Second
	// fastRate paces "as fast as possible": the engine's schedule then
	// sends whole lists back to back (its burst is 10 ms worth).
	fastRate = 1e6
	// defaultWindow bounds the probes sr keeps outstanding, so that a
	// long list sent as fast as possible is clocked by its answers instead
	// of overflowing queues on the path (2,000 back-to-back probes lost
	// 15% of themselves in the lab's fault bridge).
	defaultWindow = 64
)

var sendOptNames = "timeout, retries, interval, rate, window, count, pmtu, iface, mark, broadcast"

// parseSendOpts reads the options table at argument n of fn.
func parseSendOpts(L *lua.LState, fn string, n int) sendOpts {
	o := sendOpts{timeout: defaultTimeout, count: 1, window: defaultWindow, pmtu: sock.PMTUProbe}
	v := L.Get(n)
	if v == lua.LNil {
		return o
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		L.RaiseError("%s: options are %s, want a table such as {timeout=1}", fn, describe(v))
	}
	secs := func(name string, lo, hi float64) (time.Duration, bool) {
		x := t.RawGetString(name)
		if x == lua.LNil {
			return 0, false
		}
		f, ok := x.(lua.LNumber)
		if !ok || float64(f) < lo || float64(f) > hi || math.IsNaN(float64(f)) {
			L.RaiseError("%s: %s=%s is out of range, the limit is %g–%g seconds", fn, name, describeValue(x), lo, hi)
		}
		return time.Duration(float64(f) * float64(time.Second)), true
	}
	t.ForEach(func(k, x lua.LValue) {
		s, _ := k.(lua.LString)
		switch string(s) {
		case "timeout":
			o.timeout, _ = secs("timeout", 0.001, 3600)
		case "interval":
			o.interval, _ = secs("interval", 0, 3600)
		case "rate":
			f, ok := x.(lua.LNumber)
			if !ok || f <= 0 || f > 10e6 {
				L.RaiseError("%s: rate=%s is out of range, the limit is above 0 and up to 10000000 packets per second", fn, describeValue(x))
			}
			o.rate = float64(f)
		case "retries":
			r, err := intValue(fn+": retries", x, 0, 100)
			if err != nil {
				L.RaiseError("%v", err)
			}
			o.retries = int(r)
		case "window":
			w, err := intValue(fn+": window", x, 1, 32768)
			if err != nil {
				L.RaiseError("%v", err)
			}
			o.window = int(w)
		case "count":
			c, err := intValue(fn+": count", x, 1, 1<<31)
			if err != nil {
				L.RaiseError("%v", err)
			}
			o.count = int(c)
		case "iface":
			s, ok := x.(lua.LString)
			if !ok || s == "" || len(s) >= 16 {
				L.RaiseError("%s: iface=%s is not an interface name (1-15 characters, e.g. \"eth0\")", fn, describeValue(x))
			}
			o.route.iface = string(s)
		case "mark":
			m, err := intValue(fn+": mark", x, 0, math.MaxUint32)
			if err != nil {
				L.RaiseError("%v", err)
			}
			o.route.mark = uint32(m)
		case "broadcast":
			b, ok := x.(lua.LBool)
			if !ok {
				L.RaiseError("%s: broadcast=%s, want true or false", fn, describeValue(x))
			}
			o.route.broadcast = bool(b)
		case "pmtu":
			m, ok := map[string]sock.PMTUMode{"probe": sock.PMTUProbe, "do": sock.PMTUDo, "want": sock.PMTUWant, "dont": sock.PMTUDont}[x.String()]
			if !ok {
				L.RaiseError(`%s: pmtu=%s is not one of "probe", "do", "want", "dont"`, fn, describeValue(x))
			}
			o.pmtu = m
		default:
			L.RaiseError("%s: unknown option %s; the options are %s", fn, describeValue(k), sendOptNames)
		}
	})
	return o
}

// packetsArg reads a packet or a list of packets.
func packetsArg(L *lua.LState, fn string, n int) []*Pkt {
	v := L.Get(n)
	if p := toPkt(v); p != nil {
		return []*Pkt{p}
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		L.RaiseError("%s: argument %d is %s, want a packet or a list of packets", fn, n, describe(v))
	}
	var ps []*Pkt
	for i := 1; i <= t.Len(); i++ {
		p := toPkt(t.RawGetInt(i))
		if p == nil {
			L.RaiseError("%s: element %d of the list is %s, want a packet", fn, i, describe(t.RawGetInt(i)))
		}
		ps = append(ps, p)
	}
	return ps
}

// checkSendable refuses packets the sender cannot send, naming why (and
// which one, in a list).
func checkSendable(fn string, ps []*Pkt) error {
	for i, p := range ps {
		where := fn
		if len(ps) > 1 {
			where = fmt.Sprintf("%s: packet %d", fn, i+1)
		}
		switch a := p.P.Dst(); {
		case !p.HasIP:
			return fmt.Errorf("%s: the packet has no IP layer: stack it on ip{dst=...} or ip6{dst=...}", where)
		case !a.IsValid():
			return fmt.Errorf("%s: the packet has no destination: set ip.dst", where)
		case a.IsUnspecified():
			return fmt.Errorf("%s: destination %v cannot be sent to", where, a)
		}
	}
	return nil
}

func (in *Interp) registerSend() {
	L := in.L
	L.SetGlobal("send", L.NewFunction(func(L *lua.LState) int {
		ps := packetsArg(L, "send", 1)
		o := parseSendOpts(L, "send", 2)
		n, err := in.send(L.Context(), ps, o)
		if err != nil {
			L.RaiseError("%v", err)
		}
		L.Push(lua.LNumber(n))
		return 1
	}))
	L.SetGlobal("sr", L.NewFunction(func(L *lua.LState) int {
		ps := packetsArg(L, "sr", 1)
		o := parseSendOpts(L, "sr", 2)
		ans, err := in.exchange(L.Context(), "sr", ps, o)
		if err != nil {
			L.RaiseError("%v", err)
		}
		answered, unanswered := L.NewTable(), L.NewTable()
		for i, a := range ans {
			if a == nil {
				unanswered.Append(pushPkt(L, ps[i]))
			} else {
				answered.Append(in.answerTable(L, a))
			}
		}
		L.Push(answered)
		L.Push(unanswered)
		return 2
	}))
	L.SetGlobal("sr1", L.NewFunction(func(L *lua.LState) int {
		p := checkPkt(L, 1, "sr1")
		o := parseSendOpts(L, "sr1", 2)
		ans, err := in.exchange(L.Context(), "sr1", []*Pkt{p}, o)
		if err != nil {
			L.RaiseError("%v", err)
		}
		if ans[0] == nil {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(in.answerTable(L, ans[0]))
		return 1
	}))
}

// answer is what sr and sr1 learnt about one probe.
type answer struct {
	r     probe.Result
	sent  packet.Packet // the probe as sent, identifiers filled in
	probe *Pkt
	dups  int
}

// exchange sends ps through probe engines and returns, for each, its
// first answer (nil when none came). Packets that differ in family or
// transport, or fix their own identifier or source port, go through
// engines of their own, run side by side.
func (in *Interp) exchange(ctx context.Context, fn string, ps []*Pkt, o sendOpts) ([]*answer, error) {
	if err := checkSendable(fn, ps); err != nil {
		return nil, err
	}
	ans := make([]*answer, len(ps))
	todo := make([]int, len(ps))
	for i := range ps {
		todo[i] = i
	}
	for round := 0; round <= o.retries && len(todo) > 0; round++ {
		if err := in.exchangeRound(ctx, ps, todo, o, ans); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: cancelled", fn)
		}
		var left []int
		for _, i := range todo {
			if ans[i] == nil {
				left = append(left, i)
			}
		}
		todo = left
	}
	return ans, nil
}

// groupKey separates packets that one engine cannot send together.
type groupKey struct {
	version   int
	transport packet.Transport
	id        uint16 // explicit ICMP identifier, 0 for the engine's
	sport     uint16 // explicit source port
}

func keyOf(p *Pkt) groupKey {
	k := groupKey{version: p.P.Version, transport: p.P.Transport}
	switch p.P.Transport {
	case packet.TransportICMP, packet.TransportICMPv6:
		if !p.AutoID {
			k.id = p.P.ICMP.ID
		}
	case packet.TransportUDP:
		k.sport = p.P.UDP.SrcPort
	case packet.TransportTCP:
		k.sport = p.P.TCP.SrcPort
	}
	return k
}

// engineKey is what the sockets of the engines sr and sr1 keep between
// calls differ by (the socket mode is the interpreter's): a family, a
// transport, a PMTU mode and a route (interface, mark, broadcast). Identifiers fixed by the
// packets are not part of it: such groups get engines of their own for
// one call (see reusable).
type engineKey struct {
	version   int
	transport packet.Transport
	pmtu      sock.PMTUMode
	route     route
}

// reusable says whether a group's engine may be kept for later calls:
// when the engine fills in every identifier its answers are matched by
// (ICMP identifier and sequence number, source port, the IPv4 ID of a
// probe without transport), so that they go on from call to call and a
// late answer to an earlier call is never taken for one to this call.
// With an identifier fixed, the packets of two calls would look alike:
// each call gets fresh engines then, as ever.
func reusable(ps []*Pkt, members []int, k groupKey) bool {
	if k.id != 0 || k.sport != 0 {
		return false
	}
	for _, i := range members {
		p := ps[i]
		switch p.P.Transport {
		case packet.TransportICMP, packet.TransportICMPv6:
			if !p.AutoID || !p.AutoSeq {
				return false
			}
		case packet.TransportUDP, packet.TransportTCP:
		default:
			if p.P.Version != 4 || p.P.IPv4.ID != 0 {
				return false
			}
		}
	}
	return true
}

// engineFor returns a probe engine for one group of an exchange: the
// interpreter's kept engine for key, re-armed, when the group is
// reusable, else a new one; keep says whether it stays open after the
// call.
func (in *Interp) engineFor(key engineKey, reuse bool, pr probe.Probe, po probe.Options) (e *probe.Engine, keep bool, err error) {
	if !reuse {
		e, err = probe.New(pr, po)
		return e, false, err
	}
	if e = in.engines[key]; e != nil {
		err := e.Rearm(pr, po)
		if err == nil {
			return e, true, nil
		}
		if !errors.Is(err, probe.ErrNeedsNewEngine) {
			return nil, false, err
		}
		// Other sockets are needed (a source address, IPv4 options of a
		// datagram socket …): this engine makes way for a new one.
		e.Close()
		delete(in.engines, key)
	}
	if e, err = probe.New(pr, po); err != nil {
		return nil, false, err
	}
	if in.engines == nil {
		in.engines = map[engineKey]*probe.Engine{}
	}
	in.engines[key] = e
	return e, true, nil
}

// dropEngine closes a kept engine whose run failed, so the next call
// starts afresh.
func (in *Interp) dropEngine(e *probe.Engine) {
	for k, x := range in.engines {
		if x == e {
			delete(in.engines, k)
		}
	}
	e.Close()
}

// closeEngines closes the engines kept between calls.
func (in *Interp) closeEngines() {
	for k, e := range in.engines {
		e.Close()
		delete(in.engines, k)
	}
}

// exchangeRound runs one engine per group over the packets listed in
// idx and records first answers in ans. Groups whose identifiers are all
// the engine's reuse the interpreter's engines (sockets, identifiers,
// filters) from call to call, re-armed for this call's packets.
func (in *Interp) exchangeRound(ctx context.Context, ps []*Pkt, idx []int, o sendOpts, ans []*answer) error {
	groups := map[groupKey][]int{}
	var order []groupKey
	for _, i := range idx {
		k := keyOf(ps[i])
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	srcs, err := in.sourcesFor(ps, idx, o.route)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	type job struct {
		e    *probe.Engine
		tap  *probe.Tap
		keep bool // the interpreter's: left open after the call
	}
	var jobs []job
	defer func() {
		for _, j := range jobs {
			if !j.keep {
				j.e.Close()
			}
		}
	}()
	for _, k := range order {
		members := groups[k]
		sent := make([]packet.Packet, len(members))
		tmpl := ps[members[0]].P
		tmpl.Payload = append([]byte(nil), tmpl.Payload...)
		if ps[members[0]].AutoID {
			tmpl.ICMP.ID = 0
		}
		po := probe.Options{
			Count:       len(members),
			Timeout:     o.timeout,
			Mode:        in.opts.Mode,
			PMTU:        o.pmtu,
			KeepPackets: true,
			Rate:        fastRate,
			Window:      o.window,
			Device:      o.route.iface,
			Mark:        o.route.mark,
			Broadcast:   o.route.broadcast,
		}
		if o.interval > 0 {
			po.Rate, po.Interval = 0, o.interval
		} else if o.rate > 0 {
			po.Rate = o.rate
		}
		if in.cap != nil {
			po.Tap = in.cap.tapFor(uint64(len(members)), len(order) > 1)
		}
		pr := probe.Probe{Packet: tmpl, Vary: func(n uint64, p *packet.Packet) {
			u := ps[members[n-1]]
			fillFromEngine(p, u, srcs[u.P.Dst()])
			sent[n-1] = *p
		}}
		po.Results = func(r probe.Result) {
			if r.Probe == 0 || r.Probe > uint64(len(members)) {
				return
			}
			i := members[r.Probe-1]
			mu.Lock()
			defer mu.Unlock()
			switch r.Kind {
			case probe.KindReply, probe.KindError, probe.KindDamaged, probe.KindLocal:
				if ans[i] == nil {
					ans[i] = &answer{r: r, sent: sent[r.Probe-1], probe: ps[i]}
				} else {
					ans[i].dups++
				}
			case probe.KindDuplicate:
				if ans[i] != nil {
					ans[i].dups++
				}
			}
		}
		ek := engineKey{version: k.version, transport: k.transport, pmtu: o.pmtu, route: o.route}
		e, keep, err := in.engineFor(ek, reusable(ps, members, k), pr, po)
		if err != nil {
			if po.Tap != nil {
				po.Tap.Close()
			}
			return err
		}
		jobs = append(jobs, job{e: e, tap: po.Tap, keep: keep})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = j.e.Run(ctx)
			if j.tap != nil {
				j.tap.Close()
				if d := j.tap.Dropped(); d > 0 {
					fmt.Fprintf(in.opts.Stderr, "echolot: capture: %d packets were not written (the writer fell behind); %s is missing them\n", d, in.cap.path)
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && jobs[i].keep {
			in.dropEngine(jobs[i].e)
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// fillFromEngine turns the engine's probe p into the user's packet u,
// keeping what the engine chose for the fields u leaves to the sender:
// source address, ICMP identifier and sequence number, IPv4
// identification, source port and TCP sequence number.
func fillFromEngine(p *packet.Packet, u *Pkt, src netip.Addr) {
	e := *p
	*p = u.P
	if !p.Src().IsValid() && src.IsValid() {
		p.SetSrc(src)
	}
	switch p.Transport {
	case packet.TransportICMP, packet.TransportICMPv6:
		if u.AutoID {
			p.ICMP.ID = e.ICMP.ID
		}
		if u.AutoSeq {
			p.ICMP.Seq = e.ICMP.Seq
		}
	case packet.TransportUDP:
		if p.UDP.SrcPort == 0 {
			p.UDP.SrcPort = e.UDP.SrcPort
		}
	case packet.TransportTCP:
		if p.TCP.SrcPort == 0 {
			p.TCP.SrcPort = e.TCP.SrcPort
		}
		if p.TCP.Seq == 0 {
			p.TCP.Seq = e.TCP.Seq
		}
	}
	if p.Version == 4 && p.IPv4.ID == 0 {
		p.IPv4.ID = e.IPv4.ID
	}
}

// srcKey is a destination, with the interface and mark asked for.
type srcKey struct {
	dst   netip.Addr
	iface string
	mark  uint32
}

// sourceFor returns the source address this host uses towards dst
// (through r's interface, for r's mark), as the routing of the calling
// thread's network namespace says, asked once per destination for the
// interpreter's life (send and sr alike), not on every call.
func (in *Interp) sourceFor(dst netip.Addr, r route) (netip.Addr, error) {
	k := srcKey{dst, r.iface, r.mark}
	if s, ok := in.srcs[k]; ok {
		return s, nil
	}
	s, err := probe.SourceFor(dst, r.iface, r.mark)
	if err != nil {
		return netip.Addr{}, err
	}
	if in.srcs == nil {
		in.srcs = map[srcKey]netip.Addr{}
	}
	in.srcs[k] = s
	return s, nil
}

// sourcesFor finds the source addresses for the packets at idx that have
// none.
func (in *Interp) sourcesFor(ps []*Pkt, idx []int, r route) (map[netip.Addr]netip.Addr, error) {
	m := map[netip.Addr]netip.Addr{}
	for _, i := range idx {
		if p := ps[i]; !p.P.Src().IsValid() {
			s, err := in.sourceFor(p.P.Dst(), r)
			if err != nil {
				return nil, err
			}
			m[p.P.Dst()] = s
		}
	}
	return m, nil
}

// senderKey tells send's raw sockets apart: a family, a PMTU mode and a
// route (interface, mark, broadcast) each need one of their own.
type senderKey struct {
	f     sock.Family
	pmtu  sock.PMTUMode
	route route
}

// txState holds send's raw sockets and the identifiers it fills in.
type txState struct {
	conns map[senderKey]*sock.Conn
	id    uint16 // ICMP identifier of send's echo requests
	seq   uint16
	port  uint16
	buf   []byte
}

func (t *txState) close() {
	for _, c := range t.conns {
		c.Close()
	}
}

// send sends ps without waiting for answers (count copies of each, paced
// by interval or rate) and returns how many packets left.
func (in *Interp) send(ctx context.Context, ps []*Pkt, o sendOpts) (int, error) {
	if err := checkSendable("send", ps); err != nil {
		return 0, err
	}
	if in.tx == nil {
		in.tx = &txState{conns: map[senderKey]*sock.Conn{},
			id: uint16(rand.IntN(0xfff0) + 1), port: uint16(33000 + rand.IntN(20000))}
	}
	t := in.tx
	gap := o.interval
	if o.rate > 0 {
		gap = time.Duration(float64(time.Second) / o.rate)
	}
	start := time.Now()
	sent := 0
	var q packet.Packet
	for c := 0; c < o.count; c++ {
		for _, p := range ps {
			if ctx.Err() != nil {
				return sent, fmt.Errorf("send: cancelled after %d packets", sent)
			}
			if gap > 0 && sent > 0 {
				if d := time.Until(start.Add(time.Duration(sent) * gap)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return sent, fmt.Errorf("send: cancelled after %d packets", sent)
					}
				}
			}
			f := sock.IPv4
			if p.P.Version == 6 {
				f = sock.IPv6
			}
			k := senderKey{f, o.pmtu, o.route}
			conn := t.conns[k]
			if conn == nil {
				var err error
				conn, err = sock.OpenSender(f, &sock.Options{PMTU: o.pmtu, NoTxTimestamps: true, Device: o.route.iface,
					Mark: o.route.mark, Broadcast: o.route.broadcast})
				if err != nil {
					return sent, fmt.Errorf("send: %w", err)
				}
				t.conns[k] = conn
			}
			q = p.P
			if err := in.fillSend(&q, p, o.route); err != nil {
				return sent, fmt.Errorf("send: %w", err)
			}
			var err error
			t.buf, err = q.AppendTo(t.buf[:0])
			if err != nil {
				return sent, fmt.Errorf("send: %w", err)
			}
			if in.cap != nil {
				// Tapped before the send, as the engine does, so the file
				// stays in time order.
				in.cap.sent(time.Now(), t.buf, &q, p.Pattern)
			}
			if _, err := conn.Send(t.buf, netip.AddrPortFrom(q.Dst(), 0), nil); err != nil {
				return sent, fmt.Errorf("send: %s: %w", q.Summary(), err)
			}
			sent++
		}
	}
	return sent, nil
}

// fillSend sets what send fills in: source address (the checksums of
// UDP, TCP and ICMPv6 cover it), ICMP identifier and sequence number,
// source port.
func (in *Interp) fillSend(q *packet.Packet, p *Pkt, r route) error {
	t := in.tx
	if !q.Src().IsValid() {
		s, err := in.sourceFor(q.Dst(), r)
		if err != nil {
			return err
		}
		q.SetSrc(s)
	}
	switch q.Transport {
	case packet.TransportICMP, packet.TransportICMPv6:
		if p.AutoID {
			q.ICMP.ID = t.id
		}
		if p.AutoSeq {
			t.seq++
			q.ICMP.Seq = t.seq
		}
	case packet.TransportUDP:
		if q.UDP.SrcPort == 0 {
			q.UDP.SrcPort = t.nextPort()
		}
	case packet.TransportTCP:
		if q.TCP.SrcPort == 0 {
			q.TCP.SrcPort = t.nextPort()
		}
	}
	return nil
}

func (t *txState) nextPort() uint16 {
	t.port++
	if t.port < 33000 || t.port > 60999 {
		t.port = 33000
	}
	return t.port
}
