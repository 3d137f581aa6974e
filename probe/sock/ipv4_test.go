package sock

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/packet"
)

// TestRawEchoRecordRoute sends a header-included echo with a record-route
// option through the router and checks the reply: kernel receive timestamp,
// the route recorded both ways, and the kernel send timestamp from the
// sender's error queue.
func TestRawEchoRecordRoute(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	const id = 0x4e01
	snd := open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, nil) })
	rcv := open(t, tp.client, func() (*Conn, error) { return OpenICMP(IPv4, &Options{Filter: EchoFilter(IPv4, id)}) })
	if !snd.HeaderIncluded() {
		t.Fatal("sender is not header-included")
	}
	t.Logf("send timestamps: %v", snd.TxTimestamps())

	pkt := echo4(t, clientV4, serverV4, id, 1, 64, false, 56, &packet.RecordRoute{})
	before := time.Now()
	sent, err := snd.Send(pkt, netip.AddrPortFrom(serverV4, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newReader(rcv)
	r.until(t, 3*time.Second, "echo reply", isEchoReply4(id, 1))
	after := time.Now()
	m := &r.m
	if m.Time.IsZero() {
		t.Fatal("no kernel receive timestamp (SO_TIMESTAMPNS)")
	}
	if m.Time.Before(before) || m.Time.After(after) {
		t.Errorf("receive timestamp %v outside [%v, %v]", m.Time, before, after)
	}
	if m.Dst != clientV4 || m.IfIndex == 0 {
		t.Errorf("pktinfo: dst %v ifindex %d, want %v and an interface", m.Dst, m.IfIndex, clientV4)
	}
	if m.From != serverV4 {
		t.Errorf("from %v, want %v", m.From, serverV4)
	}
	p := parse4(t, m.Data)
	var rr *packet.RecordRoute
	for _, o := range p.IPv4.Options {
		if x, ok := o.(*packet.RecordRoute); ok {
			rr = x
		}
	}
	if rr == nil {
		t.Fatalf("reply has no record-route option: %s", p.Summary())
	}
	t.Logf("reply: %s; route recorded: %v", p.Summary(), rr.Route)
	want := []netip.Addr{rtSrvV4, serverV4, routerV4}
	for _, a := range want {
		found := false
		for _, b := range rr.Route {
			found = found || a == b
		}
		if !found {
			t.Errorf("route %v lacks %v", rr.Route, a)
		}
	}

	// The send timestamp, from the sender's error queue.
	if snd.TxTimestamps() != TxKernel {
		t.Fatalf("sender has no kernel send timestamps")
	}
	e := newReader(snd)
	e.errq(t, time.Second, "tx timestamp", func(m *Msg) bool { return m.Kind == KindTxTimestamp })
	if e.m.TxID != sent.ID {
		t.Errorf("tx timestamp id %d, want %d", e.m.TxID, sent.ID)
	}
	if e.m.Time.Before(sent.Time) || e.m.Time.After(m.Time) {
		t.Errorf("tx timestamp %v not within [user send time %v, receive time %v]", e.m.Time, sent.Time, m.Time)
	}
	t.Logf("user→kernel send: %v; kernel send→kernel receive RTT: %v; user send→user receive: %v",
		e.m.Time.Sub(sent.Time), m.Time.Sub(e.m.Time), after.Sub(sent.Time))
}

// TestRawTimeExceeded sends a TTL-1 probe: the router's time exceeded
// arrives on the raw ICMP socket, quoting our echo.
func TestRawTimeExceeded(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	const id = 0x4e02
	snd := open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, nil) })
	rcv := open(t, tp.client, func() (*Conn, error) { return OpenICMP(IPv4, &Options{Filter: EchoFilter(IPv4, id)}) })
	if _, err := snd.Send(echo4(t, clientV4, serverV4, id, 7, 1, false, 56), netip.AddrPortFrom(serverV4, 0), nil); err != nil {
		t.Fatal(err)
	}
	r := newReader(rcv)
	r.until(t, 3*time.Second, "time exceeded", icmpErr4(packet.ICMPTimeExceeded, id, 7))
	p := parse4(t, r.m.Data)
	if r.m.From != routerV4 || p.IPv4.Src != routerV4 {
		t.Errorf("time exceeded from %v (header %v), want %v", r.m.From, p.IPv4.Src, routerV4)
	}
	if r.m.Time.IsZero() {
		t.Error("no receive timestamp")
	}
	t.Logf("time exceeded: %s, tos %#x, quote %d bytes", p.Summary(), p.IPv4.TOS, len(p.Payload))
}

// TestPMTU: a DF probe over the 1280-byte link draws a frag-needed with
// MTU 1280; afterwards a socket that honours the cached path MTU is refused
// locally (an *MTUError with MTU 1280), while the default PMTUProbe socket
// still sends and gets the network's frag-needed again.
func TestPMTU(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	const id = 0x4e03
	probe := open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, nil) })
	honour := open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, &Options{PMTU: PMTUDo}) })
	rcv := open(t, tp.client, func() (*Conn, error) { return OpenICMP(IPv4, &Options{Filter: EchoFilter(IPv4, id)}) })
	r := newReader(rcv)
	dst := netip.AddrPortFrom(serverV4, 0)

	if mtu := probe.PathMTU(serverV4); mtu != 1500 {
		t.Errorf("path MTU before any frag-needed: %d, want the interface's 1500", mtu)
	}
	fragNeeded := func(seq uint16) func(*Msg) bool {
		return func(m *Msg) bool {
			if !icmpErr4(packet.ICMPDestUnreach, id, seq)(m) {
				return false
			}
			p := parse4(t, m.Data)
			return p.ICMP.Code == packet.CodeFragNeeded
		}
	}
	// 1. From the network.
	if _, err := probe.Send(echo4(t, clientV4, serverV4, id, 1, 64, true, 1400-28), dst, nil); err != nil {
		t.Fatal(err)
	}
	r.until(t, 3*time.Second, "frag-needed", fragNeeded(1))
	p := parse4(t, r.m.Data)
	mtu, _ := p.NextHopMTU()
	if mtu != 1280 || r.m.From != routerV4 || r.m.FromSelf() {
		t.Fatalf("frag-needed from %v mtu %d (self %v), want from %v mtu 1280", r.m.From, mtu, r.m.FromSelf(), routerV4)
	}
	t.Logf("network frag-needed: %s", p.Summary())
	if got := probe.PathMTU(serverV4); got != 1280 {
		t.Errorf("cached path MTU %d, want 1280", got)
	}

	// 2. A socket honouring the cache is refused locally.
	_, err := honour.Send(echo4(t, clientV4, serverV4, id, 2, 64, true, 1400-28), dst, nil)
	var me *MTUError
	if !errors.As(err, &me) || !errors.Is(err, syscall.EMSGSIZE) {
		t.Fatalf("send over the cached MTU with PMTUDo: %v, want an *MTUError", err)
	}
	if me.MTU != 1280 || !me.Local() || me.Size != 1400 || me.Probe {
		t.Errorf("MTUError %+v, want MTU 1280, size 1400, local", *me)
	}
	t.Logf("local refusal: %v", err)
	// Linux also sends itself a frag-needed, which raw sockets see.
	skipped := r.until(t, time.Second, "local frag-needed", fragNeeded(2))
	if !r.m.FromSelf() {
		t.Errorf("local frag-needed from %v to %v, expected FromSelf", r.m.From, r.m.Dst)
	}
	t.Logf("local frag-needed: %s (ifindex %d), skipped %v", describe(&r.m), r.m.IfIndex, skipped)

	// 3. The probe socket sends anyway and the router answers again.
	if _, err := probe.Send(echo4(t, clientV4, serverV4, id, 3, 64, true, 1400-28), dst, nil); err != nil {
		t.Fatalf("PMTUProbe send after the MTU was cached: %v", err)
	}
	r.until(t, 3*time.Second, "second network frag-needed", fragNeeded(3))
	if r.m.FromSelf() || r.m.From != routerV4 {
		t.Errorf("second frag-needed from %v, want the router", r.m.From)
	}

	// 4. Above the interface MTU nothing can be sent: header-included
	// datagrams are never fragmented by Linux.
	_, err = probe.Send(echo4(t, clientV4, serverV4, id, 4, 64, false, 1600), dst, nil)
	if !errors.As(err, &me) || !me.Probe {
		t.Fatalf("1628-byte header-included send: %v, want an *MTUError (probe mode)", err)
	}
	t.Logf("over the interface MTU: %v", err)

	// 5. Without DF, below the interface MTU, a socket that honours the
	// cache has the kernel fragment to the cached path MTU: the server
	// answers the fragmented echo.
	if _, err := honour.Send(echo4(t, clientV4, serverV4, id, 5, 64, false, 1400-28), dst, nil); err != nil {
		t.Fatalf("non-DF send over the cached MTU: %v", err)
	}
	r.until(t, 3*time.Second, "echo reply to the fragmented echo", isEchoReply4(id, 5))
	t.Logf("reply to fragmented echo: %d bytes", r.m.Len)
}

// TestSocketLevelOptions: Mark, Broadcast and SendBuffer are set on the
// sockets that take them, as getsockopt reads them back (the kernel
// doubles SO_SNDBUF for its bookkeeping).
func TestSocketLevelOptions(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	o := &Options{Mark: 0x2a, Broadcast: true, SendBuffer: 65536}
	for name, c := range map[string]*Conn{
		"sender": open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, o) }),
		"ping":   open(t, tp.client, func() (*Conn, error) { return OpenPing(IPv4, o) }),
		"udp":    open(t, tp.client, func() (*Conn, error) { return OpenUDP(IPv4, o) }),
	} {
		var mark, bcast, sndbuf int
		err := c.control(func(fd int) (err error) {
			if mark, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK); err != nil {
				return err
			}
			if bcast, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST); err != nil {
				return err
			}
			sndbuf, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if mark != 0x2a || bcast != 1 || sndbuf != 2*65536 {
			t.Errorf("%s: mark %#x broadcast %d sndbuf %d; want 0x2a, 1, %d", name, mark, bcast, sndbuf, 2*65536)
		}
	}
}
