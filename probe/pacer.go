package probe

import (
	"os"
	"time"
)

// pacer decides when the next probe may be sent. Times are nanoseconds on
// the engine's monotonic clock.
//
// Interval and rate pacing keep an absolute schedule: probe k (counted from
// the schedule's origin) is due at origin + k·period, computed by
// multiplication, never by adding up sleeps, so neither timer granularity
// (about 1 ms for Go timers on Linux) nor the time a send takes makes the
// rate drift. When the sender wakes late every probe that has become due
// goes out at once, up to burst of them (a token bucket of depth burst);
// beyond that the schedule restarts from now, so a stall is not followed
// by an unbounded burst. Nping's --rate bug (nmap/nmap#1751: a period
// computed in whole milliseconds, so 1000 pps and 1001 pps differ by a
// factor of 100) cannot happen: the period is kept in nanoseconds as a
// float64 and never rounded.
//
// Flood pacing follows ping -f: the next probe goes as soon as fewer than
// preload are in flight, or FloodMinInterval after the last send.
// Adaptive pacing (ping -A) is a flood whose sends are also spaced by the
// smoothed RTT (at least AdaptiveMinUserInterval for a process that is not
// root).
type pacer struct {
	flood, adaptive bool
	period          float64 // ns per probe
	burst           int
	preload         int
	origin          int64 // schedule origin
	k               int64 // index of the next probe on the schedule
	minPeriod       float64
	started         bool
}

func newPacer(o *Options) *pacer {
	p := &pacer{flood: o.Flood, adaptive: o.Adaptive, burst: max(o.Burst, 1), preload: o.Preload}
	switch {
	case o.Rate > 0:
		p.period = 1e9 / o.Rate
	default:
		p.period = float64(o.Interval)
	}
	if o.Adaptive && os.Geteuid() != 0 {
		p.minPeriod = float64(AdaptiveMinUserInterval)
	}
	return p
}

// start sets the origin so that the first preload probes are due at now.
func (p *pacer) start(now int64) {
	p.started = true
	p.k = 0
	p.origin = now - int64(float64(p.preload-1)*p.period)
}

// due returns when the next probe may be sent, given the probes in flight
// (sent after the latest answered one) and the time of the last send.
func (p *pacer) due(now int64, inflight int, lastSend int64) int64 {
	if !p.started {
		p.start(now)
	}
	if p.flood || p.adaptive {
		t := now
		if inflight >= p.preload {
			t = lastSend + int64(FloodMinInterval)
		}
		if p.adaptive && lastSend != 0 {
			t = max(t, lastSend+int64(max(p.period, p.minPeriod)))
		}
		return t
	}
	t := p.origin + int64(float64(p.k)*p.period)
	if late := now - t; late > int64(float64(p.burst-1)*p.period) && p.k > 0 {
		// Too far behind: restart the schedule so that at most burst
		// probes go out back to back.
		p.origin = now - int64(float64(p.burst-1)*p.period)
		p.k = 0
		t = p.origin
	}
	return t
}

// sent consumes the probe slot that was due.
func (p *pacer) sent() {
	p.k++
}

// rtt adapts the adaptive period to the smoothed RTT.
func (p *pacer) rtt(ewma time.Duration) {
	if p.adaptive {
		p.period = max(float64(ewma), p.minPeriod)
	}
}
