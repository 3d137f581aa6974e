package sock

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if left := leftNamespaces(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "sock tests: namespaces left behind: %v\n", left)
		code = 1
	}
	if left := labtest.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "sock tests: labs left behind: %v\n", left)
		for _, name := range left {
			lab.Down(name)
		}
		code = 1
	}
	os.Exit(code)
}

// payload returns n bytes of a recognisable pattern.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0xa5 ^ i)
	}
	return b
}

// echo4 builds a whole IPv4 echo request.
func echo4(t testing.TB, src, dst netip.Addr, id, seq uint16, ttl uint8, df bool, size int, opts ...packet.Option) []byte {
	t.Helper()
	p := packet.Packet{
		Version:   4,
		IPv4:      packet.IPv4{Src: src, Dst: dst, TTL: ttl, DF: df, ID: seq ^ 0x5a00, Options: opts},
		Transport: packet.TransportICMP,
		ICMP:      packet.ICMP{Type: packet.ICMPEchoRequest, ID: id, Seq: seq},
		Payload:   payload(size),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatalf("building echo: %v", err)
	}
	return b
}

// icmpEcho builds an ICMP (v6 false) or ICMPv6 echo request message
// without IP header; the checksum is left for the kernel (ping and raw
// ICMPv6 sockets compute it).
func icmpEcho(v6 bool, id, seq uint16, size int) []byte {
	b := make([]byte, 8+size)
	b[0] = packet.ICMPEchoRequest
	if v6 {
		b[0] = packet.ICMPv6EchoRequest
	}
	b[4], b[5] = byte(id>>8), byte(id)
	b[6], b[7] = byte(seq>>8), byte(seq)
	copy(b[8:], payload(size))
	if !v6 {
		cs := packet.Checksum(b)
		b[2], b[3] = byte(cs>>8), byte(cs)
	}
	return b
}

// echo6 builds a whole IPv6 echo request (for header-included sends).
func echo6(t testing.TB, src, dst netip.Addr, id, seq uint16, hop, tclass uint8, flow uint32, size int) []byte {
	t.Helper()
	p := packet.Packet{
		Version:   6,
		IPv6:      packet.IPv6{Src: src, Dst: dst, HopLimit: hop, TrafficClass: tclass, FlowLabel: flow},
		Transport: packet.TransportICMPv6,
		ICMP:      packet.ICMP{Type: packet.ICMPv6EchoRequest, ID: id, Seq: seq},
		Payload:   payload(size),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatalf("building echo6: %v", err)
	}
	return b
}

// reader reads messages from a Conn with one buffer.
type reader struct {
	c   *Conn
	buf []byte
	m   Msg
}

func newReader(c *Conn) *reader { return &reader{c: c, buf: make([]byte, 65536)} }

// until reads until pred accepts a message or timeout passes; it returns
// the messages that were skipped, as summaries.
func (r *reader) until(t testing.TB, timeout time.Duration, what string, pred func(*Msg) bool) []string {
	t.Helper()
	var skipped []string
	deadline := time.Now().Add(timeout)
	r.c.SetReadDeadline(deadline)
	defer r.c.SetReadDeadline(time.Time{})
	for {
		err := r.c.Recv(r.buf, &r.m)
		if err != nil {
			t.Fatalf("%s: waiting for %s: %v (skipped %d: %v)", r.c, what, err, len(skipped), skipped)
		}
		if pred(&r.m) {
			return skipped
		}
		skipped = append(skipped, describe(&r.m))
	}
}

// all reads until every named predicate has accepted a message.
func (r *reader) all(t testing.TB, timeout time.Duration, want map[string]func(*Msg) bool) {
	t.Helper()
	left := maps.Clone(want)
	r.c.SetReadDeadline(time.Now().Add(timeout))
	defer r.c.SetReadDeadline(time.Time{})
	for len(left) > 0 {
		if err := r.c.Recv(r.buf, &r.m); err != nil {
			t.Fatalf("%s: still waiting for %v: %v", r.c, slices.Collect(maps.Keys(left)), err)
		}
		for k, pred := range left {
			if pred(&r.m) {
				delete(left, k)
			}
		}
	}
}

// errq reads the error queue until pred accepts an entry.
func (r *reader) errq(t testing.TB, timeout time.Duration, what string, pred func(*Msg) bool) {
	t.Helper()
	r.c.SetReadDeadline(time.Now().Add(timeout))
	defer r.c.SetReadDeadline(time.Time{})
	for {
		if err := r.c.RecvErrQueue(r.buf, &r.m); err != nil {
			t.Fatalf("%s: error queue: waiting for %s: %v", r.c, what, err)
		}
		if pred(&r.m) {
			return
		}
	}
}

// quiet asserts that nothing matching pred arrives within d.
func (r *reader) none(t testing.TB, d time.Duration, what string, pred func(*Msg) bool) int {
	t.Helper()
	r.c.SetReadDeadline(time.Now().Add(d))
	defer r.c.SetReadDeadline(time.Time{})
	n := 0
	for {
		err := r.c.Recv(r.buf, &r.m)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n
		}
		if err != nil {
			t.Fatalf("%s: %v", r.c, err)
		}
		n++
		if pred(&r.m) {
			t.Fatalf("%s: unexpected %s: %s", r.c, what, describe(&r.m))
		}
	}
}

// describe summarises a message for logs.
func describe(m *Msg) string {
	switch m.Kind {
	case KindPacket:
		s := fmt.Sprintf("packet %dB from %v ttl=%d tos=%d", m.Len, m.From, m.TTL, m.TOS)
		if len(m.Data) > 0 && m.Data[0]>>4 == 4 {
			if p, err := packet.Parse(m.Data); err == nil {
				s += " [" + p.Summary() + "]"
			}
		}
		return s
	case KindError:
		return fmt.Sprintf("error errno=%v origin=%d type=%d code=%d info=%d offender=%v dst=%v data=%dB",
			m.Err.Errno, m.Err.Origin, m.Err.Type, m.Err.Code, m.Err.Info, m.Err.Offender, m.From, len(m.Data))
	case KindTxTimestamp:
		return fmt.Sprintf("tx-timestamp id=%d at %v", m.TxID, m.Time.Format("15:04:05.000000000"))
	case KindSoftError:
		return fmt.Sprintf("soft-error %v", m.SoftErr)
	}
	return "?"
}

// parse4 parses a received IPv4 datagram.
func parse4(t testing.TB, b []byte) *packet.Packet {
	t.Helper()
	p, err := packet.Parse(b)
	if err != nil {
		t.Fatalf("parsing %x: %v", b, err)
	}
	return p
}

// isEchoReply4 matches an IPv4 echo reply (raw socket bytes) with id and seq.
func isEchoReply4(id, seq uint16) func(*Msg) bool {
	return func(m *Msg) bool {
		if m.Kind != KindPacket {
			return false
		}
		p, err := packet.Parse(m.Data)
		return err == nil && p.Transport == packet.TransportICMP && p.ICMP.Type == packet.ICMPEchoReply &&
			p.ICMP.ID == id && p.ICMP.Seq == seq
	}
}

// icmpErr4 matches an IPv4 ICMP error (raw socket bytes) of type typ whose
// quote carries echo id/seq.
func icmpErr4(typ uint8, id, seq uint16) func(*Msg) bool {
	return func(m *Msg) bool {
		if m.Kind != KindPacket {
			return false
		}
		p, err := packet.Parse(m.Data)
		return err == nil && p.Transport == packet.TransportICMP && p.ICMP.Type == typ && p.Quote != nil &&
			p.Quote.ICMP.ID == id && p.Quote.ICMP.Seq == seq
	}
}

// lockedBuf is a goroutine-safe output buffer for commands.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
