package sock

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/internal/testenv"
)

// The tests build their own throw-away namespaces (the lab package's
// topology has no 1280-byte link, and these tests need to control the path
// MTU caches): client — router — server, the router–server link with MTU
// 1280.
//
//	client c0 198.19.1.2/24 2001:db8:51::2/64
//	router r0 198.19.1.1/24 2001:db8:51::1/64   r1 198.19.2.1/24 2001:db8:52::1/64 (MTU 1280)
//	server s0 198.19.2.2/24 2001:db8:52::2/64 (MTU 1280)
//
// Namespaces are named "echolot-sk<pid>-<n>-<node>" and deleted in
// t.Cleanup, also when the test fails; TestMain fails the run if one is left.

var (
	clientV4 = netip.MustParseAddr("198.19.1.2")
	routerV4 = netip.MustParseAddr("198.19.1.1")
	rtSrvV4  = netip.MustParseAddr("198.19.2.1")
	serverV4 = netip.MustParseAddr("198.19.2.2")
	clientV6 = netip.MustParseAddr("2001:db8:51::2")
	routerV6 = netip.MustParseAddr("2001:db8:51::1")
	rtSrvV6  = netip.MustParseAddr("2001:db8:52::1")
	serverV6 = netip.MustParseAddr("2001:db8:52::2")
)

func nsPrefix() string { return fmt.Sprintf("echolot-sk%d-", os.Getpid()) }

var nsSeq atomic.Int64

// netns is one named network namespace made by a test.
type netns struct {
	t    testing.TB
	name string
}

// topo is the three-node test network.
type topo struct {
	client, router, server *netns
}

func runCmd(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// newNetns makes a namespace with lo up and DAD off, removed at cleanup.
func newNetns(t testing.TB, node string, n int64) *netns {
	t.Helper()
	name := fmt.Sprintf("%s%d-%s", nsPrefix(), n, node)
	runCmd(t, "ip", "netns", "add", name)
	ns := &netns{t: t, name: name}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("removing namespace %s: %v: %s", name, err, out)
		}
	})
	ns.sysctl("net/ipv6/conf/all/accept_dad", "0")
	ns.sysctl("net/ipv6/conf/default/accept_dad", "0")
	ns.sysctl("net/ipv4/ping_group_range", "0 2147483647")
	ns.ip("link", "set", "lo", "up")
	return ns
}

// ip runs ip -n NS args.
func (n *netns) ip(args ...string) {
	n.t.Helper()
	runCmd(n.t, "ip", append([]string{"-n", n.name}, args...)...)
}

// sysctl writes /proc/sys/<key> inside the namespace.
func (n *netns) sysctl(key, val string) {
	n.t.Helper()
	if err := n.do(func() error { return os.WriteFile("/proc/sys/"+key, []byte(val), 0o644) }); err != nil {
		n.t.Fatalf("sysctl %s=%s in %s: %v", key, val, n.name, err)
	}
}

// do runs fn on an OS thread switched into the namespace. Sockets opened by
// fn belong to the namespace for good and may be used from any goroutine
// afterwards. The thread is discarded when fn returns.
func (n *netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// open runs an opener inside the namespace.
func open[T any](t testing.TB, n *netns, fn func() (T, error)) T {
	t.Helper()
	var v T
	if err := n.do(func() error {
		var err error
		v, err = fn()
		return err
	}); err != nil {
		t.Fatalf("in %s: %v", n.name, err)
	}
	if c, ok := any(v).(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
	return v
}

// command returns a command running inside the namespace.
func (n *netns) command(ctx context.Context, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name}, argv...)...)
}

// newTopoNoWait builds client — router — server.
func newTopoNoWait(t testing.TB) *topo {
	t.Helper()
	testenv.NeedNetns(t)
	testenv.NeedTool(t, "ip")
	id := nsSeq.Add(1)
	tp := &topo{
		client: newNetns(t, "c", id),
		router: newNetns(t, "r", id),
		server: newNetns(t, "s", id),
	}
	c, r, s := tp.client, tp.router, tp.server
	runCmd(t, "ip", "link", "add", "c0", "netns", c.name, "type", "veth", "peer", "name", "r0", "netns", r.name)
	runCmd(t, "ip", "link", "add", "r1", "netns", r.name, "type", "veth", "peer", "name", "s0", "netns", s.name)
	r.sysctl("net/ipv4/ip_forward", "1")
	r.sysctl("net/ipv6/conf/all/forwarding", "1")
	r.ip("link", "set", "r1", "mtu", "1280")
	s.ip("link", "set", "s0", "mtu", "1280")
	c.ip("addr", "add", "198.19.1.2/24", "dev", "c0")
	c.ip("addr", "add", "2001:db8:51::2/64", "dev", "c0", "nodad")
	r.ip("addr", "add", "198.19.1.1/24", "dev", "r0")
	r.ip("addr", "add", "2001:db8:51::1/64", "dev", "r0", "nodad")
	r.ip("addr", "add", "198.19.2.1/24", "dev", "r1")
	r.ip("addr", "add", "2001:db8:52::1/64", "dev", "r1", "nodad")
	s.ip("addr", "add", "198.19.2.2/24", "dev", "s0")
	s.ip("addr", "add", "2001:db8:52::2/64", "dev", "s0", "nodad")
	c.ip("link", "set", "c0", "up")
	r.ip("link", "set", "r0", "up")
	r.ip("link", "set", "r1", "up")
	s.ip("link", "set", "s0", "up")
	c.ip("route", "add", "default", "via", "198.19.1.1")
	c.ip("-6", "route", "add", "default", "via", "2001:db8:51::1")
	s.ip("route", "add", "default", "via", "198.19.2.1")
	s.ip("-6", "route", "add", "default", "via", "2001:db8:52::1")
	for _, n := range []*netns{c, r, s} {
		n.sysctl("net/ipv4/icmp_ratelimit", "0")
		n.sysctl("net/ipv4/icmp_msgs_per_sec", "100000")
		n.sysctl("net/ipv4/icmp_msgs_burst", "100000")
		n.sysctl("net/ipv6/icmp/ratelimit", "0")
	}
	return tp
}

// newTopo builds the topology and waits until traffic passes both ways
// (the router's IPv6 interfaces take about 0.7 s to answer neighbour
// solicitations).
func newTopo(t testing.TB) *topo {
	t.Helper()
	tp := newTopoNoWait(t)
	c := tp.client
	// Wait for IPv6 neighbours to be reachable: the routes are up once a
	// ping in each direction goes through.
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range []string{"198.19.2.2", "2001:db8:52::2"} {
		for {
			err := c.command(context.Background(), "ping", "-c", "1", "-W", "0.1", "-n", "-q", a).Run()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("topology: client cannot ping %s: %v", a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return tp
}

// leftNamespaces lists namespaces of this process still present.
func leftNamespaces() []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), nsPrefix()) {
			out = append(out, e.Name())
		}
	}
	return out
}
