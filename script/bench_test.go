package script

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/gctune"
	"github.com/echolot/echolot/lab/labtest"
)

// scapyRate is what Scapy's send() reaches for the same loop on the lab
// path (design.md, "Performance targets"): the target is 100 times it.
const scapyRate = 1600

// benchLua runs src (which loops N times) in a lab's client node once per
// benchmark round and reports packets per second and the ratio to Scapy.
//
//	go test -run '^$' -bench Lua -benchtime 20000x ./script
func benchLua(b *testing.B, src string) {
	gctune.Apply() // as the echolot binary runs
	l := labtest.New(b)
	var out, errb bytes.Buffer
	err := l.InNode("client", func() error {
		in, err := New(Options{Stdout: &out, Stderr: &errb, Dir: b.TempDir()})
		if err != nil {
			return err
		}
		defer in.Close()
		// Warm up: sockets, engine identifiers, routes.
		if code := in.RunString(context.Background(), "warm.lua", fmt.Sprintf("N = 10\n%s", src)); code != 0 {
			return fmt.Errorf("warm-up exit %d: %s", code, errb.String())
		}
		b.ResetTimer()
		start := time.Now()
		code := in.RunString(context.Background(), "bench.lua", fmt.Sprintf("N = %d\n%s", b.N, src))
		el := time.Since(start)
		b.StopTimer()
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, errb.String())
		}
		pps := float64(b.N) / el.Seconds()
		b.ReportMetric(pps, "pkts/s")
		b.ReportMetric(pps/scapyRate, "x-scapy")
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLuaSendBuild: every iteration builds an echo request with a
// record-route option and a pattern payload in Lua and sends it.
func BenchmarkLuaSendBuild(b *testing.B) {
	benchLua(b, `
local pat = pattern("a5", 56)
for i = 1, N do
  send(ip{dst="198.18.3.2", options={opt.rr(9)}} / icmp{seq=i % 65536} / raw(pat))
end`)
}

// BenchmarkLuaSendModify: one packet, its sequence number changed and
// sent again each iteration.
func BenchmarkLuaSendModify(b *testing.B) {
	benchLua(b, `
local p = ip{dst="198.18.3.2", options={opt.rr(9)}} / icmp{} / raw(pattern("a5", 56))
for i = 1, N do
  p.icmp.seq = i % 65536
  send(p)
end`)
}

// BenchmarkLuaSendCount: the same packet N times in one call.
func BenchmarkLuaSendCount(b *testing.B) {
	benchLua(b, `send(ip{dst="198.18.3.2", options={opt.rr(9)}} / icmp{} / raw(pattern("a5", 56)), {count=N})`)
}

// BenchmarkLuaSr1: send and wait for each answer in turn (RTT-bound).
func BenchmarkLuaSr1(b *testing.B) {
	benchLua(b, `
local pat = pattern("a5", 56)
for i = 1, N do
  local a = sr1(ip{dst="198.18.3.2", options={opt.rr(9)}} / icmp{} / raw(pat))
  if not a then error("no answer to probe " .. i) end
end`)
}

// BenchmarkLuaSr: a list of N probes in one sr call.
func BenchmarkLuaSr(b *testing.B) {
	benchLua(b, `
local pat = pattern("a5", 56)
local ps = {}
for i = 1, N do ps[i] = ip{dst="198.18.3.2", options={opt.rr(9)}} / icmp{} / raw(pat) end
local ans, unans = sr(ps, {timeout=2})
if #unans > N / 100 then error(#unans .. " of " .. N .. " unanswered") end`)
}

// BenchmarkLuaBuild: building the probe of BenchmarkLuaSendBuild in Lua,
// without sending it (no lab needed): the interpreter's share.
func BenchmarkLuaBuild(b *testing.B) {
	var out bytes.Buffer
	in, err := New(Options{Stdout: &out, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	b.ReportAllocs()
	b.ResetTimer()
	code := in.RunString(context.Background(), "build.lua", fmt.Sprintf(`
local pat = pattern("a5", 56)
for i = 1, %d do
  local p = ip{dst="198.18.3.2", options={opt.rr(9)}} / icmp{seq=i %% 65536} / raw(pat)
end`, b.N))
	if code != 0 {
		b.Fatal(code)
	}
}
