// Package labtest gives a test a network lab of its own (package lab): a
// unique name, the fault node running inside the test process, and removal
// when the test ends, also when it fails or panics.
//
//	func TestSomething(t *testing.T) {
//		l := labtest.New(t)
//		out, err := l.Command(ctx, "client", "ping", "-c", "1", l.Addr("server", false).String()).CombinedOutput()
//		...
//	}
//
// Tests using it skip with a message when not run as root (or without
// network namespaces), and fail instead under CI=true (internal/testenv).
// A package whose tests use labs should call Main from TestMain, which
// removes anything a test left behind and fails the run if a namespace of
// this test process remains.
package labtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
)

// UpTimeout bounds how long New waits for a lab to come up.
const UpTimeout = 60 * time.Second

var seq atomic.Int64

// Prefix returns the prefix of every lab name this test process uses:
// "t<pid>-". The lab's namespaces then start with testenv.NetnsPrefix().
func Prefix() string { return fmt.Sprintf("t%d-", os.Getpid()) }

// NextName returns a fresh lab name for this test process: "t<pid>-<n>"
// (at most 20 characters).
func NextName() string { return Prefix() + strconv.FormatInt(seq.Add(1), 10) }

// New brings up a lab for the test and removes it when the test and its
// subtests end (t.Cleanup runs also after a failure or panic). It first
// calls testenv.NeedNetns, so without root or namespaces the test skips, or
// fails under CI=true. opts[0], when given, supplies the topology and the
// fault-node mode; its Name is replaced by a unique one. The fault node runs
// in this process (Options.FaultInProcess) unless opts[0].Exe names a binary
// for the daemon. A failure to bring the lab up fails the test.
func New(t testing.TB, opts ...lab.Options) *lab.Lab {
	t.Helper()
	testenv.NeedNetns(t)
	sweepOnce.Do(sweepDead)
	var o lab.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Name = NextName()
	if o.Exe == "" {
		o.FaultInProcess = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), UpTimeout)
	defer cancel()
	start := time.Now()
	l, err := lab.Up(ctx, o)
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	t.Logf("labtest: lab %s up in %v", l.Name(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		start := time.Now()
		if err := l.Close(); err != nil {
			t.Errorf("labtest: %v", err)
			return
		}
		t.Logf("labtest: lab %s down in %v", l.Name(), time.Since(start).Round(100*time.Microsecond))
	})
	return l
}

// nameRE matches lab names made by labtest in any process.
var nameRE = regexp.MustCompile(`^t([0-9]+)-[0-9]+$`)

var sweepOnce sync.Once

// sweepDead removes labs left by earlier test processes that died without
// cleaning up (killed by a timeout, say): labs named t<pid>-<n> whose pid no
// longer exists. Labs of live processes are left alone.
func sweepDead() {
	labs, err := lab.List()
	if err != nil {
		return
	}
	for _, s := range labs {
		m := nameRE.FindStringSubmatch(s.Name)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); err == nil {
			continue
		}
		_ = lab.Down(s.Name)
	}
}

// Leftovers returns the labs of this test process that still exist.
func Leftovers() []string {
	labs, _ := lab.List()
	var out []string
	for _, s := range labs {
		if m := nameRE.FindStringSubmatch(s.Name); m != nil && m[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, s.Name)
		}
	}
	return out
}

// Main runs the tests (m.Run), then removes the labs of this test process
// that remain and exits with status 1 if there were any, naming them: a
// test must not leave a lab behind. Call it from TestMain:
//
//	func TestMain(m *testing.M) { labtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if left := Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "labtest: labs left behind by the tests: %v (removing them now)\n", left)
		for _, name := range left {
			if err := lab.Down(name); err != nil {
				fmt.Fprintf(os.Stderr, "labtest: %v\n", err)
			}
		}
		code = 1
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if len(e.Name()) >= len(testenv.NetnsPrefix()) && e.Name()[:len(testenv.NetnsPrefix())] == testenv.NetnsPrefix() {
				fmt.Fprintf(os.Stderr, "labtest: namespace %s left behind\n", e.Name())
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Setenv gives the rest of the test the environment `echolot lab run`
// gives a script in l (Lab.Env), so that a Lua interpreter made in the
// test sees the global lab. It restores the environment when the test
// ends; tests using it cannot be parallel.
func Setenv(t testing.TB, l *lab.Lab) {
	t.Helper()
	for _, kv := range l.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Commands runs each argv inside node of l (ip rule add …, ip route add
// …) and fails the test at the first that fails, with its output.
func Commands(t testing.TB, l *lab.Lab, node string, argvs ...[]string) {
	t.Helper()
	for _, argv := range argvs {
		if out, err := l.Command(context.Background(), node, argv...).CombinedOutput(); err != nil {
			t.Fatalf("in %s: %s: %v: %s", node, strings.Join(argv, " "), err, out)
		}
	}
}

// Sysctl sets the sysctl key (dotted, as sysctl(8) names it) to value
// inside node of l, and fails the test if it cannot.
func Sysctl(t testing.TB, l *lab.Lab, node, key, value string) {
	t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	if err := l.InNode(node, func() error { return os.WriteFile(path, []byte(value), 0o644) }); err != nil {
		t.Fatalf("in %s: sysctl %s=%s: %v", node, key, value, err)
	}
}
