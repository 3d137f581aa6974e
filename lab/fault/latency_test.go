//go:build linux

package fault_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab/fault"
)

// chain is a throw-away client — r1 — [fault] — r2 — server topology in
// namespaces of this test process, for measuring what the fault node adds
// to the round-trip time: once with r1 and r2 on one veth, once with the
// fault node between them. It is built with ip(8) like the lab, with the
// lab's addresses, but is independent of package lab so that both
// variants are made the same way in the same run.
type chain struct {
	tb     testing.TB
	prefix string
	ns     []string
}

func (c *chain) ip(args ...string) {
	c.tb.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		c.tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (c *chain) name(node string) string { return c.prefix + node }

func (c *chain) exec(node string, argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", c.name(node)}, argv...)...)
}

// link joins node a (interface ai) and node b (interface bi) with a veth
// pair and brings both ends up.
func (c *chain) link(a, ai, b, bi string) {
	c.ip("-n", c.name(a), "link", "add", ai, "type", "veth", "peer", "name", bi, "netns", c.name(b))
	c.ip("-n", c.name(a), "link", "set", ai, "up")
	c.ip("-n", c.name(b), "link", "set", bi, "up")
}

func (c *chain) addr(node, iface, cidr string) {
	c.ip("-n", c.name(node), "addr", "add", cidr, "dev", iface)
}

func (c *chain) sysctl(node string, kv ...string) {
	c.tb.Helper()
	args := append([]string{"sysctl", "-q", "-w"}, kv...)
	if out, err := c.exec(node, args...).CombinedOutput(); err != nil {
		c.tb.Fatalf("sysctl in %s: %v\n%s", node, err, out)
	}
}

// newChain builds the topology; with bridged, r1 and r2 are joined
// through a fault namespace whose two interfaces are bridged by a Node
// running in this process until the test ends.
func newChain(tb testing.TB, tag string, bridged bool) *chain {
	tb.Helper()
	c := &chain{tb: tb, prefix: testenv.NetnsPrefix() + tag + "-"}
	nodes := []string{"c", "r1", "r2", "s"}
	if bridged {
		nodes = append(nodes, "f")
	}
	tb.Cleanup(func() {
		for _, n := range c.ns {
			if out, err := exec.Command("ip", "netns", "del", n).CombinedOutput(); err != nil {
				tb.Errorf("ip netns del %s: %v: %s", n, err, out)
			}
		}
	})
	for _, n := range nodes {
		c.ip("netns", "add", c.name(n))
		c.ns = append(c.ns, c.name(n))
		c.ip("-n", c.name(n), "link", "set", "lo", "up")
	}
	c.link("c", "to-r1", "r1", "to-client")
	c.link("r2", "to-server", "s", "to-r2")
	if bridged {
		c.link("r1", "to-r2", "f", "to-r1")
		c.link("f", "to-r2", "r2", "to-r1")
		c.sysctl("f", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	} else {
		c.link("r1", "to-r2", "r2", "to-r1")
	}
	c.addr("c", "to-r1", "198.18.1.2/24")
	c.addr("r1", "to-client", "198.18.1.1/24")
	c.addr("r1", "to-r2", "198.18.2.1/24")
	c.addr("r2", "to-r1", "198.18.2.2/24")
	c.addr("r2", "to-server", "198.18.3.1/24")
	c.addr("s", "to-r2", "198.18.3.2/24")
	c.ip("-n", c.name("c"), "route", "add", "default", "via", "198.18.1.1")
	c.ip("-n", c.name("s"), "route", "add", "default", "via", "198.18.3.1")
	c.ip("-n", c.name("r1"), "route", "add", "198.18.3.0/24", "via", "198.18.2.2")
	c.ip("-n", c.name("r2"), "route", "add", "198.18.1.0/24", "via", "198.18.2.1")
	for _, r := range []string{"r1", "r2"} {
		c.sysctl(r, "net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0")
	}
	if bridged {
		var cfg fault.Config
		if err := inNetns("/run/netns/"+c.name("f"), func() (err error) {
			cfg, err = fault.OpenBridge("to-r1", "to-r2")
			return err
		}); err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- fault.New(cfg).Run(ctx) }()
		tb.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("fault node: %v", err)
			}
		})
	}
	// Resolve neighbours before measuring.
	if out, err := c.exec("c", "ping", "-n", "-c", "2", "-i", "0.01", "-W", "1", "198.18.3.2").CombinedOutput(); err != nil {
		tb.Fatalf("ping through the chain (bridged %v): %v\n%s", bridged, err, out)
	}
	return c
}

// inNetns runs fn on a locked OS thread switched into the namespace at
// path. The thread is never switched back: the goroutine ends locked, so
// the Go runtime discards the thread.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// pingRTTs runs ping -c n -i interval from the chain's client to its
// server and returns the RTTs sorted.
func (c *chain) pingRTTs(n int, interval string) []time.Duration {
	c.tb.Helper()
	out, err := c.exec("c", "ping", "-n", "-c", fmt.Sprint(n), "-i", interval, "-W", "1", "198.18.3.2").CombinedOutput()
	if err != nil {
		c.tb.Fatalf("ping: %v\n%s", err, out)
	}
	ds := rtts(string(out))
	if len(ds) != n {
		c.tb.Fatalf("%d of %d replies", len(ds), n)
	}
	slices.Sort(ds)
	return ds
}

func mean(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}

// floodRate runs ping -f -c n from the chain's client and returns the
// replies per second and ping's summary.
func (c *chain) floodRate(n int) (float64, string) {
	c.tb.Helper()
	out, err := c.exec("c", "ping", "-n", "-q", "-f", "-c", fmt.Sprint(n), "-W", "1", "198.18.3.2").CombinedOutput()
	if err != nil {
		c.tb.Fatalf("ping -f: %v\n%s", err, out)
	}
	m := floodRE.FindStringSubmatch(string(out))
	if m == nil {
		c.tb.Fatalf("no statistics from ping -f:\n%s", out)
	}
	rcv, _ := strconv.Atoi(m[1])
	ms, _ := strconv.Atoi(m[2])
	sum := string(out)
	if i := strings.Index(sum, "---"); i >= 0 {
		sum = sum[i:]
	}
	return float64(rcv) / (float64(ms) / 1000), strings.Join(strings.Fields(sum), " ")
}

var floodRE = regexp.MustCompile(`(\d+) received.*time (\d+)ms`)

// BenchmarkBridgeLatency measures what the fault node adds to the path
// client → r1 → r2 → server, comparing r1 and r2 joined directly by a
// veth with r1 and r2 joined through the fault node (no rules), built the
// same way in the same run: the round-trip times of ping -c 500 -i 0.002
// (as two alternating halves per path, so that a change of machine load
// hits both), and the reply rate of ping -f -c 10000. It needs root:
//
//	go test -run '^$' -bench BridgeLatency -benchtime 1x -v ./lab/fault
func BenchmarkBridgeLatency(b *testing.B) {
	testenv.NeedNetns(b)
	testenv.NeedTool(b, "ping")
	direct := newChain(b, "lat-d", false)
	bridged := newChain(b, "lat-b", true)
	const n = 500
	for b.Loop() {
		var d, f []time.Duration
		for range 2 {
			d = append(d, direct.pingRTTs(n/2, "0.002")...)
			f = append(f, bridged.pingRTTs(n/2, "0.002")...)
		}
		slices.Sort(d)
		slices.Sort(f)
		q := func(ds []time.Duration, p float64) time.Duration { return ds[int(p*float64(len(ds)-1))] }
		us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1000 }
		b.ReportMetric(us(mean(d)), "direct-mean-µs")
		b.ReportMetric(us(mean(f)), "bridge-mean-µs")
		b.ReportMetric(us(q(d, 0.5)), "direct-p50-µs")
		b.ReportMetric(us(q(f, 0.5)), "bridge-p50-µs")
		b.ReportMetric(us(q(d, 0.99)), "direct-p99-µs")
		b.ReportMetric(us(q(f, 0.99)), "bridge-p99-µs")
		b.ReportMetric(us(mean(f)-mean(d)), "added-mean-µs")
		b.ReportMetric(us(q(f, 0.5)-q(d, 0.5)), "added-p50-µs")
		b.Logf("ping -c %d -i 0.002, direct: min %v p50 %v mean %v p99 %v max %v", n, d[0], q(d, 0.5), mean(d), q(d, 0.99), d[len(d)-1])
		b.Logf("ping -c %d -i 0.002, bridge: min %v p50 %v mean %v p99 %v max %v", n, f[0], q(f, 0.5), mean(f), q(f, 0.99), f[len(f)-1])
		dr, ds := direct.floodRate(10000)
		fr, fs := bridged.floodRate(10000)
		b.ReportMetric(dr, "direct-flood-replies/s")
		b.ReportMetric(fr, "bridge-flood-replies/s")
		b.Logf("ping -f -c 10000, direct: %.0f replies/s: %s", dr, ds)
		b.Logf("ping -f -c 10000, bridge: %.0f replies/s: %s", fr, fs)
	}
}
