package sock

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/packet"
)

// place runs socket constructors where the test wants them: inside a test
// namespace (*netns), or right here (the unprivileged helper already runs
// inside one).
type place interface {
	do(func() error) error
}

type here struct{}

func (here) do(fn func() error) error { return fn() }

func openIn[T any](t testing.TB, pl place, fn func() (T, error)) T {
	t.Helper()
	var v T
	if err := pl.do(func() error {
		var err error
		v, err = fn()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if c, ok := any(v).(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
	return v
}

// parseOptions decodes IPv4 option bytes (as Msg.Options returns them)
// with the packet package, by putting them behind a minimal header.
func parseOptions(t testing.TB, opts []byte) []packet.Option {
	t.Helper()
	if len(opts) == 0 || len(opts)%4 != 0 || len(opts) > 40 {
		t.Fatalf("option bytes %x: not a whole header's worth", opts)
	}
	h := make([]byte, 20, 20+len(opts))
	h[0] = 0x40 | byte((20+len(opts))/4)
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(opts)))
	h[8], h[9] = 64, 0xfd
	h = append(h, opts...)
	p, err := packet.Parse(h)
	if err != nil {
		t.Fatalf("options %x: %v", opts, err)
	}
	return p.IPv4.Options
}

// isEchoReplyMsg matches an echo reply on a ping socket (no IP header).
func isEchoReplyMsg(v6 bool, id, seq uint16) func(*Msg) bool {
	typ := byte(packet.ICMPEchoReply)
	if v6 {
		typ = packet.ICMPv6EchoReply
	}
	return func(m *Msg) bool {
		return m.Kind == KindPacket && len(m.Data) >= 8 && m.Data[0] == typ &&
			binary.BigEndian.Uint16(m.Data[4:]) == id && binary.BigEndian.Uint16(m.Data[6:]) == seq
	}
}

// isQueuedErr matches an error-queue entry about the echo with seq.
func isQueuedErr(typ uint8, seq uint16) func(*Msg) bool {
	return func(m *Msg) bool {
		return m.Kind == KindError && m.Err.Type == typ && len(m.Data) >= 8 && binary.BigEndian.Uint16(m.Data[6:]) == seq
	}
}

// pingChecks exercises an IPv4 ping socket: echo with TTL and TOS, record
// route and timestamps through IP_OPTIONS, time exceeded on the error queue
// with the once-only soft error, DF and the path MTU, and the soft error
// consumed by a send.
func pingChecks(t *testing.T, pl place) {
	c := openIn(t, pl, func() (*Conn, error) { return OpenPing(IPv4, nil) })
	id := c.LocalPort()
	if id == 0 {
		t.Fatal("ping socket has no bound port (echo identifier)")
	}
	t.Logf("ping socket id %d, send timestamps %v", id, c.TxTimestamps())
	r := newReader(c)
	dst := netip.AddrPortFrom(serverV4, 0)
	onlyPackets := func(want func(*Msg) bool) func(*Msg) bool {
		return func(m *Msg) bool { return m.Kind != KindTxTimestamp && want(m) }
	}

	// Echo with per-packet TTL and TOS.
	if _, err := c.Send(icmpEcho(false, 0, 1, 56), dst, &SendOpts{TTL: 64, HasTTL: true, TOS: 0x28, HasTOS: true}); err != nil {
		t.Fatal(err)
	}
	r.until(t, 3*time.Second, "echo reply", onlyPackets(isEchoReplyMsg(false, id, 1)))
	if r.m.TTL != 63 || r.m.TOS != 0x28 || r.m.Time.IsZero() || r.m.From != serverV4 || r.m.Dst != clientV4 {
		t.Errorf("reply: %s time %v dst %v; want ttl 63, tos 0x28 (echoed), a timestamp, from %v to %v", describe(&r.m), r.m.Time, r.m.Dst, serverV4, clientV4)
	}

	// Record route and timestamps via IP_OPTIONS; the echoed option comes
	// back through IP_RECVOPTS.
	rr, err := IPv4OptionBytes(&packet.RecordRoute{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetIPOptions(rr); err != nil {
		t.Fatal(err)
	}
	c.Send(icmpEcho(false, 0, 2, 56), dst, nil)
	r.until(t, 3*time.Second, "echo reply with RR", onlyPackets(isEchoReplyMsg(false, id, 2)))
	opts := parseOptions(t, r.m.Options())
	route, ok := opts[0].(*packet.RecordRoute)
	if !ok || len(route.Route) < 5 || route.Route[0] != clientV4 {
		t.Fatalf("IP_RECVOPTS gave %v; want a record route starting with this host %v (the kernel stamps its own options)", opts, clientV4)
	}
	t.Logf("RR through a ping socket: %v", route.Route)
	ts, _ := IPv4OptionBytes(&packet.Timestamp{Flag: packet.TSAndAddr})
	c.SetIPOptions(ts)
	c.Send(icmpEcho(false, 0, 3, 56), dst, nil)
	r.until(t, 3*time.Second, "echo reply with TS", onlyPackets(isEchoReplyMsg(false, id, 3)))
	opts = parseOptions(t, r.m.Options())
	tso, ok := opts[0].(*packet.Timestamp)
	if !ok || len(tso.Entries) < 3 {
		t.Fatalf("IP_RECVOPTS gave %v; want a timestamp option with entries", opts)
	}
	t.Logf("TS through a ping socket: %v", tso)
	c.SetIPOptions(nil)

	// TTL 1: the router's time exceeded lands on the error queue, and the
	// next ordinary read reports the pending socket error once. Neither
	// stops the reading.
	if _, err := c.Send(icmpEcho(false, 0, 4, 56), dst, &SendOpts{TTL: 1, HasTTL: true}); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	r.until(t, 3*time.Second, "time exceeded on the error queue", func(m *Msg) bool {
		if m.Kind != KindTxTimestamp {
			kinds = append(kinds, m.Kind.String())
		}
		return isQueuedErr(packet.ICMPTimeExceeded, 4)(m)
	})
	e := r.m.Err
	if r.m.Time.IsZero() {
		t.Error("error-queue entry without the kernel's arrival timestamp")
	}
	if e.Origin != OriginICMP || e.Code != 0 || e.Offender != routerV4 || e.Errno != syscall.EHOSTUNREACH ||
		r.m.From != serverV4 || len(r.m.Data) != 64 || binary.BigEndian.Uint16(r.m.Data[4:]) != id {
		t.Errorf("error-queue entry: %s, want ICMP time exceeded from %v about our 64-byte echo to %v", describe(&r.m), routerV4, serverV4)
	}
	if len(kinds) < 2 || kinds[0] != "soft-error" {
		t.Errorf("messages read before the entry: %v; expected the once-only soft error first", kinds)
	}
	t.Logf("TTL 1: %v; entry: %s", kinds, describe(&r.m))
	c.Send(icmpEcho(false, 0, 5, 56), dst, nil)
	r.until(t, 3*time.Second, "echo reply after the error", onlyPackets(isEchoReplyMsg(false, id, 5)))

	// The pending error is also consumed by the next send, which is retried.
	c.Send(icmpEcho(false, 0, 6, 56), dst, &SendOpts{TTL: 1, HasTTL: true})
	time.Sleep(200 * time.Millisecond) // let the time exceeded arrive
	s, err := c.Send(icmpEcho(false, 0, 7, 56), dst, nil)
	if err != nil {
		t.Fatalf("send after a queued ICMP error: %v", err)
	}
	t.Logf("send after a queued ICMP error: consumed soft error %v", s.SoftErr)
	if s.SoftErr != syscall.EHOSTUNREACH {
		t.Errorf("send after a queued error: SoftErr %v, want EHOSTUNREACH (sock_alloc_send_skb reports sk_err)", s.SoftErr)
	}
	r.all(t, 3*time.Second, map[string]func(*Msg) bool{
		"time exceeded 6": isQueuedErr(packet.ICMPTimeExceeded, 6),
		"echo reply 7":    isEchoReplyMsg(false, id, 7),
	})

	// DF over the 1280-byte link: a frag-needed with the MTU on the error
	// queue; then with PMTUDo a local refusal; with PMTUDont fragments.
	if _, err := c.Send(icmpEcho(false, 0, 8, 1400-28), dst, nil); err != nil {
		t.Fatal(err)
	}
	r.until(t, 3*time.Second, "frag-needed", isQueuedErr(packet.ICMPDestUnreach, 8))
	if r.m.Err.Code != packet.CodeFragNeeded || r.m.Err.Info != 1280 || r.m.Err.Offender != routerV4 || r.m.Err.Errno != syscall.EMSGSIZE {
		t.Errorf("frag-needed entry: %s", describe(&r.m))
	}
	if err := c.SetPMTU(PMTUDo); err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(icmpEcho(false, 0, 9, 1400-28), dst, nil)
	var me *MTUError
	if !errors.As(err, &me) || me.MTU != 1280 || me.Probe {
		t.Fatalf("DF send over the cached MTU with PMTUDo: %v, want an *MTUError with MTU 1280", err)
	}
	r.until(t, time.Second, "local EMSGSIZE entry", func(m *Msg) bool { return m.Kind == KindError && m.Err.Origin == OriginLocal })
	if r.m.Err.Errno != syscall.EMSGSIZE || r.m.Err.Info != 1280 {
		t.Errorf("local entry: %s, want EMSGSIZE with info 1280", describe(&r.m))
	}
	t.Logf("local refusal: %v; entry %s", err, describe(&r.m))
	c.SetPMTU(PMTUDont)
	if _, err := c.Send(icmpEcho(false, 0, 10, 1400-28), dst, nil); err != nil {
		t.Fatal(err)
	}
	r.until(t, 3*time.Second, "reply to a fragmented echo", onlyPackets(isEchoReplyMsg(false, id, 10)))
	if r.m.Len != 1400-20 {
		t.Errorf("reply length %d, want %d", r.m.Len, 1400-20)
	}
}

// pingV6Checks: an ICMPv6 ping socket with hop limit and traffic class, and
// a time exceeded on the error queue.
func pingV6Checks(t *testing.T, pl place) {
	c := openIn(t, pl, func() (*Conn, error) { return OpenPing(IPv6, nil) })
	id := c.LocalPort()
	r := newReader(c)
	dst := netip.AddrPortFrom(serverV6, 0)
	if _, err := c.Send(icmpEcho(true, 0, 1, 56), dst, &SendOpts{TTL: 64, HasTTL: true, TOS: 0xb8, HasTOS: true}); err != nil {
		t.Fatal(err)
	}
	r.until(t, 3*time.Second, "echo reply", isEchoReplyMsg(true, id, 1))
	if r.m.TTL != 63 || r.m.TOS != 0xb8 || r.m.Time.IsZero() || r.m.Dst != clientV6 {
		t.Errorf("IPv6 reply: %s dst %v; want hop limit 63 and tclass 0xb8", describe(&r.m), r.m.Dst)
	}
	c.Send(icmpEcho(true, 0, 2, 56), dst, &SendOpts{TTL: 1, HasTTL: true})
	r.until(t, 3*time.Second, "time exceeded", isQueuedErr(packet.ICMPv6TimeExceeded, 2))
	if r.m.Err.Origin != OriginICMP6 || r.m.Err.Offender != routerV6 {
		t.Errorf("IPv6 time exceeded entry: %s", describe(&r.m))
	}
}

// udpTCPChecks: unprivileged UDP and TCP-connect probes.
func udpTCPChecks(t *testing.T, pl place, openPort uint16) {
	u := openIn(t, pl, func() (*Conn, error) { return OpenUDP(IPv4, nil) })
	r := newReader(u)
	dst := netip.AddrPortFrom(serverV4, 33434)
	if _, err := u.Send([]byte("echolot-udp-1"), dst, &SendOpts{TTL: 1, HasTTL: true}); err != nil {
		t.Fatal(err)
	}
	r.until(t, 3*time.Second, "UDP time exceeded", func(m *Msg) bool { return m.Kind == KindError && m.Err.Type == packet.ICMPTimeExceeded })
	if r.m.Err.Offender != routerV4 || string(r.m.Data) != "echolot-udp-1" || r.m.Port != 33434 || r.m.From != serverV4 {
		t.Errorf("UDP time exceeded: %s port %d data %q", describe(&r.m), r.m.Port, r.m.Data)
	}
	u.Send([]byte("echolot-udp-2"), dst, nil)
	r.until(t, 3*time.Second, "port unreachable", func(m *Msg) bool { return m.Kind == KindError && m.Err.Type == packet.ICMPDestUnreach })
	if r.m.Err.Code != packet.CodePortUnreach || r.m.Err.Errno != syscall.ECONNREFUSED || r.m.Err.Offender != serverV4 {
		t.Errorf("port unreachable: %s", describe(&r.m))
	}

	// TCP: closed port → refused; open port → open; TTL 1 → time
	// exceeded about the SYN on the error queue.
	tc := openIn(t, pl, func() (*Conn, error) { return DialTCP(netip.AddrPortFrom(serverV4, 1), nil) })
	tc.SetWriteDeadline(time.Now().Add(3 * time.Second))
	st, errno, err := tc.WaitConnect()
	if err != nil || st != ConnectRefused || errno != syscall.ECONNREFUSED {
		t.Errorf("TCP to a closed port: %v %v %v, want refused", st, errno, err)
	}
	to := openIn(t, pl, func() (*Conn, error) { return DialTCP(netip.AddrPortFrom(serverV4, openPort), nil) })
	to.SetWriteDeadline(time.Now().Add(3 * time.Second))
	if st, errno, err := to.WaitConnect(); err != nil || st != ConnectOpen {
		t.Errorf("TCP to an open port: %v %v %v, want open", st, errno, err)
	}
	tt := openIn(t, pl, func() (*Conn, error) { return DialTCP(netip.AddrPortFrom(serverV4, openPort), &Options{TTL: 1}) })
	tr := newReader(tt)
	tr.errq(t, 3*time.Second, "TCP time exceeded", func(m *Msg) bool { return m.Kind == KindError })
	if tr.m.Err.Type != packet.ICMPTimeExceeded || tr.m.Err.Offender != routerV4 || len(tr.m.Data) < 20 ||
		binary.BigEndian.Uint16(tr.m.Data[0:]) != tt.LocalPort() {
		t.Errorf("TCP TTL 1: %s, want time exceeded from the router quoting our SYN", describe(&tr.m))
	}
	tt.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	st, errno, err = tt.WaitConnect()
	t.Logf("TCP TTL 1: entry %s (%d bytes of TCP header); WaitConnect: %v %v %v", describe(&tr.m), len(tr.m.Data), st, errno, err)
}

// TestDatagramSockets runs the datagram checks as root in the client
// namespace (TestUnprivileged runs them as nobody).
func TestDatagramSockets(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	port := listenTCP(t, tp.server)
	t.Run("ping4", func(t *testing.T) { pingChecks(t, tp.client) })
	t.Run("ping6", func(t *testing.T) { pingV6Checks(t, tp.client) })
	t.Run("udp-tcp", func(t *testing.T) { udpTCPChecks(t, tp.client, port) })
}

// listenTCP listens on a TCP port of the server (both families) and accepts
// connections until the test ends.
func listenTCP(t *testing.T, n *netns) uint16 {
	return testenv.AcceptTCP(t, n.do, ":0")
}
