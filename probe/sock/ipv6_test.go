package sock

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/packet"
)

// isICMP6 matches a message from a raw ICMPv6 socket (no IP header) of
// type typ whose echo id/seq (for errors: the quoted echo's) match.
func isICMP6(typ uint8, id, seq uint16) func(*Msg) bool {
	return func(m *Msg) bool {
		if m.Kind != KindPacket || len(m.Data) < 8 || m.Data[0] != typ {
			return false
		}
		b := m.Data
		if typ < 128 { // an error: the quote starts after 8 bytes, IPv6 header 40
			if len(b) < 8+40+8 {
				return false
			}
			b = b[8+40:]
		}
		return binary.BigEndian.Uint16(b[4:]) == id && binary.BigEndian.Uint16(b[6:]) == seq
	}
}

// TestIPv6Echo: a raw ICMPv6 socket sends echoes with per-packet hop limit
// and traffic class (control messages, kernel checksum); the server's own
// raw socket sees them arrive with hop limit 63 and the traffic class; the
// reply arrives with its hop limit, class, addresses and a timestamp; hop
// limit 1 draws a time exceeded from the router.
func TestIPv6Echo(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	const id = 0x6e01
	c := open(t, tp.client, func() (*Conn, error) {
		return OpenICMP(IPv6, &Options{Filter: EchoFilter(IPv6, id)})
	})
	srv := open(t, tp.server, func() (*Conn, error) { return OpenICMP(IPv6, &Options{ICMPTypes: []uint8{128}}) })
	t.Logf("send timestamps on the raw ICMPv6 socket: %v", c.TxTimestamps())
	dst := netip.AddrPortFrom(serverV6, 0)
	sent, err := c.Send(icmpEcho(true, id, 1, 56), dst, &SendOpts{TTL: 64, HasTTL: true, TOS: 0xb8, HasTOS: true})
	if err != nil {
		t.Fatal(err)
	}
	sr := newReader(srv)
	sr.until(t, 3*time.Second, "echo request at the server", isICMP6(packet.ICMPv6EchoRequest, id, 1))
	if sr.m.TTL != 63 || sr.m.TOS != 0xb8 || sr.m.From != clientV6 || sr.m.Dst != serverV6 {
		t.Errorf("request at the server: %s dst %v, want hop limit 63, tclass 0xb8 from %v", describe(&sr.m), sr.m.Dst, clientV6)
	}
	// The kernel computed a correct checksum.
	h := sr.m.AppendIPv6Header(nil, packet.ProtoICMPv6)
	p, err := packet.Parse(append(h, sr.m.Data...))
	if err != nil || p.BadTransportChecksum {
		t.Errorf("request as parsed at the server: %v, bad checksum %v", err, p != nil && p.BadTransportChecksum)
	} else {
		t.Logf("at the server: %s (flow label %#x chosen by the kernel)", p.Summary(), sr.m.FlowLabel)
	}

	r := newReader(c)
	var tx *Msg
	r.until(t, 3*time.Second, "echo reply", func(m *Msg) bool {
		if m.Kind == KindTxTimestamp {
			mm := *m
			tx = &mm
		}
		return isICMP6(packet.ICMPv6EchoReply, id, 1)(m)
	})
	if r.m.TTL != 63 || r.m.TOS != 0xb8 || r.m.Time.IsZero() || r.m.From != serverV6 || r.m.Dst != clientV6 || r.m.IfIndex == 0 {
		t.Errorf("reply: %s dst %v if %d; want hop limit 63, tclass 0xb8 (echoed), a timestamp", describe(&r.m), r.m.Dst, r.m.IfIndex)
	}
	if tx == nil {
		r.until(t, time.Second, "tx timestamp", func(m *Msg) bool { return m.Kind == KindTxTimestamp })
		tx = &r.m
	}
	if tx.TxID != sent.ID || tx.Time.Before(sent.Time) {
		t.Errorf("tx timestamp %s, sent id %d at %v", describe(tx), sent.ID, sent.Time)
	}

	// Hop limit 1.
	c.Send(icmpEcho(true, id, 2, 56), dst, &SendOpts{TTL: 1, HasTTL: true})
	r.until(t, 3*time.Second, "time exceeded", isICMP6(packet.ICMPv6TimeExceeded, id, 2))
	if r.m.From != routerV6 {
		t.Errorf("time exceeded from %v, want %v", r.m.From, routerV6)
	}
}

// TestIPv6HeaderIncluded: an IPPROTO_RAW IPv6 socket sends our own header,
// flow label and traffic class as built; the server sees them (flow label
// through IPV6_FLOWINFO) and the reply comes back.
func TestIPv6HeaderIncluded(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	const id = 0x6e02
	snd := open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv6, nil) })
	rcv := open(t, tp.client, func() (*Conn, error) { return OpenICMP(IPv6, &Options{Filter: EchoFilter(IPv6, id)}) })
	srv := open(t, tp.server, func() (*Conn, error) { return OpenICMP(IPv6, &Options{ICMPTypes: []uint8{128}}) })
	pkt := echo6(t, clientV6, serverV6, id, 1, 64, 0x28, 0x12345, 56)
	sent, err := snd.Send(pkt, netip.AddrPortFrom(serverV6, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	sr := newReader(srv)
	sr.until(t, 3*time.Second, "request at the server", isICMP6(packet.ICMPv6EchoRequest, id, 1))
	if sr.m.FlowLabel != 0x12345 || sr.m.TOS != 0x28 || sr.m.TTL != 63 {
		t.Errorf("at the server: flow %#x tclass %#x hop %d, want 0x12345, 0x28, 63", sr.m.FlowLabel, sr.m.TOS, sr.m.TTL)
	}
	r := newReader(rcv)
	r.until(t, 3*time.Second, "echo reply", isICMP6(packet.ICMPv6EchoReply, id, 1))
	e := newReader(snd)
	e.errq(t, time.Second, "tx timestamp", func(m *Msg) bool { return m.Kind == KindTxTimestamp })
	if e.m.TxID != sent.ID || e.m.Time.After(r.m.Time) {
		t.Errorf("tx timestamp %s vs reply at %v", describe(&e.m), r.m.Time)
	}
	t.Logf("header-included IPv6: flow label %#x at the server; kernel RTT %v", sr.m.FlowLabel, r.m.Time.Sub(e.m.Time))
}

// TestIPv6PacketTooBig: IPV6_DONTFRAG with a 1400-byte echo over the
// 1280-byte link draws packet too big (MTU 1280) from the router; a socket
// honouring the cached path MTU is then refused locally (*MTUError 1280,
// and with IPV6_RECVERR a local error-queue entry), while the default
// PMTUProbe socket still sends and the router answers again.
func TestIPv6PacketTooBig(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	const id = 0x6e03
	c := open(t, tp.client, func() (*Conn, error) {
		return OpenICMP(IPv6, &Options{Filter: EchoFilter(IPv6, id), NoTxTimestamps: true})
	})
	honour := open(t, tp.client, func() (*Conn, error) {
		return OpenICMP(IPv6, &Options{Filter: EchoFilter(IPv6, id), PMTU: PMTUDo, RecvErr: true, NoTxTimestamps: true})
	})
	if err := c.SetDontFrag(true); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(serverV6, 0)
	big := func(seq uint16) []byte { return icmpEcho(true, id, seq, 1400-48) }
	if _, err := c.Send(big(1), dst, nil); err != nil {
		t.Fatal(err)
	}
	r := newReader(c)
	r.until(t, 3*time.Second, "packet too big", isICMP6(packet.ICMPv6PacketTooBig, id, 1))
	mtu := binary.BigEndian.Uint32(r.m.Data[4:])
	if mtu != 1280 || r.m.From != routerV6 {
		t.Fatalf("packet too big from %v mtu %d, want %v 1280", r.m.From, mtu, routerV6)
	}
	t.Logf("packet too big from %v, MTU %d, %d bytes", r.m.From, mtu, r.m.Len)
	if got := c.PathMTU(serverV6); got != 1280 {
		t.Errorf("cached IPv6 path MTU %d, want 1280", got)
	}

	_, err := honour.Send(big(2), dst, &SendOpts{DontFrag: 1})
	var me *MTUError
	if !errors.As(err, &me) || me.MTU != 1280 || !errors.Is(err, syscall.EMSGSIZE) {
		t.Fatalf("DONTFRAG send over the cached MTU with PMTUDo: %v, want an *MTUError with MTU 1280", err)
	}
	t.Logf("local refusal: %v", err)
	// With IPV6_RECVERR the refusal is also queued, and the next ordinary
	// read first reports the pending socket error once.
	// With IPV6_RECVERR the refusal is also queued as a local entry; the
	// once-only soft error and the router's packet too big about the other
	// socket's probe (raw sockets are not told apart) come too.
	hr := newReader(honour)
	var seen []string
	hr.until(t, time.Second, "local error-queue entry", func(m *Msg) bool {
		seen = append(seen, describe(m))
		return m.Kind == KindError && m.Err.Origin == OriginLocal
	})
	if hr.m.Err.Info != 1280 || hr.m.Err.Errno != syscall.EMSGSIZE {
		t.Errorf("local entry %s, want EMSGSIZE, info 1280", describe(&hr.m))
	}
	t.Logf("honouring socket then reads: %q", seen)

	if _, err := c.Send(big(3), dst, nil); err != nil {
		t.Fatalf("PMTUProbe DONTFRAG send after the MTU was cached: %v", err)
	}
	r.until(t, 3*time.Second, "second packet too big", isICMP6(packet.ICMPv6PacketTooBig, id, 3))

	// Without DONTFRAG a socket in the kernel's usual mode (PMTUWant)
	// fragments at the source to the learnt path MTU, and the reply
	// (fragmented by the server) is reassembled. PMTUProbe ignores the
	// learnt MTU for fragmenting too (its 1400-byte datagram would leave
	// whole and draw another packet too big), and PMTUDo refuses.
	want := open(t, tp.client, func() (*Conn, error) {
		return OpenICMP(IPv6, &Options{Filter: EchoFilter(IPv6, id), PMTU: PMTUWant, NoTxTimestamps: true})
	})
	if _, err := want.Send(big(4), dst, nil); err != nil {
		t.Fatal(err)
	}
	wr := newReader(want)
	wr.until(t, 3*time.Second, "reply to the fragmented echo", isICMP6(packet.ICMPv6EchoReply, id, 4))
	if wr.m.Len != 1400-40 {
		t.Errorf("reply length %d, want %d", wr.m.Len, 1400-40)
	}
}
