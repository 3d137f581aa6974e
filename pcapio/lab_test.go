package pcapio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/internal/tshark"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

// labPings are the iputils ping runs the lab tests make from the client,
// in order (the PMTU runs last in each family: they teach the client's
// kernel a smaller path MTU). Each yields answers of one kind.
var labPings = []struct {
	args []string
	v6   bool
}{
	{[]string{"-c", "3", "-i", "0.2", "-p", "a5"}, false},       // echo replies, payload pattern 0xa5
	{[]string{"-c", "1", "-t", "1"}, false},                     // time-exceeded from r1
	{[]string{"-c", "1", "-R"}, false},                          // record route
	{[]string{"-c", "1", "-T", "tsonly"}, false},                // timestamp option
	{[]string{"-c", "1", "-Q", "0x28"}, false},                  // DSCP 10
	{[]string{"-c", "1", "-M", "do", "-s", "1400"}, false},      // frag-needed from r2 (MTU 1400 on r2–server)
	{[]string{"-6", "-c", "2", "-i", "0.2"}, true},              // echo replies
	{[]string{"-6", "-c", "1", "-t", "1"}, true},                // time-exceeded from r1
	{[]string{"-6", "-c", "1", "-M", "do", "-s", "1400"}, true}, // packet-too-big from r2
}

// pingAnswer is one answer as iputils ping printed it.
type pingAnswer struct {
	from string
	seq  int
	kind string
}

var (
	pingReplyRE = regexp.MustCompile(`^\d+ bytes from ([0-9a-f.:]+): icmp_seq=(\d+) `)
	pingErrorRE = regexp.MustCompile(`^From ([0-9a-f.:]+)(?: icmp_seq=(\d+))? (.*)$`)
)

// parsePing returns the answers in ping's output.
func parsePing(out string) []pingAnswer {
	var as []pingAnswer
	for _, l := range strings.Split(out, "\n") {
		if m := pingReplyRE.FindStringSubmatch(l); m != nil {
			var seq int
			fmt.Sscan(m[2], &seq)
			as = append(as, pingAnswer{m[1], seq, "echo-reply"})
		} else if m := pingErrorRE.FindStringSubmatch(l); m != nil {
			var seq int
			fmt.Sscan(m[2], &seq)
			kind := m[3]
			switch {
			case strings.HasPrefix(kind, "Time to live exceeded"), strings.HasPrefix(kind, "Time exceeded: Hop limit"):
				kind = "time-exceeded"
			case strings.HasPrefix(kind, "Frag needed"):
				kind = "frag-needed"
			case strings.HasPrefix(kind, "Packet too big"):
				kind = "packet-too-big"
			}
			as = append(as, pingAnswer{m[1], seq, kind})
		}
	}
	return as
}

// runLabPings runs labPings in the client and returns what ping printed.
func runLabPings(t *testing.T, l *lab.Lab) []pingAnswer {
	t.Helper()
	ping := testenv.NeedTool(t, "ping")
	var all []pingAnswer
	for _, p := range labPings {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		dst := l.Addr("server", p.v6).String()
		out, _ := l.Command(ctx, "client", append(append([]string{ping}, p.args...), dst)...).CombinedOutput()
		cancel()
		as := parsePing(string(out))
		if len(as) == 0 {
			t.Fatalf("ping %s %s printed no answer:\n%s", strings.Join(p.args, " "), dst, out)
		}
		all = append(all, as...)
	}
	return all
}

// startTool starts a capture tool in a lab node and waits until it says
// it is listening. It returns a function that stops it with SIGINT (the
// tool then writes what it has) and waits for it.
func startTool(t *testing.T, l *lab.Lab, node string, argv ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := l.Command(ctx, node, argv...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	var tail strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			tail.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "listening on") || strings.HasPrefix(sc.Text(), "Capturing on") {
				select {
				case ready <- sc.Text():
				default:
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		cancel()
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s did not start listening: %s", argv[0], tail.String())
	}
	time.Sleep(100 * time.Millisecond) // the socket is open; let the tool settle
	var once sync.Once
	stop = func() {
		once.Do(func() {
			time.Sleep(200 * time.Millisecond) // let the last packets reach the tool
			cancel()
			err := cmd.Wait()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 0 {
				err = nil // stopped by the SIGINT it asked for
			}
			if err != nil {
				t.Logf("%s: %v\n%s", argv[0], err, tail.String())
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// exchangeSummary renders matched exchanges comparably: kind, answer
// source, and the probe's ICMP sequence number.
func exchangeSummary(frames []Frame, ex []Exchange) []string {
	var out []string
	for _, e := range ex {
		if e.Answer < 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s from %v seq=%d", e.Match.Kind, frames[e.Answer].IP.Src(), frames[e.Probe].IP.ICMP.Seq))
	}
	sort.Strings(out)
	return out
}

func pingSummary(as []pingAnswer) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s from %v seq=%d", a.kind, netip.MustParseAddr(a.from), a.seq))
	}
	sort.Strings(out)
	return out
}

// TestLabTcpdumpMatchesLive captures in the lab's client with tcpdump -w
// and, at the same time, with a Sniffer, while iputils ping runs (echo
// replies, a TTL-exceeded, a frag-needed and their IPv6 twins). Matching
// the tcpdump file offline must give the answers ping printed, and the same
// answers and round-trip times as the live capture. The live frames,
// annotated, are then written as Ethernet and as raw-IP pcapng and judged by
// tshark, field by field.
func TestLabTcpdumpMatchesLive(t *testing.T) {
	tcpdump := testenv.NeedTool(t, "tcpdump")
	l := labtest.New(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "client.pcap")

	var sn *Sniffer
	if err := l.InNode("client", func() (err error) {
		sn, err = Sniff(lab.IfaceName("r1"), SniffOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var live []Frame
	liveDone := make(chan error, 1)
	go func() {
		for {
			f, err := sn.Next()
			if err != nil {
				liveDone <- err
				return
			}
			live = append(live, f)
		}
	}()
	stop := startTool(t, l, "client", tcpdump, "-n", "-U", "--immediate-mode", "-Z", "root", "-i", lab.IfaceName("r1"), "-w", file)
	pinged := runLabPings(t, l)
	stop()
	time.Sleep(50 * time.Millisecond)
	sn.Close()
	if err := <-liveDone; !errors.Is(err, ErrClosed) {
		t.Errorf("sniffer ended with %v, want ErrClosed", err)
	}

	fromFile, err := ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	checkTshark(t, file, len(fromFile))
	InferDirection(fromFile, l.Addr("client", false), l.Addr("client", true))
	fileEx, liveEx := Match(fromFile), Match(live)

	want := pingSummary(pinged)
	got := exchangeSummary(fromFile, fileEx)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("matching the tcpdump file gives\n\t%s\nping printed\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	if gotLive := exchangeSummary(live, liveEx); strings.Join(gotLive, "\n") != strings.Join(want, "\n") {
		t.Errorf("matching live gives\n\t%s\nping printed\n\t%s", strings.Join(gotLive, "\n\t"), strings.Join(want, "\n\t"))
	}
	// The same exchanges with the same round-trip times (tcpdump's file
	// has microseconds).
	type key struct {
		seq  uint16
		kind string
		id   uint16
	}
	rtts := map[key]time.Duration{}
	for _, e := range liveEx {
		if e.Answer >= 0 {
			rtts[key{live[e.Probe].IP.ICMP.Seq, e.Match.Kind, live[e.Probe].IP.ICMP.ID}] = e.RTT
		}
	}
	for _, e := range fileEx {
		if e.Answer < 0 {
			continue
		}
		k := key{fromFile[e.Probe].IP.ICMP.Seq, e.Match.Kind, fromFile[e.Probe].IP.ICMP.ID}
		lr, ok := rtts[k]
		if !ok {
			t.Errorf("%+v matched in the file, not live", k)
			continue
		}
		if d := (lr - e.RTT).Abs(); d > 2*time.Microsecond {
			t.Errorf("%+v: rtt %v live, %v from the file", k, lr, e.RTT)
		}
	}
	t.Logf("tcpdump file: %d frames, %d bytes; live: %d frames; %d answers matched", len(fromFile), fileSize(t, file), len(live), len(got))

	// Write the live capture, annotated, as Ethernet and as raw IP.
	Annotate(live)
	eth := filepath.Join(dir, "client-eth.pcapng")
	raw := filepath.Join(dir, "client-raw.pcapng")
	we, err := Create(eth, Options{Interfaces: []Interface{sn.Interface()}, Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	wr, err := Create(raw, Options{Interfaces: []Interface{{Name: "client:to-r1", Description: "lab node client, IP datagrams of interface to-r1"}}, Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	var rawFrames []Frame
	for i, f := range live {
		r := f.Record()
		r.ID = uint64(i + 1)
		if err := we.WritePacket(r); err != nil {
			t.Fatal(err)
		}
		if f.IP != nil {
			r.Data = f.Data[f.NetOffset:]
			r.Len = len(r.Data)
			if err := wr.WritePacket(r); err != nil {
				t.Fatal(err)
			}
			rawFrames = append(rawFrames, f)
		}
	}
	if err := errors.Join(we.Close(), wr.Close()); err != nil {
		t.Fatal(err)
	}
	checkTshark(t, eth, len(live))
	checkTshark(t, raw, len(rawFrames))
	rows := tshark.FieldsFile(t, raw, "frame.comment", "ip.ttl", "ip.flags.df", "ip.dsfield.dscp", "icmp.seq", "icmpv6.echo.sequence_number",
		"ip.rec_rt", "ip.opt.time_stamp", "data.data", "frame.packet_flags_direction", "icmp.type", "icmpv6.type")
	if len(rows) != len(rawFrames) {
		t.Fatalf("tshark: %d rows for %d frames", len(rows), len(rawFrames))
	}
	seen := map[string]bool{}
	for i, f := range rawFrames {
		row := rows[i]
		if row[0] != strings.Join(f.Comments, ",") {
			t.Errorf("frame %d: tshark comment %q, want %q", i+1, row[0], f.Comments)
		}
		if want := map[Direction]string{DirIn: "0x00000001", DirOut: "0x00000002"}[f.Dir]; row[9] != want {
			t.Errorf("frame %d: direction %q, want %q", i+1, row[9], want)
		}
		p := f.IP
		outer := func(v string) string { return strings.Split(v, ",")[0] } // an ICMP error's quote adds inner values
		if p.Version == 4 {
			if outer(row[1]) != fmt.Sprint(p.IPv4.TTL) || outer(row[2]) != map[bool]string{true: "1", false: "0"}[p.IPv4.DF] || outer(row[3]) != fmt.Sprint(p.IPv4.DSCP()) {
				t.Errorf("frame %d: ttl/df/dscp %q %q %q; packet %v", i+1, row[1], row[2], row[3], p.Summary())
			}
		}
		isEcho := p.Transport == packet.TransportICMP && (p.ICMP.Type == 8 || p.ICMP.Type == 0)
		if isEcho && row[4] != fmt.Sprint(p.ICMP.Seq) {
			t.Errorf("frame %d: icmp.seq %q, want %d", i+1, row[4], p.ICMP.Seq)
		}
		for _, c := range f.Comments {
			switch {
			case strings.Contains(c, "pattern=0xa5") && isEcho:
				if !strings.Contains(row[8], "a5a5a5a5a5a5a5a5") {
					t.Errorf("frame %d: payload %q lacks the a5 pattern", i+1, row[8])
				}
				seen["payload"] = true
			case strings.HasPrefix(c, "answer to probe") && strings.Contains(c, "time-exceeded from 198.18.1.1"):
				seen["te4"] = true
			case strings.HasPrefix(c, "answer to probe") && strings.Contains(c, "frag-needed from 198.18.2.2"):
				seen["frag"] = true
			case strings.HasPrefix(c, "answer to probe") && strings.Contains(c, "packet-too-big from 2001:db8:2::2"):
				seen["ptb"] = true
			}
		}
		if isEcho && p.ICMP.Type == 0 && row[6] != "" {
			// The reply to ping -R carries the route out and back.
			if strings.Count(row[6], ",") < 3 || !strings.Contains(row[6], "198.18.3.2") {
				t.Errorf("frame %d: recorded route %q", i+1, row[6])
			}
			seen["rr"] = true
		}
		if isEcho && p.ICMP.Type == 0 && row[7] != "" && row[7] != "0" {
			if n := strings.Count(row[7], ",") + 1; n < 3 {
				t.Errorf("frame %d: timestamps %q", i+1, row[7])
			}
			seen["ts"] = true
		}
		if p.Version == 4 && p.IPv4.DSCP() == 10 {
			seen["dscp"] = true
		}
	}
	for _, k := range []string{"payload", "te4", "frag", "ptb", "rr", "ts", "dscp"} {
		if !seen[k] {
			t.Errorf("no frame showed %s", k)
		}
	}
}

// TestLabSnifferFilterAndClose: a filter keeps only echo requests, and
// Close unblocks a Next waiting for traffic.
func TestLabSnifferFilterAndClose(t *testing.T) {
	l := labtest.New(t)
	ping := testenv.NeedTool(t, "ping")
	var sn *Sniffer
	err := l.InNode("server", func() (err error) {
		sn, err = Sniff(lab.IfaceName("r2"), SniffOptions{SnapLen: 60, Filter: func(p *packet.Packet) bool {
			return p.Transport == packet.TransportICMP && p.ICMP.Type == packet.ICMPEchoRequest
		}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	frames := make(chan Frame, 100)
	done := make(chan error, 1)
	go func() {
		for {
			f, err := sn.Next()
			if err != nil {
				done <- err
				return
			}
			frames <- f
		}
	}()
	out, err := l.Command(context.Background(), "client", ping, "-c", "3", "-i", "0.2", "-s", "200", l.Addr("server", false).String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	time.Sleep(100 * time.Millisecond)
	var got []Frame
	for len(frames) > 0 {
		got = append(got, <-frames)
	}
	if len(got) != 3 {
		t.Fatalf("%d frames passed the filter, want the 3 echo requests", len(got))
	}
	for i, f := range got {
		if f.Dir != DirIn || f.IP.ICMP.Seq != uint16(i+1) || len(f.Data) != 60 || f.Len != 14+20+8+200 || f.Number != i+1 || f.Offset != -1 {
			t.Errorf("frame %d: dir %v seq %d, %d of %d bytes, number %d", i, f.Dir, f.IP.ICMP.Seq, len(f.Data), f.Len, f.Number)
		}
	}
	seenN, kept := sn.Stats()
	if kept != 3 || seenN < 6 {
		t.Errorf("stats: seen %d kept %d", seenN, kept)
	}
	// Next is now blocked: nothing more passes the filter.
	start := time.Now()
	time.AfterFunc(100*time.Millisecond, func() { sn.Close() })
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close: %v", err)
		}
		t.Logf("Close unblocked Next after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Next")
	}
	if _, err := sn.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	if err := sn.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := Sniff("no-such-if0", SniffOptions{}); err == nil {
		t.Error("Sniff on a missing interface succeeded")
	}
}

// makeTestdataEnv names the variable that makes TestMakeLabCaptures
// rewrite the captures in testdata/lab (see testdata/lab/README.md).
const makeTestdataEnv = "ECHOLOT_PCAPIO_MAKE_TESTDATA"

// TestMakeLabCaptures makes the captures in testdata/lab with tcpdump and
// dumpcap in a lab while runLabPings runs. It runs only with
// ECHOLOT_PCAPIO_MAKE_TESTDATA=1.
func TestMakeLabCaptures(t *testing.T) {
	if os.Getenv(makeTestdataEnv) == "" {
		t.Skipf("rewrites testdata/lab; run with %s=1", makeTestdataEnv)
	}
	tcpdump := testenv.NeedTool(t, "tcpdump")
	dumpcap := testenv.NeedTool(t, "dumpcap")
	l := labtest.New(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "lab"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	out := func(name string) string {
		p := filepath.Join(dir, name)
		os.Remove(p)
		return p
	}
	stops := []func(){
		startTool(t, l, "client", tcpdump, "-n", "-U", "--immediate-mode", "-Z", "root", "-i", "to-r1", "-w", out("client-to-r1.pcap")),
		startTool(t, l, "client", tcpdump, "-n", "-U", "--immediate-mode", "-Z", "root", "-i", "to-r1", "--time-stamp-precision=nano", "-w", out("client-to-r1-nanos.pcap")),
		startTool(t, l, "r1", tcpdump, "-n", "-U", "--immediate-mode", "-Z", "root", "-i", "any", "-y", "LINUX_SLL2", "-w", out("r1-any-sll2.pcap")),
		startTool(t, l, "r1", tcpdump, "-n", "-U", "--immediate-mode", "-Z", "root", "-i", "any", "-y", "LINUX_SLL", "-w", out("r1-any-sll.pcap")),
		startTool(t, l, "r1", dumpcap, "-q", "-i", "to-client", "-i", "to-r2", "-w", out("r1-dumpcap.pcapng")),
	}
	pinged := runLabPings(t, l)
	for _, s := range stops {
		s()
	}
	for _, a := range pingSummary(pinged) {
		t.Log("ping printed:", a)
	}
}

// TestLabCapturesFromTestdata reads the committed lab captures (see
// testdata/lab/README.md) and matches them offline: the client's captures
// give every answer ping printed; r1's, where forwarded probes are seen
// twice, give those the probes got beyond r1.
func TestLabCapturesFromTestdata(t *testing.T) {
	clientWant := []string{
		"echo-reply from 198.18.3.2 seq=1", "echo-reply from 198.18.3.2 seq=1", "echo-reply from 198.18.3.2 seq=1",
		"echo-reply from 198.18.3.2 seq=1", "echo-reply from 198.18.3.2 seq=2", "echo-reply from 198.18.3.2 seq=3",
		"echo-reply from 2001:db8:3::2 seq=1", "echo-reply from 2001:db8:3::2 seq=2",
		"frag-needed from 198.18.2.2 seq=1", "packet-too-big from 2001:db8:2::2 seq=1",
		"time-exceeded from 198.18.1.1 seq=1", "time-exceeded from 2001:db8:1::1 seq=1",
	}
	// At r1, the probes with TTL 1 end there: r1 sent the time-exceeded
	// errors itself, so nothing it forwarded was answered by them.
	var r1Want, r1AnyWant []string
	for _, s := range clientWant {
		if !strings.HasPrefix(s, "time-exceeded") {
			r1Want = append(r1Want, s)
			// tcpdump -i any missed the first IPv6 echo reply (both
			// copies) in every run; see testdata/lab/README.md.
			if s != "echo-reply from 2001:db8:3::2 seq=1" {
				r1AnyWant = append(r1AnyWant, s)
			}
		}
	}
	for _, tc := range []struct {
		file   string
		format Format
		link   LinkType
		res    time.Duration
		infer  bool // directions are not in the file: infer them from the client's addresses
		iface  int  // match only the frames of this interface; -1 for all
		ifaces int
		want   []string
	}{
		{"client-to-r1.pcap", FormatPcap, LinkEthernet, time.Microsecond, true, -1, 1, clientWant},
		{"client-to-r1-nanos.pcap", FormatPcap, LinkEthernet, time.Nanosecond, true, -1, 1, clientWant},
		{"r1-any-sll2.pcap", FormatPcap, LinkLinuxSLL2, time.Microsecond, false, -1, 1, r1AnyWant},
		{"r1-any-sll.pcap", FormatPcap, LinkLinuxSLL, time.Microsecond, false, -1, 1, r1AnyWant},
		// dumpcap's pcapng holds both of r1's interfaces, each in its own
		// time order; on to-r2 (interface 1) frames from the client travel
		// out and the rest in.
		{"r1-dumpcap.pcapng", FormatPcapng, LinkEthernet, time.Nanosecond, true, 1, 2, r1Want},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "lab", tc.file)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rd, err := NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			var frames []Frame
			for {
				fr, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				frames = append(frames, fr)
			}
			ifs := rd.Interfaces()
			if rd.Format() != tc.format || len(ifs) != tc.ifaces || ifs[0].LinkType != tc.link || ifs[0].Resolution != tc.res {
				t.Errorf("format %v interfaces %+v", rd.Format(), ifs)
			}
			ip := 0
			for _, fr := range frames {
				if fr.IP != nil {
					ip++
				}
			}
			all := frames
			if tc.iface >= 0 {
				frames = nil
				for _, fr := range all {
					if fr.Iface == tc.iface {
						frames = append(frames, fr)
					}
				}
			}
			if tc.infer {
				InferDirection(frames, netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("2001:db8:1::2"))
			}
			ex := Annotate(frames)
			got := exchangeSummary(frames, ex)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("matched\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			t.Logf("%d frames (%d with IP), %d interfaces, %d answers matched", len(all), ip, len(ifs), len(got))
			checkTshark(t, path, len(all))
		})
	}
}
