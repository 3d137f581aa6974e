package pcapio

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/packet"
)

var (
	client  = netip.MustParseAddr("198.18.1.2")
	r1      = netip.MustParseAddr("198.18.1.1")
	r2      = netip.MustParseAddr("198.18.2.2")
	server  = netip.MustParseAddr("198.18.3.2")
	client6 = netip.MustParseAddr("2001:db8:1::2")
	server6 = netip.MustParseAddr("2001:db8:3::2")
	r16     = netip.MustParseAddr("2001:db8:1::1")
)

// t0 is the timestamp of the first packet in test files.
var t0 = time.Unix(1700000000, 123456789)

// mustMarshal builds p and parses the bytes back, so the returned packet
// has its computed fields filled in.
func mustMarshal(t testing.TB, p packet.Packet) ([]byte, *packet.Packet) {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatalf("marshal %v: %v", p.Summary(), err)
	}
	q, err := packet.Parse(b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return b, q
}

func pattern(t testing.TB, hex string, n int) []byte {
	t.Helper()
	p, err := packet.HexPattern(hex, n)
	if err != nil {
		t.Fatal(err)
	}
	return p.Bytes
}

// exchangeSet is a probe sequence with answers, as the engine would see it.
type exchangeSet struct {
	recs  []Record
	pkts  []*packet.Packet
	bytes [][]byte
}

// sampleExchanges builds: an IPv4 echo request with TTL 3, TOS 0x10, DF,
// record route and a 0xa5 payload (probe 17), the time-exceeded error from
// r2 quoting it with TTL 1 and TOS 0x28; an echo request with a timestamp
// option (probe 18) and its echo reply; an IPv6 echo request (probe 19)
// and its reply; and a stray echo reply answering nothing.
func sampleExchanges(t testing.TB) exchangeSet {
	t.Helper()
	var s exchangeSet
	add := func(p packet.Packet, dir Direction, at time.Duration, link Link, id uint64) {
		b, q := mustMarshal(t, p)
		s.bytes = append(s.bytes, b)
		s.pkts = append(s.pkts, q)
		s.recs = append(s.recs, Record{Time: t0.Add(at), Data: b, Dir: dir, ID: id, Link: link})
	}
	probe := packet.Packet{Version: 4,
		IPv4: packet.IPv4{Src: client, Dst: server, TTL: 3, TOS: 0x10, DF: true, ID: 0x1234,
			Options: []packet.Option{&packet.RecordRoute{Slots: 9}}},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest, ID: 7, Seq: 17},
		Payload: pattern(t, "a5", 56)}
	add(probe, DirOut, 0, Link{Kind: ProbeLink, Probe: 17, Seq: 17, TTL: 3, Pattern: "a5"}, 17)

	seen := probe
	seen.IPv4.TTL, seen.IPv4.TOS = 1, 0x28
	seen.IPv4.Options = []packet.Option{&packet.RecordRoute{Slots: 9, Route: []netip.Addr{netip.MustParseAddr("198.18.2.1")}}}
	_ = seen
	quoteBytes, _ := mustMarshal(t, seen)
	te := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: r2, Dst: client, TTL: 63, TOS: 0xc0, ID: 99},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPTimeExceeded}, Payload: quoteBytes}
	_, sent := mustMarshal(t, probe)
	_, teParsed := mustMarshal(t, te)
	add(te, DirIn, 412*time.Microsecond, Link{Kind: AnswerLink, Probe: 17, Answer: "time-exceeded", From: r2,
		RTT: 412 * time.Microsecond, Changes: packet.QuoteDiff(sent, teParsed.Quote)}, 17)

	tsProbe := packet.Packet{Version: 4,
		IPv4: packet.IPv4{Src: client, Dst: server, TTL: 64, ID: 0x1235,
			Options: []packet.Option{&packet.Timestamp{Flag: packet.TSOnly, Slots: 4, Entries: []packet.TSEntry{{Time: 1000}}}}},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest, ID: 7, Seq: 18},
		Payload: pattern(t, "5a", 32)}
	add(tsProbe, DirOut, time.Millisecond, Link{Kind: ProbeLink, Probe: 18, Seq: 18, TTL: 64, Pattern: "5a"}, 18)
	reply := tsProbe
	reply.IPv4.Src, reply.IPv4.Dst = server, client
	reply.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: packet.TSOnly, Slots: 4, Entries: []packet.TSEntry{{Time: 1000}, {Time: 1001}, {Time: 1002}}}}
	reply.ICMP.Type = packet.ICMPEchoReply
	add(reply, DirIn, 1500*time.Microsecond, Link{Kind: AnswerLink, Probe: 18, Answer: "echo-reply", From: server, RTT: 500 * time.Microsecond}, 18)

	p6 := packet.Packet{Version: 6, IPv6: packet.IPv6{Src: client6, Dst: server6, HopLimit: 64, TrafficClass: 0x20},
		Transport: packet.TransportICMPv6, ICMP: packet.ICMP{Type: packet.ICMPv6EchoRequest, ID: 7, Seq: 19},
		Payload: pattern(t, "0f", 24)}
	add(p6, DirOut, 2*time.Millisecond, Link{Kind: ProbeLink, Probe: 19, Seq: 19, TTL: 64, Pattern: "0f"}, 19)
	r6 := p6
	r6.IPv6.Src, r6.IPv6.Dst = server6, client6
	r6.ICMP.Type = packet.ICMPv6EchoReply
	add(r6, DirIn, 2300*time.Microsecond, Link{Kind: AnswerLink, Probe: 19, Answer: "echo-reply", From: server6, RTT: 300 * time.Microsecond}, 19)

	stray := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: server, Dst: client, TTL: 60, ID: 5},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoReply, ID: 99, Seq: 99}}
	add(stray, DirIn, 3*time.Millisecond, Link{Kind: UnmatchedLink, Answer: "echo-reply", From: server}, 0)
	return s
}

// tsharkEnv returns tshark's path and an environment with an empty
// configuration directory.
func tsharkEnv(t testing.TB) (string, []string) {
	t.Helper()
	bin := testenv.NeedTool(t, "tshark")
	return bin, append(os.Environ(), "WIRESHARK_CONFIG_DIR="+t.TempDir())
}

// tsharkStderr filters tshark's standard error: the root warning is not a
// finding.
func tsharkStderr(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "Running as user") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// runTshark runs tshark -n -r file with args and returns stdout, stderr
// (filtered) and the exit error.
func runTshark(t testing.TB, file string, args ...string) (string, string, error) {
	t.Helper()
	bin, env := tsharkEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"-n", "-r", file,
		"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), tsharkStderr(errb.String()), err
}

// expertRE parses tshark's _ws.expert text.
var expertRE = regexp.MustCompile(`^Expert Info \(([A-Za-z]+)/([^)]*)\): ?(.*)$`)

// checkTshark has tshark read the whole file and fails the test when tshark
// fails, complains on standard error (a cut-short or damaged file), finds
// a different number of frames than want (unless want < 0), or reports a
// malformed frame or expert info of severity Warning or Error (other than
// group Sequence, which judges a packet against others in the file). Every
// file the tests write goes through it.
func checkTshark(t testing.TB, file string, want int) {
	t.Helper()
	out, stderr, err := runTshark(t, file, "-T", "json", "-e", "frame.number", "-e", "_ws.expert", "-e", "_ws.malformed")
	if err != nil {
		t.Fatalf("tshark on %s: %v\n%s", filepath.Base(file), err, stderr)
	}
	if stderr != "" {
		t.Errorf("tshark on %s says: %s", filepath.Base(file), stderr)
	}
	var frames []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}
	if err := json.Unmarshal([]byte(out), &frames); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	if want >= 0 && len(frames) != want {
		t.Errorf("tshark finds %d frames in %s, want %d", len(frames), filepath.Base(file), want)
	}
	for i, f := range frames {
		l := f.Source.Layers
		if len(l["_ws.malformed"]) > 0 {
			t.Errorf("%s frame %d: malformed: %v", filepath.Base(file), i+1, l["_ws.malformed"])
		}
		for _, msg := range l["_ws.expert"] {
			m := expertRE.FindStringSubmatch(strings.TrimPrefix(strings.TrimSpace(msg), "[truncated]"))
			if m == nil || (m[1] == "Warning" || m[1] == "Error") && m[2] != "Sequence" {
				t.Errorf("%s frame %d: tshark: %s", filepath.Base(file), i+1, msg)
			}
		}
	}
}
