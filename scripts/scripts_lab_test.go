package scripts_test

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/internal/tshark"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/fault"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/script"
	"github.com/echolot/echolot/scripts"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// run runs the shipped script name inside the lab's client node and
// returns its exit code and output (stdout, then stderr).
func run(t *testing.T, l *lab.Lab, name string, args ...string) (int, string) {
	t.Helper()
	return runIn(t, l, t.TempDir(), name, args...)
}

// runIn is run with the script's working directory dir.
func runIn(t *testing.T, l *lab.Lab, dir, name string, args ...string) (int, string) {
	t.Helper()
	s, ok := scripts.Lookup(name)
	if !ok {
		t.Fatalf("script %s is not shipped", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := -1
	err := l.InNode("client", func() error {
		in, err := script.New(script.Options{Stdout: &out, Stderr: &errb, Args: args, Dir: dir})
		if err != nil {
			return err
		}
		code = in.RunString(ctx, name+".lua", string(s.Source))
		return in.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String() + errb.String()
	t.Logf("echolot run %s %s → exit %d\n%s", name, strings.Join(args, " "), code, text)
	return code, text
}

// rules replaces the fault node's rules with rs.
func rules(t *testing.T, l *lab.Lab, rs ...string) {
	t.Helper()
	if err := l.Fault().Clear(); err != nil {
		t.Fatal(err)
	}
	for _, s := range rs {
		r, err := fault.ParseRule(s)
		if err != nil {
			t.Fatalf("rule %q: %v", s, err)
		}
		if _, err := l.Fault().Add(r); err != nil {
			t.Fatalf("rule %q: %v", s, err)
		}
	}
}

func newLab(t *testing.T) *lab.Lab {
	l := labtest.New(t)
	labtest.Setenv(t, l)
	return l
}

func mustMatch(t *testing.T, out, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("output does not match %q", re)
	}
}

func mustNotMatch(t *testing.T, out, re string) {
	t.Helper()
	if regexp.MustCompile(re).MatchString(out) {
		t.Errorf("output matches %q, it should not", re)
	}
}

func TestPatterns(t *testing.T) {
	l := newLab(t)

	t.Run("clean", func(t *testing.T) {
		rules(t, l)
		code, out := run(t, l, "patterns", "", "56")
		if code != 0 {
			t.Errorf("exit %d on a clean path, want 0", code)
		}
		mustMatch(t, out, `RESULT: no data-dependent fault`)
	})

	t.Run("drop", func(t *testing.T) {
		rules(t, l, "drop pattern=7e7e7e7e")
		code, out := run(t, l, "patterns")
		if code != 1 {
			t.Errorf("exit %d, want 1 (a fault found)", code)
		}
		// the dropped pattern, and only it, is lost at both sizes
		mustMatch(t, out, `(?m)^  0x7e +LOST +LOST$`)
		if n := strings.Count(out, "LOST"); n != 4 { // two in the catalogue table, two in the failing list
			t.Errorf("LOST appears %d times, want 4: only 0x7e should fail", n)
		}
		mustMatch(t, out, `none failing\n.*none failing`)
		mustMatch(t, out, `smallest failing run: 7e 7e 7e 7e \(4 bytes\)`)
		mustMatch(t, out, `RESULT: payloads holding 7e 7e 7e 7e \(at any offset; pattern 0x7e\) get no reply`)
		mustNotMatch(t, out, `DAMAGED`)
	})

	t.Run("corrupt", func(t *testing.T) {
		rules(t, l, "corrupt offset=30 flip=0x01 dir=to-client")
		code, out := run(t, l, "patterns", "", "56")
		if code != 1 {
			t.Errorf("exit %d, want 1 (a fault found)", code)
		}
		mustMatch(t, out, `(?m)^  30 +\d+ +0x01 +0->1 and 1->0`)
		mustMatch(t, out, `RESULT: replies come back damaged at payload offset 30 \(bits 0x01\): (\d+) of (\d+) patterns \(every pattern`)
		mustNotMatch(t, out, `LOST`)
	})

	t.Run("corrupt-data-dependent", func(t *testing.T) {
		rules(t, l, "corrupt offset=40 set=0x80 dir=to-client")
		_, out := run(t, l, "patterns", "", "56")
		mustMatch(t, out, `(?m)^  40 +\d+ +0x80 +only 0->1`)
		mustMatch(t, out, `offset 40 \(bits 0x80\): \d+ of \d+ patterns \(the damage depends on the data\)`)
	})

	t.Run("usage", func(t *testing.T) {
		code, out := run(t, l, "patterns", "", "3")
		if code != 2 || !strings.Contains(out, "size 3 is out of range") {
			t.Errorf("exit %d, want 2 and a message about the size", code)
		}
	})
}

func TestPMTU(t *testing.T) {
	l := newLab(t)

	// First, while the client's kernel has cached nothing: a black hole,
	// r2's frag-needed (ICMP type 3 code 4 at IP offset 20) dropped on its
	// way back.
	t.Run("blackhole", func(t *testing.T) {
		rules(t, l, "drop pattern=0304 offset=20 from=ip proto=icmp dir=to-client")
		code, out := run(t, l, "pmtu")
		if code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
		mustMatch(t, out, `RESULT: path MTU 1400 bytes, found by elimination`)
		mustMatch(t, out, `PMTU BLACK HOLE after hop 2, 198\.18\.2\.2 \(r2\)`)
		mustMatch(t, out, `kernel's MTU for the route to 198\.18\.3\.2: before 1500 bytes, now 1500 bytes`)
		mustNotMatch(t, out, `frag-needed +198`)
	})

	t.Run("frag-needed", func(t *testing.T) {
		rules(t, l)
		code, out := run(t, l, "pmtu")
		if code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
		mustMatch(t, out, `(?m)^  1500 +frag-needed +198\.18\.2\.2 \(r2\) +1400$`)
		mustMatch(t, out, `RESULT: path MTU 1400 bytes; the limit is at 198\.18\.2\.2 \(r2\), hop 2, which answered frag-needed mtu=1400`)
		mustMatch(t, out, `now 1400 bytes`)
	})

	t.Run("usage", func(t *testing.T) {
		code, out := run(t, l, "pmtu", "", "20")
		if code != 2 || !strings.Contains(out, "MAX 20 is out of range") {
			t.Errorf("exit %d, want 2 and a message about MAX", code)
		}
	})
}

func TestRR(t *testing.T) {
	l := newLab(t)
	code, out := run(t, l, "rr")
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	// the path, out and back, with the hops named
	mustMatch(t, out, `(?m)^  1  198\.18\.2\.1  r1 +out +hop 1 leaving towards 198\.18\.3\.2 \(traceroute sees it as 198\.18\.1\.1 \(r1\)\)$`)
	mustMatch(t, out, `(?m)^  2  198\.18\.3\.1  r2 +out +hop 2 .*198\.18\.2\.2 \(r2\)`)
	mustMatch(t, out, `(?m)^  5  198\.18\.2\.2  r2 +back`)
	mustMatch(t, out, `(?m)^  6  198\.18\.1\.1  r1 +back`)
	// the kernel-style header holds the sender first, one more address
	mustMatch(t, out, `opt\.rr\(9\)\): 7 addresses`)
	mustMatch(t, out, `prefill=true\}\)\): 8 addresses`)
	mustMatch(t, out, `(?m)^  1  198\.18\.1\.2  client  sender`)
	mustMatch(t, out, `Only 2 slots \(opt\.rr\(2\)\): 2 addresses, full=true`)
	mustMatch(t, out, `RESULT: to 198\.18\.3\.2 via 198\.18\.2\.1, 198\.18\.3\.1; back via 198\.18\.2\.2, 198\.18\.1\.1; 7 addresses self-built, 8 kernel-built`)

	code, out = run(t, l, "rr", "", "10")
	if code != 2 || !strings.Contains(out, "SLOTS 10 is out of range") {
		t.Errorf("exit %d, want 2 and a message about SLOTS", code)
	}

	// The fault node strips IP options: on the way out the quotes
	// locate it between r1 and r2; on the way back every router saw
	// the option.
	rules(t, l, "strip-options dir=to-server")
	code, out = run(t, l, "rr")
	if code != 1 {
		t.Errorf("options stripped: exit %d, want 1", code)
	}
	mustMatch(t, out, `(?m)^  1 +198\.18\.1\.1 \(r1\) +time-exceeded +option present$`)
	mustMatch(t, out, `(?m)^  2 +198\.18\.2\.2 \(r2\) +time-exceeded +option GONE$`)
	mustMatch(t, out, `RESULT: IP options are stripped on the way out, between hop 1, 198\.18\.1\.1 \(r1\), and hop 2, 198\.18\.2\.2 \(r2\)\.`)
	rules(t, l, "strip-options dir=to-client")
	code, out = run(t, l, "rr")
	if code != 1 {
		t.Errorf("options stripped on the way back: exit %d, want 1", code)
	}
	mustMatch(t, out, `RESULT: every router saw the option; 198\.18\.3\.2, or a hop on the way back, removes it from the reply\.`)
	rules(t, l)
}

func TestTS(t *testing.T) {
	l := newLab(t)
	code, out := run(t, l, "ts")
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	mustMatch(t, out, `tsonly, 9 slots .*: 7 stamps, overflow 0`)
	mustMatch(t, out, `tsandaddr, 4 slots .*: 4 stamps, overflow 3`)
	mustMatch(t, out, `(?m)^  1  198\.18\.1\.1  r1 `)
	mustMatch(t, out, `(?m)^  2  198\.18\.2\.2  r2 `)
	mustMatch(t, out, `3 of the 3 listed addresses stamped`)
	mustMatch(t, out, `(?m)^  1  198\.18\.1\.2  client \(this host\)`)
	mustMatch(t, out, `here 3 stamps from the path against 4`)
	mustMatch(t, out, `RESULT: 7 stamps in tsonly \(overflow 0\); tsandaddr stamped by 198\.18\.1\.1\(r1\) 198\.18\.2\.2\(r2\) 198\.18\.3\.2\(server\)`)

	code, out = run(t, l, "ts", "2001:db8:3::2")
	if code != 2 || !strings.Contains(out, "IPv4 only") {
		t.Errorf("exit %d, want 2 and a message about IPv6", code)
	}

	rules(t, l, "strip-options dir=to-client")
	code, out = run(t, l, "ts")
	if code != 1 || !strings.Contains(out, "came back WITHOUT the timestamp option") {
		t.Errorf("options stripped: exit %d, want 1 and the reply without the option named", code)
	}
	rules(t, l)
}

func TestTrace(t *testing.T) {
	l := newLab(t)
	path := `RESULT: 198\.18\.3\.2 reached in 3 hops: 198\.18\.1\.1 \(r1\) -> 198\.18\.2\.2 \(r2\) -> 198\.18\.3\.2 \(server\)\.`
	for _, proto := range []string{"icmp", "udp", "tcp"} {
		t.Run(proto+"-clean", func(t *testing.T) {
			rules(t, l)
			code, out := run(t, l, "trace", "", proto)
			if code != 0 {
				t.Errorf("exit %d, want 0", code)
			}
			mustMatch(t, out, path)
			mustMatch(t, out, `nothing on the path rewrote the probes`)
		})
		t.Run(proto+"-tos", func(t *testing.T) {
			// the fault node sits between r1 and r2: the rewrite shows first in r2's quote
			rules(t, l, "tos 0x28 dir=to-server")
			code, out := run(t, l, "trace", "", proto)
			if code != 0 {
				t.Errorf("exit %d, want 0", code)
			}
			mustMatch(t, out, path)
			mustMatch(t, out, `(?m)^  2 +198\.18\.2\.2 \(r2\) .*tos 0x00→0x28`)
			mustNotMatch(t, out, `(?m)^  1 +198\.18\.1\.1 \(r1\) .*tos`)
			mustMatch(t, out, `RESULT: tos rewritten between hop 1, 198\.18\.1\.1 \(r1\), and hop 2, 198\.18\.2\.2 \(r2\)\.`)
		})
	}
	t.Run("ttl", func(t *testing.T) {
		// the fault node lowers the TTL once more: r2 gets the probe of
		// TTL 2 with TTL 0, and answers TTL 3 as well
		rules(t, l, "ttl -1 dir=to-server proto=icmp")
		code, out := run(t, l, "trace")
		if code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
		mustMatch(t, out, `(?m)^  2 +198\.18\.2\.2 \(r2\) .*ttl quoted 0, expected 1$`)
		mustMatch(t, out, `(?m)^  3 +198\.18\.2\.2 \(r2\) .* -$`)
		mustMatch(t, out, `hops 2 and 3 are the same router, 198\.18\.2\.2 \(r2\): something before it lowers the TTL without answering`)
		mustMatch(t, out, `RESULT: ttl lowered between hop 1, 198\.18\.1\.1 \(r1\), and hop 2, 198\.18\.2\.2 \(r2\)\.`)
	})
	t.Run("ipv6", func(t *testing.T) {
		rules(t, l)
		code, out := run(t, l, "trace", "2001:db8:3::2", "udp")
		if code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
		mustMatch(t, out, `RESULT: 2001:db8:3::2 reached in 3 hops: 2001:db8:1::1 \(r1\) -> 2001:db8:2::2 \(r2\) -> 2001:db8:3::2 \(server\)\.`)
	})
	t.Run("usage", func(t *testing.T) {
		code, out := run(t, l, "trace", "", "sctp")
		if code != 2 || !strings.Contains(out, "PROTO sctp is not one of icmp, udp, tcp") {
			t.Errorf("exit %d, want 2 and a message about PROTO", code)
		}
	})
}

func TestTcping(t *testing.T) {
	l := newLab(t)
	testenv.AcceptTCP(t, func(f func() error) error { return l.InNode("server", f) }, "198.18.3.2:8080")

	code, out := run(t, l, "tcping", "198.18.3.2", "8080", "3", "0.1")
	if code != 0 {
		t.Errorf("open port: exit %d, want 0", code)
	}
	mustMatch(t, out, `(?m)^seq=1 from 198\.18\.3\.2 port 8080: open \(SA\) sport=\d+`)
	mustMatch(t, out, `3 probes, 3 open, 0 closed, 0 without answer`)
	// a fresh source port per probe
	ports := regexp.MustCompile(`sport=(\d+)`).FindAllStringSubmatch(out, -1)
	if len(ports) != 3 || ports[0][1] == ports[1][1] || ports[1][1] == ports[2][1] || ports[0][1] == ports[2][1] {
		t.Errorf("source ports %v, want three different ones", ports)
	}

	code, out = run(t, l, "tcping", "198.18.3.2", "8081", "2", "0.1")
	if code != 0 {
		t.Errorf("closed port: exit %d, want 0 (answered)", code)
	}
	mustMatch(t, out, `(?m)^seq=1 from 198\.18\.3\.2 port 8081: closed \(RA?\)`)
	mustMatch(t, out, `2 probes, 0 open, 2 closed, 0 without answer`)

	rules(t, l, "drop proto=tcp")
	code, out = run(t, l, "tcping", "198.18.3.2", "8080", "1")
	if code != 1 {
		t.Errorf("filtered port: exit %d, want 1", code)
	}
	mustMatch(t, out, `1 probes, 0 open, 0 closed, 1 without answer`)

	rules(t, l)
	code, out = run(t, l, "tcping", "2001:db8:3::2", "8081", "1")
	if code != 0 {
		t.Errorf("IPv6 closed port: exit %d, want 0 (answered)", code)
	}
	mustMatch(t, out, `(?m)^seq=1 from 2001:db8:3::2 port 8081: closed \(RA?\)`)

	code, out = run(t, l, "tcping", "198.18.3.2", "70000")
	if code != 2 || !strings.Contains(out, "tcping: PORT 70000 is out of range, the limit is 1-65535\nusage: echolot run tcping [HOST]") {
		t.Errorf("exit %d, want 2, the message about the port and the usage", code)
	}
}

// TestArgumentErrors: every experiment refuses a host of the wrong
// family, and without a lab one with none, with exit 2, its name, the
// reason and its usage paragraph.
func TestArgumentErrors(t *testing.T) {
	l := newLab(t)
	for _, name := range []string{"icmp-lab", "patterns", "rr", "ts"} {
		code, out := run(t, l, name, "2001:db8:3::2")
		if code != 2 || !strings.Contains(out, name+": HOST 2001:db8:3::2 is IPv6; this script works on IPv4 only\nusage: echolot run "+name) {
			t.Errorf("%s with an IPv6 host: exit %d, want 2 and the reason", name, code)
		}
	}
	for _, k := range []string{"ECHOLOT_LAB", "ECHOLOT_SERVER_IP4", "ECHOLOT_SERVER_IP6"} {
		t.Setenv(k, "")
	}
	for _, s := range scripts.List() {
		if s.Name == "tour" {
			continue // it needs the lab whatever the arguments
		}
		code, out := run(t, l, s.Name)
		if code != 2 || !strings.Contains(out, s.Name+": give a HOST (outside a lab there is no default)\nusage: echolot run "+s.Name) {
			t.Errorf("%s outside a lab without a HOST: exit %d, want 2 and a request for a HOST", s.Name, code)
		}
	}
}

func TestICMPLab(t *testing.T) {
	l := newLab(t)
	code, out := run(t, l, "icmp-lab")
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	for _, re := range []string{
		`(?m)^ +\d+  Echo reply .* echo-reply +198\.18\.3\.2 \(server\)$`,
		`(?m)^ +\d+  Time exceeded .* time-exceeded +198\.18\.1\.1 \(r1\)$`,
		`(?m)^ +\d+  Port unreachable .* port-unreachable +198\.18\.3\.2 \(server\)$`,
		`(?m)^ +\d+  Protocol unreachable .* protocol-unreachable +198\.18\.3\.2 \(server\)$`,
		`(?m)^ +\d+  Fragmentation needed .* frag-needed +198\.18\.2\.2 \(r2\)$`,
		`(?m)^ +\d+  Network unreachable .* net-unreachable +198\.18\.1\.1 \(r1\)$`,
		`(?m)^ +\d+  Parameter problem .* param-problem +198\.18\.1\.1 \(r1\)$`,
		`(?m)^ +\d+  Host unreachable .* host-unreachable +198\.18\.2\.2 \(r2\)$`,
		`(?m)^ +\d+  IPv6: packet too big .* packet-too-big +2001:db8:2::2 \(r2\)$`,
		`mtu: +1400 `,
		`pointer: +21 `,
		`RESULT: 11 of 11 messages provoked`,
	} {
		mustMatch(t, out, re)
	}
}

// TestTour runs the whole tour and checks what it found, not only that
// it ran: the damaged offset and bit, the dropped fill and its shortest
// run (and no other fill), the MTU and the router that reported it with
// the kernel's cache learning it, the recorded route, the timestamps,
// the TOS rewrite in the quote, and a capture tshark reads with its
// probe↔answer comments. It also leaves no fault rule behind.
func TestTour(t *testing.T) {
	l := newLab(t)
	rules(t, l)
	dir := t.TempDir()
	code, out := runIn(t, l, dir, "tour")
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	mustMatch(t, out, `(?m)^  echo +3 of 3 replies, all 56 payload bytes intact$`)
	mustMatch(t, out, `(?m)^  corruption +offset 30 bits 0x01 in 3 of 3 replies$`)
	mustMatch(t, out, `(?m)^  sweep +dropped 0x7e; shortest dropped run 4 bytes$`)
	mustMatch(t, out, `(?m)^dropped: 0x7e; the other 255 fills came back\.$`)
	mustMatch(t, out, `(?m)^  pmtu +1400 at 198\.18\.2\.2 \(r2\); kernel's cache 1500 before, 1400 after$`)
	mustMatch(t, out, `(?m)^  record route +198\.18\.1\.2 198\.18\.2\.1 198\.18\.3\.1 198\.18\.3\.2 198\.18\.3\.2 198\.18\.2\.2 198\.18\.1\.1 198\.18\.1\.2$`)
	mustMatch(t, out, `(?m)^  timestamps +4 stamped, [1-9]\d* found the option full$`)
	mustMatch(t, out, `(?m)^  quote +time-exceeded from 198\.18\.2\.2 \(r2\): tos 0x10 -> 0x28$`)
	mustMatch(t, out, `(?m)^  CHANGED +tos +0x10 -> 0x28 `)
	mustMatch(t, out, `(?m)^  4 +4 x 0x7e, then 0x00, repeated to 56 bytes +DROPPED$`)
	mustMatch(t, out, `(?m)^  3 +3 x 0x7e, then 0x00, repeated to 56 bytes +came back$`)
	mustNotMatch(t, out, `Not as expected`)
	if rs, err := l.Fault().List(); err != nil || len(rs) != 0 {
		t.Errorf("fault rules left behind: %v %v", rs, err)
	}
	m := regexp.MustCompile(`Wrote (\d+) packets to tour\.pcapng`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("the tour did not say it wrote tour.pcapng")
	}
	rows := tshark.FieldsFile(t, filepath.Join(dir, "tour.pcapng"), "frame.number", "frame.comment")
	if strconv.Itoa(len(rows)) != m[1] {
		t.Errorf("tshark reads %d packets, the tour says it wrote %s", len(rows), m[1])
	}
	var te bool
	for _, r := range rows {
		if strings.Contains(r[1], "time-exceeded from 198.18.2.2") && strings.Contains(r[1], "tos 0x10→0x28") {
			te = true
		}
	}
	if !te {
		t.Error("no frame comment links the time-exceeded answer to its probe with the tos change")
	}
}
