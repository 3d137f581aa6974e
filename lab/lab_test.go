package lab_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
)

// childEnv makes the test binary a child that brings a lab up and then
// waits to be killed (TestDownAfterCrash).
const childEnv = "ECHOLOT_LABTEST_CHILD"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "lab" && os.Args[2] == "fault-node" {
		// The test binary doubles as the fault daemon (Options.Exe).
		os.Exit(faultNodeMain(os.Args[3:]))
	}
	if name := os.Getenv(childEnv); name != "" {
		l, err := lab.Up(context.Background(), lab.Options{Name: name, FaultInProcess: true})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("up", l.Name())
		select {} // until killed
	}
	labtest.Main(m)
}

// faultNodeMain is "lab fault-node --name NAME" for the test binary.
func faultNodeMain(args []string) int {
	fs := flag.NewFlagSet("fault-node", flag.ContinueOnError)
	name := fs.String("name", "", "lab name")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := lab.RunFaultNode(ctx, *name); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// run runs argv in node with a time limit and returns its combined output.
func run(t *testing.T, l *lab.Lab, node string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.Command(ctx, node, argv...).CombinedOutput()
	return string(out), err
}

// mustRun is run that fails the test on error.
func mustRun(t *testing.T, l *lab.Lab, node string, argv ...string) string {
	t.Helper()
	out, err := run(t, l, node, argv...)
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s", node, strings.Join(argv, " "), err, out)
	}
	return out
}

// needBridge skips a test whose packets cross link b (r1 — fault — r2)
// until the fault node's bridge (package lab/fault) is built into lab. These
// tests turn on by themselves once it is.
func needBridge(t *testing.T) {
	t.Helper()
	if !lab.BridgeBuilt {
		t.Skip("crosses link b, which needs the fault node's bridge (lab/fault); this test turns on when it is built in")
	}
}

// threadNetns returns the network-namespace inode of every thread of this
// process.
func threadNetns(t *testing.T) map[string]uint64 {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]uint64{}
	for _, task := range tasks {
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/self/task/"+task.Name()+"/ns/net", &st); err == nil {
			m[task.Name()] = st.Ino
		}
	}
	return m
}

func hostNetns(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// checkThreadsHome fails unless every thread of this process is in the
// namespace the process started in.
func checkThreadsHome(t *testing.T) {
	t.Helper()
	home := hostNetns(t)
	for tid, ino := range threadNetns(t) {
		if ino != home {
			t.Errorf("thread %s is in namespace inode %d, not the process's %d", tid, ino, home)
		}
	}
}

func TestDefaultTopologyUp(t *testing.T) {
	l := labtest.New(t)
	topo := lab.DefaultTopology()
	for _, n := range topo.Nodes {
		if _, err := os.Stat("/run/netns/" + l.Namespace(n.Name)); err != nil {
			t.Errorf("namespace of %s: %v", n.Name, err)
		}
		if want := "echolot-" + l.Name() + "-" + n.Name; l.Namespace(n.Name) != want {
			t.Errorf("Namespace(%s) = %q, want %q", n.Name, l.Namespace(n.Name), want)
		}
	}
	// Interfaces, addresses, MTUs and offloads, seen from inside each node.
	byNode := map[string][]lab.Interface{}
	for _, v := range topo.Interfaces() {
		byNode[v.Node] = append(byNode[v.Node], v)
	}
	for node, want := range byNode {
		err := l.InNode(node, func() error {
			ifs, err := net.Interfaces()
			if err != nil {
				return err
			}
			var names []string
			for _, ifc := range ifs {
				names = append(names, ifc.Name)
			}
			if len(ifs) != len(want)+1 {
				t.Errorf("%s has interfaces %v, want lo and %d veths", node, names, len(want))
			}
			for _, w := range want {
				ifc, err := net.InterfaceByName(w.Name)
				if err != nil {
					t.Errorf("%s: interface %s: %v (have %v)", node, w.Name, err, names)
					continue
				}
				if ifc.MTU != w.MTU {
					t.Errorf("%s %s: MTU %d, want %d", node, w.Name, ifc.MTU, w.MTU)
				}
				if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagRunning == 0 {
					t.Errorf("%s %s: flags %v, want up and running", node, w.Name, ifc.Flags)
				}
				addrs, _ := ifc.Addrs()
				var got []string
				for _, a := range addrs {
					if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
						got = append(got, a.String())
					}
				}
				var wantA []string
				for _, p := range w.Addrs {
					wantA = append(wantA, p.String())
				}
				slices.Sort(got)
				slices.Sort(wantA)
				if !slices.Equal(got, wantA) {
					t.Errorf("%s %s: addresses %v, want %v", node, w.Name, got, wantA)
				}
				off, err := lab.OffloadState(w.Name)
				if err != nil {
					t.Errorf("%s %s: %v", node, w.Name, err)
				}
				for k, on := range off {
					if on {
						t.Errorf("%s %s: %s is on, want off", node, w.Name, k)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("InNode(%s): %v", node, err)
		}
	}
	// Sysctls.
	want := map[string]map[string]string{
		"r1": {
			"net.ipv4.ip_forward":                     "1",
			"net.ipv6.conf.all.forwarding":            "1",
			"net.ipv4.icmp_ratelimit":                 "0",
			"net.ipv6.icmp.ratelimit":                 "0",
			"net.ipv4.icmp_msgs_per_sec":              "100000",
			"net.ipv4.icmp_msgs_burst":                "100000",
			"net.ipv4.conf.all.accept_source_route":   "1",
			"net.ipv4.conf.to-r2.accept_source_route": "1",
			"net.ipv4.conf.all.rp_filter":             "0",
			"net.ipv4.conf.to-client.rp_filter":       "0",
			"net.ipv4.ping_group_range":               "0\t2147483647",
		},
		"client": {
			"net.ipv4.ip_forward":       "0",
			"net.ipv4.ping_group_range": "0\t2147483647",
		},
		"fault": {
			"net.ipv6.conf.all.disable_ipv6":   "1",
			"net.ipv6.conf.to-r1.disable_ipv6": "1",
			"net.ipv6.conf.to-r2.disable_ipv6": "1",
		},
	}
	for node, kv := range want {
		err := l.InNode(node, func() error {
			for k, v := range kv {
				got, err := lab.ReadSysctl(k)
				if err != nil {
					return err
				}
				if got != v {
					t.Errorf("%s: %s = %q, want %q", node, k, got, v)
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", node, err)
		}
	}
	// Routes.
	for node, routes := range map[string][]string{
		"client": {"default via 198.18.1.1 dev to-r1", "default via 2001:db8:1::1 dev to-r1"},
		"r1":     {"198.18.3.0/24 via 198.18.2.2 dev to-r2", "2001:db8:3::/64 via 2001:db8:2::2 dev to-r2"},
		"r2":     {"198.18.1.0/24 via 198.18.2.1 dev to-r1", "2001:db8:1::/64 via 2001:db8:2::1 dev to-r1"},
		"server": {"default via 198.18.3.1 dev to-r2", "default via 2001:db8:3::1 dev to-r2"},
	} {
		out := mustRun(t, l, node, "ip", "route") + mustRun(t, l, node, "ip", "-6", "route")
		for _, r := range routes {
			if !strings.Contains(out, r) {
				t.Errorf("%s lacks route %q:\n%s", node, r, out)
			}
		}
	}
	if out := mustRun(t, l, "fault", "ip", "-o", "addr"); strings.Contains(out, "to-") {
		t.Errorf("the fault node's interfaces have addresses:\n%s", out)
	}
	out := mustRun(t, l, "fault", "ip", "link")
	if strings.Count(out, "PROMISC") != 2 {
		t.Errorf("the fault node's interfaces are not both promiscuous:\n%s", out)
	}
	if got := l.Addr("client", false).String(); got != "198.18.1.2" {
		t.Errorf("Addr(client, v4) = %s", got)
	}
	if got := l.Addr("server", true).String(); got != "2001:db8:3::2" {
		t.Errorf("Addr(server, v6) = %s", got)
	}
	if l.Addr("fault", false).IsValid() {
		t.Errorf("Addr(fault) = %s, want none", l.Addr("fault", false))
	}
}

// TestHostUntouched checks that a lab leaves the host namespace's
// interfaces and sysctls as they were.
func TestHostUntouched(t *testing.T) {
	testenv.NeedNetns(t)
	keys := []string{"net.ipv4.ip_forward", "net.ipv4.ping_group_range", "net.ipv4.icmp_ratelimit",
		"net.ipv4.conf.all.rp_filter", "net.ipv4.conf.all.accept_source_route", "net.ipv6.conf.all.forwarding",
		"net.ipv4.icmp_msgs_per_sec"}
	before := map[string]string{}
	for _, k := range keys {
		v, err := lab.ReadSysctl(k)
		if err != nil {
			t.Fatal(err)
		}
		before[k] = v
	}
	ifsBefore, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.New(t)
	mustRun(t, l, "client", "ping", "-c", "1", "-W", "2", "198.18.1.1")
	for _, k := range keys {
		if v, _ := lab.ReadSysctl(k); v != before[k] {
			t.Errorf("host sysctl %s changed from %q to %q", k, before[k], v)
		}
	}
	ifsAfter, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifsAfter {
		if strings.HasPrefix(ifc.Name, "to-") {
			t.Errorf("lab interface %s appeared in the host namespace", ifc.Name)
		}
	}
	for _, old := range ifsBefore {
		for _, now := range ifsAfter {
			if old.Name == now.Name && (old.MTU != now.MTU || old.Flags != now.Flags) {
				t.Errorf("host interface %s changed: %v mtu %d → %v mtu %d", old.Name, old.Flags, old.MTU, now.Flags, now.MTU)
			}
		}
	}
	checkThreadsHome(t)
}

func TestReachability(t *testing.T) {
	l := labtest.New(t)
	for _, c := range []struct {
		from, to string
		crossesB bool
	}{
		{"client", "198.18.1.1", false},
		{"client", "2001:db8:1::1", false},
		{"client", "198.18.2.1", false}, // r1's far side: r1 answers
		{"client", "2001:db8:2::1", false},
		{"r1", "198.18.1.2", false},
		{"r1", "2001:db8:1::2", false},
		{"server", "198.18.3.1", false},
		{"server", "2001:db8:3::1", false},
		{"server", "198.18.2.2", false},
		{"server", "2001:db8:2::2", false},
		{"r2", "198.18.3.2", false},
		{"r2", "2001:db8:3::2", false},
		// Through the fault node.
		{"r1", "198.18.2.2", true},
		{"r1", "2001:db8:2::2", true},
		{"client", "198.18.2.2", true},
		{"client", "198.18.3.1", true},
		{"client", "198.18.3.2", true},
		{"client", "2001:db8:3::2", true},
		{"server", "198.18.1.2", true},
		{"server", "2001:db8:1::2", true},
		{"server", "198.18.2.1", true},
	} {
		t.Run(c.from+"→"+c.to, func(t *testing.T) {
			if c.crossesB {
				needBridge(t)
			}
			out, err := run(t, l, c.from, "ping", "-c", "1", "-W", "2", c.to)
			if err != nil || !strings.Contains(out, "1 received") {
				t.Errorf("ping from %s to %s: %v\n%s", c.from, c.to, err, out)
			}
		})
	}
}

// TestFragNeeded sends a 1428-byte DF packet from client to server: r2
// cannot forward it onto the 1400-byte link c and says so.
func TestFragNeeded(t *testing.T) {
	needBridge(t)
	l := labtest.New(t)
	out, _ := run(t, l, "client", "ping", "-M", "do", "-s", "1400", "-c", "1", "-W", "2", "198.18.3.2")
	if !strings.Contains(out, "From 198.18.2.2") || !strings.Contains(out, "Frag needed and DF set (mtu = 1400)") {
		t.Errorf("want Frag needed (mtu = 1400) from r2 (198.18.2.2):\n%s", out)
	}
	out, _ = run(t, l, "client", "ping", "-6", "-M", "do", "-s", "1400", "-c", "1", "-W", "2", "2001:db8:3::2")
	if !strings.Contains(out, "From 2001:db8:2::2") || !strings.Contains(out, "Packet too big: mtu=1400") {
		t.Errorf("want Packet too big (mtu=1400) from r2 (2001:db8:2::2):\n%s", out)
	}
	// Just below the limit gets through: 1372 + 8 + 20 = 1400.
	mustRun(t, l, "client", "ping", "-M", "do", "-s", "1372", "-c", "1", "-W", "2", "198.18.3.2")
}

// TestTTLExceeded sends with TTL (hop limit) 1 from client to server: r1
// drops it and says so. With TTL 2, r2 answers (through the fault node).
func TestTTLExceeded(t *testing.T) {
	l := labtest.New(t)
	out, _ := run(t, l, "client", "ping", "-t", "1", "-c", "1", "-W", "2", "198.18.3.2")
	if !strings.Contains(out, "From 198.18.1.1 icmp_seq=1 Time to live exceeded") {
		t.Errorf("want Time to live exceeded from r1 (198.18.1.1):\n%s", out)
	}
	out, _ = run(t, l, "client", "ping", "-6", "-t", "1", "-c", "1", "-W", "2", "2001:db8:3::2")
	if !strings.Contains(out, "From 2001:db8:1::1 icmp_seq=1 Time exceeded: Hop limit") {
		t.Errorf("want Time exceeded: Hop limit from r1 (2001:db8:1::1):\n%s", out)
	}
	t.Run("ttl2", func(t *testing.T) {
		needBridge(t)
		out, _ := run(t, l, "client", "ping", "-t", "2", "-c", "1", "-W", "2", "198.18.3.2")
		if !strings.Contains(out, "From 198.18.2.2 icmp_seq=1 Time to live exceeded") {
			t.Errorf("want Time to live exceeded from r2 (198.18.2.2):\n%s", out)
		}
	})
}

// TestTwoLabs brings up two labs with the same topology side by side.
func TestTwoLabs(t *testing.T) {
	a := labtest.New(t)
	b := labtest.New(t)
	if a.Name() == b.Name() || a.Namespace("client") == b.Namespace("client") {
		t.Fatalf("labs share a name: %s %s", a.Name(), b.Name())
	}
	for _, l := range []*lab.Lab{a, b} {
		mustRun(t, l, "client", "ping", "-c", "1", "-W", "2", "198.18.1.1")
		mustRun(t, l, "server", "ping", "-c", "1", "-W", "2", "2001:db8:3::1")
	}
	// Taking one down leaves the other working.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/netns/" + a.Namespace("client")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s still there after Close: %v", a.Namespace("client"), err)
	}
	mustRun(t, b, "client", "ping", "-c", "1", "-W", "2", "198.18.1.1")
	labs, err := lab.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range labs {
		names = append(names, s.Name)
	}
	if slices.Contains(names, a.Name()) || !slices.Contains(names, b.Name()) {
		t.Errorf("List() = %v, want %s and not %s", names, b.Name(), a.Name())
	}
}

// nothingLeft fails unless lab name has no namespace, no state directory
// and no process inside.
func nothingLeft(t *testing.T, name string) {
	t.Helper()
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if l, _, ok := lab.ParseNS(e.Name()); ok && l == name {
			t.Errorf("namespace %s remains", e.Name())
		}
	}
	if _, err := os.Stat(lab.StateDir(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory %s remains (%v)", lab.StateDir(name), err)
	}
	labs, _ := lab.List()
	for _, s := range labs {
		if s.Name == name {
			t.Errorf("List() still shows %s: %+v", name, s)
		}
	}
}

// TestDownAfterCrash brings a lab up in a child process, kills the child
// with SIGKILL, and removes the lab with Down.
func TestDownAfterCrash(t *testing.T) {
	testenv.NeedNetns(t)
	name := labtest.NextName()
	t.Cleanup(func() { lab.Down(name) })
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "up ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	labs, _ := lab.List()
	found := false
	for _, s := range labs {
		if s.Name == name {
			found = true
			if len(s.Namespaces) != 5 || !s.State {
				t.Errorf("after the crash: %+v, want 5 namespaces and the state", s)
			}
		}
	}
	if !found {
		t.Fatalf("lab %s not listed after the crash", name)
	}
	start := time.Now()
	if err := lab.Down(name); err != nil {
		t.Fatal(err)
	}
	t.Logf("Down after crash: %v", time.Since(start))
	nothingLeft(t, name)
	if err := lab.Down(name); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

// TestDownAfterDaemonKill brings a lab up with the fault node as a daemon (the
// test binary plays echolot), kills the daemon with SIGKILL as a crash
// would, and removes the lab with Down.
func TestDownAfterDaemonKill(t *testing.T) {
	needBridge(t)
	testenv.NeedNetns(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.New(t, lab.Options{Exe: exe})
	pidb, err := os.ReadFile(filepath.Join(lab.StateDir(l.Name()), "fault.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(pidb), &pid)
	if !lab.IsFaultNode(pid, l.Name()) {
		t.Fatalf("pid %d from fault.pid is not the fault node of %s", pid, l.Name())
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := lab.Down(l.Name()); err != nil {
		t.Fatal(err)
	}
	nothingLeft(t, l.Name())
	if err := syscall.Kill(pid, 0); err == nil && lab.IsFaultNode(pid, l.Name()) {
		t.Errorf("fault daemon %d still running", pid)
	}
}

// TestUpFailureCleansUp makes each step of Up fail in turn and checks that
// nothing of the lab remains.
func TestUpFailureCleansUp(t *testing.T) {
	testenv.NeedNetns(t)
	steps := []string{
		"creating namespaces",
		"creating veth pairs",
		"setting sysctls and offloads in r1",
		"addresses and links in fault",
		"addresses and links in server",
		"routes in r2",
		"starting the fault node",
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			name := labtest.NextName()
			t.Cleanup(func() { lab.Down(name) })
			lab.SetTestHookStep(func(l, s string) error {
				if l == name && s == step {
					return errors.New("injected failure")
				}
				return nil
			})
			defer lab.SetTestHookStep(nil)
			l, err := lab.Up(context.Background(), lab.Options{Name: name, FaultInProcess: true})
			if err == nil {
				l.Close()
				t.Fatal("Up succeeded")
			}
			if !strings.Contains(err.Error(), step) || !strings.Contains(err.Error(), "injected failure") {
				t.Errorf("error %q does not name the step %q", err, step)
			}
			nothingLeft(t, name)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		name := labtest.NextName()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l, err := lab.Up(ctx, lab.Options{Name: name, FaultInProcess: true})
		if err == nil {
			l.Close()
			t.Fatal("Up succeeded with a cancelled context")
		}
		nothingLeft(t, name)
	})
	checkThreadsHome(t)
}

func TestUpExisting(t *testing.T) {
	l := labtest.New(t)
	_, err := lab.Up(context.Background(), lab.Options{Name: l.Name(), FaultInProcess: true})
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "echolot lab down --name "+l.Name()) {
		t.Fatalf("second Up: %v", err)
	}
	// The first lab is untouched.
	mustRun(t, l, "client", "ping", "-c", "1", "-W", "2", "198.18.1.1")
}

func TestDownNothing(t *testing.T) {
	testenv.NeedNetns(t)
	if err := lab.Down(labtest.NextName()); err != nil {
		t.Errorf("Down of a lab that does not exist: %v", err)
	}
	if err := lab.Down("Bad_Name"); err == nil {
		t.Error("Down accepted a bad name")
	}
}

func TestOpenAndList(t *testing.T) {
	l := labtest.New(t)
	o, err := lab.Open(l.Name())
	if err != nil {
		t.Fatal(err)
	}
	if o.Topology().String() != l.Topology().String() {
		t.Errorf("Open's topology differs:\n%s\nwant\n%s", o.Topology(), l.Topology())
	}
	mustRun(t, o, "client", "ping", "-c", "1", "-W", "2", "198.18.1.1")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/netns/" + l.Namespace("client")); err != nil {
		t.Errorf("Close of an opened lab took it down: %v", err)
	}
	labs, err := lab.List()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range labs {
		if s.Name == l.Name() {
			found = true
			if !s.OK() || !s.State || len(s.Namespaces) != 5 || s.Topology == nil {
				t.Errorf("status %+v, want healthy with 5 namespaces", s)
			}
		}
	}
	if !found {
		t.Errorf("List() lacks %s", l.Name())
	}
	if _, err := lab.Open(labtest.NextName()); err == nil || !strings.Contains(err.Error(), "echolot lab up") {
		t.Errorf("Open of a missing lab: %v", err)
	}
}

func TestInNode(t *testing.T) {
	l := labtest.New(t)
	for i := 0; i < 50; i++ {
		err := l.InNode("client", func() error {
			ifc, err := net.InterfaceByName("to-r1")
			if err != nil {
				return err
			}
			if ifc.MTU != 1500 {
				return fmt.Errorf("to-r1 MTU %d", ifc.MTU)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A socket opened inside stays in the node: a UDP socket bound to the
	// server's address, read from this goroutine afterwards.
	var conn net.PacketConn
	err := l.InNode("server", func() error {
		var err error
		conn, err = net.ListenPacket("udp4", "198.18.3.2:7777")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = l.InNode("r2", func() error {
		c, err := net.Dial("udp4", "198.18.3.2:7777")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, from, err := conn.ReadFrom(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "hello") {
		t.Fatalf("ReadFrom: %q %v %v", buf[:n], from, err)
	}
	// Errors and panics come back; unknown nodes are named.
	if err := l.InNode("client", func() error { return errors.New("boom") }); err == nil || err.Error() != "boom" {
		t.Errorf("error not returned: %v", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v, want kaboom", r)
			}
		}()
		l.InNode("client", func() error { panic("kaboom") })
	}()
	if err := l.InNode("nosuch", func() error { return nil }); err == nil || !strings.Contains(err.Error(), "client, r1, fault, r2, server") {
		t.Errorf("unknown node: %v", err)
	}
	runtime.GC()
	checkThreadsHome(t)
}

func TestCommandErrors(t *testing.T) {
	l := labtest.New(t)
	if err := l.Command(context.Background(), "nosuch", "true").Run(); err == nil || !strings.Contains(err.Error(), "no node") {
		t.Errorf("unknown node: %v", err)
	}
	if err := l.Command(context.Background(), "client").Run(); err == nil {
		t.Error("empty command ran")
	}
	if out := mustRun(t, l, "client", "cat", "/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(out) != "0" {
		t.Errorf("client ip_forward = %q", out)
	}
}

// TestCustomTopology brings up a lab from a file-format topology with three
// routers and checks the derived routes carry traffic.
func TestCustomTopology(t *testing.T) {
	topo, err := lab.ParseTopology(strings.NewReader(`
node a    host
node ra   router
node f    fault
node rb   router
node rc   router
node b    host
link a ra
link ra rb via f
link rb rc mtu 1300
link rc b
addr a  to-ra 198.19.10.2/24 2001:db8:10::2/64
addr ra to-a  198.19.10.1/24 2001:db8:10::1/64
addr ra to-rb 198.19.11.1/30
addr rb to-ra 198.19.11.2/30
addr rb to-rc 198.19.12.1/24 2001:db8:12::1/64
addr rc to-rb 198.19.12.2/24 2001:db8:12::2/64
addr rc to-b  198.19.13.1/24 2001:db8:13::1/64
addr b  to-rc 198.19.13.2/24 2001:db8:13::2/64
`))
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.New(t, lab.Options{Topology: &topo})
	// b → rb crosses rc only; rc has a route back to b's subnet directly.
	mustRun(t, l, "b", "ping", "-c", "1", "-W", "2", "198.19.12.1")
	mustRun(t, l, "b", "ping", "-c", "1", "-W", "2", "2001:db8:12::1")
	mustRun(t, l, "a", "ping", "-c", "1", "-W", "2", "198.19.11.1")
	out := mustRun(t, l, "rc", "ip", "route")
	if !strings.Contains(out, "198.19.10.0/24 via 198.19.12.1 dev to-rb") || !strings.Contains(out, "198.19.11.0/30 via 198.19.12.1 dev to-rb") {
		t.Errorf("rc routes:\n%s", out)
	}
	out = mustRun(t, l, "rc", "ip", "link", "show", "to-rb")
	if !strings.Contains(out, "mtu 1300") {
		t.Errorf("rc to-rb:\n%s", out)
	}
	t.Run("across", func(t *testing.T) {
		needBridge(t)
		mustRun(t, l, "a", "ping", "-c", "1", "-W", "2", "198.19.13.2")
		out, _ := run(t, l, "a", "ping", "-M", "do", "-s", "1300", "-c", "1", "-W", "2", "198.19.13.2")
		if !strings.Contains(out, "mtu = 1300") {
			t.Errorf("want frag needed with mtu 1300:\n%s", out)
		}
	})
}
