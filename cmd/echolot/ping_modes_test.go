package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/fault"
	"github.com/echolot/echolot/lab/labtest"
)

// pingIn runs echolot ping in a lab node and returns exit code, stdout
// and stderr.
func pingIn(t *testing.T, l *lab.Lab, node string, args ...string) (int, string, string) {
	t.Helper()
	var code int
	var out, errs string
	if err := l.InNode(node, func() error {
		code, out, errs = runCmd("", append([]string{"ping"}, args...)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("echolot ping %s → exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	return code, out, errs
}

// tcpServer listens on a port of the lab's server and returns it, and a
// port where nothing listens.
func tcpServer(t *testing.T, l *lab.Lab) (open, closed int) {
	t.Helper()
	inServer := func(f func() error) error { return l.InNode("server", f) }
	var gone net.Listener
	if err := inServer(func() (err error) {
		if gone, err = net.Listen("tcp", ":0"); err != nil {
			return err
		}
		return gone.Close()
	}); err != nil {
		t.Fatal(err)
	}
	return int(testenv.AcceptTCP(t, inServer, ":0")), gone.Addr().(*net.TCPAddr).Port
}

// TestPingLayer4: --tcp says open on a SYN-ACK and closed on a RST,
// --udp says closed on a port unreachable from the destination, and an
// error from a router is printed as ping prints errors.
func TestPingLayer4(t *testing.T) {
	l := labtest.New(t)
	server := l.Addr("server", false).String()
	open, closed := tcpServer(t, l)
	ttlTime := regexp.MustCompile(` ttl=62 time=[0-9.]+ ms$`)
	for _, c := range []struct {
		args  []string
		code  int
		lines []string // prefixes of lines that must be there
	}{
		{[]string{"-c", "2", "-i", "0.1", "--tcp", strconv.Itoa(open)}, exitOK, []string{
			"PING " + server + " (" + server + ") tcp_port=" + strconv.Itoa(open) + ": SYN, 40 bytes.",
			"From " + server + ": tcp_port=" + strconv.Itoa(open) + " seq=1 open",
			"From " + server + ": tcp_port=" + strconv.Itoa(open) + " seq=2 open",
			"2 packets transmitted, 2 received, 0% packet loss"}},
		{[]string{"-c", "2", "-i", "0.1", "--tcp", strconv.Itoa(open), "--sport", "40123"}, exitOK, []string{
			"From " + server + ": tcp_port=" + strconv.Itoa(open) + " seq=2 open"}},
		{[]string{"-c", "2", "-i", "0.1", "--tcp", strconv.Itoa(closed)}, exitOK, []string{
			"From " + server + ": tcp_port=" + strconv.Itoa(closed) + " seq=1 closed",
			"2 packets transmitted, 2 received, 0% packet loss"}},
		{[]string{"-c", "2", "-i", "0.1", "--udp", "33434"}, exitOK, []string{
			"PING " + server + " (" + server + ") udp_port=33434: 56(84) bytes of data.",
			"From " + server + ": udp_port=33434 seq=1 closed",
			"From " + server + ": udp_port=33434 seq=2 closed",
			"2 packets transmitted, 2 received, 0% packet loss"}},
		{[]string{"-c", "2", "-i", "0.1", "--udp", "33434", "-t", "1"}, exitFailure, []string{
			"From 198.18.1.1 udp_port=33434 seq=1 Time to live exceeded",
			"2 packets transmitted, 0 received, +2 errors, 100% packet loss"}},
		{[]string{"-c", "1", "--tcp", strconv.Itoa(open), "-t", "1", "-v"}, exitFailure, []string{
			"From 198.18.1.1 tcp_port=" + strconv.Itoa(open) + " seq=1 Time to live exceeded",
			"\tquote: "}},
	} {
		code, out, errs := pingIn(t, l, "client", append(c.args, server)...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errs)
		}
		lines := strings.Split(out, "\n")
		for _, want := range c.lines {
			found := false
			for _, line := range lines {
				if strings.HasPrefix(line, want) {
					found = true
					if strings.Contains(want, " open") || strings.Contains(want, " closed") {
						if !ttlTime.MatchString(line) {
							t.Errorf("%v: %q lacks ttl and time", c.args, line)
						}
					}
				}
			}
			if !found {
				t.Errorf("%v: no line starts with %q\n%s", c.args, want, out)
			}
		}
	}
}

// TestPingSourceRoute: hops before the destination send a loose source
// route (iputils 20221126 itself cannot: its datagram socket may not set
// one) and the reply's reversed route is printed; -r makes it strict.
func TestPingSourceRoute(t *testing.T) {
	l := labtest.New(t)
	code, out, _ := pingIn(t, l, "client", "-c", "2", "-i", "0.1", "198.18.1.1", "198.18.3.2")
	if code != exitOK || !strings.HasPrefix(out, "PING 198.18.3.2 (198.18.3.2) 56(124) bytes of data.\n") ||
		!strings.Contains(out, "64 bytes from 198.18.3.2: icmp_seq=2 ttl=62 time=") || !strings.Contains(out, "\nLSRR: \t198.18.1.1\n") ||
		strings.Contains(out, "DIFFERENT ADDRESS") {
		t.Errorf("loose source route: exit %d\n%s", code, out)
	}
	// 198.18.3.2 is not a neighbour of r1: a strict route fails there.
	code, out, _ = pingIn(t, l, "client", "-c", "1", "-W", "1", "-r", "198.18.1.1", "198.18.3.2")
	if code != exitFailure || !strings.Contains(out, "From 198.18.1.1 icmp_seq=1 Source Route Failed") {
		t.Errorf("strict source route: exit %d\n%s", code, out)
	}
}

// TestPingJSON: --json writes one object per result and a summary, and
// nothing else.
func TestPingJSON(t *testing.T) {
	l := labtest.New(t)
	code, out, errs := pingIn(t, l, "client", "-c", "3", "-i", "0.1", "--json", "-t", "2", "198.18.3.2")
	if code != exitFailure || errs != "" {
		t.Fatalf("-t 2: exit %d, stderr %q", code, errs)
	}
	type record struct {
		Type        string           `json:"type"`
		Kind        string           `json:"kind"`
		Answer      string           `json:"answer"`
		Probe       uint64           `json:"probe"`
		Seq         *int             `json:"seq"`
		Ident       *int             `json:"ident"`
		From        string           `json:"from"`
		Bytes       int              `json:"bytes"`
		TTL         *int             `json:"ttl"`
		ProbeTTL    int              `json:"probe_ttl"`
		RTT         *float64         `json:"rtt_ms"`
		Sent        string           `json:"time_sent"`
		Received    string           `json:"time_received"`
		Text        string           `json:"text"`
		Changes     []jsonTestChange `json:"changes"`
		Transmitted int64            `json:"transmitted"`
		Count       int64            `json:"received"`
		Errors      int64            `json:"errors"`
		Loss        float64          `json:"loss_percent"`
		Exit        int              `json:"exit_code"`
		Host        string           `json:"host"`
		Address     string           `json:"address"`
		RTTFig      *struct {
			Min float64 `json:"min_ms"`
			P50 float64 `json:"p50_ms"`
		} `json:"rtt"`
	}
	parse := func(out string) []record {
		var rs []record
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("not JSON: %q: %v", line, err)
			}
			rs = append(rs, r)
		}
		return rs
	}
	rs := parse(out)
	if len(rs) != 4 {
		t.Fatalf("%d records, want 3 results and a summary:\n%s", len(rs), out)
	}
	for i, r := range rs[:3] {
		n := i + 1
		if r.Type != "result" || r.Kind != "error" || r.Answer != "time-exceeded" || r.Probe != uint64(n) ||
			r.Seq == nil || *r.Seq != n || r.Ident == nil || r.From != "198.18.2.2" || r.ProbeTTL != 2 ||
			r.RTT == nil || *r.RTT <= 0 || r.Text != "Time to live exceeded" || r.Sent == "" || r.Received == "" {
			t.Errorf("record %d: %+v", n, r)
		}
		if _, err := time.Parse(time.RFC3339Nano, r.Received); err != nil {
			t.Errorf("record %d: received %q: %v", n, r.Received, err)
		}
	}
	s := rs[3]
	if s.Type != "summary" || s.Transmitted != 3 || s.Count != 0 || s.Errors != 3 || s.Loss != 100 || s.Exit != exitFailure ||
		s.Host != "198.18.3.2" || s.Address != "198.18.3.2" || s.RTTFig != nil {
		t.Errorf("summary: %+v", s)
	}

	// Replies, and what the quote shows when the path rewrites TOS.
	r, err := fault.ParseRule("tos 0x28 dir=to-server")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Fault().Add(r); err != nil {
		t.Fatal(err)
	}
	code, out, _ = pingIn(t, l, "client", "-c", "1", "--json", "-t", "2", "198.18.3.2")
	rs = parse(out)
	if code != exitFailure || len(rs) != 2 || !hasChange(rs[0].Changes, "tos", "tos 0x00→0x28") {
		t.Errorf("tos rewrite: exit %d, changes %+v", code, rs[0].Changes)
	}
	if err := l.Fault().Clear(); err != nil {
		t.Fatal(err)
	}
	code, out, _ = pingIn(t, l, "client", "-c", "2", "-i", "0.1", "-j", "198.18.3.2")
	rs = parse(out)
	if code != exitOK || len(rs) != 3 {
		t.Fatalf("replies: exit %d, %d records", code, len(rs))
	}
	if r := rs[1]; r.Kind != "reply" || r.Answer != "echo-reply" || r.Bytes != 64 || r.TTL == nil || *r.TTL != 62 || r.From != "198.18.3.2" {
		t.Errorf("reply: %+v", r)
	}
	if s := rs[2]; s.Transmitted != 2 || s.Count != 2 || s.Exit != exitOK || s.RTTFig == nil || s.RTTFig.Min <= 0 || s.RTTFig.P50 < s.RTTFig.Min {
		t.Errorf("summary: %+v", s)
	}
}

// jsonTestChange is a change of --json's "changes".
type jsonTestChange struct {
	Field    string `json:"field"`
	Text     string `json:"text"`
	Expected bool   `json:"expected"`
}

func hasChange(cs []jsonTestChange, field, text string) bool {
	for _, c := range cs {
		if c.Field == field && c.Text == text && !c.Expected {
			return true
		}
	}
	return false
}

// TestPingQuoteDiff: -v prints the quote diff after each ICMP error.
func TestPingQuoteDiff(t *testing.T) {
	l := labtest.New(t)
	r, err := fault.ParseRule("tos 0x28 dir=to-server")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Fault().Add(r); err != nil {
		t.Fatal(err)
	}
	code, out, _ := pingIn(t, l, "client", "-c", "1", "-v", "-t", "2", "198.18.3.2")
	if code != exitFailure || !strings.Contains(out, "From 198.18.2.2 icmp_seq=1 Time to live exceeded\n\tquote: ") ||
		!strings.Contains(out, "tos 0x00→0x28") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once,
// which signals when a line holding want has been written.
type lockedBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if w.want != "" && strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestPingSIGQUIT: SIGQUIT prints iputils' status line on standard
// error and the run goes on.
func TestPingSIGQUIT(t *testing.T) {
	l := labtest.New(t)
	out := &lockedBuffer{want: "icmp_seq=2 ", seen: make(chan struct{})}
	errw := &lockedBuffer{}
	done := make(chan int)
	go func() {
		_ = l.InNode("client", func() error {
			done <- run([]string{"ping", "-c", "4", "-i", "0.2", "198.18.3.2"}, strings.NewReader(""), out, errw)
			return nil
		})
	}()
	select {
	case <-out.seen:
	case <-time.After(20 * time.Second):
		t.Fatalf("no second reply:\n%s", out.String())
	}
	// The second reply is printed once Run is running, after the
	// handler is installed.
	if err := syscall.Kill(os.Getpid(), syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	code := <-done
	status := regexp.MustCompile(`^\r[234]/[234] packets, 0% loss, min/avg/ewma/max = [0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3} ms\n$`)
	if code != exitOK || !status.MatchString(errw.String()) || !strings.Contains(out.String(), "4 packets transmitted, 4 received") {
		t.Errorf("exit %d, stderr %q\n%s", code, errw.String(), out.String())
	}
}

// unprivEnv selects TestPingUnprivilegedHelper in the re-run binary.
const unprivEnv = "ECHOLOT_PING_UNPRIV_HELPER"

// TestPingUnprivileged runs echolot ping as uid 65534 without
// capabilities in the lab's client: echo goes through an ICMP datagram
// socket, --tcp-connect works, and what needs raw sockets says
// CAP_NET_RAW.
func TestPingUnprivileged(t *testing.T) {
	l := labtest.New(t)
	setpriv := testenv.NeedTool(t, "setpriv")
	bin := testenv.CopyExecutable(t, "echolot.test")
	open, _ := tcpServer(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := l.Command(ctx, "client", setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		bin, "-test.run=^TestPingUnprivilegedHelper$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unprivEnv+"="+strconv.Itoa(open))
	out, err := cmd.CombinedOutput()
	t.Logf("helper as uid 65534 in the client namespace:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPingUnprivilegedHelper") {
		t.Errorf("helper failed: %v", err)
	}
}

// TestPingUnprivilegedHelper does nothing unless started by
// TestPingUnprivileged.
func TestPingUnprivilegedHelper(t *testing.T) {
	port := os.Getenv(unprivEnv)
	if port == "" {
		return
	}
	if os.Geteuid() != 65534 {
		t.Fatalf("helper runs as uid %d", os.Geteuid())
	}
	for _, c := range []struct {
		args []string
		code int
		want string // in stdout, or for exit 2 in stderr
	}{
		{[]string{"-c", "2", "-i", "0.1", "198.18.3.2"}, exitOK, "64 bytes from 198.18.3.2: icmp_seq=2 ttl=62 time="},
		{[]string{"-c", "2", "-i", "0.1", "-R", "198.18.3.2"}, exitOK, "RR: \t198.18.1.2"},
		{[]string{"-c", "2", "-i", "0.1", "--tcp", port, "--tcp-connect", "198.18.3.2"}, exitOK, "From 198.18.3.2: tcp_port=" + port + " seq=2 open time="},
		{[]string{"-c", "2", "-i", "0.1", "--udp", "33434", "198.18.3.2"}, exitOK, "From 198.18.3.2: udp_port=33434 seq=2 closed"},
		{[]string{"-c", "1", "--udp", "33434", "--sport", "40002", "198.18.3.2"}, exitOK, "From 198.18.3.2: udp_port=33434 seq=1 closed"},
		{[]string{"-c", "1", "--tcp", port, "198.18.3.2"}, exitUsage, "--tcp (hand-built SYN probes): needs raw sockets and so CAP_NET_RAW"},
		{[]string{"-c", "1", "198.18.1.1", "198.18.3.2"}, exitUsage, "source-route hops (the kernel allows source routes only with CAP_NET_RAW)"},
		{[]string{"-c", "1", "-f", "198.18.3.2"}, exitUsage, "cannot flood; minimal interval allowed for user is 2ms"},
		{[]string{"-c", "1", "-l", "4", "198.18.3.2"}, exitUsage, "cannot set preload to value greater than 3: 4"},
		// Without CAP_NET_ADMIN the mark is refused: iputils' warning, then
		// the ping goes on unmarked.
		{[]string{"-c", "1", "-m", "7", "198.18.3.2"}, exitOK, "64 bytes from 198.18.3.2: icmp_seq=1"},
		{[]string{"-c", "1", "-i", "0.5", "-b", "198.18.3.2"}, exitUsage, "broadcast ping with too short interval: 500"},
		{[]string{"-c", "1", "-M", "dont", "-b", "198.18.3.2"}, exitUsage, "broadcast ping does not fragment"},
	} {
		code, out, errs := runCmd("", append([]string{"ping"}, c.args...)...)
		got := out
		if c.code == exitUsage {
			got = errs
		}
		if code != c.code || !strings.Contains(got, c.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", c.args, code, c.code, c.want, out, errs)
		}
		if slices.Contains(c.args, "-m") && errs != "ping: WARNING: failed to set mark: 7: Operation not permitted\nping: => missing cap_net_admin+p or cap_net_raw+p (since Linux 5.17) capability?\n" {
			t.Errorf("%v: stderr %q, want iputils' warning about the mark", c.args, errs)
		}
	}
}

// TestPingReverseNames: -H prints "name (address)" as ping's pr_addr
// does, from the hosts file here.
func TestPingReverseNames(t *testing.T) {
	if b, err := os.ReadFile("/etc/hosts"); err != nil || !regexp.MustCompile(`(?m)^127\.0\.0\.1\s+localhost\b`).Match(b) {
		t.Skip("/etc/hosts does not name 127.0.0.1 localhost")
	}
	l := labtest.New(t)
	code, out, _ := pingIn(t, l, "client", "-c", "1", "-H", "127.0.0.1")
	if code != exitOK || !strings.Contains(out, "64 bytes from localhost (127.0.0.1): icmp_seq=1 ttl=64 time=") {
		t.Errorf("exit %d\n%s", code, out)
	}
}
