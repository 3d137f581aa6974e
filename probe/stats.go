package probe

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// Stats are an engine's counters, as iputils ping keeps them, plus what
// ping does not count. Run returns them; Engine.Stats gives a snapshot
// while it runs.
type Stats struct {
	// Transmitted counts probes sent, including those the kernel refused
	// locally (counted as lost, as ping does).
	Transmitted int64
	// Received counts probes answered by a timely reply (damaged ones
	// included; duplicates, late and corrupted replies not).
	Received int64
	// Duplicates counts further answers to probes already answered.
	Duplicates int64
	// Damaged counts replies whose payload differed from what was sent:
	// timely, duplicate and late ones.
	Damaged int64
	// Corrupted counts replies whose checksum did not verify.
	Corrupted int64
	// Late counts answers that came after their probe's timeout.
	Late int64
	// Errors counts ICMP errors from the network that answered a probe
	// (first answers only; duplicates are in Duplicates), and
	// ErrorsByKind splits them by Result.Answer ("time-exceeded", …).
	Errors       int64
	ErrorsByKind map[string]int64 // "time-exceeded" → count, …
	// Local counts local conditions (refused sends, locally generated
	// frag-needed), split by Result.Answer in LocalByKind.
	Local       int64
	LocalByKind map[string]int64 // "frag-needed" → count, …
	// Unrelated counts received packets that answered none of our
	// probes.
	Unrelated int64
	// Timeouts counts probes that got no answer in time.
	Timeouts int64
	// ResetsSent counts the RSTs sent after SYN-ACKs to raw SYN probes.
	ResetsSent int64
	// TapDropped counts capture events the tap could not take because its
	// queue was full.
	TapDropped int64
	// RTT summarises the round-trip times of replies, duplicates
	// included, as ping does.
	RTT RTTStats
	// Start is when the first probe was due and Elapsed how long the run
	// took (to the last probe sent while running, to the end once Run
	// has returned).
	Start   time.Time
	Elapsed time.Duration // ping's "time": from the start to the last probe sent
	// StopReason says why Run stopped: "count", "deadline", "cancelled",
	// or "" while it runs.
	StopReason string
}

// Loss returns the packet loss in percent as ping computes it:
// (transmitted − received) · 100 / transmitted.
func (s *Stats) Loss() float64 {
	if s.Transmitted == 0 {
		return 0
	}
	return float64(s.Transmitted-s.Received) * 100 / float64(s.Transmitted)
}

// clone returns a deep copy.
func (s *Stats) clone() Stats {
	c := *s
	c.ErrorsByKind = maps.Clone(s.ErrorsByKind)
	c.LocalByKind = maps.Clone(s.LocalByKind)
	return c
}

// Summary renders the statistics as ping's summary lines, for example
//
//	5 packets transmitted, 5 received, +1 duplicates, 0% packet loss, time 4005ms
//	rtt min/avg/max/mdev = 0.031/0.042/0.061/0.010 ms
//
// followed by echolot's additions (damaged, late, percentiles) when there
// is something to say.
func (s *Stats) Summary() string {
	line := fmt.Sprintf("%d packets transmitted, %d received", s.Transmitted, s.Received)
	if s.Duplicates > 0 {
		line += fmt.Sprintf(", +%d duplicates", s.Duplicates)
	}
	if s.Corrupted > 0 {
		line += fmt.Sprintf(", +%d corrupted", s.Corrupted)
	}
	if n := s.Errors + s.Local; n > 0 {
		line += fmt.Sprintf(", +%d errors", n)
	}
	if s.Transmitted > 0 {
		// ping prints a float with %g: six significant digits.
		line += fmt.Sprintf(", %s%% packet loss, time %dms", strconv.FormatFloat(float64(float32(s.Loss())), 'g', 6, 64), s.Elapsed.Round(time.Millisecond).Milliseconds())
	}
	if s.RTT.N > 0 {
		line += "\n" + s.RTT.IPutils().String()
	}
	var extra []string
	if s.Damaged > 0 {
		extra = append(extra, fmt.Sprintf("%d damaged", s.Damaged))
	}
	if s.Late > 0 {
		extra = append(extra, fmt.Sprintf("%d late", s.Late))
	}
	if s.Unrelated > 0 {
		extra = append(extra, fmt.Sprintf("%d unrelated", s.Unrelated))
	}
	if s.RTT.N > 0 {
		extra = append(extra, fmt.Sprintf("rtt p50/p90/p99 = %.3f/%.3f/%.3f ms", ms(s.RTT.P50), ms(s.RTT.P90), ms(s.RTT.P99)))
	}
	for i, e := range extra {
		if i == 0 {
			line += "\n"
		} else {
			line += ", "
		}
		line += e
	}
	return line
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// RTTStats summarises round-trip times.
//
// Min, Max, Avg and Mdev follow iputils ping: over every reply including
// duplicates, Avg = Σrtt/n and Mdev = sqrt(Σrtt²/n − Avg²), here in
// nanoseconds (IPutils gives ping's own microsecond arithmetic). EWMA is
// ping's smoothed RTT: the first RTT, then ewma += (rtt − ewma)/8.
// P50, P90 and P99 come from a fixed-size log-linear histogram (64
// sub-buckets per power of two of nanoseconds, 3,776 counters, 30 KiB):
// each is the midpoint of the bucket holding that rank, within 1/128 of
// the true value, clamped to [Min, Max]. Memory does not grow with the
// number of replies.
type RTTStats struct {
	N                         int64         // replies timed, duplicates included
	Min, Avg, Max, Mdev, EWMA time.Duration // as ping computes them, in nanoseconds
	P50, P90, P99             time.Duration // percentiles from the histogram
	usN, usSum, usMin, usMax  int64
	usSum2                    float64
	usEWMA8                   int64
	sumNs                     int64
	sum2Ns                    float64
}

// IPutilsRTT are ping's RTT figures in whole microseconds, computed with
// its integer arithmetic (ping_output.c), so that an echolot ping can
// print the same line.
type IPutilsRTT struct {
	Min, Avg, Max, Mdev, EWMA int64 // microseconds
}

// String renders ping's line "rtt min/avg/max/mdev = 0.031/0.042/0.061/0.010 ms".
func (r IPutilsRTT) String() string {
	f := func(us int64) string { return fmt.Sprintf("%d.%03d", us/1000, us%1000) }
	return "rtt min/avg/max/mdev = " + f(r.Min) + "/" + f(r.Avg) + "/" + f(r.Max) + "/" + f(r.Mdev) + " ms"
}

// IPutils returns the RTT figures as iputils ping computes them: RTTs
// truncated to microseconds, avg = tsum/n, mdev = llsqrt(tsum2/n − avg²)
// with ping's order of operations.
func (r *RTTStats) IPutils() IPutilsRTT {
	if r.usN == 0 {
		return IPutilsRTT{}
	}
	total := r.usN
	tmavg := r.usSum / total
	var tmvar int64
	if r.usSum < math.MaxInt32 {
		tmvar = int64((r.usSum2 - float64((r.usSum*r.usSum)/total)) / float64(total))
	} else {
		tmvar = int64(r.usSum2/float64(total) - float64(tmavg*tmavg))
	}
	return IPutilsRTT{Min: r.usMin, Avg: tmavg, Max: r.usMax, Mdev: llsqrt(tmvar), EWMA: r.usEWMA8 / 8}
}

// llsqrt is iputils' integer Newton square root, quirk included: for some
// values that are not perfect squares it returns the integer square root
// plus one (llsqrt(3) = 2), and ping prints that.
func llsqrt(a int64) int64 {
	prev := int64(math.MaxInt64)
	x := a
	if x > 0 {
		for x < prev {
			prev = x
			x = (x + a/x) / 2
		}
	}
	return x
}

// RTTAccumulator accumulates RTTs into an RTTStats: the engine's own, and
// for callers that decide themselves which answers count (echolot ping
// --udp, where a port unreachable from the destination is the answer).
// The zero value is ready to use; memory is fixed (the histogram).
type RTTAccumulator struct {
	s    RTTStats
	ew8  int64 // ns × 8
	hist hist
}

// Add counts one round-trip time.
func (a *RTTAccumulator) Add(d time.Duration) {
	ns := max(int64(d), 0)
	s := &a.s
	if s.N == 0 || ns < int64(s.Min) {
		s.Min = time.Duration(ns)
	}
	if ns > int64(s.Max) {
		s.Max = time.Duration(ns)
	}
	s.N++
	s.sumNs += ns
	s.sum2Ns += float64(ns) * float64(ns)
	if a.ew8 == 0 {
		a.ew8 = ns * 8
	} else {
		a.ew8 += ns - a.ew8/8
	}
	us := ns / 1000
	if s.usN == 0 || us < s.usMin {
		s.usMin = us
	}
	if us > s.usMax {
		s.usMax = us
	}
	s.usN++
	s.usSum += us
	s.usSum2 += float64(us * us)
	if s.usEWMA8 == 0 {
		s.usEWMA8 = us * 8
	} else {
		s.usEWMA8 += us - s.usEWMA8/8
	}
	a.hist.add(uint64(ns))
}

// Stats returns the summary with the derived figures filled in.
func (a *RTTAccumulator) Stats() RTTStats {
	s := a.s
	if s.N == 0 {
		return s
	}
	mean := float64(s.sumNs) / float64(s.N)
	s.Avg = time.Duration(mean)
	v := s.sum2Ns/float64(s.N) - mean*mean
	s.Mdev = time.Duration(math.Sqrt(max(v, 0)))
	s.EWMA = time.Duration(a.ew8 / 8)
	clamp := func(v uint64) time.Duration { return min(max(time.Duration(v), s.Min), s.Max) }
	s.P50 = clamp(a.hist.quantile(0.50, uint64(s.N)))
	s.P90 = clamp(a.hist.quantile(0.90, uint64(s.N)))
	s.P99 = clamp(a.hist.quantile(0.99, uint64(s.N)))
	return s
}

// hist is a log-linear histogram of nanosecond values: values below 64 have
// a bucket each; above, every power of two is split into 64 buckets.
type hist struct {
	c [histBuckets]uint64
}

const (
	histSub     = 64
	histBuckets = histSub + (64-6)*histSub // values up to 2^64
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return histSub + e*histSub + int(v>>uint(e)) - histSub
}

// histMid returns the midpoint of bucket i.
func histMid(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := (i - histSub) / histSub
	m := uint64((i-histSub)%histSub + histSub)
	lo := m << uint(e)
	return lo + (uint64(1)<<uint(e))/2
}

func (h *hist) add(v uint64) { h.c[histBucket(v)]++ }

// quantile returns the value at quantile q of n values: the midpoint of the
// bucket holding rank ceil(q·n).
func (h *hist) quantile(q float64, n uint64) uint64 {
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var cum uint64
	for i, c := range h.c {
		cum += c
		if cum >= rank {
			return histMid(i)
		}
	}
	return histMid(histBuckets - 1)
}
