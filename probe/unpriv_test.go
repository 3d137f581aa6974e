package probe

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// The unprivileged mode is tested by running this test binary again inside
// the lab's client namespace as uid/gid 65534 with no capabilities
// (setpriv), selecting TestUnprivilegedHelper with this variable. The lab
// sets net.ipv4.ping_group_range to "0 2147483647" in every node.
const helperEnv = "ECHOLOT_PROBE_HELPER"

// helperPortEnv passes the helper an open TCP port of the server.
const helperPortEnv = "ECHOLOT_PROBE_HELPER_TCP_PORT"

// TestUnprivileged: as nobody, ModeAuto falls back to datagram sockets and
// still gets echo replies, time exceeded from each router, record route,
// frag-needed with MTU 1400, IPv6 echo and UDP port unreachable; what needs
// raw sockets is refused with an error naming CAP_NET_RAW.
func TestUnprivileged(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	setpriv := testenv.NeedTool(t, "setpriv")
	bin := testenv.CopyExecutable(t, "probe.test")
	port := listenServer(t, l.InNode)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := l.Command(ctx, "client", setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		bin, "-test.run=^TestUnprivilegedHelper$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperPortEnv+"="+strconv.Itoa(int(port)))
	out, err := cmd.CombinedOutput()
	t.Logf("helper as uid 65534 in the client namespace:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestUnprivilegedHelper") {
		t.Errorf("helper failed: %v", err)
	}
}

// TestUnprivilegedHelper does nothing unless started by TestUnprivileged.
func TestUnprivilegedHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return
	}
	if os.Geteuid() != 65534 {
		t.Fatalf("helper runs as uid %d, want 65534", os.Geteuid())
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "CapEff:") && strings.TrimSpace(strings.TrimPrefix(line, "CapEff:")) != "0000000000000000" {
			t.Fatalf("helper still has capabilities: %s", line)
		}
	}
	newHere := func(p Probe, o Options) (*Engine, *collector) {
		t.Helper()
		c := &collector{}
		o.Results = c.add
		if o.Timeout == 0 {
			o.Timeout = 2 * time.Second
		}
		e, err := New(p, o)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { e.Close() })
		return e, c
	}

	// Echo: ModeAuto falls back to a ping socket and says why.
	e, c := newHere(Probe{Packet: echo4(serverV4, 56)}, Options{Count: 3, Interval: 10 * time.Millisecond})
	var pe *sock.PrivilegeError
	if e.Mode() != ModeDgram || !errors.As(e.RawUnavailable(), &pe) || pe.Need != "CAP_NET_RAW" {
		t.Fatalf("mode %v, raw unavailable because %v", e.Mode(), e.RawUnavailable())
	}
	t.Logf("raw sockets: %v", e.RawUnavailable())
	s := run(t, e)
	c.log(t)
	if s.Received != 3 {
		t.Errorf("echo: %s", statsLine(s))
	}
	for _, r := range c.of(KindReply) {
		if r.From != serverV4 || r.ReplyTTL != 62 || !r.RxKernel || !r.TxKernel {
			t.Errorf("reply %s (ttl %d, kernel timestamps tx %v rx %v)", r.String(), r.ReplyTTL, r.TxKernel, r.RxKernel)
		}
	}

	// TTL 1, 2, 3: time exceeded from r1 and r2 through the error queue.
	e, c = newHere(Probe{Packet: echo4(serverV4, 56), Vary: func(n uint64, p *packet.Packet) { p.IPv4.TTL = uint8(n) }},
		Options{Count: 3, Interval: 10 * time.Millisecond})
	run(t, e)
	c.log(t)
	got := c.byProbe()
	if r := got[1]; r.Kind != KindError || r.Answer != "time-exceeded" || r.From != r1V4 || !r.PartialQuote {
		t.Errorf("ttl 1: %s", r.String())
	}
	if r := got[2]; r.Kind != KindError || r.Answer != "time-exceeded" || r.From != r2V4 {
		t.Errorf("ttl 2: %s", r.String())
	}
	if r := got[3]; r.Kind != KindReply {
		t.Errorf("ttl 3: %s", r.String())
	}

	// Record route through IP_OPTIONS: the kernel records this host too.
	rrt := echo4(serverV4, 56)
	rrt.IPv4.Options = []packet.Option{&packet.RecordRoute{}}
	e, c = newHere(Probe{Packet: rrt}, Options{Count: 1})
	run(t, e)
	var rr *packet.RecordRoute
	for _, o := range c.byProbe()[1].IPOptions {
		if x, ok := o.(*packet.RecordRoute); ok {
			rr = x
		}
	}
	if rr == nil || !slices.Contains(rr.Route, r1OutV4) || !slices.Contains(rr.Route, serverV4) || !slices.Contains(rr.Route, clientV4) {
		t.Errorf("record route: %v", rr)
	}
	t.Logf("record route: %v", rr)

	// Frag-needed with MTU 1400 from r2, also for the second probe.
	big := echo4(serverV4, 1450-28)
	big.IPv4.DF = true
	e, c = newHere(Probe{Packet: big}, Options{Count: 2, Interval: 10 * time.Millisecond})
	run(t, e)
	c.log(t)
	for n := uint64(1); n <= 2; n++ {
		if r := c.byProbe()[n]; r.Kind != KindError || r.Answer != "frag-needed" || r.MTU != 1400 || r.From != r2V4 {
			t.Errorf("probe %d: %s, want frag-needed mtu=1400 from r2", n, r.String())
		}
	}

	// IPv6 echo through an ICMPv6 ping socket.
	e, c = newHere(Probe{Packet: echo6(serverV6, 56)}, Options{Count: 2, Interval: 10 * time.Millisecond})
	s = run(t, e)
	c.log(t)
	if s.Received != 2 || e.Mode() != ModeDgram {
		t.Errorf("IPv6 echo: %s", statsLine(s))
	}

	// UDP to a closed port: port unreachable from the server.
	udp := packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: serverV4}, Transport: packet.TransportUDP,
		UDP: packet.UDP{DstPort: 33434}, Payload: []byte("echolot")}
	e, c = newHere(Probe{Packet: udp}, Options{Count: 2, Interval: 10 * time.Millisecond})
	run(t, e)
	c.log(t)
	for n := uint64(1); n <= 2; n++ {
		if r := c.byProbe()[n]; r.Kind != KindError || r.Answer != "port-unreachable" || r.From != serverV4 {
			t.Errorf("udp probe %d: %s", n, r.String())
		}
	}

	// TCP probes are connect() probes: open and closed ports, time
	// exceeded from r1, over IPv4 and IPv6.
	port, err := strconv.Atoi(os.Getenv(helperPortEnv))
	if err != nil {
		t.Fatalf("%s: %v", helperPortEnv, err)
	}
	tcpConnectChecks(t, newHere, uint16(port))

	// What needs raw sockets says so.
	tcp := packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: serverV4}, Transport: packet.TransportTCP, TCP: packet.TCP{DstPort: 80, Flags: packet.TCPSyn | packet.TCPEce}}
	if _, err := New(Probe{Packet: tcp}, Options{Count: 1}); err == nil || !strings.Contains(err.Error(), "CAP_NET_RAW") {
		t.Errorf("TCP SYN+ECE probe as nobody: %v, want an error naming CAP_NET_RAW", err)
	} else {
		t.Logf("TCP: %v", err)
	}
	if _, err := New(Probe{Packet: echo4(serverV4, 56)}, Options{Count: 1, Mode: ModeRaw}); !errors.As(err, &pe) {
		t.Errorf("ModeRaw as nobody: %v, want a *sock.PrivilegeError", err)
	}
	// Marking needs CAP_NET_ADMIN (or CAP_NET_RAW): a *sock.MarkError
	// that names them, so ping -m can warn and go on unmarked.
	var me *sock.MarkError
	if _, err := New(Probe{Packet: echo4(serverV4, 56)}, Options{Count: 1, Mark: 7}); !errors.As(err, &me) || me.Mark != 7 || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("Mark 7 as nobody: %v, want a *sock.MarkError naming CAP_NET_ADMIN", err)
	}
}
