package script

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/tshark"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/fault"
	"github.com/echolot/echolot/lab/labtest"
)

// runIn runs src in the client node of l and returns its exit code and
// what it printed.
func runIn(t *testing.T, l *lab.Lab, dir string, ctx context.Context, src string) (int, string, string) {
	return runNamed(t, l, dir, ctx, "test.lua", src)
}

// runNamed is runIn for a chunk called name (as error positions show it).
func runNamed(t *testing.T, l *lab.Lab, dir string, ctx context.Context, name, src string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := -1
	err := l.InNode("client", func() error {
		in, err := New(Options{Stdout: &out, Stderr: &errb, Dir: dir})
		if err != nil {
			return err
		}
		code = in.RunString(ctx, name, src)
		return in.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func addRule(t *testing.T, l *lab.Lab, rule string) {
	t.Helper()
	r, err := fault.ParseRule(rule)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Fault().Add(r); err != nil {
		t.Fatal(err)
	}
}

// TestAnswers: each kind of answer with its fields, as the lab's kernel
// produces them.
func TestAnswers(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	code, out, errs := runIn(t, l, t.TempDir(), context.Background(), `
local a = sr1(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 56)))
print("echo", a.kind, a.from, a.ttl, a.rtt > 0 and a.rtt < 1000, a.seq == a.probe.icmp.seq, a.damage, a.packet.payload == a.probe.payload)
local a = sr1(ip{dst="198.18.3.2", ttl=2, tos=0x10} / icmp{})
print("ttl", a.kind, a.from, a.changes.ttl.sent, a.changes.ttl.seen, a.changes.tos, a.quote.ip.ttl, a.packet.ip.tos)
local a = sr1(ip{dst="198.18.3.2", df=true} / icmp{} / raw(pattern("00", 1472)))
print("mtu", a.kind, a.from, a.mtu, a["local"])
local a = sr1(ip{dst="198.18.3.2"} / udp{dport=7})
print("udp", a.kind, a.from, a.quote.udp.dport)
local a = sr1(ip{dst="198.18.3.2"} / tcp{dport=7})
print("tcp", a.kind, a.packet.tcp.flags, a.packet.tcp.ack == a.probe.tcp.seq + 1)
local a = sr1(ip{dst="198.18.3.2"} / icmp{type="timestamp-request"} / string.rep("\0", 12))
print("ts", a.kind)
local a = sr1(ip{dst="198.18.3.2"} / icmp{id=4242, seq=77})
print("fixed", a.kind, a.packet.icmp.id, a.packet.icmp.seq)
local a = sr1(ip6{dst="2001:db8:3::2"} / icmp6{} / "hello")
print("v6", a.kind, a.from, a.packet.payload)
local a = sr1(ip6{dst="2001:db8:3::2"} / icmp6{} / raw(pattern("00", 1452)))
print("ptb", a.kind, a.from, a.mtu)
print("none", sr1(ip{dst="198.18.3.99"} / icmp{}, {timeout=0.2}))
`)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	want := []string{
		"echo\techo-reply\t198.18.3.2\t62\ttrue\ttrue\tnil\ttrue",
		// Linux's ICMP errors carry TOS 0xc0 with the probe's TOS bits.
		"ttl\ttime-exceeded\t198.18.2.2\t2\t1\tnil\t1\t208",
		"mtu\tfrag-needed\t198.18.2.2\t1400\tnil",
		"udp\tport-unreachable\t198.18.3.2\t7",
		"tcp\ttcp-closed\tRA\ttrue",
		"ts\ttimestamp-reply",
		"fixed\techo-reply\t4242\t77",
		"v6\techo-reply\t2001:db8:3::2\thello",
		"ptb\tpacket-too-big\t2001:db8:2::2\t1400",
		"none\tnil",
	}
	if got := strings.TrimSpace(out); got != strings.Join(want, "\n") {
		t.Errorf("printed\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestFaultsSeenFromLua: the quote diff names a TOS rewrite made between
// r1 and r2, the damage of a corrupted reply is at the corrupted offset,
// and sr over a list keeps answered and unanswered apart when the fault
// node drops one pattern.
func TestFaultsSeenFromLua(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	addRule(t, l, "tos 0x28 dir=to-server")
	addRule(t, l, "corrupt offset=30 flip=0x01 dir=to-client proto=icmp")
	addRule(t, l, "drop pattern=7e7e7e7e")
	code, out, errs := runIn(t, l, t.TempDir(), context.Background(), `
local a = sr1(ip{dst="198.18.3.2", ttl=2} / icmp{})
local c = a.changes.tos
print("tos", a.from, c.sent, c.seen, c.expected, a.changes.dscp.seen)
local a = sr1(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 56)))
print("damage", a.kind, #a.damage.offsets, a.damage.offsets[1], a.damage.bytes[1].sent, a.damage.bytes[1].got)
local probes = {}
for i, p in ipairs(pattern.catalogue(56)) do probes[i] = ip{dst="198.18.3.2"} / icmp{} / raw(p) end
local ans, unans = sr(probes, {timeout=1})
print("sweep", #ans, #unans, unans[1].pattern)
`)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	want := []string{
		"tos\t198.18.2.2\t0\t40\tfalse\t10",
		// The rule's offset counts from the start of the echo data, as
		// ping's "wrong data byte #N" and answer.damage do.
		"damage\techo-reply\t1\t30\t165\t164",
		"sweep\t21\t1\t0x7e",
	}
	if got := strings.TrimSpace(out); got != strings.Join(want, "\n") {
		t.Errorf("printed\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestCaptureJudgedByTshark: a script's capture holds every probe and
// answer with linkage comments, in a file tshark reads without warnings;
// pcap.read gives the same packets back.
func TestCaptureJudgedByTshark(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	dir := t.TempDir()
	code, out, errs := runIn(t, l, dir, context.Background(), `
capture("c.pcapng")
sr1(ip{dst="198.18.3.2", ttl=1} / icmp{})
sr({ip{dst="198.18.3.2"} / icmp{}, ip{dst="198.18.3.2"} / tcp{dport=5}})
send(ip{dst="198.18.3.2"} / udp{dport=9} / "x", {count=2})
print(capture())
local n = 0
for ts, p, info in pcap.read("c.pcapng") do n = n + 1 end
print(n)
`)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if got := strings.TrimSpace(out); got != "8\n8" {
		t.Errorf("printed %q, want 8 packets written and read", got)
	}
	rows := tshark.FieldsFile(t, filepath.Join(dir, "c.pcapng"), "frame.number", "_ws.col.Protocol", "frame.comment", "_ws.expert.severity")
	if len(rows) != 8 {
		t.Fatalf("tshark reads %d frames, want 8: %v", len(rows), rows)
	}
	var comments []string
	for _, r := range rows {
		comments = append(comments, r[2])
		if r[3] == "error" {
			t.Errorf("frame %s: tshark expert error", r[0])
		}
	}
	all := strings.Join(comments, "\n")
	for _, want := range []string{"probe 1 seq=1 ttl=1", "answer to probe 1: time-exceeded from 198.18.1.1", "probe 2 ", "probe 3 ", "answer to probe 3: tcp-closed", "probe 4 ", "probe 5 "} {
		if !strings.Contains(all, want) {
			t.Errorf("comments lack %q:\n%s", want, all)
		}
	}
}

// TestCancelSr: cancelling a script in the middle of a long sr returns
// promptly, exits 2 and leaves a readable capture.
func TestCancelSr(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	code, out, errs := runIn(t, l, dir, ctx, `
capture("cancel.pcapng")
local probes = {}
for i = 1, 100 do probes[i] = ip{dst="198.18.3.99"} / icmp{} end
sr(probes, {interval=0.05, timeout=5})
print("not reached")
`)
	if code != 2 || strings.Contains(out, "not reached") || !strings.Contains(errs, "cancelled") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	rows := tshark.FieldsFile(t, filepath.Join(dir, "cancel.pcapng"), "frame.number", "frame.comment")
	if len(rows) == 0 || len(rows) >= 100 {
		t.Errorf("capture after cancel holds %d frames, want some but not all 100", len(rows))
	}
}

// TestPPShowsAnswerFields: pp(answer) prints the one-line summary and
// then the fields (the REPL's bare value stays one line).
func TestPPShowsAnswerFields(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	code, out, errs := runIn(t, l, t.TempDir(), context.Background(), `pp(sr1(ip{dst="198.18.3.2", ttl=2}/icmp{}))`)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{"time-exceeded from 198.18.2.2", "changes={", "ttl=ttl 2→1", `from="198.18.2.2"`, "quote=IPv4 "} {
		if !strings.Contains(out, want) {
			t.Errorf("pp(answer) lacks %q:\n%s", want, out)
		}
	}
}

// TestIface: iface= sends and receives through one interface: the
// client's only link works for sr1 and send, the loopback has no route to
// the server (the probe leaves there and nothing answers), and an
// interface that does not exist is named in the error.
func TestIface(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	code, out, errs := runIn(t, l, t.TempDir(), context.Background(), `
local a = sr1(ip{dst="198.18.3.2"} / icmp{}, {iface="to-r1"})
print(a.kind, a.probe.src)
print(send(ip{dst="198.18.3.2"} / icmp{}, {iface="to-r1", count=2}))
print(pcall(sr1, ip{dst="198.18.3.2"} / icmp{}, {iface="lo", timeout=0.2}))
print(pcall(sr1, ip{dst="198.18.3.2"} / icmp{}, {iface="nosuch0"}))
print(pcall(send, ip{dst="198.18.3.2"} / icmp{}, {iface="nosuch0"}))
print(pcall(sr1, ip{dst="198.18.3.2"} / icmp{}, {iface=""}))
`)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("printed %q", out)
	}
	for i, want := range []string{
		"echo-reply\t198.18.1.2",
		"2",
		"true\tnil",
		`this network namespace has no interface "nosuch0"`,
		`nosuch0`,
		`iface="" is not an interface name`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %q, want it to contain %q", i+1, lines[i], want)
		}
	}
}

// TestLabFaultsFromLua: lab.faults drives the fault node; with removes
// its rule also when its function raises an error; a bad rule names the
// field; the counters show what the rule did; nodename knows a router's
// second interface.
func TestLabFaultsFromLua(t *testing.T) {
	l := labtest.New(t)
	labtest.Setenv(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, out, errs := runIn(t, l, t.TempDir(), ctx, `
local p = ip{dst=lab.server.ip4} / icmp{} / raw(pattern("7e", 56))
local id = lab.faults.add("drop pattern=7e7e7e7e dir=to-server proto=icmp")
print("answered", sr1(p, {timeout=0.5}) ~= nil)
local l = lab.faults.list()
print("rules", #l, l[1].id == id, l[1].matched, l[1].rule)
lab.faults.del(id)
print("after del", sr1(p).kind)
print(pcall(lab.faults.with, "tos 0x28 dir=to-server", function() error("boom") end))
print("left", #lab.faults.list())
print(pcall(lab.faults.add, "corrupt offset=99999 flip=0x01"))
print(nodename("198.18.2.1"), nodename(lab.r2.ip6))
lab.faults.add("tos 0x28 dir=to-server")
lab.faults.add("tos 0x10 dir=to-client")
lab.faults.clear()
print("cleared", #lab.faults.list())
`)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"answered\tfalse\n",
		"rules\t1\ttrue\t1\tdrop pattern=7e7e7e7e dir=to-server proto=icmp\n",
		"after del\techo-reply\n",
		"false\ttest.lua:9: boom\n",
		"left\t0\n",
		"false\ttest.lua:11: lab.faults.add: fault: offset = \"99999\": offset is at most 65535\n",
		"r1\tr2\n",
		"cleared\t0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestLabFaultsNoNode: with no fault node behind the socket, a rule
// cannot be added and the error says so.
func TestLabFaultsNoNode(t *testing.T) {
	t.Setenv("ECHOLOT_LAB", "gone")
	t.Setenv("ECHOLOT_LAB_FAULT", filepath.Join(t.TempDir(), "fault.sock"))
	var out bytes.Buffer
	in, err := New(Options{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	code := in.RunString(context.Background(), "t.lua", `print(pcall(lab.faults.add, "tos 0x28"))`)
	if code != 0 || !strings.Contains(out.String(), "false\tt.lua:1: lab.faults.add: fault: no fault node answers at") {
		t.Errorf("exit %d, printed %q", code, out.String())
	}
}

// TestSr1KeepsEngines: sr1 in a loop sends through one engine kept by the
// interpreter (the same ICMP identifier, sequence numbers going on), and
// run 1's reply, delayed past its timeout into the next call, is not
// taken for the answer to that call's probe (dropped on the way). A fixed
// sequence number gets an engine of its own per call, as before.
func TestSr1KeepsEngines(t *testing.T) {
	t.Parallel()
	l := labtest.New(t)
	addRule(t, l, "delay 400ms dir=to-client proto=icmp")
	addRule(t, l, "drop pattern=5a5a5a5a5a5a5a5a dir=to-server proto=icmp")
	code, out, errs := runIn(t, l, t.TempDir(), context.Background(), `
local a = sr1(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 32)), {timeout=0.1})
print("1", a)
local b = sr1(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("5a", 32)), {timeout=1.5})
print("2", b)
local c = sr1(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 32)), {timeout=2})
local d = sr1(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 32)), {timeout=2})
print("3", c.kind, d.kind, c.probe.icmp.id == d.probe.icmp.id, d.probe.icmp.seq - c.probe.icmp.seq)
local e = sr1(ip{dst="198.18.3.2"} / icmp{seq=7} / raw(pattern("a5", 32)), {timeout=2})
local f = sr1(ip{dst="198.18.3.2"} / icmp{seq=7} / raw(pattern("a5", 32)), {timeout=2})
print("4", e.kind, f.kind, e.probe.icmp.id ~= f.probe.icmp.id, e.probe.icmp.id ~= d.probe.icmp.id)
`)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	want := "1\tnil\n2\tnil\n3\techo-reply\techo-reply\ttrue\t1\n4\techo-reply\techo-reply\ttrue\ttrue\n"
	if out != want {
		t.Errorf("printed\n%s\nwant\n%s", out, want)
	}
}

// TestMarkAndBroadcast: mark= steers send, sr1 and sr through policy
// routing (fwmark 7 → a table where the server is unreachable; mark 8
// and none use the main table), and broadcast= lets sr1 ask the client's
// subnet, where r1 answers from its own address.
func TestMarkAndBroadcast(t *testing.T) {
	l := labtest.New(t)
	labtest.Commands(t, l, "client",
		[]string{"ip", "route", "add", "unreachable", "198.18.3.0/24", "table", "7"},
		[]string{"ip", "rule", "add", "fwmark", "7", "table", "7"})
	labtest.Sysctl(t, l, "r1", "net.ipv4.icmp_echo_ignore_broadcasts", "0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, out, errs := runIn(t, l, t.TempDir(), ctx, `local p = ip{dst="198.18.3.2"} / icmp{}
print("mark 8", sr1(p, {mark=8}).kind, sr1(p).kind)
print("mark 7", pcall(sr1, p, {mark=7}))
print("send 7", pcall(send, p, {mark=7}))
print("send 8", send(p, {mark=8}))
local b = ip{dst="198.18.1.255"} / icmp{}
local a = sr1(b, {broadcast=true, timeout=1})
print("broadcast", a.kind, a.from)
print("no broadcast", pcall(sr1, b, {timeout=0.3}))
print(pcall(sr1, p, {mark=-1}))
print(pcall(sr1, p, {broadcast="yes"}))
`)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, re := range []string{
		`(?m)^mark 8\techo-reply\techo-reply$`,
		`(?m)^mark 7\tfalse\ttest.lua:3: .*no route to host`,
		`(?m)^send 7\tfalse\ttest.lua:4: send: .*no route to host`,
		`(?m)^send 8\t1$`,
		`(?m)^broadcast\techo-reply\t198\.18\.1\.1$`,
		`(?m)^no broadcast\ttrue\tseq=\d+ local send-error from 198\.18\.1\.2: .*permission denied \(sending to a broadcast address needs SO_BROADCAST\)$`,
		`(?m)^false\ttest.lua:10: sr1: mark: -1 is out of range, the limit is 0–4294967295$`,
		`(?m)^false\ttest.lua:11: sr1: broadcast="yes", want true or false$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %q:\n%s", re, out)
		}
	}
}
