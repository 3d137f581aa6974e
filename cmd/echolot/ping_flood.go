package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/echolot/echolot/probe"
)

// sending is called (through Probe.Vary) just before the engine sends
// probe n. In a flood it prints ping -f's dot: one per probe sent, erased
// by its answer, so the dots left show the probes still unanswered.
func (p *pinger) sending(n uint64) {
	if n > p.sentN.Load() {
		p.sentN.Store(n)
	}
	if !p.c.flood || p.c.quiet || p.jsonOut != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > p.dots { // a probe the engine had to retry gets one dot
		p.dots = n
		fmt.Fprint(p.out, ".")
	}
}

// track keeps iputils' pipesize: when an answer to probe n comes, the
// probes n..sent are in flight.
func (p *pinger) track(r *probe.Result) {
	switch r.Kind {
	case probe.KindReply, probe.KindDamaged, probe.KindDuplicate, probe.KindLate, probe.KindError:
		if sent := p.sentN.Load(); sent >= r.Probe && r.Probe > 0 {
			p.pipe = max(p.pipe, int(sent-r.Probe)+1)
		}
	}
	p.countOwn(r)
}

// floodResult prints ping -f's stream: a backspace over the probe's dot
// for each answer, "\bC" for a reply whose checksum fails (and, echolot's
// addition, for a damaged payload), "\bE" for an ICMP error and "E" for a
// local error.
func (p *pinger) floodResult(r *probe.Result) {
	if p.c.quiet {
		return
	}
	w := p.out
	switch r.Kind {
	case probe.KindReply, probe.KindDuplicate, probe.KindLate:
		fmt.Fprint(w, "\b \b")
	case probe.KindCorrupted, probe.KindDamaged:
		fmt.Fprint(w, "\bC")
	case probe.KindError:
		if p.closedPort(r) {
			fmt.Fprint(w, "\b \b")
			return
		}
		fmt.Fprint(w, "\bE")
	case probe.KindLocal:
		if r.Probe != 0 && r.Probe == p.lastLocal {
			return
		}
		p.lastLocal = r.Probe
		fmt.Fprint(w, "E")
	default:
		return
	}
	if p.c.audible && r.Kind != probe.KindLocal && r.Kind != probe.KindError {
		fmt.Fprint(w, "\a")
	}
}

// watchStatus prints iputils' status line on standard error whenever the
// process gets SIGQUIT (Ctrl-\), until the returned stop is called.
func (p *pinger) watchStatus(e *probe.Engine) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGQUIT)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-ch:
				s := e.Stats()
				p.mu.Lock()
				p.adjust(&s)
				fmt.Fprint(p.errw, p.statusLine(&s))
				p.mu.Unlock()
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
		<-finished
	}
}

// statusLine is iputils' status(): "\r5/5 packets, 0% loss, min/avg/ewma/max
// = 0.054/0.069/0.061/0.074 ms\n".
func (p *pinger) statusLine(s *probe.Stats) string {
	loss := int64(0)
	if s.Transmitted > 0 {
		loss = (s.Transmitted - s.Received) * 100 / s.Transmitted
	}
	line := fmt.Sprintf("\r%d/%d packets, %d%% loss", s.Received, s.Transmitted, loss)
	if r, n := p.rtt(s); s.Received > 0 && n > 0 && p.timed() {
		line += fmt.Sprintf(", min/avg/ewma/max = %d.%03d/%d.%03d/%d.%03d/%d.%03d ms",
			r.Min/1000, r.Min%1000, r.Avg/1000, r.Avg%1000, r.EWMA/1000, r.EWMA%1000, r.Max/1000, r.Max%1000)
	}
	return line + "\n"
}
