package probe

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

// listenServer listens on a TCP port of the lab's server (IPv4 and IPv6)
// and accepts connections until the test ends.
func listenServer(t *testing.T, inNode func(string, func() error) error) uint16 {
	t.Helper()
	return testenv.AcceptTCP(t, func(f func() error) error { return inNode("server", f) }, ":0")
}

// tcpSyn is a plain SYN template to dst:port.
func tcpSyn(dst netip.Addr, port uint16) packet.Packet {
	if dst.Is4() {
		return packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: dst, DF: true}, Transport: packet.TransportTCP, TCP: packet.TCP{DstPort: port}}
	}
	return packet.Packet{Version: 6, IPv6: packet.IPv6{Dst: dst}, Transport: packet.TransportTCP, TCP: packet.TCP{DstPort: port}}
}

// tcpConnectChecks probes an open port, a closed port and TTL 1 with
// TCP-connect probes, over IPv4 and IPv6. newEngine makes an engine in the
// client namespace.
func tcpConnectChecks(t *testing.T, newEngine func(Probe, Options) (*Engine, *collector), openPort uint16) {
	for _, fam := range []struct {
		name           string
		server, router netip.Addr
	}{{"IPv4", serverV4, r1V4}, {"IPv6", serverV6, r1V6}} {
		// Open port: tcp-open, timed, counted as received.
		e, c := newEngine(Probe{Packet: tcpSyn(fam.server, openPort)}, Options{Count: 3, Interval: 10 * time.Millisecond})
		s := run(t, e)
		c.log(t)
		if e.Mode() != ModeDgram {
			t.Errorf("%s: mode %v, want dgram", fam.name, e.Mode())
		}
		for n := uint64(1); n <= 3; n++ {
			r := c.byProbe()[n]
			if r.Kind != KindReply || r.Answer != "tcp-open" || r.From != fam.server || r.RTT <= 0 || r.RTT > time.Second || r.TTL != 64 {
				t.Errorf("%s open port, probe %d: %s, want tcp-open from %v", fam.name, n, r.String(), fam.server)
			}
		}
		if s.Transmitted != 3 || s.Received != 3 || s.RTT.N != 3 || s.Timeouts != 0 || s.Unrelated != 0 || s.StopReason != "count" {
			t.Errorf("%s open port stats: %s", fam.name, statsLine(s))
		}
		checkNoSockets(t, e)

		// Closed port: tcp-closed.
		e, c = newEngine(Probe{Packet: tcpSyn(fam.server, 9)}, Options{Count: 2, Interval: 10 * time.Millisecond})
		s = run(t, e)
		c.log(t)
		for n := uint64(1); n <= 2; n++ {
			if r := c.byProbe()[n]; r.Kind != KindReply || r.Answer != "tcp-closed" || r.From != fam.server {
				t.Errorf("%s closed port, probe %d: %s, want tcp-closed", fam.name, n, r.String())
			}
		}
		if s.Transmitted != 2 || s.Received != 2 {
			t.Errorf("%s closed port stats: %s", fam.name, statsLine(s))
		}
		checkNoSockets(t, e)

		// TTL 1 (then 2): time exceeded from r1 quoting the SYN, with
		// nothing changed on the way; a mixed run with Vary.
		e, c = newEngine(Probe{Packet: tcpSyn(fam.server, openPort), Vary: func(n uint64, p *packet.Packet) {
			if n == 1 {
				p.IPv4.TTL, p.IPv6.HopLimit = 1, 1
			}
		}}, Options{Count: 2, Interval: 10 * time.Millisecond})
		s = run(t, e)
		c.log(t)
		r := c.byProbe()[1]
		if r.Kind != KindError || r.Answer != "time-exceeded" || r.From != fam.router || r.TTL != 1 || !r.PartialQuote || r.RTT <= 0 {
			t.Errorf("%s TTL 1: %s, want time-exceeded from %v", fam.name, r.String(), fam.router)
		}
		for _, ch := range r.Changes {
			if !ch.Expected {
				t.Errorf("%s TTL 1: change %s: the quoted SYN is the one sent", fam.name, ch.String())
			}
		}
		if r := c.byProbe()[2]; r.Kind != KindReply || r.Answer != "tcp-open" {
			t.Errorf("%s TTL 64: %s, want tcp-open", fam.name, r.String())
		}
		if s.Errors != 1 || s.ErrorsByKind["time-exceeded"] != 1 || s.Received != 1 || s.Transmitted != 2 {
			t.Errorf("%s TTL 1 stats: %s", fam.name, statsLine(s))
		}
		checkNoSockets(t, e)
	}
}

// checkNoSockets: every connect probe's socket is closed after Run.
func checkNoSockets(t *testing.T, e *Engine) {
	t.Helper()
	tc := e.be.tcp
	if tc == nil {
		t.Errorf("no TCP connector: the engine is not probing with connect()")
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.conns) != 0 || len(tc.sem) != 0 {
		t.Errorf("%d probe sockets still open after Run (window slots held: %d)", len(tc.conns), len(tc.sem))
	}
}

// TestTCPConnect runs the TCP-connect checks as root in ModeDgram, with
// the engine created inside the client namespace and run from elsewhere
// (TestUnprivileged runs them as nobody).
func TestTCPConnect(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	port := listenServer(t, l.InNode)
	tcpConnectChecks(t, func(p Probe, o Options) (*Engine, *collector) {
		o.Mode, o.Timeout = ModeDgram, 2*time.Second
		return engineIn(t, l, "client", p, o)
	}, port)
}

// TestTCPConnectRefusals: what only raw sockets can send is refused in
// ModeDgram with an error naming CAP_NET_RAW; a timeout is reported as one
// and the window bounds the open sockets.
func TestTCPConnectRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		what string
		p    Probe
	}{
		{"flags", Probe{Packet: func() packet.Packet { p := tcpSyn(serverV4, 80); p.TCP.Flags = packet.TCPAck; return p }()}},
		{"options", Probe{Packet: func() packet.Packet {
			p := tcpSyn(serverV4, 80)
			p.TCP.Options = []packet.TCPOption{packet.MSS(1000)}
			return p
		}()}},
		{"payload", Probe{Packet: func() packet.Packet { p := tcpSyn(serverV4, 80); p.Payload = []byte("x"); return p }()}},
		{"stamp", Probe{Packet: tcpSyn(serverV4, 80), Stamp: packet.StampTail}},
	} {
		_, err := New(c.p, Options{Count: 1, Mode: ModeDgram})
		if err == nil || !strings.Contains(err.Error(), "CAP_NET_RAW") || !strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: %v, want an error naming CAP_NET_RAW", c.what, err)
		} else {
			t.Logf("%s: %v", c.what, err)
		}
	}
}

// TestTCPConnectTimeout: a SYN the fault node drops times out, the
// window bounds the sockets and every socket is closed at the end.
func TestTCPConnectTimeout(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	port := listenServer(t, l.InNode)
	addRule(t, l, "drop proto=tcp dir=to-server")
	e, c := engineIn(t, l, "client", Probe{Packet: tcpSyn(serverV4, port)},
		Options{Count: 4, Interval: time.Millisecond, Window: 2, Mode: ModeDgram, Timeout: 300 * time.Millisecond})
	s := run(t, e)
	c.log(t)
	if s.Transmitted != 4 || s.Timeouts != 4 || s.Received != 0 || len(c.of(KindTimeout)) != 4 {
		t.Errorf("stats: %s", statsLine(s))
	}
	checkNoSockets(t, e)
}

// TestTCPConnectDeadline: connects still pending when the deadline stops
// the engine are reported as timeouts and their sockets closed.
func TestTCPConnectDeadline(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	port := listenServer(t, l.InNode)
	addRule(t, l, "drop proto=tcp dir=to-server")
	e, c := engineIn(t, l, "client", Probe{Packet: tcpSyn(serverV4, port)},
		Options{Interval: 10 * time.Millisecond, Deadline: 100 * time.Millisecond, Mode: ModeDgram, Timeout: 5 * time.Second})
	s := run(t, e)
	if s.StopReason != "deadline" || s.Transmitted < 5 || s.Timeouts != s.Transmitted || int64(len(c.of(KindTimeout))) != s.Transmitted {
		t.Errorf("stats: %s", statsLine(s))
	}
	checkNoSockets(t, e)
}
