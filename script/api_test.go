package script

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTest makes an interpreter writing to buffers, working in a temporary
// directory.
func newTest(t *testing.T, o Options) (*Interp, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errb bytes.Buffer
	o.Stdout, o.Stderr = &out, &errb
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	in, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in, &out, &errb
}

// eval returns what src's expression evaluates to, formatted.
func eval(t *testing.T, in *Interp, src string) string {
	t.Helper()
	out, err := in.Eval(context.Background(), src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return strings.Join(out, "\t")
}

// evalErr returns the error src raises.
func evalErr(t *testing.T, in *Interp, src string) string {
	t.Helper()
	_, err := in.Eval(context.Background(), src)
	if err == nil {
		t.Fatalf("%s: no error", src)
	}
	return err.Error()
}

func TestFieldsReadWrite(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	for _, c := range []struct{ src, want string }{
		{`(ip{dst="198.18.3.2", ttl=3}/icmp{}).ip.ttl`, "3"},
		{`(ip{tos=0x10, dscp=46}).ip.tos`, "184"}, // tos first, then dscp refines it
		{`(ip{dscp=46, ecn=1}).ip.tos`, "185"},
		{`(ip{df=true}).ip.df`, "true"},
		{`(ip{frag=100, mf=true}).ip.frag`, "100"},
		{`(ip{dst="198.18.3.2", src="198.18.1.2"}).ip.src`, `"198.18.1.2"`},
		{`(ip6{dst="2001:db8:3::2", flow=0xfffff}).ip6.flow`, "1048575"},
		{`(ip6{tc=0xb8}).ip.dscp`, "46"},
		{`(ip6{hlim=5}).ip.ttl`, "5"},
		{`icmp{type="frag-needed", mtu=1400}.icmp.mtu`, "1400"},
		{`icmp{type="frag-needed"}.icmp.code`, "4"},
		{`icmp{type=11}.icmp.name`, `"time-exceeded"`},
		{`icmp6{type="packet-too-big", mtu=1280}.icmp6.mtu`, "1280"},
		{`icmp{type="param-problem", pointer=20}.icmp.pointer`, "20"},
		{`icmp{type="redirect", gateway="198.18.1.1"}.icmp.gateway`, `"198.18.1.1"`},
		{`tcp{flags="SA"}.tcp.flags`, `"SA"`},
		{`tcp{flags=0x12}.tcp.flags`, `"SA"`},
		{`tcp{seq=4294967295}.tcp.seq`, "4294967295"},
		{`#tcp{options={"mss=1460","sackok","ts=1,2","nop","wscale=7"}}.tcp.options`, "5"},
		{`udp{sport=53, dport=53}.udp.sport`, "53"},
		{`(ip{dst="198.18.3.2"}/udp{}/"abcd").udp.len`, "12"},
		{`(ip{dst="198.18.3.2"}/icmp{}/"abcd").payload`, `"abcd"`},
		{`#(ip{dst="198.18.3.2", options={opt.rr(9)}}/icmp{}/raw(pattern("a5", 56)))`, "124"},
		{`(ip{dst="198.18.3.2", options={opt.rr(9)}}/icmp{}).ip.hlen`, "60"},
		{`(ip{dst="198.18.3.2", chksum=0xbeef}).ip.chksum`, "48879"},
		{`(function() local p = ip{dst="198.18.3.2"}/icmp{} p.payload = pattern("7e", 4) return p.pattern, #p end)()`, "\"0x7e\"\t32"},
		{`(ip{dst="198.18.3.2"}/tcp{}).icmp`, "nil"},
		{`(icmp{}/"x").ip`, "nil"},
		{`(ip{dst="198.18.3.2"}/icmp{}).kind`, `"echo-request"`},
	} {
		if got := eval(t, in, c.src); got != c.want {
			t.Errorf("%s = %s, want %s", c.src, got, c.want)
		}
	}
}

// TestFieldErrors: bad values name the field, the value and the limit.
func TestFieldErrors(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	for _, c := range []struct{ src, want string }{
		{`ip{ttl=256}`, "ip.ttl: 256 is out of range, the limit is 0–255"},
		{`ip{ttl=-1}`, "ip.ttl: -1 is out of range, the limit is 0–255"},
		{`ip{ttl=1.5}`, "ip.ttl: 1.5 is not a whole number"},
		{`ip{ttl="x"}`, `ip.ttl: "x" is not a number`},
		{`ip{dscp=64}`, "ip.dscp: 64 is out of range, the limit is 0–63"},
		{`ip{ecn=4}`, "ip.ecn: 4 is out of range, the limit is 0–3"},
		{`ip{frag=8192}`, "ip.frag: 8192 is out of range, the limit is 0–8191"},
		{`ip{df="yes"}`, `ip.df: "yes" is not true or false`},
		{`ip{dst="2001:db8::1"}`, "ip.dst: 2001:db8::1 is not an IPv4 address"},
		{`ip6{dst="198.18.3.2"}`, "ip6.dst: 198.18.3.2 is not an IPv6 address"},
		{`ip6{flow=1048576}`, "ip6.flow: 1.048576e+06 is out of range, the limit is 0–1048575"},
		{`ip{foo=1}`, `ip has no field "foo"; its fields are src, dst`},
		{`ip{len=20}`, "ip.len is computed by the builder and cannot be set"},
		{`icmp{type="bogus"}`, `icmp.type: unknown ICMP message "bogus"`},
		{`tcp{flags="SZ"}`, "tcp.flags"},
		{`tcp{options={"mss=70000"}}`, `tcp.options[1]: mss: value "70000" is not a number in 0–65535`},
		{`tcp{options={"mss=1","mss=1","mss=1","mss=1","mss=1","mss=1","mss=1","mss=1","mss=1","mss=1","mss=1"}}`, "tcp.options: the options take 44 bytes, the limit is 40"},
		{`ip{options={opt.rr(9), opt.rr(1)}}`, "ip.options: the options take 46 bytes, the limit is 40"},
		{`ip{options={1}}`, "ip.options[1]: a number is not an option"},
		{`opt.rr(10)`, "opt.rr: 10 slots is out of range, the limit is 1–9"},
		{`opt.ts("tsandaddr", 5)`, "opt.ts slots: 5 is out of range, the limit is 1–4"},
		{`opt.ts("prespec")`, `opt.ts: "prespec" needs the addresses to stamp`},
		{`opt.ts("sometimes")`, `opt.ts: kind "sometimes" is not one of`},
		{`opt.ts("tsonly", 3, 7)`, `opt.ts: argument 3 is a number, want {prefill=true} or nothing`},
		{`hex(ip{dst="198.18.3.2", options={opt.ts("tsandaddr", {prefill=true})}} / icmp{})`,
			`ip.options[1].prefill = ip.src unset: prefilling the first slot needs the header's IPv4 source address`},
		{`opt.lsrr{}`, "opt.lsrr: give the hops as a list"},
		{`opt.raw("")`, "opt.raw: 0 bytes, the limit is 1–40"},
		{`pattern("xyz")`, "pattern"},
		{`pattern("ff", 70000)`, "pattern size: 70000 is out of range, the limit is 0–65535"},
		{`pattern.bytes{256}`, "pattern.bytes[1]: 256 is out of range, the limit is 0–255"},
		{`pattern.prbs(10, 8)`, "pattern.prbs"},
		{`ip{} / ip{}`, "cannot stack ip on ip"},
		{`icmp{} / ip{}`, "cannot stack ip on icmp"},
		{`ip6{} / icmp{}`, "icmp{} over ip6{}: use icmp6{}"},
		{`ip{} / icmp6{}`, "icmp6{} over ip{}"},
		{`ip{} / 5`, "/: operand 2 is a number"},
		{`(ip{}).nothing`, `a packet has no field "nothing"`},
		{`(function() local p = ip{} p.ttl = 1 end)()`, "ttl cannot be assigned on the packet: set fields on their layer"},
		{`ip(5)`, "ip: argument is a number, want a table of fields"},
		{`ip{5}`, "ip{}: fields are named"},
		{`sr1(icmp{})`, "sr1: the packet has no IP layer"},
		{`sr1(5)`, "sr1: argument 1 is a number, want a packet"},
		{`sr({ip{dst="198.18.3.2"}/icmp{}, 3})`, "sr: element 2 of the list is a number, want a packet"},
		{`sr1(ip{dst="198.18.3.2"}/icmp{}, {timeout=-1})`, "sr1: timeout=-1 is out of range, the limit is 0.001–3600 seconds"},
		{`sr1(ip{dst="198.18.3.2"}/icmp{}, {tiemout=1})`, `sr1: unknown option "tiemout"; the options are timeout, retries`},
		{`send(ip{dst="198.18.3.2"}/icmp{}, {count=0})`, "send: count: 0 is out of range"},
		{`send(ip{dst="198.18.3.2"}/icmp{}, {pmtu="sometimes"})`, `send: pmtu="sometimes" is not one of`},
		{`sleep(-1)`, "sleep: -1 seconds is out of range"},
		{`bit.lshift(1, 32)`, "bit: shift 32 is out of range, the limit is 0–31"},
		{`unhex("zz")`, `unhex: "zz" is not hex`},
		{`exit(256)`, "exit code: 256 is out of range, the limit is 0–255"},
		{`stats({1, "x"})`, "stats: element 2 is a string, want a number"},
	} {
		got := evalErr(t, in, c.src)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: error %q, want it to contain %q", c.src, got, c.want)
		}
		if !strings.Contains(got, "stdin:1:") {
			t.Errorf("%s: error %q has no position", c.src, got)
		}
	}
	// The interpreter survives every error.
	if got := eval(t, in, "1+1"); got != "2" {
		t.Errorf("after errors 1+1 = %s", got)
	}
}

// TestBuiltBytes: what the builder makes of a Lua packet, checked against
// bytes derived by hand: IPv4 header 45 00 001c 0001 0000 40 01 csum
// c6120102 c6120302; one's-complement sum of the header words with a zero
// checksum is 0x21546 → 0x1548, complement 0xeab7. ICMP echo 08 00 csum
// 0001 0001: sum 0x0800+0x0001+0x0001 = 0x0802, complement 0xf7fd.
func TestBuiltBytes(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	got := eval(t, in, `hex(ip{dst="198.18.3.2", src="198.18.1.2", id=1} / icmp{id=1, seq=1})`)
	if want := `"4500001c000100004001eab7c6120102c61203020800f7fd00010001"`; got != want {
		t.Errorf("bytes %s, want %s", got, want)
	}
}

func TestCopyIsDeep(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	got := eval(t, in, `(function()
		local a = ip{dst="198.18.3.2", options={opt.rr(3)}} / icmp{} / "abc"
		local b = a:copy()
		b.ip.ttl = 1; b.icmp.seq = 9; b.payload = "xyz"; b.ip.options = {opt.nop()}
		return a.ip.ttl, a.icmp.seq, a.payload, a.ip.options[1].name, b.ip.options[1].name
	end)()`)
	if want := "64\t0\t\"abc\"\t\"rr\"\t\"nop\""; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestPatterns(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	for _, c := range []struct{ src, want string }{
		{`pattern("ff").name, #pattern("ff")`, "\"0xff\"\t1"},
		{`hex(pattern("a5", 3).bytes)`, `"a5a5a5"`},
		{`#pattern.random()`, "56"},
		{`pattern.random(4, 0).bytes == pattern.random(4, 0).bytes`, "true"},
		{`hex(pattern.walking_zeros(2).bytes)`, `"fefd"`},
		{`pattern.prbs(8).name`, `"prbs15"`},
		{`hex(pattern.text("ab", 5).bytes)`, `"6162616261"`},
		{`#pattern.catalogue(8)`, "22"},
		{`pattern.catalogue(8)[7].name`, `"0x7e"`},
		{`pattern.named("ramp", 3).name`, `"ramp"`},
		{`tostring(pattern("7e", 4))`, `"pattern 0x7e (4 bytes)"`},
		{`pattern.compare("abc", "abc")`, "nil"},
		{`pattern.compare("abc", "ab").truncated`, "true"},
	} {
		if got := eval(t, in, c.src); got != c.want {
			t.Errorf("%s = %s, want %s", c.src, got, c.want)
		}
	}
	os.WriteFile(filepath.Join(in.dir, "pat.bin"), []byte{1, 2, 3}, 0o644)
	if got := eval(t, in, `hex(pattern.file("pat.bin", 5).bytes)`); got != `"0102030102"` {
		t.Errorf("pattern.file: %s", got)
	}
}

// TestSandbox: every forbidden function fails with a message naming it
// and --unsafe; --unsafe opens them.
func TestSandbox(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	for lib, names := range forbidden {
		for _, n := range names {
			full := n
			if lib != "" {
				full = lib + "." + n
			}
			msg := evalErr(t, in, full+"()")
			if !strings.Contains(msg, full+" is not available in echolot's sandbox") || !strings.Contains(msg, "--unsafe") {
				t.Errorf("%s(): %q", full, msg)
			}
		}
	}
	for _, ok := range []string{`os.time() > 0`, `os.clock() >= 0`, `type(os.date())`, `string.format("%d", 3)`, `math.floor(2.5)`, `table.concat({1,2}, ",")`, `coroutine.wrap(function() return 1 end)()`} {
		eval(t, in, ok)
	}
	// Paths: inside the working directory yes, outside no, unless given on
	// the command line.
	eval(t, in, `capture("in.pcapng")`)
	eval(t, in, `capture()`)
	for _, p := range []string{"/etc/passwd", "../x.pcapng", "sub/../../x.pcapng"} {
		msg := evalErr(t, in, `capture("`+p+`")`)
		if !strings.Contains(msg, "is outside the working directory") {
			t.Errorf("capture(%q): %s", p, msg)
		}
	}
	os.Symlink("/etc", filepath.Join(in.dir, "link"))
	if msg := evalErr(t, in, `pattern.file("link/hostname")`); !strings.Contains(msg, "outside the working directory") {
		t.Errorf("a symbolic link out of the directory: %s", msg)
	}
	other := filepath.Join(t.TempDir(), "given.pcapng")
	in2, _, _ := newTest(t, Options{AllowPaths: []string{other}})
	eval(t, in2, `capture("`+other+`")`)
	eval(t, in2, `capture()`)
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a path given on the command line: %v", err)
	}

	un, out, _ := newTest(t, Options{Unsafe: true})
	if got := eval(t, un, `type(io.open)`); got != `"function"` {
		t.Errorf("unsafe io.open is %s", got)
	}
	eval(t, un, `os.execute("true")`)
	_ = out
}

func TestRunErrorsAndExit(t *testing.T) {
	in, _, errb := newTest(t, Options{})
	code := in.RunString(context.Background(), "bad.lua", "local x = 1\nlocal function f() error('boom') end\nf()\n")
	if code != 2 {
		t.Errorf("runtime error: exit %d, want 2", code)
	}
	for _, want := range []string{"bad.lua:2: boom", "stack traceback:", "bad.lua:3: in main chunk"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q lacks %q", errb.String(), want)
		}
	}
	in, _, errb = newTest(t, Options{})
	if code := in.RunString(context.Background(), "syntax.lua", "x = = 1"); code != 2 || !strings.Contains(errb.String(), "syntax.lua line:1") {
		t.Errorf("syntax error: exit %d, %q", code, errb.String())
	}
	in, out, _ := newTest(t, Options{Args: []string{"a", "b"}})
	if code := in.RunString(context.Background(), "args.lua", "#!/usr/bin/env echolot\nprint(arg[0], arg[1], arg[2], #arg)\nexit(3)\nprint('not reached')"); code != 3 {
		t.Errorf("exit(3): code %d", code)
	}
	if got := out.String(); got != "args.lua\ta\tb\t2\n" {
		t.Errorf("printed %q", got)
	}
	// exit inside pcall still ends the script.
	in, out, _ = newTest(t, Options{})
	if code := in.RunString(context.Background(), "x.lua", "pcall(exit, 4)\nprint('not reached')"); code != 4 || out.Len() != 0 {
		t.Errorf("exit in pcall: code %d, printed %q", code, out.String())
	}
}

// TestUsageAndTarget: usage() prints the script's name, the message and
// the usage paragraph of its header to stderr and exits 2, also from
// inside pcall; target() takes a literal of the family asked for and
// refuses the other, and without a lab asks for a HOST.
func TestUsageAndTarget(t *testing.T) {
	const hdr = "#!/usr/bin/env echolot\n-- probe: does things\n--\n-- usage: echolot run probe HOST [N]\n--   N  how many\n--\n-- More text.\n"
	in, out, errb := newTest(t, Options{})
	code := in.RunString(context.Background(), "/some/dir/probe.lua", hdr+"pcall(usage, \"N 0 is out of range, the limit is 1-9\")\nprint('not reached')")
	if code != 2 || out.Len() != 0 || errb.String() != "probe: N 0 is out of range, the limit is 1-9\nusage: echolot run probe HOST [N]\n  N  how many\n" {
		t.Errorf("usage: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	in, out, errb = newTest(t, Options{})
	code = in.RunString(context.Background(), "t.lua", `print(target("198.18.3.2")) print(target("2001:db8:3::2")) print(target("2001:db8:3::2", "6"))`)
	if code != 0 || out.String() != "198.18.3.2\tfalse\n2001:db8:3::2\ttrue\n2001:db8:3::2\ttrue\n" {
		t.Errorf("target: exit %d, printed %q %q", code, out.String(), errb.String())
	}
	for src, want := range map[string]string{
		`target("198.18.3.2", "6")`:  "t: HOST 198.18.3.2 is IPv4; this script works on IPv6 only\n",
		`target("2001:db8::1", "4")`: "t: HOST 2001:db8::1 is IPv6; this script works on IPv4 only\n",
		`target()`:                   "t: give a HOST (outside a lab there is no default)\n",
	} {
		in, _, errb = newTest(t, Options{})
		if code := in.RunString(context.Background(), "t.lua", src); code != 2 || !strings.HasPrefix(errb.String(), want) {
			t.Errorf("%s: exit %d, stderr %q, want 2 and %q", src, code, errb.String(), want)
		}
	}
	in, _, errb = newTest(t, Options{})
	if code := in.RunString(context.Background(), "t.lua", `target("x", "5")`); code != 2 || !strings.Contains(errb.String(), `target: family "5" is not "4", "6" or nil`) {
		t.Errorf("bad family: exit %d, %q", code, errb.String())
	}
}

// TestCancel: a cancelled context stops a busy loop and a sleep; the
// interpreter stays usable.
func TestCancel(t *testing.T) {
	in, _, errb := newTest(t, Options{})
	for _, src := range []string{"while true do end", "sleep(60)"} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		code := in.RunString(ctx, "loop.lua", src)
		cancel()
		if code != 2 || !strings.Contains(errb.String(), "cancelled") {
			t.Errorf("%s: exit %d, stderr %q", src, code, errb.String())
		}
		errb.Reset()
		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := in.Eval(ctx, src)
		cancel()
		if !errors.Is(err, ErrCancelled) {
			t.Errorf("Eval %s: %v, want ErrCancelled", src, err)
		}
	}
	if got := eval(t, in, "2*21"); got != "42" {
		t.Errorf("after cancel: %s", got)
	}
}

func TestEvalAndComplete(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	if _, err := in.Eval(context.Background(), "for i = 1, 3 do"); !errors.Is(err, ErrIncomplete) {
		t.Errorf("open block: %v, want ErrIncomplete", err)
	}
	if _, err := in.Eval(context.Background(), "x = [[abc"); !errors.Is(err, ErrIncomplete) {
		t.Errorf("open long string: %v", err)
	}
	if _, err := in.Eval(context.Background(), "x = = 1"); err == nil || errors.Is(err, ErrIncomplete) {
		t.Errorf("syntax error: %v", err)
	}
	eval(t, in, "p = ip{dst='198.18.3.2'} / icmp{}")
	if got := eval(t, in, "p"); got != "IPv4 (auto) > 198.18.3.2 ttl 64 id 0 | ICMP echo-request id 0 seq 0" {
		t.Errorf("p prints %s", got)
	}
	if got := eval(t, in, "{1, 'a', x={y=true}}"); got != `{1, "a", x={y=true}}` {
		t.Errorf("table prints %s", got)
	}
	for _, c := range []struct {
		line string
		want []string
	}{
		{"pattern.wa", []string{"pattern.walking_ones", "pattern.walking_zeros"}},
		{"x = opt.r", []string{"opt.ra", "opt.raw", "opt.rr"}},
		{"p.icmp.se", []string{"p.icmp.seq"}},
		{"p.ip.dsc", []string{"p.ip.dscp"}},
		{"p:he", []string{"p:hex"}},
		{"sr", []string{"sr", "sr1"}},
		{"str", []string{"string"}},
	} {
		got := in.Complete(c.line)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("Complete(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestHelpFunction(t *testing.T) {
	in, out, _ := newTest(t, Options{})
	eval(t, in, `help("sr1")`)
	if !strings.Contains(out.String(), "sr1(p [, opts])") || !strings.Contains(out.String(), "Example:") {
		t.Errorf("help(\"sr1\"): %q", out.String())
	}
	out.Reset()
	eval(t, in, `help(pattern.random)`)
	if !strings.Contains(out.String(), "pattern.random([n [, seed]])") {
		t.Errorf("help(pattern.random): %q", out.String())
	}
	out.Reset()
	eval(t, in, `help("srr")`)
	if !strings.Contains(out.String(), `no help for "srr"`) {
		t.Errorf("help(\"srr\"): %q", out.String())
	}
}

func TestBitAndStats(t *testing.T) {
	in, _, _ := newTest(t, Options{})
	for _, c := range []struct{ src, want string }{
		{`bit.bor(1, 2, 4)`, "7"},
		{`bit.bxor(0xff, 0x0f)`, "240"},
		{`bit.bnot(0)`, "4294967295"},
		{`bit.lshift(1, 31)`, "2147483648"},
		{`bit.tohex(0xdead)`, `"0000dead"`},
		{`stats({}).n`, "0"},
		{`stats({5}).mdev`, "0"},
		{`stats({1,2,3,4,5,6,7,8,9,10}).p90`, "9"},
	} {
		if got := eval(t, in, c.src); got != c.want {
			t.Errorf("%s = %s, want %s", c.src, got, c.want)
		}
	}
}
