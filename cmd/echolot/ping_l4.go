package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/echolot/echolot/probe"
)

// Layer-4 modes have no iputils reference. Their lines follow the style
// of ping's (README, "Layer-4 modes"):
//
//	PING 198.18.3.2 (198.18.3.2) tcp_port=80: SYN, 40 bytes.
//	From 198.18.3.2: tcp_port=80 seq=1 open ttl=62 time=0.123 ms
//	From 198.18.3.2: tcp_port=81 seq=1 closed ttl=62 time=0.101 ms
//	PING 198.18.3.2 (198.18.3.2) udp_port=33434: 56(84) bytes of data.
//	From 198.18.3.2: udp_port=33434 seq=1 closed ttl=62 time=0.154 ms
//	From 198.18.3.2: udp_port=53 seq=2 open (64 bytes) ttl=62 time=0.2 ms
//	From 198.18.1.1 udp_port=33434 seq=3 Time to live exceeded
//
// seq is the probe number. A closed port is an answer: it counts as
// received.

// portLabel is "tcp_port=80" or "udp_port=53".
func (p *pinger) portLabel() string {
	if p.mode == modeTCP {
		return fmt.Sprintf("tcp_port=%d", p.c.tcpPort)
	}
	return fmt.Sprintf("udp_port=%d", p.c.udpPort)
}

// closedPort reports whether r is the port unreachable from the
// destination that answers a --udp probe: the port is closed.
func (p *pinger) closedPort(r *probe.Result) bool {
	return p.mode == modeUDP && (r.Kind == probe.KindError || r.Kind == probe.KindDuplicate || r.Kind == probe.KindLate) &&
		r.Answer == "port-unreachable" && r.From == p.dst
}

// l4Result prints one result of --tcp, --tcp-connect or --udp.
func (p *pinger) l4Result(r *probe.Result) {
	if p.c.quiet {
		return
	}
	w := p.out
	switch r.Kind {
	case probe.KindReply, probe.KindDamaged, probe.KindDuplicate, probe.KindLate, probe.KindCorrupted, probe.KindError:
		if r.Kind == probe.KindError && !p.closedPort(r) {
			fmt.Fprintf(w, "%sFrom %s %s seq=%d %s\n", p.stamp(), p.name(r.From), p.portLabel(), r.Probe, errorText(r))
			p.quote(r)
			return
		}
		state := "open"
		switch {
		case r.Answer == "tcp-closed" || p.closedPort(r):
			state = "closed"
		case r.Answer == "udp-reply" && r.Packet != nil:
			state = fmt.Sprintf("open (%d bytes)", len(r.Packet.Payload))
		case r.Answer != "tcp-open" && r.Answer != "udp-reply":
			state = r.Answer
		}
		fmt.Fprintf(w, "%sFrom %s: %s seq=%d %s", p.stamp(), p.name(r.From), p.portLabel(), r.Probe, state)
		if r.ReplyTTL >= 0 {
			fmt.Fprintf(w, " ttl=%d", r.ReplyTTL)
		}
		fmt.Fprintf(w, " time=%s ms", pingTime(r.RTT, p.c.precise))
		switch r.Kind {
		case probe.KindDuplicate:
			fmt.Fprint(w, " (DUP!)")
		case probe.KindCorrupted:
			fmt.Fprint(w, " (BAD CHECKSUM!)")
		case probe.KindLate:
			fmt.Fprint(w, " (late)")
		}
		if p.differentAddress(r) {
			fmt.Fprint(w, " (DIFFERENT ADDRESS!)")
		}
		if r.Damage != nil && r.Packet != nil {
			p.dump(r.Damage, r.Packet.Payload)
		}
		if p.c.audible {
			fmt.Fprint(w, "\a")
		}
		p.options(r.IPOptions)
		fmt.Fprintln(w)
		if p.closedPort(r) {
			p.quote(r)
		}
	case probe.KindLocal:
		p.local(r)
	case probe.KindTimeout:
		if p.c.outstand && (p.c.count == 0 || int64(r.Probe) < p.c.count) {
			fmt.Fprintf(w, "%sno answer yet for %s seq=%d\n", p.stamp(), p.portLabel(), r.Probe)
		}
	}
}

// pingOwnStats are the counters echolot ping keeps itself for --udp,
// where a port unreachable from the destination is the answer "closed":
// the engine counts it as an error, ping's summary as received. RTT
// figures use iputils' arithmetic (whole microseconds).
type pingOwnStats struct {
	closed               int64
	n, sum, minUs, maxUs int64
	sum2                 float64
	ewma8                int64
	rtts                 []time.Duration
}

func (o *pingOwnStats) add(d time.Duration) {
	us := max(d.Microseconds(), 0)
	if o.n == 0 || us < o.minUs {
		o.minUs = us
	}
	o.maxUs = max(o.maxUs, us)
	o.n++
	o.sum += us
	o.sum2 += float64(us) * float64(us)
	if o.ewma8 == 0 {
		o.ewma8 = us * 8
	} else {
		o.ewma8 += us - o.ewma8/8
	}
	if len(o.rtts) < 1<<20 {
		o.rtts = append(o.rtts, d)
	}
}

// figures are ping's min/avg/max/mdev/ewma (finish() in ping_common.c).
func (o *pingOwnStats) figures() probe.IPutilsRTT {
	if o.n == 0 {
		return probe.IPutilsRTT{}
	}
	avg := o.sum / o.n
	var v int64
	if o.sum < math.MaxInt32 {
		v = int64((o.sum2 - float64((o.sum*o.sum)/o.n)) / float64(o.n))
	} else {
		v = int64(o.sum2/float64(o.n) - float64(avg*avg))
	}
	return probe.IPutilsRTT{Min: o.minUs, Avg: avg, Max: o.maxUs, Mdev: isqrt(v), EWMA: o.ewma8 / 8}
}

// isqrt is iputils' llsqrt (Newton's method on integers).
func isqrt(a int64) int64 {
	prev, x := int64(math.MaxInt64), a
	if x > 0 {
		for x < prev {
			prev = x
			x = (x + a/x) / 2
		}
	}
	return x
}

// countOwn accumulates the --udp answers.
func (p *pinger) countOwn(r *probe.Result) {
	if p.mode != modeUDP {
		return
	}
	switch {
	case p.closedPort(r):
		if r.Kind == probe.KindError {
			p.own.closed++
		}
		if r.Kind != probe.KindLate {
			p.own.add(r.RTT)
		}
	case r.Kind == probe.KindReply || r.Kind == probe.KindDamaged || r.Kind == probe.KindDuplicate:
		p.own.add(r.RTT)
	}
}

// adjust moves --udp's closed-port answers from errors to received.
func (p *pinger) adjust(s *probe.Stats) {
	if p.mode == modeUDP {
		s.Received += p.own.closed
		s.Errors -= p.own.closed
	}
}

// rtt returns the RTT figures and how many RTTs they cover.
func (p *pinger) rtt(s *probe.Stats) (probe.IPutilsRTT, int64) {
	if p.mode == modeUDP {
		return p.own.figures(), p.own.n
	}
	return s.RTT.IPutils(), s.RTT.N
}

// percentiles returns the 50th, 90th and 99th percentile RTTs.
func (p *pinger) percentiles(s *probe.Stats) (p50, p90, p99 time.Duration) {
	if p.mode != modeUDP {
		return s.RTT.P50, s.RTT.P90, s.RTT.P99
	}
	r := slices.Clone(p.own.rtts)
	slices.Sort(r)
	at := func(q float64) time.Duration {
		if len(r) == 0 {
			return 0
		}
		return r[min(len(r)-1, int(math.Ceil(q*float64(len(r))))-1)]
	}
	return at(0.5), at(0.9), at(0.99)
}
