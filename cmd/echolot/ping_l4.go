package main

import (
	"fmt"
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
		p.replyTail(r, true, true)
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
// the engine counts it as an error, ping's summary as received. The RTTs
// go through the engine's own accumulator, so the figures use the same
// iputils arithmetic and histogram percentiles as every other mode.
type pingOwnStats struct {
	closed int64
	rtt    probe.RTTAccumulator
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
			p.own.rtt.Add(r.RTT)
		}
	case r.Kind == probe.KindReply || r.Kind == probe.KindDamaged || r.Kind == probe.KindDuplicate:
		p.own.rtt.Add(r.RTT)
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
	r := p.rttStats(s)
	return r.IPutils(), r.N
}

// percentiles returns the 50th, 90th and 99th percentile RTTs.
func (p *pinger) percentiles(s *probe.Stats) (p50, p90, p99 time.Duration) {
	r := p.rttStats(s)
	return r.P50, r.P90, r.P99
}

// rttStats are the RTTs the summary reports: ping's own for --udp, the
// engine's otherwise.
func (p *pinger) rttStats(s *probe.Stats) probe.RTTStats {
	if p.mode == modeUDP {
		return p.own.rtt.Stats()
	}
	return s.RTT
}
