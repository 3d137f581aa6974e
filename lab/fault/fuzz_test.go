package fault

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/echolot/echolot/packet"
)

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"drop", "drop pattern=a5a5 offset=16 proto=icmp", "loss 10%", "corrupt offset=30 flip=0x01 dir=to-client",
		"corrupt ber=0.001 offset=4 len=9 bad-checksum", "duplicate 3", "delay 20ms jitter=5ms", "tos 0x28",
		"dscp 46 prob=0.5", "ecn ce", "ttl -1", "strip-options", "truncate 60 keep-length", "drop pattern=00 from=ip",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			if _, ok := err.(*RuleError); !ok {
				t.Fatalf("ParseRule(%q) error %T %v, want *RuleError", s, err, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRule(%q) returned an invalid rule: %v", s, err)
		}
		back, err := ParseRule(r.String())
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip of %q via %q: %#v, %v; want %#v", s, r.String(), back, err, r)
		}
	})
}

// fuzzRules are the rules FuzzApply picks from: all keep checksums right
// (no bad-checksum, no header corruption through from=ip).
var fuzzRules = []string{
	"tos 0x28", "dscp 46", "ecn ce", "ttl 3", "ttl -2", "corrupt offset=0 flip=0x01", "corrupt offset=7 byte=0xff",
	"corrupt offset=13 set=0x81", "corrupt offset=2 clear=0xf0", "corrupt ber=0.05", "corrupt ber=0.5 offset=3 len=5",
	"strip-options", "truncate 48", "truncate 60", "truncate 100", "duplicate", "delay 1ms jitter=1ms",
	"drop pattern=a5a5", "loss 0.1", "drop proto=tcp prob=0.5", "corrupt offset=1 flip=0x10 proto=udp dir=to-server",
}

func FuzzApply(f *testing.F) {
	seed := func(p *packet.Packet) []byte { return frameOf(f, p) }
	withOpts := echo4(payload(30))
	withOpts.IPv4.Options = []packet.Option{&packet.RecordRoute{Slots: 3}}
	for _, fr := range [][]byte{
		seed(echo4(payload(56))), seed(echo6(payload(56))), seed(udp(false, payload(20))), seed(udp(true, payload(20))),
		seed(tcp(false, payload(20))), seed(tcp(true, payload(20))), seed(withOpts),
	} {
		f.Add(fr, []byte{0, 5, 12, 13}, uint64(1))
	}
	f.Fuzz(func(t *testing.T, frame, picks []byte, seed uint64) {
		if len(picks) > 8 {
			picks = picks[:8]
		}
		var texts []string
		for _, p := range picks {
			texts = append(texts, fuzzRules[int(p)%len(fuzzRules)])
		}
		s := rules(t, texts...)
		in := bytes.Clone(frame)
		orig := bytes.Clone(frame)
		out := s.Apply(in, Direction(1+seed%2), rand.New(rand.NewPCG(seed, 0)), nil)
		for _, o := range out {
			if len(o.Frame) > len(frame) || o.Delay < 0 {
				t.Fatalf("output of %d bytes (delay %v) from %d", len(o.Frame), o.Delay, len(frame))
			}
		}
		// Frames the rules cannot see come out as they went in.
		v, ok := parseFrame(orig)
		if !ok || v.control {
			if len(out) != 1 || !bytes.Equal(out[0].Frame, orig) {
				t.Fatalf("non-IP or NDP frame changed")
			}
			return
		}
		// A complete, unfragmented datagram whose checksums verify keeps
		// verifying after the rules.
		if len(out) == 0 || !checksumsHold(orig) {
			return
		}
		p, err := packet.Parse(out[0].Frame[ethHeaderLen:])
		if err != nil {
			t.Fatalf("output does not parse: %v", err)
		}
		if !p.Truncated && (p.BadIPChecksum || p.BadTransportChecksum) {
			t.Fatalf("rules %q broke a checksum:\nin  %x\nout %x", texts, orig, out[0].Frame)
		}
	})
}

// checksumsHold reports whether f is a frame for which FuzzApply checks
// that the rules keep checksums right: a complete, unfragmented IPv4 or
// IPv6 datagram with a standard transport, verified by packet.Parse, no
// bytes beyond its length, and no source route (whose checksum covers the
// final destination, not the header's).
func checksumsHold(f []byte) bool {
	v, ok := parseFrame(f)
	if !ok || v.frag || !v.transport || v.end != len(f) {
		return false
	}
	if v.proto == protoUDP && v.pend != v.end {
		return false
	}
	if !v.v6 && sourceRouteFinal(f[v.ip+ipv4HeaderLen:v.l4]) != nil {
		return false
	}
	if v.v6 && binary.BigEndian.Uint16(f[v.ip+4:]) == 0 {
		return false
	}
	p, err := packet.Parse(f[ethHeaderLen:])
	if err != nil || p.Truncated || p.BadIPChecksum || p.BadTransportChecksum || p.TransportBytes != v.end-v.l4 {
		return false
	}
	if p.Transport == packet.TransportTCP && (p.TCP.DataOffset < 20 || v.pl == v.end && p.TCP.DataOffset != v.end-v.l4) {
		return false
	}
	return true
}
