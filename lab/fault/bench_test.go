//go:build linux

package fault

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// BenchmarkApply measures the per-frame path of RuleSet.Apply on a 98-byte
// echo request frame and on a 1514-byte UDP frame.
//
//	go test -run '^$' -bench Apply -benchmem ./lab/fault
func BenchmarkApply(b *testing.B) {
	small := frameOf(b, echo4(payload(56)))
	big := frameOf(b, udp(false, payload(1472)))
	for _, bc := range []struct {
		name  string
		frame []byte
		rules []string
	}{
		{"no-rules", small, nil},
		{"no-match-4-rules", small, []string{"drop proto=udp", "corrupt offset=1 flip=1 dir=to-client", "delay 1ms proto=tcp", "tos 0x28 proto=icmp6"}},
		{"pattern-miss", small, []string{"drop pattern=a5a5a5a5"}},
		{"pattern-miss-1500", big, []string{"drop pattern=a5a5a5a5"}},
		{"4-rules-changing", small, []string{"tos 0x28", "ttl 9", "corrupt offset=30 flip=0x01", "corrupt offset=3 byte=7"}},
		{"ber-0.001-1500", big, []string{"corrupt ber=0.001"}},
		{"duplicate-delay", small, []string{"duplicate 2", "delay 1ms jitter=1ms"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := rules(b, bc.rules...)
			rng := rand.New(rand.NewPCG(1, 2))
			out := make([]Output, 0, 4)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				out = s.Apply(bc.frame, ToServer, rng, out)
			}
		})
	}
}

// BenchmarkNodeRoundTrip measures one frame through a running Node and
// back: written to the client side, forwarded to the server side, echoed
// by the benchmark, forwarded back. The sockets are Unix SOCK_SEQPACKET
// pairs, so this is the node's own cost (two reads, two writes and two
// Apply calls per round trip, plus the benchmark's four syscalls), without
// AF_PACKET or veth.
//
//	go test -run '^$' -bench NodeRoundTrip ./lab/fault
func BenchmarkNodeRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name  string
		rules []string
	}{
		{"no-rules", nil},
		{"no-match-4-rules", []string{"drop proto=udp", "corrupt offset=1 flip=1 dir=to-client proto=tcp", "delay 1ms proto=tcp", "tos 0x28 proto=icmp6"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var cfg Config
			var client, server [2]*os.File
			cfg.Client, client[1] = seqpacketPair(b)
			cfg.Server, server[1] = seqpacketPair(b)
			n := New(cfg)
			for _, r := range bc.rules {
				rr, _ := ParseRule(r)
				n.Add(rr)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- n.Run(ctx) }()
			defer func() { cancel(); <-done }()
			f := frameOf(b, echo4(payload(56)))
			buf := make([]byte, 2048)
			for b.Loop() {
				client[1].Write(f)
				server[1].SetReadDeadline(time.Now().Add(time.Second))
				if _, err := server[1].Read(buf); err != nil {
					b.Fatal(err)
				}
				server[1].Write(f)
				client[1].SetReadDeadline(time.Now().Add(time.Second))
				if _, err := client[1].Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
