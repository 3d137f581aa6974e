package probe

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// TestEcho: echo requests with a pattern and a send stamp get timely,
// intact replies from the server, timed from kernel timestamps.
func TestEcho(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	pat, _ := packet.HexPattern("a5", 40)
	e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 0), Patterns: []packet.Pattern{pat}, Stamp: packet.StampTail},
		Options{Count: 5, Interval: 20 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s := run(t, e)
	c.log(t)
	t.Log(statsLine(s))
	if s.Transmitted != 5 || s.Received != 5 || s.Loss() != 0 || s.Duplicates != 0 || s.Damaged != 0 || s.Unrelated != 0 {
		t.Errorf("stats: %s", statsLine(s))
	}
	if s.StopReason != "count" {
		t.Errorf("stopped because %q, want count", s.StopReason)
	}
	rs := c.of(KindReply)
	if len(rs) != 5 {
		t.Fatalf("%d replies, want 5", len(rs))
	}
	for i, r := range rs {
		n := uint64(i + 1)
		if r.Probe != n || r.Seq != int(n) || r.Answer != "echo-reply" || r.From != serverV4 || r.ReplyTTL != 62 || r.TTL != 64 {
			t.Errorf("reply %d: %s (ttl %d, probe ttl %d)", i, r.String(), r.ReplyTTL, r.TTL)
		}
		if !r.TxKernel || !r.RxKernel {
			t.Errorf("reply %d: kernel timestamps tx %v rx %v, want both", i, r.TxKernel, r.RxKernel)
		}
		if r.RTT <= 0 || r.RTT > time.Second || r.Received.Sub(r.Sent) != r.RTT {
			t.Errorf("reply %d: rtt %v (sent %v received %v)", i, r.RTT, r.Sent, r.Received)
		}
		if r.Pattern != "0xa5" {
			t.Errorf("reply %d: pattern %q", i, r.Pattern)
		}
	}
	if s.RTT.N != 5 || s.RTT.Min <= 0 || s.RTT.Min > s.RTT.Avg || s.RTT.Avg > s.RTT.Max || s.RTT.P50 < s.RTT.Min || s.RTT.P99 > s.RTT.Max {
		t.Errorf("rtt %+v", s.RTT)
	}
	if e.ID() == 0 || e.Mode() != ModeRaw {
		t.Errorf("id %#x mode %v", e.ID(), e.Mode())
	}
}

// TestTimeExceeded: TTL 1 and 2 expire at r1 and r2, named as the
// routers, with the quote diff showing the TTL and a TOS the fault node
// rewrote between them; TTL 3 reaches the server.
func TestTimeExceeded(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	addRule(t, l, "tos 0x28 dir=to-server")
	e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 56),
		Vary: func(n uint64, p *packet.Packet) { p.IPv4.TTL = uint8(n) }},
		Options{Count: 3, Interval: 10 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s := run(t, e)
	c.log(t)
	got := c.byProbe()
	if r := got[1]; r.Kind != KindError || r.Answer != "time-exceeded" || r.From != r1V4 || r.TTL != 1 || len(r.Changes) != 0 {
		t.Errorf("probe 1: %s, want time-exceeded from r1 %v with nothing changed", r.String(), r1V4)
	}
	r := got[2]
	if r.Kind != KindError || r.Answer != "time-exceeded" || r.From != r2V4 || r.TTL != 2 {
		t.Errorf("probe 2: %s, want time-exceeded from r2 %v", r.String(), r2V4)
	}
	var ttl, tos *packet.Change
	for i := range r.Changes {
		switch r.Changes[i].Field {
		case "ttl":
			ttl = &r.Changes[i]
		case "tos":
			tos = &r.Changes[i]
		}
	}
	if ttl == nil || ttl.Sent != 2 || ttl.Seen != 1 || !ttl.Expected {
		t.Errorf("probe 2: ttl change %+v, want 2→1 (expected)", ttl)
	}
	if tos == nil || tos.Sent != 0 || tos.Seen != 0x28 {
		t.Errorf("probe 2: tos change %+v, want 0x00→0x28", tos)
	}
	if r := got[3]; r.Kind != KindReply || r.From != serverV4 {
		t.Errorf("probe 3: %s, want an echo reply", r.String())
	}
	if s.Errors != 2 || s.ErrorsByKind["time-exceeded"] != 2 || s.Received != 1 || s.Transmitted != 3 {
		t.Errorf("stats: %s", statsLine(s))
	}
}

// TestFragNeeded: a 1450-byte DF probe draws frag-needed with MTU 1400
// from r2, every time (PMTU probe mode: the cached path MTU does not stop
// it); a 1600-byte probe is refused by this host (interface MTU 1500) and
// reported as local, never as a network answer.
func TestFragNeeded(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	tmpl := echo4(serverV4, 1450-28)
	tmpl.IPv4.DF = true
	e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 2, Interval: 20 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s := run(t, e)
	c.log(t)
	for n := uint64(1); n <= 2; n++ {
		r := c.byProbe()[n]
		if r.Kind != KindError || r.Answer != "frag-needed" || r.MTU != 1400 || r.From != r2V4 {
			t.Errorf("probe %d: %s, want frag-needed mtu=1400 from %v", n, r.String(), r2V4)
		}
	}
	if s.ErrorsByKind["frag-needed"] != 2 || s.Local != 0 {
		t.Errorf("stats: %s", statsLine(s))
	}

	big := echo4(serverV4, 1600-28)
	big.IPv4.DF = true
	e2, c2 := engineIn(t, l, "client", Probe{Packet: big}, Options{Count: 1, Mode: ModeRaw, Timeout: 500 * time.Millisecond})
	s2 := run(t, e2)
	c2.log(t)
	locals := c2.of(KindLocal)
	// The MTU is what the kernel says towards the server: the path MTU
	// 1400 it cached from the frag-needed above, or the interface's 1500.
	if len(locals) == 0 || locals[0].Answer != "frag-needed" || (locals[0].MTU != 1500 && locals[0].MTU != 1400) {
		t.Fatalf("1600-byte probe: %+v, want a local frag-needed with the kernel's MTU", locals)
	}
	var me *sock.MTUError
	if !errors.As(locals[0].Err, &me) {
		t.Errorf("local result's error %v is not a *sock.MTUError", locals[0].Err)
	}
	if s2.Local != 1 || s2.Errors != 0 || s2.Received != 0 || s2.Transmitted != 1 {
		t.Errorf("stats: %s", statsLine(s2))
	}
}

// TestLocalFragNeeded: with a socket that honours the path MTU the kernel
// cached (PMTUDo), oversized DF probes after the first are refused by this
// host; that, and the frag-needed the kernel generates about its own
// refusal (from this host to this host, delivered to raw ICMP sockets), are
// reported as local with the cached MTU, never as an answer from the
// network, and each refusal is counted once.
func TestLocalFragNeeded(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	tmpl := echo4(serverV4, 1450-28)
	tmpl.IPv4.DF = true
	e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 3, Interval: 50 * time.Millisecond, Mode: ModeRaw, PMTU: sock.PMTUDo, Timeout: time.Second})
	s := run(t, e)
	c.log(t)
	if r := c.byProbe()[1]; r.Kind != KindError || r.Answer != "frag-needed" || r.From != r2V4 || r.MTU != 1400 {
		t.Errorf("probe 1: %s, want frag-needed from r2 (the network)", r.String())
	}
	fromSelf := 0
	for _, r := range c.all() {
		if r.Probe == 1 {
			continue
		}
		if r.Kind != KindLocal || r.MTU != 1400 || r.Answer != "frag-needed" {
			t.Errorf("probe %d: %s, want local frag-needed mtu=1400", r.Probe, r.String())
		}
		if r.Err == nil {
			fromSelf++ // the kernel's ICMP message, not the send error
		}
	}
	t.Logf("frag-needed messages this host sent itself: %d", fromSelf)
	if s.Local != 2 || s.Errors != 1 || s.Received != 0 || s.Unrelated != 0 {
		t.Errorf("stats: %s", statsLine(s))
	}
}

// TestRecordRoute: a record-route option fills in through the path and
// back; the reply's options say where it went.
func TestRecordRoute(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	for _, prefill := range []bool{false, true} {
		tmpl := echo4(serverV4, 56)
		tmpl.IPv4.Src = clientV4
		tmpl.IPv4.Options = []packet.Option{&packet.RecordRoute{PrefillSource: prefill}}
		e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 1, Mode: ModeRaw, Timeout: 2 * time.Second})
		s := run(t, e)
		r := c.byProbe()[1]
		if s.Received != 1 || r.Kind != KindReply {
			t.Fatalf("prefill %v: %s", prefill, r.String())
		}
		var rr *packet.RecordRoute
		for _, o := range r.IPOptions {
			if x, ok := o.(*packet.RecordRoute); ok {
				rr = x
			}
		}
		if rr == nil {
			t.Fatalf("prefill %v: reply without a record-route option: %v", prefill, r.IPOptions)
		}
		t.Logf("prefill %v: route %v", prefill, rr.Route)
		want := []netip.Addr{r1OutV4, r2OutV4, serverV4, r2V4, r1V4}
		if prefill {
			want = append([]netip.Addr{clientV4}, want...)
		}
		for _, a := range want {
			if !slices.Contains(rr.Route, a) {
				t.Errorf("prefill %v: route %v lacks %v", prefill, rr.Route, a)
			}
		}
	}
}

// TestTimestamps: the IPv4 timestamp option collects router stamps, and an
// ICMP timestamp request gets a timestamp reply.
func TestTimestamps(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	tmpl := echo4(serverV4, 56)
	tmpl.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: packet.TSAndAddr}}
	e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 1, Mode: ModeRaw, Timeout: 2 * time.Second})
	run(t, e)
	r := c.byProbe()[1]
	var ts *packet.Timestamp
	for _, o := range r.IPOptions {
		if x, ok := o.(*packet.Timestamp); ok {
			ts = x
		}
	}
	if r.Kind != KindReply || ts == nil || len(ts.Recorded()) < 3 {
		t.Fatalf("reply %s with timestamp option %v, want at least 3 entries", r.String(), ts)
	}
	t.Logf("timestamps: %v", ts)
	e0, e1 := ts.Recorded()[0].Addr, ts.Recorded()[1].Addr
	if (e0 != r1V4 && e0 != r1OutV4) || (e1 != r2V4 && e1 != r2OutV4) {
		t.Errorf("timestamps from %v then %v, want r1 then r2", e0, e1)
	}

	treq := packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: serverV4}, Transport: packet.TransportICMP,
		ICMP: packet.ICMP{Type: packet.ICMPTimestamp}, Payload: make([]byte, 12)}
	e2, c2 := engineIn(t, l, "client", Probe{Packet: treq}, Options{Count: 2, Interval: 10 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s2 := run(t, e2)
	c2.log(t)
	if s2.Received != 2 || len(c2.of(KindReply)) != 2 || c2.of(KindReply)[0].Answer != "timestamp-reply" {
		t.Errorf("timestamp requests: %s", statsLine(s2))
	}
}

// TestTCP: a raw SYN to an open port gets a SYN-ACK (tcp-open) and the
// engine resets the half-open connection; the server also receives the
// probing kernel's own RST. A SYN to a closed port gets a RST
// (tcp-closed).
func TestTCP(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	var ln net.Listener
	if err := l.InNode("server", func() (err error) { ln, err = net.Listen("tcp4", "198.18.3.2:0"); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	// Watch the server's side: RSTs arriving for the listening port.
	var watch *sock.Conn
	if err := l.InNode("server", func() (err error) {
		watch, err = sock.OpenRaw(sock.IPv4, 6, &sock.Options{Filter: sock.PortFilter(sock.IPv4, port, port)})
		return
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Close() })

	syn := func(dport uint16) packet.Packet {
		return packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: serverV4, DF: true}, Transport: packet.TransportTCP,
			TCP: packet.TCP{DstPort: dport}}
	}
	rec := &recordingWriter{}
	tap := NewTap(rec, 0)
	e, c := engineIn(t, l, "client", Probe{Packet: syn(port)}, Options{Count: 2, Interval: 20 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second, Tap: tap})
	s := run(t, e)
	c.log(t)
	tap.Close()
	// The capture holds each exchange in wire order: SYN, SYN-ACK, RST.
	if got, want := strings.Join(rec.events, " "), "sent:1 received:1 sent:1:rst sent:2 received:2 sent:2:rst"; got != want {
		t.Errorf("tapped %s, want %s", got, want)
	}
	for n := uint64(1); n <= 2; n++ {
		if r := c.byProbe()[n]; r.Kind != KindReply || r.Answer != "tcp-open" || r.From != serverV4 {
			t.Errorf("probe %d: %s, want tcp-open", n, r.String())
		}
	}
	if s.ResetsSent != 2 || s.Received != 2 {
		t.Errorf("stats: %s; resets sent %d, want 2", statsLine(s), s.ResetsSent)
	}
	lo, hi := e.Ports()
	rsts := 0
	buf := make([]byte, 2048)
	var m sock.Msg
	watch.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for watch.Recv(buf, &m) == nil {
		if p, err := packet.Parse(m.Data); err == nil && p.TCP.Flags&packet.TCPRst != 0 && p.TCP.SrcPort >= lo && p.TCP.SrcPort <= hi {
			rsts++
			t.Logf("server saw: %s (ttl %d id %#x)", p.Summary(), p.IPv4.TTL, p.IPv4.ID)
		}
	}
	if rsts < 2 {
		t.Errorf("server saw %d RSTs for 2 SYN-ACKs, want ours (and the kernel's)", rsts)
	}

	e2, c2 := engineIn(t, l, "client", Probe{Packet: syn(9)}, Options{Count: 2, Interval: 20 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s2 := run(t, e2)
	c2.log(t)
	for n := uint64(1); n <= 2; n++ {
		if r := c2.byProbe()[n]; r.Kind != KindReply || r.Answer != "tcp-closed" {
			t.Errorf("closed port, probe %d: %s, want tcp-closed", n, r.String())
		}
	}
	if s2.ResetsSent != 0 || s2.Received != 2 {
		t.Errorf("closed port stats: %s", statsLine(s2))
	}
}

// TestUDP: a UDP probe to a closed port draws port-unreachable from the
// server, quoting it; to a UDP echo service it gets a reply, compared
// byte by byte.
func TestUDP(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	var uc net.PacketConn
	if err := l.InNode("server", func() (err error) { uc, err = net.ListenPacket("udp4", "198.18.3.2:0"); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			n, a, err := uc.ReadFrom(b)
			if err != nil {
				return
			}
			uc.WriteTo(b[:n], a)
		}
	}()
	uport := uint16(uc.LocalAddr().(*net.UDPAddr).Port)
	udp := func(dport uint16) packet.Packet {
		return packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: serverV4}, Transport: packet.TransportUDP,
			UDP: packet.UDP{DstPort: dport}, Payload: []byte("echolot udp probe")}
	}
	e, c := engineIn(t, l, "client", Probe{Packet: udp(33434)}, Options{Count: 3, Interval: 10 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s := run(t, e)
	c.log(t)
	for n := uint64(1); n <= 3; n++ {
		if r := c.byProbe()[n]; r.Kind != KindError || r.Answer != "port-unreachable" || r.From != serverV4 {
			t.Errorf("probe %d: %s, want port-unreachable from the server", n, r.String())
		}
	}
	if s.ErrorsByKind["port-unreachable"] != 3 {
		t.Errorf("stats: %s", statsLine(s))
	}
	e2, c2 := engineIn(t, l, "client", Probe{Packet: udp(uport)}, Options{Count: 3, Interval: 10 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s2 := run(t, e2)
	c2.log(t)
	if s2.Received != 3 || len(c2.of(KindReply)) != 3 || c2.of(KindReply)[0].Answer != "udp-reply" {
		t.Errorf("UDP echo: %s", statsLine(s2))
	}
}

// TestIPv6: echo replies, packet-too-big with MTU 1400 from r2, and hop
// limit exceeded at r1.
func TestIPv6(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	e, c := engineIn(t, l, "client", Probe{Packet: echo6(serverV6, 56)}, Options{Count: 3, Interval: 10 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s := run(t, e)
	c.log(t)
	if s.Received != 3 || s.Loss() != 0 {
		t.Errorf("echo: %s", statsLine(s))
	}
	for _, r := range c.of(KindReply) {
		if r.From != serverV6 || r.ReplyTTL != 62 || !r.RxKernel {
			t.Errorf("reply %s (hop limit %d)", r.String(), r.ReplyTTL)
		}
	}

	e2, c2 := engineIn(t, l, "client", Probe{Packet: echo6(serverV6, 1450-48)}, Options{Count: 2, Interval: 10 * time.Millisecond, Mode: ModeRaw, Timeout: 2 * time.Second})
	s2 := run(t, e2)
	c2.log(t)
	for n := uint64(1); n <= 2; n++ {
		if r := c2.byProbe()[n]; r.Kind != KindError || r.Answer != "packet-too-big" || r.MTU != 1400 || r.From != r2V6 {
			t.Errorf("probe %d: %s, want packet-too-big mtu=1400 from %v", n, r.String(), r2V6)
		}
	}
	if s2.ErrorsByKind["packet-too-big"] != 2 {
		t.Errorf("stats: %s", statsLine(s2))
	}

	hop := echo6(serverV6, 56)
	hop.IPv6.HopLimit = 1
	e3, c3 := engineIn(t, l, "client", Probe{Packet: hop}, Options{Count: 1, Mode: ModeRaw, Timeout: 2 * time.Second})
	run(t, e3)
	c3.log(t)
	if r := c3.byProbe()[1]; r.Kind != KindError || r.Answer != "time-exceeded" || r.From != r1V6 {
		t.Errorf("hop limit 1: %s, want time-exceeded from %v", r.String(), r1V6)
	}
}

// TestExplicitICMPID: a template with an ICMP identifier keeps it (ping
// -e), in raw and datagram mode, its replies pass the engine's filter,
// and a second engine of the process cannot take the same identifier.
func TestExplicitICMPID(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	for _, mode := range []Mode{ModeRaw, ModeDgram} {
		tmpl := echo4(serverV4, 16)
		tmpl.ICMP.ID = 0x4242
		e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 3, Interval: 10 * time.Millisecond, Mode: mode, Timeout: 2 * time.Second})
		if e.ID() != 0x4242 {
			t.Errorf("%v: engine id %#x, want 0x4242", mode, e.ID())
		}
		err := l.InNode("client", func() error {
			_, err := New(Probe{Packet: tmpl}, Options{Count: 1, Mode: mode})
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "identifier 16962 is in use") {
			t.Errorf("%v: second engine with the same id: %v, want a refusal", mode, err)
		}
		s := run(t, e)
		if s.Received != 3 {
			c.log(t)
			t.Errorf("%v: %s", mode, statsLine(s))
		}
		e.Close() // frees the identifier for the next mode
	}
}

// TestDgramRecordRoutePrefill: a record route prefilled with the source,
// as raw probes need to look like ping -R, goes to a datagram socket
// without the prefilled slot (the kernel records this host itself), so
// the route starts with the client, never 0.0.0.0.
func TestDgramRecordRoutePrefill(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	tmpl := echo4(serverV4, 16)
	tmpl.IPv4.Options = []packet.Option{&packet.RecordRoute{PrefillSource: true}}
	e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 1, Mode: ModeDgram, Timeout: 2 * time.Second})
	run(t, e)
	rs := c.of(KindReply)
	if len(rs) != 1 || len(rs[0].IPOptions) == 0 {
		t.Fatalf("replies %v", rs)
	}
	rr, ok := rs[0].IPOptions[0].(*packet.RecordRoute)
	if !ok || len(rr.Route) == 0 || rr.Route[0] != clientV4 {
		t.Errorf("route %v, want it to start with the client 198.18.1.2", rs[0].IPOptions)
	}
	for _, a := range rr.Route {
		if a.IsUnspecified() {
			t.Errorf("route %v holds 0.0.0.0", rr.Route)
		}
	}
}

// TestDgramTimestampPrefill: a prefilled timestamp option over a datagram
// socket is stamped by the kernel once, with this host first, as ping -T
// shows it — not twice, and not with 0.0.0.0.
func TestDgramTimestampPrefill(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	tmpl := echo4(serverV4, 16)
	tmpl.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: packet.TSAndAddr, PrefillSource: true}}
	e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 1, Mode: ModeDgram, Timeout: 2 * time.Second})
	run(t, e)
	rs := c.of(KindReply)
	if len(rs) != 1 || len(rs[0].IPOptions) == 0 {
		t.Fatalf("replies %v", rs)
	}
	ts, ok := rs[0].IPOptions[0].(*packet.Timestamp)
	var got []string
	if ok {
		for _, e := range ts.Recorded() {
			got = append(got, e.Addr.String())
		}
	}
	// client (the kernel's own stamp), r1, r2, server: what ping -T
	// tsandaddr prints in the lab.
	if want := "198.18.1.2 198.18.1.1 198.18.2.2 198.18.3.2"; strings.Join(got, " ") != want {
		t.Errorf("stamped by %v, want %s", got, want)
	}
}

// TestDgramBindsTemplateSource: in ModeDgram the kernel writes source
// address and port, so the socket is bound to the template's: a UDP
// probe with a fixed source port leaves from it (the quote of the port
// unreachable shows it), and a source that is not this host's is refused
// instead of silently replaced.
func TestDgramBindsTemplateSource(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	tmpl := packet.Packet{Version: 4, IPv4: packet.IPv4{Dst: serverV4, Src: clientV4}, Transport: packet.TransportUDP,
		UDP: packet.UDP{SrcPort: 40001, DstPort: 9}, Payload: []byte("x")}
	e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, Options{Count: 1, Mode: ModeDgram, Timeout: 2 * time.Second, KeepPackets: true})
	run(t, e)
	r := c.byProbe()[1]
	if r.Answer != "port-unreachable" || r.Packet == nil || r.Packet.Quote == nil || r.Packet.Quote.UDP.SrcPort != 40001 {
		c.log(t)
		t.Errorf("probe 1: %s, want a port unreachable quoting source port 40001", r.String())
	}
	tmpl.IPv4.Src = serverV4
	err := l.InNode("client", func() error {
		e, err := New(Probe{Packet: tmpl}, Options{Count: 1, Mode: ModeDgram})
		if err == nil {
			e.Close()
		}
		return err
	})
	if err == nil {
		t.Errorf("a datagram engine with a source address of another host was made")
	}
}

// recordingWriter is a CaptureWriter that keeps, per event, its direction,
// probe number and whether it is the engine's RST.
type recordingWriter struct{ events []string }

func (w *recordingWriter) WriteEvent(ev *TapEvent) error {
	s := map[Direction]string{DirSent: "sent", DirReceived: "received"}[ev.Dir] + ":" + strconv.FormatUint(ev.Probe, 10)
	if ev.Reset {
		s += ":rst"
	}
	w.events = append(w.events, s)
	return nil
}

func (w *recordingWriter) Flush() error { return nil }

// TestMarkSteersPolicyRouting: Options.Mark marks every socket, and the
// kernel routes by it. In the client, marked packets (fwmark 7) look up
// table 7, where the server is unreachable: an engine marked 7 finds no
// route when it looks for its source address (as ping -m 7 does), and
// with the source given its probes are refused one by one; probes marked
// 8 or unmarked reach the server. Raw and datagram mode alike.
func TestMarkSteersPolicyRouting(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	labtest.Commands(t, l, "client",
		[]string{"ip", "route", "add", "unreachable", "198.18.3.0/24", "table", "7"},
		[]string{"ip", "rule", "add", "fwmark", "7", "table", "7"})
	for _, mode := range []Mode{ModeRaw, ModeDgram} {
		o := Options{Count: 2, Interval: 10 * time.Millisecond, Mode: mode, Timeout: time.Second}
		for _, mark := range []uint32{0, 8} {
			o.Mark = mark
			e, c := engineIn(t, l, "client", Probe{Packet: echo4(serverV4, 16)}, o)
			if s := run(t, e); s.Received != 2 {
				c.log(t)
				t.Errorf("%v, mark %d: %d replies, want 2", mode, mark, s.Received)
			}
		}
		o.Mark = 7
		err := l.InNode("client", func() error {
			e, err := New(Probe{Packet: echo4(serverV4, 16)}, o)
			if err == nil {
				e.Close()
			}
			return err
		})
		if !errors.Is(err, syscall.EHOSTUNREACH) {
			t.Errorf("%v, mark 7, source left to the engine: New says %v, want no route to host", mode, err)
		}
		tmpl := echo4(serverV4, 16)
		tmpl.IPv4.Src = clientV4
		e, c := engineIn(t, l, "client", Probe{Packet: tmpl}, o)
		if s := run(t, e); s.Received != 0 || len(c.of(KindLocal)) != 2 {
			c.log(t)
			t.Errorf("%v, mark 7: %d replies, %d local errors; want both sends refused by the route in table 7", mode, s.Received, len(c.of(KindLocal)))
		}
	}
}

// TestBroadcast: with Options.Broadcast an echo request to the client's
// subnet broadcast address leaves, and r1 (told to answer broadcast
// echoes) replies from its own address; without it the kernel refuses
// the send (EACCES), reported per probe.
func TestBroadcast(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	labtest.Sysctl(t, l, "r1", "net.ipv4.icmp_echo_ignore_broadcasts", "0")
	bcast := netip.MustParseAddr("198.18.1.255")
	for _, mode := range []Mode{ModeRaw, ModeDgram} {
		e, c := engineIn(t, l, "client", Probe{Packet: echo4(bcast, 16)},
			Options{Count: 2, Interval: 10 * time.Millisecond, Mode: mode, Timeout: time.Second, Broadcast: true})
		s := run(t, e)
		rs := c.of(KindReply)
		if s.Received != 2 || len(rs) != 2 || rs[0].From != netip.MustParseAddr("198.18.1.1") || !rs[0].DifferentAddress {
			c.log(t)
			t.Errorf("%v: %d replies %v; want 2 from r1 198.18.1.1, marked as from another address", mode, s.Received, rs)
		}
		e, c = engineIn(t, l, "client", Probe{Packet: echo4(bcast, 16)},
			Options{Count: 1, Mode: mode, Timeout: 300 * time.Millisecond})
		s = run(t, e)
		if ls := c.of(KindLocal); s.Received != 0 || len(ls) != 1 || !errors.Is(ls[0].Err, syscall.EACCES) {
			c.log(t)
			t.Errorf("%v without Broadcast: %d replies, local %v; want the send refused with EACCES", mode, s.Received, ls)
		}
	}
}
