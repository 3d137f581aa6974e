package sock

import (
	"net/netip"
	"testing"
	"time"

	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

// labNode runs constructors inside a node of a lab (package lab).
type labNode struct {
	l    *lab.Lab
	node string
}

func (n labNode) do(fn func() error) error { return n.l.InNode(n.node, fn) }

// TestOnLab runs the raw path through the project's standard lab
// (client — r1 — fault — r2 — server, MTU 1400 on the last link):
// record route, time exceeded from each router, and frag-needed with MTU
// 1400; and a ping-socket echo over IPv6.
func TestOnLab(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	client := labNode{l, "client"}
	src, dst := l.Addr("client", false), l.Addr("server", false)
	r1, r2 := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.2")
	const id = 0x1ab0
	snd := openIn(t, client, func() (*Conn, error) { return OpenSender(IPv4, nil) })
	rcv := openIn(t, client, func() (*Conn, error) { return OpenICMP(IPv4, &Options{Filter: EchoFilter(IPv4, id)}) })
	r := newReader(rcv)
	to := netip.AddrPortFrom(dst, 0)

	if _, err := snd.Send(echo4(t, src, dst, id, 1, 64, false, 56, &packet.RecordRoute{}), to, nil); err != nil {
		t.Fatal(err)
	}
	r.until(t, 3*time.Second, "echo reply", isEchoReply4(id, 1))
	t.Logf("lab echo with RR: %s", parse4(t, r.m.Data).Summary())

	for ttl, router := range map[uint8]netip.Addr{1: r1, 2: r2} {
		seq := uint16(10 + ttl)
		snd.Send(echo4(t, src, dst, id, seq, ttl, false, 56), to, nil)
		r.until(t, 3*time.Second, "time exceeded", icmpErr4(packet.ICMPTimeExceeded, id, seq))
		if r.m.From != router {
			t.Errorf("TTL %d: time exceeded from %v, want %v", ttl, r.m.From, router)
		}
	}

	snd.Send(echo4(t, src, dst, id, 20, 64, true, 1500-28), to, nil)
	r.until(t, 3*time.Second, "frag-needed", icmpErr4(packet.ICMPDestUnreach, id, 20))
	p := parse4(t, r.m.Data)
	if mtu, _ := p.NextHopMTU(); mtu != 1400 || r.m.From != r2 {
		t.Errorf("frag-needed %s from %v, want MTU 1400 from %v", p.Summary(), r.m.From, r2)
	}

	ping := openIn(t, client, func() (*Conn, error) { return OpenPing(IPv6, nil) })
	pr := newReader(ping)
	if _, err := ping.Send(icmpEcho(true, 0, 1, 56), netip.AddrPortFrom(l.Addr("server", true), 0), nil); err != nil {
		t.Fatal(err)
	}
	pr.until(t, 3*time.Second, "IPv6 echo reply", isEchoReplyMsg(true, ping.LocalPort(), 1))
	t.Logf("lab IPv6 ping-socket reply: %s", describe(&pr.m))
}
