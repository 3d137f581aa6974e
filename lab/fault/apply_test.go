package fault

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/tshark"
	"github.com/echolot/echolot/packet"
)

// allKinds builds the six transport/version combinations.
func allKinds(t *testing.T, data []byte) map[string][]byte {
	return map[string][]byte{
		"icmp":  frameOf(t, echo4(data)),
		"icmp6": frameOf(t, echo6(data)),
		"udp4":  frameOf(t, udp(false, data)),
		"udp6":  frameOf(t, udp(true, data)),
		"tcp4":  frameOf(t, tcp(false, data)),
		"tcp6":  frameOf(t, tcp(true, data)),
	}
}

func TestApplyNoRules(t *testing.T) {
	f := frameOf(t, echo4(payload(56)))
	for _, s := range []*RuleSet{nil, {}, rules(t, "drop dir=to-client", "tos 1 proto=udp")} {
		out := s.Apply(f, ToServer, nil, nil)
		if len(out) != 1 || &out[0].Frame[0] != &f[0] || len(out[0].Frame) != len(f) || out[0].Delay != 0 {
			t.Errorf("rules %v: output %v is not the frame itself", s.Status(), out)
		}
	}
}

func TestApplySkipsNonIPAndNDP(t *testing.T) {
	all := []string{"drop", "corrupt offset=0 byte=0 from=ip", "delay 1s", "tos 0xff", "truncate 20"}
	arp := append(ethHeader(0x0806), 0, 1, 8, 0, 6, 4, 0, 1, 2, 0xec, 0, 0, 0, 1, 198, 18, 2, 1, 0, 0, 0, 0, 0, 0, 198, 18, 2, 2)
	ndp := func(typ uint8) []byte {
		p := echo6(make([]byte, 16))
		p.IPv6.HopLimit = 255
		p.IPv6.Dst = netip.MustParseAddr("ff02::1:ff00:2")
		p.ICMP.Type = typ
		return frameOf(t, p)
	}
	frames := map[string][]byte{"arp": arp, "ns": ndp(135), "na": ndp(136), "rs": ndp(133), "ra": ndp(134), "redirect": ndp(137), "mld2": ndp(143), "mld query": ndp(130)}
	for _, proto := range []string{"", " proto=icmp6", " proto=any"} {
		var texts []string
		for _, r := range all {
			texts = append(texts, r+proto)
		}
		s := rules(t, texts...)
		for name, f := range frames {
			orig := bytes.Clone(f)
			out := s.Apply(f, ToServer, nil, nil)
			if len(out) != 1 || !bytes.Equal(out[0].Frame, orig) || out[0].Delay != 0 {
				t.Errorf("%s with rules%s: %v, want it untouched", name, proto, out)
			}
		}
		for _, st := range s.Status() {
			if st.Seen != 0 {
				t.Errorf("rule %v saw %d frames", st.Rule, st.Seen)
			}
		}
		// The echo request is not spared.
		if out := s.Apply(frameOf(t, echo6(payload(8))), ToServer, nil, nil); len(out) != 0 {
			t.Errorf("echo6 with rules%s: %v, want it dropped", proto, out)
		}
	}
}

func TestApplyFilters(t *testing.T) {
	f := allKinds(t, payload(40))
	for _, tc := range []struct {
		rule    string
		dir     Direction
		dropped []string
	}{
		{"drop", ToServer, []string{"icmp", "icmp6", "udp4", "udp6", "tcp4", "tcp6"}},
		{"drop dir=to-server", ToServer, []string{"icmp", "icmp6", "udp4", "udp6", "tcp4", "tcp6"}},
		{"drop dir=to-server", ToClient, nil},
		{"drop dir=to-client", ToClient, []string{"icmp", "icmp6", "udp4", "udp6", "tcp4", "tcp6"}},
		{"drop proto=icmp", ToServer, []string{"icmp"}},
		{"drop proto=icmp6", ToClient, []string{"icmp6"}},
		{"drop proto=udp", ToServer, []string{"udp4", "udp6"}},
		{"drop proto=tcp dir=to-client", ToClient, []string{"tcp4", "tcp6"}},
	} {
		s := rules(t, tc.rule)
		var got []string
		for _, name := range []string{"icmp", "icmp6", "udp4", "udp6", "tcp4", "tcp6"} {
			if len(s.Apply(bytes.Clone(f[name]), tc.dir, nil, nil)) == 0 {
				got = append(got, name)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.dropped) {
			t.Errorf("%q %v dropped %v, want %v", tc.rule, tc.dir, got, tc.dropped)
		}
		st := s.Status()[0]
		if st.Seen != uint64(len(tc.dropped)) || st.Matched != st.Seen {
			t.Errorf("%q: seen %d matched %d, want %d", tc.rule, st.Seen, st.Matched, len(tc.dropped))
		}
	}
}

func TestApplyDropPattern(t *testing.T) {
	data := bytes.Repeat([]byte{0x5a}, 56)
	copy(data[16:], []byte{0xa5, 0xa5, 0xa5, 0xa5})
	for name, f := range allKinds(t, data) {
		for _, tc := range []struct {
			rule string
			drop bool
		}{
			{"drop pattern=a5a5", true},
			{"drop pattern=a5a5a5a5a5", false},
			{"drop pattern=a5a5 offset=16", true},
			{"drop pattern=a5a5 offset=18", true},
			{"drop pattern=a5a5 offset=19", false},
			{"drop pattern=a5a5 offset=15", false},
			{"drop pattern=5a5a5a offset=53", true},
			{"drop pattern=5a5a5a offset=54", false}, // runs past the end
			{"drop pattern=5a offset=56", false},
			{"drop pattern=a5a5 offset=1000", false},
			{"drop pattern=ffff", false},
		} {
			out := apply(t, f, ToServer, tc.rule)
			if (len(out) == 0) != tc.drop {
				t.Errorf("%s, %q: dropped %v, want %v", name, tc.rule, len(out) == 0, tc.drop)
			}
		}
	}
	// from=ip counts from the IP header: the echo data starts at 28.
	f := frameOf(t, echo4(data))
	if out := apply(t, f, ToServer, "drop pattern=a5a5 offset=44 from=ip"); len(out) != 0 {
		t.Error("from=ip offset 44 did not drop")
	}
	if out := apply(t, f, ToServer, "drop pattern=4500 offset=0 from=ip"); len(out) != 0 {
		t.Error("from=ip offset 0 did not find the IPv4 header")
	}
	if out := apply(t, f, ToServer, "drop pattern=4500"); len(out) != 1 {
		t.Error("the payload region included the IP header")
	}
	// Counters: seen counts frames reaching the rule, matched the drops.
	s := rules(t, "drop pattern=a5a5", "tos 1")
	s.Apply(bytes.Clone(f), ToServer, nil, nil)
	s.Apply(frameOf(t, echo4(payload(10))), ToServer, nil, nil)
	st := s.Status()
	if st[0].Seen != 2 || st[0].Matched != 1 || st[1].Seen != 1 || st[1].Matched != 1 {
		t.Errorf("counters %+v", st)
	}
}

func TestApplyCorruptOps(t *testing.T) {
	data := payload(64) // byte i holds i
	for name, f := range allKinds(t, data) {
		for _, tc := range []struct {
			rule string
			want byte // the new value of payload byte 33 (0x21)
		}{
			{"corrupt offset=33 flip=0x01", 0x20},
			{"corrupt offset=33 flip=0xff", 0xde},
			{"corrupt offset=33 set=0x80", 0xa1},
			{"corrupt offset=33 clear=0x21", 0x00},
			{"corrupt offset=33 byte=0x7e", 0x7e},
			{"corrupt offset=33 byte=0x21", 0x21}, // no change: still matched
		} {
			s := rules(t, tc.rule)
			out := s.Apply(bytes.Clone(f), ToClient, nil, nil)
			if len(out) != 1 {
				t.Fatalf("%s %q: %d outputs", name, tc.rule, len(out))
			}
			p := checkGood(t, out[0].Frame, name+" "+tc.rule)
			want := bytes.Clone(data)
			want[33] = tc.want
			if !bytes.Equal(p.Payload, want) {
				t.Errorf("%s %q: payload %x, want %x", name, tc.rule, p.Payload, want)
			}
			if st := s.Status()[0]; st.Matched != 1 {
				t.Errorf("%s %q: matched %d", name, tc.rule, st.Matched)
			}
			// With bad-checksum the same bytes change and the transport
			// checksum is left as it was.
			bad := one(t, f, ToClient, tc.rule+" bad-checksum")
			pb := parseIP(t, bad)
			if !bytes.Equal(pb.Payload, want) || pb.BadIPChecksum || pb.BadTransportChecksum != (tc.want != 0x21) {
				t.Errorf("%s %q bad-checksum: payload %x, bad transport %v", name, tc.rule, pb.Payload, pb.BadTransportChecksum)
			}
		}
		// Beyond the payload: untouched, not matched.
		s := rules(t, "corrupt offset=64 flip=1")
		out := s.Apply(bytes.Clone(f), ToClient, nil, nil)
		if !bytes.Equal(out[0].Frame, f) || s.Status()[0].Matched != 0 || s.Status()[0].Seen != 1 {
			t.Errorf("%s: corrupt past the end changed the frame or counted", name)
		}
	}
}

func TestApplyCorruptHandDerived(t *testing.T) {
	// An ICMP echo request with 8 zero data bytes, built by hand:
	// type 8, code 0, id 0x1234, seq 1. Its checksum is
	// ~(0x0800 + 0x1234 + 0x0001) = ~0x1a35 = 0xe5ca.
	f := frameOf(t, echo4(make([]byte, 8)))
	if cs := binary.BigEndian.Uint16(f[14+20+2:]); cs != 0xe5ca {
		t.Fatalf("echo checksum %#04x, want 0xe5ca", cs)
	}
	// Flipping bit 0x01 of data byte 3 (ICMP offset 11, the low byte of
	// the word at 10) adds 0x0001 to the sum: ~0x1a36 = 0xe5c9.
	g := one(t, f, ToServer, "corrupt offset=3 flip=0x01")
	if g[14+28+3] != 0x01 || binary.BigEndian.Uint16(g[14+20+2:]) != 0xe5c9 {
		t.Errorf("after flip: data %x, checksum %#04x, want 0xe5c9", g[14+28:], binary.BigEndian.Uint16(g[14+20+2:]))
	}
	// Setting data byte 0 (the high byte of the word at ICMP offset 8) to
	// 0xff adds 0xff00: 0x1a35 + 0xff00 = 0x11935 → 0x1936, ~ = 0xe6c9.
	g = one(t, f, ToServer, "corrupt offset=0 byte=0xff")
	if binary.BigEndian.Uint16(g[14+20+2:]) != 0xe6c9 {
		t.Errorf("after byte=0xff: checksum %#04x, want 0xe6c9", binary.BigEndian.Uint16(g[14+20+2:]))
	}
	// The IPv4 header checksum is untouched by payload changes.
	if !bytes.Equal(g[14:34], f[14:34]) {
		t.Error("payload corruption changed the IP header")
	}
}

func TestApplyCorruptHeaders(t *testing.T) {
	// from=ip reaches the headers: the IPv4 header checksum follows, and
	// an address change also fixes the transport checksum through the
	// pseudo-header.
	for _, tc := range []struct {
		name, rule string
		f          []byte
		check      func(p *packet.Packet) bool
	}{
		{"v4 ttl byte", "corrupt offset=8 byte=3 from=ip", frameOf(t, udp(false, payload(9))), func(p *packet.Packet) bool { return p.IPv4.TTL == 3 }},
		{"v4 id", "corrupt offset=5 flip=0xff from=ip", frameOf(t, echo4(payload(9))), func(p *packet.Packet) bool { return p.IPv4.ID == 0x42bd }},
		{"v4 src (udp pseudo)", "corrupt offset=15 byte=9 from=ip", frameOf(t, udp(false, payload(9))), func(p *packet.Packet) bool { return p.IPv4.Src == netip.MustParseAddr("198.18.1.9") }},
		{"v4 dst (tcp pseudo)", "corrupt offset=16 byte=10 from=ip", frameOf(t, tcp(false, payload(9))), func(p *packet.Packet) bool { return p.IPv4.Dst == netip.MustParseAddr("10.18.3.2") }},
		{"v4 dst (icmp, no pseudo)", "corrupt offset=19 byte=1 from=ip", frameOf(t, echo4(payload(9))), func(p *packet.Packet) bool { return p.IPv4.Dst == netip.MustParseAddr("198.18.3.1") }},
		{"v6 src (icmp6 pseudo)", "corrupt offset=9 byte=0xff from=ip", frameOf(t, echo6(payload(9))), func(p *packet.Packet) bool { return p.IPv6.Src == netip.MustParseAddr("20ff:db8:1::2") }},
		{"v6 dst odd byte", "corrupt offset=39 byte=0x77 from=ip", frameOf(t, udp(true, payload(9))), func(p *packet.Packet) bool { return p.IPv6.Dst == netip.MustParseAddr("2001:db8:3::77") }},
		{"icmp type", "corrupt offset=20 byte=0 from=ip", frameOf(t, echo4(payload(9))), func(p *packet.Packet) bool { return p.ICMP.Type == 0 }},
		{"udp port", "corrupt offset=40 byte=1 from=ip", frameOf(t, udp(true, payload(9))), func(p *packet.Packet) bool { return p.UDP.SrcPort == 0x0140 }},
	} {
		p := checkGood(t, one(t, tc.f, ToServer, tc.rule), tc.name)
		if !tc.check(p) {
			t.Errorf("%s: change not made:\n%s", tc.name, p.Show())
		}
	}
	// Corrupting a checksum field itself leaves it corrupted.
	f := frameOf(t, echo4(payload(9)))
	g := one(t, f, ToServer, "corrupt offset=10 flip=0x01 from=ip")
	if p := parseIP(t, g); !p.BadIPChecksum || p.BadTransportChecksum {
		t.Errorf("IP checksum field corruption: bad IP %v, bad ICMP %v", p.BadIPChecksum, p.BadTransportChecksum)
	}
	g = one(t, f, ToServer, "corrupt offset=22 flip=0x01 from=ip")
	if p := parseIP(t, g); p.BadIPChecksum || !p.BadTransportChecksum {
		t.Errorf("ICMP checksum field corruption: bad IP %v, bad ICMP %v", p.BadIPChecksum, p.BadTransportChecksum)
	}
	// With bad-checksum a header change leaves the header checksum wrong.
	g = one(t, f, ToServer, "corrupt offset=8 byte=1 from=ip bad-checksum")
	if p := parseIP(t, g); !p.BadIPChecksum || p.BadTransportChecksum {
		t.Errorf("bad-checksum header change: bad IP %v, bad ICMP %v", p.BadIPChecksum, p.BadTransportChecksum)
	}
	// A corrupted version nibble ends the frame's way through the rules:
	// it is no longer IP.
	s := rules(t, "corrupt offset=0 byte=0x75 from=ip", "drop")
	out := s.Apply(bytes.Clone(f), ToServer, nil, nil)
	if len(out) != 1 || out[0].Frame[14] != 0x75 || s.Status()[1].Seen != 0 {
		t.Errorf("after version corruption: %v, %+v", out, s.Status())
	}
}

func TestApplyUDPZeroChecksum(t *testing.T) {
	// Over IPv4 a zero UDP checksum means none: it stays zero.
	p := udp(false, payload(20))
	p.UDP.FixedChecksum, p.UDP.Checksum = true, 0
	g := one(t, frameOf(t, p), ToServer, "corrupt offset=3 flip=0x10")
	q := parseIP(t, g)
	if q.UDP.Checksum != 0 || q.BadTransportChecksum || q.Payload[3] != 0x13 {
		t.Errorf("zero UDP checksum: %#04x, payload %x", q.UDP.Checksum, q.Payload)
	}
	// A UDP checksum that becomes zero is sent as all ones (RFC 768).
	// Find a byte value that makes the computed checksum zero.
	f := frameOf(t, udp(false, make([]byte, 2)))
	cs := binary.BigEndian.Uint16(f[14+20+6:])
	// Adding w to the data's sum changes the checksum to ~(~cs + w); it
	// is 0 (written 0xffff) when ~cs + w = 0xffff, i.e. w = cs.
	w := cs
	g = one(t, f, ToServer, fmt.Sprintf("corrupt offset=0 byte=%d", w>>8), fmt.Sprintf("corrupt offset=1 byte=%d", w&0xff))
	q = parseIP(t, g)
	if q.UDP.Checksum != 0xffff || q.BadTransportChecksum {
		t.Errorf("UDP checksum %#04x after making the sum zero, want 0xffff", q.UDP.Checksum)
	}
}

func TestApplyFirstFragment(t *testing.T) {
	// The checksum of a first fragment covers the whole datagram; an
	// incremental update keeps it consistent: the result equals what the
	// builder computes for the same bytes (both are sums over the same
	// words, whatever the rest of the datagram holds).
	p := udp(false, payload(32))
	p.IPv4.MF = true
	f := frameOf(t, p)
	g := one(t, f, ToServer, "corrupt offset=5 byte=0xaa")
	p.Payload = bytes.Clone(p.Payload)
	p.Payload[5] = 0xaa
	want := frameOf(t, p)
	if !bytes.Equal(g, want) {
		t.Errorf("first fragment:\n got %x\nwant %x", g, want)
	}
	// A later fragment has no transport header: offsets count from the
	// end of the IP header, and nothing but the IP header checksum is
	// fixed.
	p = udp(false, nil)
	p.Transport, p.IPv4.Protocol, p.IPv4.FragOffset, p.Payload = packet.NoTransport, 17, 10, payload(24)
	f = frameOf(t, p)
	g = one(t, f, ToServer, "corrupt offset=2 byte=0xaa proto=udp", "ttl 9")
	if g[14+20+2] != 0xaa || g[14+8] != 9 || parseIP(t, g).BadIPChecksum {
		t.Errorf("later fragment: %x", g)
	}
}

func TestApplyBER(t *testing.T) {
	data := make([]byte, 1400)
	f := frameOf(t, echo4(data))
	// ber=1 flips every bit of the region.
	g := one(t, f, ToServer, "corrupt ber=1 offset=10 len=4")
	p := checkGood(t, g, "ber=1")
	want := make([]byte, 1400)
	copy(want[10:], []byte{0xff, 0xff, 0xff, 0xff})
	if !bytes.Equal(p.Payload, want) {
		t.Errorf("ber=1 len=4: %x", p.Payload[:20])
	}
	// ber=0.01 over 11200 bits: the number of flips is binomial(11200,
	// 0.01), mean 112, sd 10.5; check a 99.9% interval over frames and
	// that checksums stay right.
	s := rules(t, "corrupt ber=0.01")
	rng := rand.New(rand.NewPCG(3, 4))
	total := 0
	const frames = 50
	for i := range frames {
		out := s.Apply(bytes.Clone(f), ToServer, rng, nil)
		q := checkGood(t, out[0].Frame, "ber=0.01")
		n := 0
		for _, b := range q.Payload {
			n += bits.OnesCount8(b)
		}
		lo, hi := binomialInterval(11200, 0.01, 0.999)
		if n < lo || n > hi {
			t.Errorf("frame %d: %d bits flipped, want %d–%d", i, n, lo, hi)
		}
		total += n
	}
	if st := s.Status()[0]; st.Matched != frames {
		t.Errorf("matched %d, want %d", st.Matched, frames)
	}
	// A tiny rate over a small region flips nothing in most frames; those
	// do not count as matched.
	s = rules(t, "corrupt ber=0.0001 len=1")
	for range 100 {
		s.Apply(bytes.Clone(f), ToServer, rng, nil)
	}
	if st := s.Status()[0]; st.Seen != 100 || st.Matched > 5 {
		t.Errorf("ber=0.0001 len=1: %+v", st)
	}
}

// binomialInterval returns [lo, hi] such that a binomial(n, p) count falls
// below lo or above hi with probability at most (1−conf)/2 each, computed
// from the exact distribution.
func binomialInterval(n int, p, conf float64) (lo, hi int) {
	tail := (1 - conf) / 2
	pmf := func(k int) float64 {
		lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
		return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	cum := 0.0
	for lo = 0; lo <= n; lo++ {
		if cum+pmf(lo) > tail {
			break
		}
		cum += pmf(lo)
	}
	cum = 0
	for hi = n; hi >= 0; hi-- {
		if cum+pmf(hi) > tail {
			break
		}
		cum += pmf(hi)
	}
	return lo, hi
}

func TestBinomialInterval(t *testing.T) {
	// Normal approximation check: n=400, p=0.2: mean 80, sd 8, z(0.9995)
	// = 3.29, so about 54–106.
	lo, hi := binomialInterval(400, 0.2, 0.999)
	if lo < 52 || lo > 56 || hi < 104 || hi > 108 {
		t.Errorf("binomialInterval(400, 0.2) = %d–%d, want about 54–106", lo, hi)
	}
}

func TestApplyLossAndProb(t *testing.T) {
	f := frameOf(t, echo4(payload(56)))
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 10000
	for _, tc := range []struct {
		rule string
		p    float64
	}{
		{"loss 0.3", 0.3},
		{"loss 1%", 0.01},
		{"drop prob=0.5", 0.5},
		{"drop pattern=0001 prob=0.25", 0.25},
	} {
		s := rules(t, tc.rule)
		dropped := 0
		buf := make([]Output, 0, 1)
		for range n {
			if len(s.Apply(f, ToServer, rng, buf)) == 0 {
				dropped++
			}
		}
		lo, hi := binomialInterval(n, tc.p, 0.999)
		if dropped < lo || dropped > hi {
			t.Errorf("%q: %d of %d dropped, want %d–%d", tc.rule, dropped, n, lo, hi)
		}
		if st := s.Status()[0]; st.Seen != n || st.Matched != uint64(dropped) {
			t.Errorf("%q: counters %+v, dropped %d", tc.rule, st, dropped)
		}
	}
	// loss 1 drops everything; prob on a changing rule.
	if out := apply(t, f, ToServer, "loss 1"); len(out) != 0 {
		t.Error("loss 1 let a frame through")
	}
	s := rules(t, "tos 0x04 prob=0.5")
	changed := 0
	for range 1000 {
		if s.Apply(bytes.Clone(f), ToServer, rng, nil)[0].Frame[15] == 4 {
			changed++
		}
	}
	if lo, hi := binomialInterval(1000, 0.5, 0.999); changed < lo || changed > hi {
		t.Errorf("tos prob=0.5 changed %d of 1000", changed)
	}
}

func TestApplyDuplicateDelay(t *testing.T) {
	f := frameOf(t, echo4(payload(56)))
	out := apply(t, f, ToClient, "duplicate 2")
	if len(out) != 3 {
		t.Fatalf("duplicate 2: %d outputs", len(out))
	}
	for _, o := range out {
		if !bytes.Equal(o.Frame, f) || o.Delay != 0 {
			t.Errorf("copy %v differs", o)
		}
	}
	out = apply(t, f, ToClient, "delay 20ms")
	if len(out) != 1 || out[0].Delay != 20*time.Millisecond {
		t.Errorf("delay 20ms: %v", out)
	}
	// Delays add, copies add, jitter is drawn per copy in [D, D+J].
	s := rules(t, "delay 20ms jitter=5ms", "duplicate", "delay 1ms", "duplicate 2 dir=to-server", "corrupt offset=0 flip=1")
	rng := rand.New(rand.NewPCG(7, 8))
	var seen = map[time.Duration]bool{}
	for range 200 {
		out := s.Apply(bytes.Clone(f), ToClient, rng, nil)
		if len(out) != 2 {
			t.Fatalf("%d outputs, want 2", len(out))
		}
		for _, o := range out {
			if o.Delay < 21*time.Millisecond || o.Delay > 26*time.Millisecond {
				t.Errorf("delay %v outside 21–26ms", o.Delay)
			}
			seen[o.Delay] = true
			if o.Frame[14+28] != 1 {
				t.Error("copy not corrupted")
			}
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct delays in 400 draws", len(seen))
	}
}

func TestApplyTOS(t *testing.T) {
	for _, tc := range []struct {
		rule      string
		from, out uint8
	}{
		{"tos 0x28", 0x00, 0x28},
		{"tos 0", 0xff, 0x00},
		{"dscp 46", 0x01, 0xb9},
		{"dscp 0", 0xfe, 0x02},
		{"ecn ce", 0xb8, 0xbb},
		{"ecn not-ect", 0xbb, 0xb8},
		{"ecn ect1", 0x00, 0x01},
	} {
		p := echo4(payload(20))
		p.IPv4.TOS = tc.from
		g := one(t, frameOf(t, p), ToServer, tc.rule)
		if q := checkGood(t, g, tc.rule); q.IPv4.TOS != tc.out {
			t.Errorf("v4 %q on %#02x: %#02x, want %#02x", tc.rule, tc.from, q.IPv4.TOS, tc.out)
		}
		// Hand check: only byte 1 and the header checksum change.
		f := frameOf(t, p)
		for i := range g {
			if g[i] != f[i] && i != 15 && i != 24 && i != 25 {
				t.Errorf("%q changed byte %d", tc.rule, i)
			}
		}
		if p.Version = 6; true {
			p = echo6(payload(20))
			p.IPv6.TrafficClass = tc.from
			g = one(t, frameOf(t, p), ToServer, tc.rule)
			q := checkGood(t, g, tc.rule+" v6")
			if q.IPv6.TrafficClass != tc.out || q.IPv6.FlowLabel != 0x12345 || q.Version != 6 {
				t.Errorf("v6 %q on %#02x: tc %#02x flow %#x, want %#02x", tc.rule, tc.from, q.IPv6.TrafficClass, q.IPv6.FlowLabel, tc.out)
			}
		}
	}
	// bad-checksum: the IPv4 header checksum is left wrong.
	g := one(t, frameOf(t, echo4(nil)), ToServer, "tos 0x28 bad-checksum")
	if p := parseIP(t, g); !p.BadIPChecksum || p.IPv4.TOS != 0x28 {
		t.Error("tos bad-checksum left the header checksum right")
	}
}

func TestApplyTTL(t *testing.T) {
	for _, tc := range []struct {
		rule     string
		from, to uint8
	}{
		{"ttl 5", 64, 5},
		{"ttl 0", 64, 0},
		{"ttl 255", 1, 255},
		{"ttl -1", 64, 63},
		{"ttl -10", 3, 0},
		{"ttl -255", 255, 0},
	} {
		for _, v6 := range []bool{false, true} {
			p := udp(v6, payload(10))
			p.IPv4.TTL, p.IPv6.HopLimit = tc.from, tc.from
			q := checkGood(t, one(t, frameOf(t, p), ToServer, tc.rule), tc.rule)
			if q.TTL() != tc.to {
				t.Errorf("%q on %d (v6 %v): %d, want %d", tc.rule, tc.from, v6, q.TTL(), tc.to)
			}
		}
	}
}

func TestApplyStripOptions(t *testing.T) {
	// Stripping the options of a datagram gives exactly the datagram built
	// without them.
	for _, opts := range [][]packet.Option{
		{&packet.RecordRoute{}},
		{&packet.Timestamp{Flag: packet.TSOnly, Slots: 2}, packet.NOP{}},
		{packet.RouterAlert{}},
		{&packet.RecordRoute{Slots: 1}}, // 7 bytes, padded to 8
	} {
		for _, mk := range []func() *packet.Packet{
			func() *packet.Packet { return echo4(payload(56)) },
			func() *packet.Packet { return udp(false, payload(30)) },
			func() *packet.Packet { return tcp(false, payload(30)) },
		} {
			plain := mk()
			with := mk()
			with.IPv4.Options = opts
			f := frameOf(t, with)
			s := rules(t, "strip-options")
			out := s.Apply(bytes.Clone(f), ToServer, nil, nil)
			want := frameOf(t, plain)
			if len(out) != 1 || !bytes.Equal(out[0].Frame, want) {
				t.Errorf("strip %v from %v:\n got %x\nwant %x", opts, plain.Transport, out[0].Frame, want)
			}
			if st := s.Status()[0]; st.Matched != 1 {
				t.Errorf("matched %d", st.Matched)
			}
			// bad-checksum: the header shrinks, its checksum stays.
			g := one(t, f, ToServer, "strip-options bad-checksum")
			if q := parseIP(t, g); !q.BadIPChecksum || q.BadTransportChecksum || q.IPv4.HeaderLen != 20 || len(q.IPv4.Options) != 0 {
				t.Errorf("strip bad-checksum: %s", q.Show())
			}
		}
	}
	// Nothing to strip: not matched; IPv6: not matched.
	s := rules(t, "strip-options")
	s.Apply(frameOf(t, echo4(nil)), ToServer, nil, nil)
	s.Apply(frameOf(t, echo6(nil)), ToServer, nil, nil)
	if st := s.Status()[0]; st.Seen != 2 || st.Matched != 0 {
		t.Errorf("strip without options: %+v", st)
	}
}

func TestApplyStripSourceRoute(t *testing.T) {
	// A UDP datagram from the client to the server, loosely source-routed
	// through r2: the header's destination is r2, the option's last
	// address is the server, and the sender computed the UDP checksum
	// with the server as destination (RFC 9293 §3.1, RFC 768).
	final := udp(false, payload(12)) // cli4 → srv4, checksum over srv4
	wantSum := parseIP(t, frameOf(t, final)).UDP.Checksum
	routed := udp(false, payload(12))
	routed.IPv4.Dst = r2v4
	routed.IPv4.Options = []packet.Option{&packet.SourceRoute{Route: []netip.Addr{srv4}}}
	routed.UDP.FixedChecksum, routed.UDP.Checksum = true, wantSum
	f := frameOf(t, routed)
	// Stripped, it is a datagram to r2, whose checksum must cover r2.
	g := one(t, f, ToServer, "strip-options")
	want := udp(false, payload(12))
	want.IPv4.Dst = r2v4
	if w := frameOf(t, want); !bytes.Equal(g, w) {
		t.Errorf("stripped source route:\n got %x\nwant %x", g, w)
	}
	// An exhausted route (pointer past the end) needs no adjustment.
	routed.IPv4.Options = []packet.Option{&packet.SourceRoute{Route: []netip.Addr{srv4}, Pointer: 8}}
	routed.UDP.FixedChecksum = false
	routed.IPv4.Dst = srv4
	g = one(t, frameOf(t, routed), ToServer, "strip-options")
	if w := frameOf(t, final); !bytes.Equal(g, w) {
		t.Errorf("stripped exhausted route:\n got %x\nwant %x", g, w)
	}
	for _, tc := range []struct {
		opt  []byte
		want bool
	}{
		{[]byte{1, 1, 131, 7, 4, 1, 2, 3, 4, 0}, true},
		{[]byte{137, 11, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0}, true},
		{[]byte{131, 7, 8, 1, 2, 3, 4, 0}, false}, // exhausted
		{[]byte{0, 131, 7, 4, 1, 2, 3, 4}, false}, // after EOL
		{[]byte{7, 7, 4, 0, 0, 0, 0, 0}, false},   // record route
		{[]byte{131, 1}, false},                   // bad length
		{[]byte{131, 9, 4, 1, 2, 3, 4}, false},    // longer than the area
		{[]byte{131}, false},
	} {
		if got := sourceRouteFinal(tc.opt) != nil; got != tc.want {
			t.Errorf("sourceRouteFinal(%x) found %v, want %v", tc.opt, got, tc.want)
		}
	}
}

func TestApplyTruncate(t *testing.T) {
	// Truncating with lengths fixed gives exactly the datagram built with
	// the shorter payload.
	for _, tc := range []struct {
		name string
		mk   func(data []byte) *packet.Packet
		hdr  int // IP + transport header bytes
	}{
		{"icmp", echo4, 28},
		{"icmp6", echo6, 48},
		{"udp4", func(d []byte) *packet.Packet { return udp(false, d) }, 28},
		{"udp6", func(d []byte) *packet.Packet { return udp(true, d) }, 48},
		{"tcp4", func(d []byte) *packet.Packet { return tcp(false, d) }, 52},
		{"tcp6", func(d []byte) *packet.Packet { return tcp(true, d) }, 72},
	} {
		data := payload(100)
		f := frameOf(t, tc.mk(data))
		n := tc.hdr + 33
		g := one(t, f, ToServer, fmt.Sprintf("truncate %d", n))
		if w := frameOf(t, tc.mk(data[:33])); !bytes.Equal(g, w) {
			t.Errorf("%s truncate %d:\n got %x\nwant %x", tc.name, n, g, w)
		}
		// keep-length: the bytes are cut, the lengths still claim 100.
		g = one(t, f, ToServer, fmt.Sprintf("truncate %d keep-length", n))
		if len(g) != 14+n || !bytes.Equal(g, f[:14+n]) || !parseIP(t, g).Truncated {
			t.Errorf("%s keep-length: %x", tc.name, g)
		}
		// bad-checksum: lengths fixed, checksums left.
		g = one(t, f, ToServer, fmt.Sprintf("truncate %d bad-checksum", n))
		if p := parseIP(t, g); p.Truncated || !p.BadTransportChecksum || p.BadIPChecksum != (p.Version == 4) {
			t.Errorf("%s truncate bad-checksum: truncated %v bad transport %v bad ip %v", tc.name, p.Truncated, p.BadTransportChecksum, p.BadIPChecksum)
		}
		// Into the transport header.
		g = one(t, f, ToServer, fmt.Sprintf("truncate %d", tc.hdr-4))
		if p := parseIP(t, g); len(g) != 14+tc.hdr-4 || p.BadIPChecksum {
			t.Errorf("%s truncate into the header: %x", tc.name, g)
		}
	}
	// Not longer than the datagram, not shorter than the IP header: the
	// plain echo (84 bytes) is cut by the second rule only, the one with
	// a 40-byte option area (124 bytes) by the first only.
	s := rules(t, "truncate 84", "truncate 40")
	f := frameOf(t, echo4(payload(56)))
	s.Apply(bytes.Clone(f), ToServer, nil, nil)
	p := echo4(payload(56))
	p.IPv4.Options = []packet.Option{&packet.RecordRoute{}}
	s.Apply(frameOf(t, p), ToServer, nil, nil)
	if st := s.Status(); st[0].Matched != 1 || st[1].Matched != 1 || st[1].Seen != 2 {
		t.Errorf("truncate bounds: %+v", st)
	}
	if out := apply(t, frameOf(t, echo6(nil)), ToServer, "truncate 39"); len(out[0].Frame) != 14+48 {
		t.Error("truncated an IPv6 header")
	}
}

func TestApplyRuleOrder(t *testing.T) {
	// A later rule sees what an earlier one changed.
	f := frameOf(t, echo4(make([]byte, 32)))
	if out := apply(t, f, ToServer, "corrupt offset=20 byte=0xa5", "drop pattern=a5"); len(out) != 0 {
		t.Error("drop did not see the corrupted byte")
	}
	if out := apply(t, f, ToServer, "drop pattern=a5", "corrupt offset=20 byte=0xa5"); len(out) != 1 {
		t.Error("drop saw a later change")
	}
	// After truncation offsets beyond the new end do not apply.
	out := apply(t, f, ToServer, "truncate 40", "corrupt offset=20 byte=1")
	if len(out[0].Frame) != 54 {
		t.Errorf("len %d", len(out[0].Frame))
	}
	checkGood(t, out[0].Frame, "truncate then corrupt")
}

func TestApplyPadding(t *testing.T) {
	// Link padding after the datagram is neither searched nor corrupted,
	// and truncation drops it.
	f := append(frameOf(t, echo4(make([]byte, 4))), 0xa5, 0xa5, 0xa5, 0xa5)
	if out := apply(t, f, ToServer, "drop pattern=a5a5"); len(out) != 1 {
		t.Error("pattern found in the padding")
	}
	if out := apply(t, f, ToServer, "corrupt offset=5 flip=1"); !bytes.Equal(out[0].Frame, f) {
		t.Error("corrupted the padding")
	}
	if out := apply(t, f, ToServer, "truncate 30"); len(out[0].Frame) != 44 {
		t.Errorf("truncate kept %d bytes", len(out[0].Frame))
	}
	g := one(t, f, ToServer, "corrupt offset=1 byte=7")
	checkGood(t, g, "padded")
}

func TestApplyFunc(t *testing.T) {
	f := frameOf(t, echo4(payload(8)))
	out, err := Apply(f, ToServer, []Rule{{Kind: TTL, Value: 9}}, nil)
	if err != nil || len(out) != 1 || out[0].Frame[22] != 9 {
		t.Errorf("Apply: %v, %v", out, err)
	}
	if _, err := Apply(f, ToServer, []Rule{{Kind: TTL, Decrement: true}}, nil); err == nil {
		t.Error("Apply accepted an invalid rule")
	}
}

func TestApplyNoAlloc(t *testing.T) {
	f := frameOf(t, echo4(payload(56)))
	rng := rand.New(rand.NewPCG(1, 1))
	out := make([]Output, 0, 8)
	for _, tc := range []struct {
		name  string
		rules *RuleSet
	}{
		{"none", rules(t)},
		{"no match", rules(t, "drop proto=udp", "corrupt offset=1 flip=1 dir=to-client", "drop pattern=ffff", "delay 1ms proto=tcp")},
		{"changing", rules(t, "tos 0x28", "ttl -1", "corrupt offset=30 flip=0x01", "corrupt ber=0.001", "duplicate")},
		{"delay", rules(t, "delay 1ms jitter=1ms")},
	} {
		if n := testing.AllocsPerRun(200, func() { out = tc.rules.Apply(f, ToServer, rng, out) }); n != 0 {
			t.Errorf("%s: %v allocations per frame", tc.name, n)
		}
	}
}

func TestApplyTshark(t *testing.T) {
	// tshark is the independent judge of the checksums after each kind of
	// change, for every transport and both IP versions.
	type judged struct {
		what string
		f    []byte
		good bool
	}
	var cases []judged
	for name, f := range allKinds(t, payload(48)) {
		for _, rule := range []string{
			"corrupt offset=5 flip=0x10", "corrupt offset=0 byte=0xaa", "corrupt ber=0.02",
			"tos 0x28", "dscp 46", "ecn ce", "ttl 3", "ttl -1", "truncate 80",
			"corrupt offset=13 byte=1 from=ip", "corrupt offset=21 set=0x40 from=ip",
		} {
			cases = append(cases, judged{name + ": " + rule, one(t, f, ToServer, rule), true})
		}
		cases = append(cases, judged{name + ": bad", one(t, f, ToServer, "corrupt offset=5 flip=0x10 bad-checksum"), false})
	}
	for _, mk := range []func() *packet.Packet{func() *packet.Packet { return echo4(payload(40)) }, func() *packet.Packet { return udp(false, payload(40)) }} {
		p := mk()
		p.IPv4.Options = []packet.Option{&packet.RecordRoute{Slots: 3}}
		cases = append(cases, judged{"strip " + p.Transport.String(), one(t, frameOf(t, p), ToServer, "strip-options"), true})
	}
	var pkts [][]byte
	for _, c := range cases {
		pkts = append(pkts, c.f[ethHeaderLen:])
	}
	rows := tshark.Fields(t, pkts, "ip.checksum.status", "icmp.checksum.status", "icmpv6.checksum.status", "udp.checksum.status", "tcp.checksum.status", "_ws.malformed")
	for i, c := range cases {
		row := rows[i]
		bad := false
		for j, v := range row[:5] {
			if v == "0" {
				bad = true
			}
			if v != "" && v != "0" && v != "1" && v != "2" {
				t.Errorf("%s: field %d = %q", c.what, j, v)
			}
		}
		if row[5] != "" {
			t.Errorf("%s: tshark says malformed", c.what)
		}
		if bad == c.good {
			t.Errorf("%s: tshark checksum statuses %q, want good=%v", c.what, row[:5], c.good)
		}
	}
}
