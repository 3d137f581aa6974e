package probe

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/fault"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// Addresses of the default lab (docs/lab.md).
var (
	clientV4 = netip.MustParseAddr("198.18.1.2")
	r1V4     = netip.MustParseAddr("198.18.1.1") // r1 towards the client
	r1OutV4  = netip.MustParseAddr("198.18.2.1") // r1 towards r2
	r2V4     = netip.MustParseAddr("198.18.2.2") // r2 towards r1
	r2OutV4  = netip.MustParseAddr("198.18.3.1") // r2 towards the server
	serverV4 = netip.MustParseAddr("198.18.3.2")
	clientV6 = netip.MustParseAddr("2001:db8:1::2")
	r1V6     = netip.MustParseAddr("2001:db8:1::1")
	r2V6     = netip.MustParseAddr("2001:db8:2::2")
	serverV6 = netip.MustParseAddr("2001:db8:3::2")
)

// collector gathers the Results of an engine.
type collector struct {
	mu sync.Mutex
	rs []Result
}

func (c *collector) add(r Result) {
	c.mu.Lock()
	c.rs = append(c.rs, r)
	c.mu.Unlock()
}

func (c *collector) all() []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Result(nil), c.rs...)
}

// of returns the results of one kind.
func (c *collector) of(k Kind) []Result {
	var out []Result
	for _, r := range c.all() {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

// byProbe returns the first non-duplicate result of every probe.
func (c *collector) byProbe() map[uint64]Result {
	m := map[uint64]Result{}
	for _, r := range c.all() {
		if r.Probe == 0 || r.Kind == KindDuplicate || r.Kind == KindLate || r.Kind == KindUnrelated {
			continue
		}
		if _, ok := m[r.Probe]; !ok {
			m[r.Probe] = r
		}
	}
	return m
}

func (c *collector) log(t testing.TB) {
	t.Helper()
	var b strings.Builder
	for _, r := range c.all() {
		b.WriteString("\n  " + r.String())
	}
	t.Logf("results:%s", b.String())
}

// engineIn makes an engine inside a lab node, collecting its results.
func engineIn(t testing.TB, l *lab.Lab, node string, p Probe, o Options) (*Engine, *collector) {
	t.Helper()
	c := &collector{}
	if o.Results == nil {
		o.Results = c.add
	}
	var e *Engine
	if err := l.InNode(node, func() (err error) { e, err = New(p, o); return err }); err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e, c
}

// run runs e with a generous time limit.
func run(t testing.TB, e *Engine) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := e.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return s
}

// echo4 is an IPv4 echo-request template to dst.
func echo4(dst netip.Addr, size int) packet.Packet {
	return packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: dst, TTL: 64},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest},
		Payload: packet.Ramp(size).Bytes}
}

// echo6 is an IPv6 echo-request template to dst.
func echo6(dst netip.Addr, size int) packet.Packet {
	return packet.Packet{Version: 6, IPv6: packet.IPv6{Dst: dst, HopLimit: 64},
		Transport: packet.TransportICMPv6, ICMP: packet.ICMP{Type: packet.ICMPv6EchoRequest},
		Payload: packet.Ramp(size).Bytes}
}

// addRule adds a fault rule to the lab.
func addRule(t testing.TB, l *lab.Lab, rule string) int {
	t.Helper()
	r, err := fault.ParseRule(rule)
	if err != nil {
		t.Fatalf("rule %q: %v", rule, err)
	}
	id, err := l.Fault().Add(r)
	if err != nil {
		t.Fatalf("rule %q: %v", rule, err)
	}
	return id
}

// ruleMatched returns how many frames rule id acted on.
func ruleMatched(t testing.TB, l *lab.Lab, id int) uint64 {
	t.Helper()
	rs, err := l.Fault().List()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == id {
			return r.Matched
		}
	}
	t.Fatalf("rule %d not listed: %+v", id, rs)
	return 0
}

// statsLine renders the counters for logs.
func statsLine(s Stats) string {
	return fmt.Sprintf("%s\n%+v", s.Summary(), struct {
		Errors, Local map[string]int64
		Timeouts      int64
		Unrelated     int64
		Stop          string
	}{s.ErrorsByKind, s.LocalByKind, s.Timeouts, s.Unrelated, s.StopReason})
}
