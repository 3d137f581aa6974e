package probe

import (
	"testing"
	"time"
)

// TestPacerRate drives the pacer with a simulated clock that wakes at most
// every millisecond (Go's timer granularity here): the number of probes
// sent must match the rate exactly, at rates where a per-probe sleep
// rounded to milliseconds would be off by orders of magnitude (Nping's
// --rate bug: 1000 pps vs 1001 pps).
func TestPacerRate(t *testing.T) {
	for _, rate := range []float64{999, 1000, 1001, 3333, 50000, 250000} {
		o := Options{Rate: rate}
		if err := o.check(); err != nil {
			t.Fatal(err)
		}
		p := newPacer(&o)
		var now, sent int64
		const span = int64(2 * time.Second)
		for now < span {
			for {
				due := p.due(now, 0, 0)
				if due > now {
					// The timer fires up to 1 ms late.
					now = min(due+int64(time.Millisecond)-1, max(due, now+int64(time.Millisecond)))
					break
				}
				p.sent()
				sent++
			}
		}
		want := rate * float64(now) / 1e9
		if d := float64(sent) - want; d > float64(o.Burst)+1 || d < -float64(o.Burst)-1 {
			t.Errorf("rate %g: %d probes in %v, want %.0f", rate, sent, time.Duration(now), want)
		}
	}
}

// TestPacerBurst: after a stall the pacer sends at most Burst probes back
// to back, then keeps the rate.
func TestPacerBurst(t *testing.T) {
	o := Options{Rate: 10000, Burst: 5}
	o.check()
	p := newPacer(&o)
	p.due(0, 0, 0)
	p.sent()
	now := int64(time.Second) // a one-second stall
	n := 0
	for p.due(now, 0, 0) <= now {
		p.sent()
		n++
	}
	if n != 5 {
		t.Errorf("after a stall %d probes went out at once, want the burst of 5", n)
	}
	if next := p.due(now, 0, 0); next != now+int64(100*time.Microsecond) {
		t.Errorf("next probe due %v after the burst, want 100µs", time.Duration(next-now))
	}
}

// TestPacerInterval: preload probes go at once, then one per interval on
// the absolute schedule.
func TestPacerInterval(t *testing.T) {
	o := Options{Interval: 200 * time.Millisecond, Preload: 3}
	o.check()
	p := newPacer(&o)
	var times []int64
	now := int64(0)
	for len(times) < 6 {
		due := p.due(now, 0, 0)
		if due > now {
			now = due + int64(700*time.Microsecond) // wake a bit late
			continue
		}
		times = append(times, max(due, 0))
		p.sent()
	}
	want := []int64{0, 0, 0, 200e6, 400e6, 600e6}
	for i := range want {
		if times[i] != want[i] {
			t.Fatalf("due times %v, want %v (no drift from late wake-ups)", times, want)
		}
	}
}

// TestPacerFlood: a flood sends while fewer than preload are in flight,
// else 10 ms after the last send.
func TestPacerFlood(t *testing.T) {
	o := Options{Flood: true, Preload: 2}
	o.check()
	p := newPacer(&o)
	if d := p.due(5, 1, 3); d != 5 {
		t.Errorf("1 in flight of 2: due %d, want now", d)
	}
	if d := p.due(5, 2, 3); d != 3+int64(FloodMinInterval) {
		t.Errorf("2 in flight: due %d, want last send + 10ms", d)
	}
}
