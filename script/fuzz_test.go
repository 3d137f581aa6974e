package script

import (
	"bytes"
	"context"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// FuzzEval feeds arbitrary input to the REPL's evaluator: whatever the
// bytes, it returns a value or an error and never panics, and the
// interpreter stays usable. The functions that reach the network or the
// resolver are removed first, so fuzzing sends nothing anywhere.
func FuzzEval(f *testing.F) {
	for _, s := range []string{
		`ip{dst="198.18.3.2", ttl=3, options={opt.rr(9)}} / icmp{seq=1} / raw(pattern("a5", 56))`,
		`(ip{}/tcp{flags="SA", options={"mss=1460","ts=1,2"}}):hex()`,
		`p = ip6{dst="2001:db8::1", flow=5}/icmp6{}/"x"; p.ip.hlim = 1; return #p, tostring(p)`,
		`pattern.catalogue(3)[2].note`, `opt.ts("prespec", {"198.18.1.1"})`, `bit.band(1,2)`,
		`for i=1,3 do`, `x = [[`, `pp({1, {2}, a={b=3}})`, `pattern.compare("ab", "ac")`,
		`icmp{type="frag-needed", mtu=1}.icmp.mtu`, `ip{tos=300}`, `ip{} / ip{}`, `help("sr")`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var out bytes.Buffer
		in, err := New(Options{Stdout: &out, Stderr: &out, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		for _, g := range []string{"send", "sr", "sr1", "resolve"} {
			in.L.SetGlobal(g, lua.LNil)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		in.Eval(ctx, src)
		if got, err := in.Eval(context.Background(), "1+1"); err != nil && !in.exited || err == nil && got[0] != "2" {
			t.Fatalf("after %q the interpreter is broken: %v %v", src, got, err)
		}
	})
}
