package probe

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

// TestRearmStaleReplyIsNotTaken: the reply to run 1's probe, delayed past
// run 1's timeout, arrives while run 2 waits for its own probe (dropped
// on the way, so run 2 has no answer of its own). Through the same
// sockets and ICMP identifier it must be reported as unrelated, never as
// run 2's answer; run 2's probe times out. The runs' probes differ only
// in their sequence numbers, which go on from run to run.
func TestRearmStaleReplyIsNotTaken(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeRaw, ModeDgram} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			l := labtest.New(t)
			addRule(t, l, "delay 400ms dir=to-client proto=icmp")
			addRule(t, l, "drop pattern=5a5a5a5a5a5a5a5a dir=to-server proto=icmp")
			tmpl := echo4(serverV4, 0)
			tmpl.Payload = bytes.Repeat([]byte{0xa5}, 32)
			var c1, c2 collector
			e, _ := engineIn(t, l, "client", Probe{Packet: tmpl},
				Options{Count: 1, Mode: mode, Timeout: 100 * time.Millisecond, Results: c1.add})
			s1 := run(t, e)
			c1.log(t)
			if s1.Transmitted != 1 || s1.Timeouts != 1 || s1.Received != 0 {
				t.Fatalf("run 1: %s, want its probe to time out", statsLine(s1))
			}
			seq1 := c1.of(KindTimeout)[0].Seq
			id := e.ID()

			tmpl.Payload = bytes.Repeat([]byte{0x5a}, 32) // dropped by the fault node
			if err := rearmIn(l, e, Probe{Packet: tmpl}, Options{Count: 1, Mode: mode, Timeout: 1500 * time.Millisecond, Results: c2.add}); err != nil {
				t.Fatalf("Rearm: %v", err)
			}
			s2 := run(t, e)
			c2.log(t)
			t.Log(statsLine(s2))
			if e.ID() != id {
				t.Errorf("identifier %d after Rearm, want the engine's %d", e.ID(), id)
			}
			for _, r := range c2.all() {
				if r.Kind != KindTimeout && r.Probe != 0 {
					t.Errorf("run 2 took %s as an answer to its probe", r.String())
				}
			}
			stale := c2.of(KindUnrelated)
			if len(stale) != 1 || stale[0].Answer != "echo-reply" || stale[0].From != serverV4 {
				t.Errorf("run 2: unrelated %v, want run 1's late echo reply from %v", stale, serverV4)
			}
			to := c2.of(KindTimeout)
			if len(to) != 1 || to[0].Probe != 1 || to[0].Seq != seq1+1 {
				t.Errorf("run 2: timeouts %v, want probe 1 with seq %d", to, seq1+1)
			}
			if s2.Transmitted != 1 || s2.Received != 0 || s2.Timeouts != 1 || s2.Unrelated != 1 || s2.Late != 0 {
				t.Errorf("run 2: %s", statsLine(s2))
			}
		})
	}
}

// TestRearm: an engine re-armed for runs of other sizes, destinations and
// payloads keeps its identifier, numbers each run's probes from 1,
// counts each run's statistics alone; UDP probes keep leaving from new ports of the engine's range. Probes
// that need other sockets are refused with ErrNeedsNewEngine, leaving the
// engine usable.
func TestRearm(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	var c collector
	e, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 16)},
		Options{Count: 2, Interval: 10 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second, Results: c.add})
	run(t, e)
	id := e.ID()
	for i, dst := range []packetAddr{{serverV4, 3}, {r2OutV4, 1}, {serverV4, 5}} {
		c = collector{}
		pat, _ := packet.HexPattern("c3", 24)
		if err := rearmIn(l, e, Probe{Packet: echo4(dst.a, 0), Patterns: []packet.Pattern{pat}},
			Options{Count: dst.n, Interval: 5 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second, Results: c.add}); err != nil {
			t.Fatalf("Rearm %d: %v", i, err)
		}
		s := run(t, e)
		if s.Transmitted != int64(dst.n) || s.Received != int64(dst.n) || s.Unrelated != 0 || s.Late != 0 || s.StopReason != "count" {
			c.log(t)
			t.Errorf("run %d to %v: %s", i+2, dst.a, statsLine(s))
		}
		for k := uint64(1); k <= uint64(dst.n); k++ {
			if r := c.byProbe()[k]; r.Kind != KindReply || r.From != dst.a || r.Pattern != "0xc3" {
				t.Errorf("run %d probe %d: %s", i+2, k, r.String())
			}
		}
	}
	if e.ID() != id {
		t.Errorf("identifier changed from %d to %d", id, e.ID())
	}
	if _, err := e.Run(t.Context()); err == nil {
		t.Errorf("a second Run without Rearm was accepted")
	}
	err := rearmIn(l, e, Probe{Packet: echo6(serverV6, 8)}, Options{Count: 1, Mode: ModeRaw})
	if !errors.Is(err, ErrNeedsNewEngine) {
		t.Errorf("Rearm for IPv6: %v, want ErrNeedsNewEngine", err)
	}
	err = rearmIn(l, e, Probe{Packet: echo4(serverV4, 8)}, Options{Count: 1, Mode: ModeRaw, Interval: -1})
	if err == nil || errors.Is(err, ErrNeedsNewEngine) {
		t.Errorf("Rearm with a negative interval: %v, want the options' error", err)
	}
	c = collector{}
	if err := rearmIn(l, e, Probe{Packet: echo4(serverV4, 8)}, Options{Count: 1, Mode: ModeRaw, Timeout: 2 * time.Second, Results: c.add}); err != nil {
		t.Fatalf("Rearm after refusals: %v", err)
	}
	if s := run(t, e); s.Received != 1 {
		t.Errorf("run after refusals: %s", statsLine(s))
	}

	// UDP: every run's probes leave from further ports of the range.
	udp := packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: serverV4}, Transport: packet.TransportUDP,
		UDP: packet.UDP{DstPort: 33434}, Payload: []byte("x")}
	c = collector{}
	u, _ := engineIn(t, l, "client", Probe{Packet: udp}, Options{Count: 1, Mode: ModeRaw, Timeout: 2 * time.Second, KeepPackets: true, Results: c.add})
	ports := map[uint16]bool{}
	for i := range 3 {
		if i > 0 {
			c = collector{}
			if err := rearmIn(l, u, Probe{Packet: udp}, Options{Count: 1, Mode: ModeRaw, Timeout: 2 * time.Second, KeepPackets: true, Results: c.add}); err != nil {
				t.Fatalf("UDP Rearm: %v", err)
			}
		}
		run(t, u)
		r := c.byProbe()[1]
		if r.Answer != "port-unreachable" || r.Packet == nil || r.Packet.Quote == nil {
			t.Fatalf("UDP run %d: %s, want port-unreachable", i+1, r.String())
		}
		ports[r.Packet.Quote.UDP.SrcPort] = true
	}
	if lo, hi := u.Ports(); len(ports) != 3 {
		t.Errorf("UDP source ports %v over three runs, want three of %d–%d", ports, lo, hi)
	}
	e.Close()
	if err := rearmIn(l, e, Probe{Packet: echo4(serverV4, 8)}, Options{Count: 1}); !errors.Is(err, ErrNeedsNewEngine) {
		t.Errorf("Rearm after Close: %v, want ErrNeedsNewEngine", err)
	}
}

// rearmIn re-arms e inside a lab node, where source addresses are looked
// up.
func rearmIn(l *lab.Lab, e *Engine, p Probe, o Options) error {
	return l.InNode("client", func() error { return e.Rearm(p, o) })
}

type packetAddr struct {
	a netip.Addr
	n int
}

// TestRearmDiscardsBetweenRuns: a reply that arrives while no run is
// going (run 1's, delayed past its timeout) is dropped, as a fresh
// engine's sockets would never have seen it, not reported by run 2.
func TestRearmDiscardsBetweenRuns(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	addRule(t, l, "delay 200ms dir=to-client proto=icmp")
	e, _ := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 16)},
		Options{Count: 1, Mode: ModeRaw, Timeout: 50 * time.Millisecond})
	if s := run(t, e); s.Timeouts != 1 {
		t.Fatalf("run 1: %s, want a timeout", statsLine(s))
	}
	time.Sleep(400 * time.Millisecond) // run 1's reply arrives
	var c collector
	if err := rearmIn(l, e, Probe{Packet: echo4(serverV4, 16)}, Options{Count: 1, Mode: ModeRaw, Timeout: 2 * time.Second, Results: c.add}); err != nil {
		t.Fatal(err)
	}
	s := run(t, e)
	c.log(t)
	if s.Received != 1 || s.Unrelated != 0 || s.Late != 0 {
		t.Errorf("run 2: %s, want its own reply and nothing else", statsLine(s))
	}
}
