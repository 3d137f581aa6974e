package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

// TestFaultsCountedExactly: duplicates, corruption, pattern drops and
// random loss made by the fault node show up in the statistics exactly.
func TestFaultsCountedExactly(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	const n = 20
	opts := Options{Count: n, Interval: 3 * time.Millisecond, Mode: ModeRaw, Timeout: time.Second}
	clear := func() {
		if err := l.Fault().Clear(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("duplicate", func(t *testing.T) {
		defer clear()
		addRule(t, l, "duplicate dir=to-client")
		e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)}, opts)
		s := run(t, e)
		t.Log(statsLine(s))
		if s.Received != n || s.Duplicates != n || len(c.of(KindDuplicate)) != n || s.Loss() != 0 {
			t.Errorf("want %d received and %d duplicates: %s", n, n, statsLine(s))
		}
		// ping includes duplicates in the RTT statistics.
		if s.RTT.N != 2*n {
			t.Errorf("rtt over %d replies, want %d (duplicates included)", s.RTT.N, 2*n)
		}
		for _, r := range c.of(KindDuplicate) {
			if r.Answer != "echo-reply" || r.Probe == 0 || r.Probe > n {
				t.Errorf("duplicate %s", r.String())
			}
		}
	})

	t.Run("corrupt", func(t *testing.T) {
		defer clear()
		addRule(t, l, "corrupt offset=30 flip=0x01 dir=to-client")
		pat, _ := packet.HexPattern("aa", 56)
		e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 0), Patterns: []packet.Pattern{pat}}, opts)
		s := run(t, e)
		t.Log(statsLine(s))
		if s.Received != n || s.Damaged != n || len(c.of(KindDamaged)) != n {
			t.Fatalf("want all %d replies received and damaged: %s", n, statsLine(s))
		}
		for _, r := range c.of(KindDamaged) {
			b, ok := r.Damage.First()
			if !ok || len(r.Damage.Bytes) != 1 || b.Offset != 30 || b.Sent != 0xaa || b.Got != 0xab || b.Bits() != 0x01 {
				t.Errorf("probe %d: damage %v, want byte #30 0xaa→0xab", r.Probe, r.Damage)
			}
		}
		t.Logf("%s", c.of(KindDamaged)[0].Damage.IPutilsLine())
	})

	t.Run("corrupt-bad-checksum", func(t *testing.T) {
		defer clear()
		addRule(t, l, "corrupt offset=10 flip=0x80 dir=to-client bad-checksum")
		o := opts
		o.Timeout = 200 * time.Millisecond
		e, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)}, o)
		s := run(t, e)
		t.Log(statsLine(s))
		if s.Corrupted != n || s.Received != 0 || s.Timeouts != n {
			t.Errorf("want %d corrupted (bad checksum, not received): %s", n, statsLine(s))
		}
	})

	t.Run("drop-pattern", func(t *testing.T) {
		defer clear()
		id := addRule(t, l, "drop pattern=a5a5a5a5a5a5a5a5 dir=to-server")
		a5, _ := packet.HexPattern("a5", 56)
		x5a, _ := packet.HexPattern("5a", 56)
		e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 0), Patterns: []packet.Pattern{a5, x5a}}, opts)
		s := run(t, e)
		t.Log(statsLine(s))
		if s.Received != n/2 || s.Timeouts != n/2 || ruleMatched(t, l, id) != n/2 {
			t.Errorf("want exactly the %d 0xa5 probes lost: %s; rule matched %d", n/2, statsLine(s), ruleMatched(t, l, id))
		}
		for _, r := range c.of(KindTimeout) {
			if r.Probe%2 != 1 || r.Pattern != "0xa5" {
				t.Errorf("lost %s (pattern %s), want only odd probes with 0xa5", r.String(), r.Pattern)
			}
		}
		for _, r := range c.of(KindReply) {
			if r.Pattern != "0x5a" {
				t.Errorf("answered %s with pattern %s", r.String(), r.Pattern)
			}
		}
	})

	t.Run("loss", func(t *testing.T) {
		defer clear()
		id := addRule(t, l, "loss 0.25 dir=to-server")
		o := opts
		o.Count, o.Interval = 400, 500*time.Microsecond
		e, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)}, o)
		s := run(t, e)
		dropped := ruleMatched(t, l, id)
		t.Logf("%s; the fault node dropped %d", statsLine(s), dropped)
		if dropped == 0 || s.Transmitted-s.Received != int64(dropped) || s.Timeouts != int64(dropped) {
			t.Errorf("lost %d, timed out %d, the fault node dropped %d", s.Transmitted-s.Received, s.Timeouts, dropped)
		}
	})
}

// TestIsolation runs two raw engines, a datagram-socket engine and an
// iputils ping at once in the client namespace: every engine gets exactly
// its own replies, none sees another's (no unrelated packets, no
// duplicates), and ping loses nothing and sees no duplicates either.
func TestIsolation(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	ping := testenv.NeedTool(t, "ping")
	const n = 300
	type inst struct {
		e *Engine
		c *collector
	}
	var insts []inst
	for _, mode := range []Mode{ModeRaw, ModeRaw, ModeDgram} {
		e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)},
			Options{Count: n, Interval: 2 * time.Millisecond, Mode: mode, Timeout: 2 * time.Second})
		insts = append(insts, inst{e, c})
		t.Logf("engine %d: %v, id %#x", len(insts), e.Mode(), e.ID())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := l.Command(ctx, "client", ping, "-n", "-q", "-i", "0.002", "-c", fmt.Sprint(n), serverV4.String())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stats := make([]Stats, len(insts))
	for i, in := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := in.e.Run(ctx)
			if err != nil {
				t.Error(err)
			}
			stats[i] = s
		}()
	}
	wg.Wait()
	perr := cmd.Wait()
	t.Logf("ping: %v\n%s", perr, out.String())
	for i, s := range stats {
		t.Logf("engine %d (id %#x): %s", i+1, insts[i].e.ID(), statsLine(s))
		if s.Transmitted != n || s.Received != n || s.Duplicates != 0 || s.Unrelated != 0 || s.Late != 0 {
			t.Errorf("engine %d: %s", i+1, statsLine(s))
		}
		for _, r := range insts[i].c.all() {
			if r.Kind != KindReply {
				t.Errorf("engine %d: %s", i+1, r.String())
				break
			}
		}
	}
	if want := fmt.Sprintf("%d packets transmitted, %d received, 0%% packet loss", n, n); !strings.Contains(out.String(), want) || strings.Contains(out.String(), "duplicates") {
		t.Errorf("ping: want %q and no duplicates", want)
	}
	ids := map[uint16]bool{}
	for _, in := range insts {
		ids[in.e.ID()] = true
	}
	if len(ids) != len(insts) {
		t.Errorf("engines share identifiers: %v", ids)
	}
}

// TestCancelAndDeadline: cancelling the context stops a run cleanly and
// still gives the statistics; so does the deadline. Every probe sent is
// accounted for: answered, or reported as timed out when the run stopped.
func TestCancelAndDeadline(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	accounted := func(s Stats) bool { return s.Received+s.Timeouts+s.Errors+s.Local == s.Transmitted }
	e, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)}, Options{Interval: 50 * time.Millisecond, Mode: ModeRaw})
	ctx, cancel := context.WithTimeout(context.Background(), 275*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := e.Run(ctx)
	took := time.Since(start)
	t.Logf("cancelled after %v: %s", took, statsLine(s))
	if err != nil || s.StopReason != "cancelled" || took > time.Second {
		t.Fatalf("cancelled run: %v, %s after %v", err, statsLine(s), took)
	}
	// Six probes are due in 275 ms (at 0, 50, …, 250 ms); a loaded host may
	// send fewer, never more.
	if s.Transmitted < 1 || s.Transmitted > 6 || !accounted(s) {
		t.Errorf("cancelled run: %s", statsLine(s))
	}
	if _, err := e.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}

	e2, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)}, Options{Interval: 50 * time.Millisecond, Deadline: 275 * time.Millisecond, Mode: ModeRaw})
	s2 := run(t, e2)
	t.Logf("deadline: %s", statsLine(s2))
	if s2.StopReason != "deadline" || s2.Transmitted < 1 || s2.Transmitted > 6 || !accounted(s2) {
		t.Errorf("deadline run: %s", statsLine(s2))
	}
}

// TestAdaptiveAndClose: an adaptive run follows the RTT (a few
// milliseconds for 50 probes, not 50 default intervals); Close stops a
// running engine, whose Run then returns its statistics without error.
func TestAdaptiveAndClose(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	e, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)}, Options{Count: 50, Adaptive: true, Mode: ModeRaw, Timeout: time.Second})
	start := time.Now()
	s := run(t, e)
	t.Logf("adaptive: %s in %v", statsLine(s), time.Since(start))
	// With the default interval of 1 s, 50 probes would take 49 s; the
	// adaptive interval follows the RTT (or, while an answer is missing,
	// the flood's 10 ms).
	if s.Transmitted != 50 || s.Received+s.Timeouts != 50 || s.Elapsed > 5*time.Second {
		t.Errorf("adaptive: %s in %v", statsLine(s), time.Since(start))
	}

	e2, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)}, Options{Interval: 50 * time.Millisecond, Mode: ModeRaw})
	time.AfterFunc(180*time.Millisecond, func() { e2.Close() })
	s2, err := e2.Run(context.Background())
	if err != nil || s2.StopReason != "closed" || s2.Transmitted < 1 {
		t.Errorf("closed while running: %v, %s", err, statsLine(s2))
	}
}

// TestRateAccuracy: at rates well above 1000 per second the engine sends
// on schedule (Nping's --rate bug is the counter-example). It does not run
// in parallel with the other tests, whose labs would take the CPU it
// measures; on a host busy with other work a rate may be missed for want
// of CPU, so each rate gets three attempts.
func TestRateAccuracy(t *testing.T) {
	l := labtest.New(t)
	for _, rate := range []float64{1001, 5000, 20000} {
		if rate > 5000 && raceEnabled {
			continue
		}
		count := int(rate / 4) // a quarter of a second
		var got float64
		for attempt := 1; attempt <= 3; attempt++ {
			// A burst of 50 ms worth lets the schedule catch up after a
			// stall; the average rate is what is measured.
			e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56)},
				Options{Count: count, Rate: rate, Burst: int(rate / 20), Mode: ModeRaw, Timeout: time.Second, RecvBuffer: 1 << 20})
			s := run(t, e)
			e.Close()
			got = float64(s.Transmitted-1) / s.Elapsed.Seconds()
			t.Logf("rate %g, attempt %d: %d sent in %v = %.0f/s; %d received", rate, attempt, s.Transmitted, s.Elapsed, got, s.Received)
			if s.Received < s.Transmitted*99/100 {
				var lost []uint64
				for _, r := range c.of(KindTimeout) {
					lost = append(lost, r.Probe)
				}
				fs, _ := l.FaultStats()
				t.Logf("rate %g: %s\nlost %v\nfault node %+v", rate, statsLine(s), lost, fs)
				continue
			}
			if got >= rate*0.97 && got <= rate*1.03 {
				break
			}
		}
		if got < rate*0.97 || got > rate*1.03 {
			t.Errorf("rate %g: achieved %.0f per second in three attempts", rate, got)
		}
	}
}
