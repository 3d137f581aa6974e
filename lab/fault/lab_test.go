//go:build linux

package fault_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/fault"
	"github.com/echolot/echolot/lab/labtest"
)

// TestMain removes any lab a test left behind and fails the run if one
// remained (labtest.Main).
func TestMain(m *testing.M) { labtest.Main(m) }

// labRun is one lab shared by the subtests of TestLab, which clear the
// rules after themselves.
type labRun struct {
	*lab.Lab
	t      *testing.T
	ctrl   fault.Controller
	server map[bool]string // server address by v6
}

// run runs argv in node and returns its combined output; the exit status
// is returned as err (ping exits 1 when replies are missing).
func (l *labRun) run(t *testing.T, node string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := l.Command(ctx, node, argv...).CombinedOutput()
	return string(out), err
}

// ping runs iputils ping in client towards the server, with -n and -W 1
// in front of args.
func (l *labRun) ping(t *testing.T, v6 bool, args ...string) (string, error) {
	t.Helper()
	argv := []string{"ping", "-n", "-W", "1"}
	if v6 {
		argv = append(argv, "-6")
	}
	argv = append(append(argv, args...), l.server[v6])
	return l.run(t, "client", argv...)
}

// rule adds a rule. The rules are cleared when the subtest ends.
func (l *labRun) rule(t *testing.T, text string) int {
	t.Helper()
	r, err := fault.ParseRule(text)
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.ctrl.Add(r)
	if err != nil {
		t.Fatalf("Add(%q): %v", text, err)
	}
	t.Cleanup(l.clear)
	return id
}

func (l *labRun) clear() {
	if err := l.ctrl.Clear(); err != nil {
		l.t.Errorf("Clear: %v", err)
	}
}

func (l *labRun) status(t *testing.T, id int) fault.RuleStatus {
	t.Helper()
	list, err := l.ctrl.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("rule %d not listed: %v", id, list)
	return fault.RuleStatus{}
}

// pingStats parses ping's summary "N packets transmitted, M received, +D
// duplicates".
var statsRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?`)

func pingStats(t *testing.T, out string) (sent, received, dups int) {
	t.Helper()
	m := statsRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ping statistics in:\n%s", out)
	}
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	dups, _ = strconv.Atoi(m[3])
	return
}

var rttRE = regexp.MustCompile(`time=([0-9.]+) ms`)

// rtts returns the per-reply round-trip times ping printed.
func rtts(out string) []time.Duration {
	var ds []time.Duration
	for _, m := range rttRE.FindAllStringSubmatch(out, -1) {
		ms, _ := strconv.ParseFloat(m[1], 64)
		ds = append(ds, time.Duration(ms*float64(time.Millisecond)))
	}
	return ds
}

func TestLab(t *testing.T) {
	testenv.NeedTool(t, "ping")
	l := &labRun{Lab: labtest.New(t), t: t}
	l.ctrl = l.Fault()
	l.server = map[bool]string{false: l.Addr("server", false).String(), true: l.Addr("server", true).String()}

	t.Run("baseline", func(t *testing.T) {
		for _, v6 := range []bool{false, true} {
			out, err := l.ping(t, v6, "-c", "2", "-i", "0.01")
			if err != nil {
				t.Fatalf("ping (v6 %v) through the fault node: %v\n%s", v6, err, out)
			}
		}
	})

	t.Run("corrupt", func(t *testing.T) {
		// The echo reply's data byte 20 has its lowest bit flipped; the
		// checksum is fixed, so the client's kernel delivers it and ping
		// compares the data with its -p pattern.
		for _, tc := range []struct {
			v6   bool
			rule string
		}{
			{false, "corrupt offset=20 flip=0x01 dir=to-client proto=icmp"},
			{true, "corrupt offset=20 flip=0x01 dir=to-server proto=icmp6"}, // the server echoes it back
		} {
			id := l.rule(t, tc.rule)
			out, _ := l.ping(t, tc.v6, "-c", "3", "-i", "0.01", "-p", "a5")
			if n := strings.Count(out, "wrong data byte #20 should be 0xa5 but was 0xa4"); n != 3 {
				t.Errorf("%q: %d wrong-data reports, want 3:\n%s", tc.rule, n, out)
			}
			if _, rcv, _ := pingStats(t, out); rcv != 3 {
				t.Errorf("%q: %d replies, want 3 (checksums fixed)", tc.rule, rcv)
			}
			if st := l.status(t, id); st.Matched != 3 {
				t.Errorf("%q matched %d", tc.rule, st.Matched)
			}
			l.clear()
		}
		// With bad-checksum the client's kernel discards the replies.
		l.rule(t, "corrupt offset=20 flip=0x01 dir=to-client proto=icmp bad-checksum")
		out, _ := l.ping(t, false, "-c", "2", "-i", "0.01", "-p", "a5")
		if _, rcv, _ := pingStats(t, out); rcv != 0 || strings.Contains(out, "wrong data") {
			t.Errorf("bad-checksum: %d replies:\n%s", rcv, out)
		}
	})

	t.Run("duplicate", func(t *testing.T) {
		// Every reply arrives twice. ping stops at the third reply, so
		// the copy of the last one may come too late to be shown.
		for _, v6 := range []bool{false, true} {
			l.rule(t, "duplicate dir=to-client")
			out, _ := l.ping(t, v6, "-c", "3", "-i", "0.05")
			for seq := 1; seq <= 2; seq++ {
				if !regexp.MustCompile(fmt.Sprintf(`icmp_seq=%d .*\(DUP!\)`, seq)).MatchString(out) {
					t.Errorf("v6 %v: no (DUP!) for icmp_seq=%d:\n%s", v6, seq, out)
				}
			}
			if _, rcv, dups := pingStats(t, out); rcv != 3 || dups < 2 {
				t.Errorf("v6 %v: %d received, %d duplicates; want 3 and at least 2", v6, rcv, dups)
			}
			l.clear()
		}
	})

	t.Run("delay", func(t *testing.T) {
		// Each echo request is held 20ms plus 0–5ms. The RTT must be at
		// least 20ms, and at most 25ms plus a tolerance of 10ms for
		// timer and scheduling latency (the undelayed RTT here is about
		// 0.1ms).
		const d, j, tol = 20 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond
		for _, v6 := range []bool{false, true} {
			l.rule(t, fmt.Sprintf("delay %v jitter=%v dir=to-server", d, j))
			out, err := l.ping(t, v6, "-c", "10", "-i", "0.03")
			if err != nil {
				t.Fatalf("ping: %v\n%s", err, out)
			}
			ds := rtts(out)
			if len(ds) != 10 {
				t.Fatalf("%d RTTs:\n%s", len(ds), out)
			}
			lo, hi := ds[0], ds[0]
			for _, r := range ds {
				lo, hi = min(lo, r), max(hi, r)
				if r < d || r > d+j+tol {
					t.Errorf("v6 %v: RTT %v outside [%v, %v]", v6, r, d, d+j+tol)
				}
			}
			t.Logf("delay %v jitter=%v, v6 %v: RTTs %v–%v", d, j, v6, lo, hi)
			l.clear()
		}
	})

	t.Run("loss", func(t *testing.T) {
		// Each echo request is lost with probability 0.2; the number lost
		// in n probes is binomial(n, 0.2), whose 99.9% interval for
		// n = 300 is computed exactly. Ping's count must equal the rule's.
		const n, p = 300, 0.2
		id := l.rule(t, "loss 0.2 dir=to-server proto=icmp")
		out, _ := l.ping(t, false, "-c", strconv.Itoa(n), "-i", "0.002", "-q")
		sent, rcv, _ := pingStats(t, out)
		lost := sent - rcv
		lo, hi := binomialInterval(n, p, 0.999)
		if sent != n || lost < lo || lost > hi {
			t.Errorf("%d of %d lost, want %d–%d (99.9%% interval)", lost, sent, lo, hi)
		}
		st := l.status(t, id)
		if st.Seen != n || int(st.Matched) != lost {
			t.Errorf("rule saw %d, dropped %d; ping lost %d of %d", st.Seen, st.Matched, lost, sent)
		}
		t.Logf("loss 0.2: %d of %d lost (99.9%% interval %d–%d)", lost, n, lo, hi)
	})

	t.Run("drop-pattern", func(t *testing.T) {
		// iputils ping fills its data after a 16-byte timestamp with the
		// -p pattern, so a5a5 sits at offset 16.
		for _, v6 := range []bool{false, true} {
			id := l.rule(t, "drop pattern=a5a5 offset=16")
			out, _ := l.ping(t, v6, "-c", "3", "-i", "0.01", "-p", "a5a5")
			if sent, rcv, _ := pingStats(t, out); sent != 3 || rcv != 0 {
				t.Errorf("v6 %v, -p a5a5: %d of %d answered, want none", v6, rcv, sent)
			}
			for _, pat := range []string{"5a5a", "a55a", "a5a4", "00"} {
				out, err := l.ping(t, v6, "-c", "3", "-i", "0.01", "-p", pat)
				if sent, rcv, _ := pingStats(t, out); err != nil || rcv != sent {
					t.Errorf("v6 %v, -p %s: %d of %d answered, want all", v6, pat, rcv, sent)
				}
			}
			if st := l.status(t, id); st.Matched != 3 {
				t.Errorf("v6 %v: rule matched %d, want 3", v6, st.Matched)
			}
			l.clear()
		}
	})

	t.Run("tos", func(t *testing.T) {
		// The echo requests leave the client with TOS 0 and arrive at
		// the server with 0x28: tcpdump on the server shows it.
		testenv.NeedTool(t, "tcpdump")
		for _, tc := range []struct {
			v6          bool
			rule, shows string
		}{
			{false, "tos 0x28 dir=to-server proto=icmp", "tos 0x28"},
			{true, "dscp 10 dir=to-server proto=icmp6", "class 0x28"},
		} {
			l.rule(t, tc.rule)
			filter := "icmp[icmptype] == icmp-echo"
			if tc.v6 {
				filter = "icmp6 and ip6[40] == 128"
			}
			capture := l.capture(t, "server", filter, 3)
			out, err := l.ping(t, tc.v6, "-c", "3", "-i", "0.01")
			if err != nil {
				t.Fatalf("ping: %v\n%s", err, out)
			}
			got := capture()
			if n := strings.Count(got, tc.shows); n != 3 {
				t.Errorf("%q: %d of 3 captured requests show %q:\n%s", tc.rule, n, tc.shows, got)
			}
			l.clear()
		}
	})

	t.Run("ttl", func(t *testing.T) {
		// The server's reply (TTL 64) passes r2 (63), the fault node sets
		// 5, r1 forwards it with 4.
		l.rule(t, "ttl 5 dir=to-client")
		for _, v6 := range []bool{false, true} {
			out, _ := l.ping(t, v6, "-c", "2", "-i", "0.01")
			want := "ttl=4 "
			if v6 {
				want = "ttl=4 " // iputils prints the hop limit as ttl=
			}
			if n := strings.Count(out, want); n != 2 {
				t.Errorf("v6 %v: %d replies with %q:\n%s", v6, n, want, out)
			}
		}
	})

	t.Run("strip-options", func(t *testing.T) {
		// ping -R asks for record route; without the option the server
		// answers without it and ping shows no route.
		out, err := l.ping(t, false, "-c", "1", "-R")
		if err != nil || !strings.Contains(out, "RR:") {
			t.Fatalf("ping -R without rules: %v\n%s", err, out)
		}
		id := l.rule(t, "strip-options dir=to-server")
		out, err = l.ping(t, false, "-c", "1", "-R")
		if err != nil || strings.Contains(out, "RR:") {
			t.Errorf("ping -R with strip-options: %v\n%s", err, out)
		}
		if st := l.status(t, id); st.Matched != 1 {
			t.Errorf("strip-options matched %d", st.Matched)
		}
	})

	t.Run("truncate", func(t *testing.T) {
		// The 84-byte echo reply is cut to 60 bytes with its lengths
		// and checksum fixed: ping sees 40 bytes of ICMP.
		l.rule(t, "truncate 60 dir=to-client proto=icmp")
		out, _ := l.ping(t, false, "-c", "2", "-i", "0.01")
		if n := strings.Count(out, "40 bytes from"); n != 2 {
			t.Errorf("%d truncated replies:\n%s", n, out)
		}
	})

	t.Run("ndp", func(t *testing.T) {
		// Even a rule dropping every ICMPv6 message leaves neighbour
		// discovery between r1 and r2 alone: after flushing r1's
		// neighbour cache, a ping (lost) makes r1 resolve r2 again.
		r2 := l.Addr("r2", true)
		id := l.rule(t, "drop proto=icmp6")
		if out, err := l.run(t, "r1", "ip", "-6", "neigh", "flush", "all"); err != nil {
			t.Fatalf("flush: %v\n%s", err, out)
		}
		out, _ := l.ping(t, true, "-c", "2", "-i", "0.2")
		if _, rcv, _ := pingStats(t, out); rcv != 0 {
			t.Errorf("%d echo replies through drop proto=icmp6", rcv)
		}
		neigh, _ := l.run(t, "r1", "ip", "-6", "neigh", "show", r2.String())
		if !strings.Contains(neigh, "lladdr") {
			t.Errorf("r1 did not resolve r2 (%s) through the fault node: %q", r2, neigh)
		}
		if st := l.status(t, id); st.Matched < 2 {
			t.Errorf("drop proto=icmp6 matched %d", st.Matched)
		}
	})

	st, err := l.FaultStats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fault node counters: %+v", st)
	if st.ToServer.SendErrors+st.ToClient.SendErrors+st.ToServer.SocketDrops+st.ToClient.SocketDrops+st.ToServer.Overflow+st.ToClient.Overflow != 0 {
		t.Errorf("the fault node lost frames of its own: %+v", st)
	}
}

// capture starts tcpdump -v on node's interfaces for count packets
// matching filter and returns a function that waits for it (at most 5s)
// and returns its output.
func (l *labRun) capture(t *testing.T, node, filter string, count int) func() string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	cmd := l.Command(ctx, node, "tcpdump", "-n", "-v", "-l", "-i", "any", "-c", strconv.Itoa(count), filter)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("tcpdump: %v", err)
	}
	// tcpdump says "listening on" once its capture runs.
	ready := make(chan struct{})
	var errText strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			errText.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "listening on") {
				close(ready)
				signalled = true
			}
		}
		if !signalled {
			close(ready)
		}
	}()
	outc := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(stdout)
		outc <- string(b)
	}()
	<-ready
	return func() string {
		defer cancel()
		out := <-outc
		if err := cmd.Wait(); err != nil {
			var ee *exec.ExitError
			if ctx.Err() == nil || !strings.Contains(err.Error(), "killed") && !errorsAs(err, &ee) {
				t.Logf("tcpdump: %v\n%s", err, errText.String())
			}
		}
		return out
	}
}

func errorsAs(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*ee = e
	}
	return ok
}

// binomialInterval returns [lo, hi] such that a binomial(n, p) count falls
// below lo or above hi with probability at most (1−conf)/2 each.
func binomialInterval(n int, p, conf float64) (lo, hi int) {
	tail := (1 - conf) / 2
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	pmf := func(k int) float64 {
		return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	cum := 0.0
	for lo = 0; lo <= n && cum+pmf(lo) <= tail; lo++ {
		cum += pmf(lo)
	}
	cum = 0
	for hi = n; hi >= 0 && cum+pmf(hi) <= tail; hi-- {
		cum += pmf(hi)
	}
	return lo, hi
}
