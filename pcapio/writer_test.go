package pcapio

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/tshark"
	"github.com/echolot/echolot/packet"
)

// writeFile writes recs to a new file in a temporary directory and returns
// its path.
func writeFile(t testing.TB, name string, o Options, recs []Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	w, err := Create(path, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if err := w.WritePacket(r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLinkCommentsIssueStyle checks the comment texts against the issue's
// examples, with the changes computed by packet.QuoteDiff.
func TestLinkCommentsIssueStyle(t *testing.T) {
	probe := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: client, Dst: server, TTL: 3, ID: 1},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest, ID: 7, Seq: 17},
		Payload: pattern(t, "a5", 56)}
	seen := probe
	seen.IPv4.TTL, seen.IPv4.TOS = 1, 0x28
	q, _ := mustMarshal(t, seen)
	_, sent := mustMarshal(t, probe)
	quoted, err := packet.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	te := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: r2, Dst: client, TTL: 63, TOS: 0xc0},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPTimeExceeded}, Payload: q}
	_, answer := mustMarshal(t, te)
	m, ok := packet.Answers(sent, answer)
	if !ok {
		t.Fatal("the time-exceeded does not answer the probe")
	}
	udp := packet.Packet{Version: 6, IPv6: packet.IPv6{Src: client6, Dst: server6, HopLimit: 5},
		Transport: packet.TransportUDP, UDP: packet.UDP{SrcPort: 1000, DstPort: 33434}}
	for _, tc := range []struct {
		l    Link
		want string
	}{
		{ProbeLinkFor(17, sent, "a5"), "probe 17 seq=17 ttl=3 pattern=a5"},
		{AnswerLinkFor(17, sent, answer, m, 412*time.Microsecond),
			"answer to probe 17: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1 tos 0x00→0x28"},
		{ProbeLinkFor(2, &udp, ""), "probe 2 ttl=5"},
		{UnmatchedLinkFor(answer), "unmatched: time-exceeded from 198.18.2.2"},
		{Link{Kind: ProbeLink, Probe: 17, Seq: 17, TTL: 3, Pattern: "a5"}, "probe 17 seq=17 ttl=3 pattern=a5"},
		{Link{Kind: AnswerLink, Probe: 17, Answer: "time-exceeded", From: r2, RTT: 412 * time.Microsecond,
			Changes: packet.QuoteDiff(sent, quoted)},
			"answer to probe 17: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1 tos 0x00→0x28"},
		{Link{Kind: AnswerLink, Probe: 3, Answer: "echo-reply", From: server6, RTT: 1500 * time.Microsecond, Note: "payload damaged: 1 byte"},
			"answer to probe 3: echo-reply from 2001:db8:3::2 rtt=1.500ms; payload damaged: 1 byte"},
		{Link{Kind: ProbeLink, Probe: 4, Seq: -1, TTL: 64}, "probe 4 ttl=64"},
		{Link{Kind: UnmatchedLink, Answer: "echo-reply", From: server}, "unmatched: echo-reply from 198.18.3.2"},
		{Link{Kind: UnmatchedLink}, "unmatched: packet"},
		{Link{}, ""},
	} {
		if got := tc.l.Comment(); got != tc.want {
			t.Errorf("Comment()\n got %q\nwant %q", got, tc.want)
		}
	}
}

// TestCloseOnSignalRegistry registers and unregisters writers without
// sending a signal (the kill tests send them, to a child process).
func TestCloseOnSignalRegistry(t *testing.T) {
	var a, b bytes.Buffer
	wa, _ := NewWriter(&a, Options{})
	wb, _ := NewWriter(&b, Options{})
	stopA := CloseOnSignal(wa)
	stopB := CloseOnSignal(wb)
	s := &closeOnSignal
	s.mu.Lock()
	n, installed := len(s.closers), s.ch != nil
	s.mu.Unlock()
	if n != 2 || !installed {
		t.Errorf("%d registered, handler installed %v", n, installed)
	}
	stopA()
	stopA()
	stopB()
	s.mu.Lock()
	n, installed = len(s.closers), s.ch != nil
	s.mu.Unlock()
	if n != 0 || installed {
		t.Errorf("after stop: %d registered, handler installed %v", n, installed)
	}
	wa.Close()
	wb.Close()
}

func TestChangesText(t *testing.T) {
	ch := []packet.Change{
		{Field: "tos", Sent: 0x10, Seen: 0x29},
		{Field: "dscp", Sent: 4, Seen: 10},
		{Field: "ecn", Sent: 0, Seen: 1},
		{Field: "df", Sent: true, Seen: false},
		{Field: "ttl", Sent: 5, Seen: 1, Expected: true},
		{Field: "options.rr", Sent: "rr []", Seen: "rr [198.18.1.1]", Expected: true},
		{Field: "chksum", Sent: 0x1111, Seen: 0x2222, Expected: true},
		{Field: "icmp.chksum", Sent: 0x1111, Seen: 0x2222},
	}
	want := "ttl 5→1 tos 0x10→0x29 df 1→0 icmp.chksum 0x1111→0x2222"
	if got := ChangesText(ch); got != want {
		t.Errorf("ChangesText\n got %q\nwant %q", got, want)
	}
	if got := ChangesText([]packet.Change{{Field: "dscp", Sent: 4, Seen: 10}}); got != "dscp 4→10" {
		t.Errorf("dscp alone: %q", got)
	}
	if ChangesText(nil) != "" {
		t.Error("no changes should give no text")
	}
}

// TestWritePcapngJudgedByTshark writes the sample exchanges as pcapng and
// asserts, through tshark -T fields, every field the issue names: record
// route and timestamp options, DF, DSCP, TTL, ICMP seq, payload and the
// comments, plus direction, packet id, interface name and the nanosecond
// timestamps.
func TestWritePcapngJudgedByTshark(t *testing.T) {
	s := sampleExchanges(t)
	path := writeFile(t, "sample.pcapng", Options{Interfaces: []Interface{{Name: "echolot:raw", Description: "raw sockets in lab node client"}}}, s.recs)
	checkTshark(t, path, len(s.recs))
	rows := tshark.FieldsFile(t, path, "frame.comment", "ip.ttl", "ip.flags.df", "ip.dsfield.dscp", "icmp.seq", "icmpv6.echo.sequence_number",
		"ip.rec_rt", "ip.opt.time_stamp", "data.data", "frame.packet_flags_direction", "frame.packet_id",
		"frame.interface_name", "frame.interface_description", "frame.time_epoch", "ipv6.hlim", "ipv6.tclass.dscp")
	want := [][]string{
		{"probe 17 seq=17 ttl=3 pattern=a5", "3", "1", "4", "17", "", "", "", strings.Repeat("a5", 56), "0x00000002", "17"},
		{"answer to probe 17: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1 tos 0x10→0x28", "63,1", "0,1", "48,10", "17", "", "198.18.2.1", "", strings.Repeat("a5", 56), "0x00000001", "17"},
		{"probe 18 seq=18 ttl=64 pattern=5a", "64", "0", "0", "18", "", "", "1000,0,0,0", strings.Repeat("5a", 32), "0x00000002", "18"},
		{"answer to probe 18: echo-reply from 198.18.3.2 rtt=0.500ms", "64", "0", "0", "18", "", "", "1000,1001,1002,0", strings.Repeat("5a", 32), "0x00000001", "18"},
		{"probe 19 seq=19 ttl=64 pattern=0f", "", "", "", "", "19", "", "", strings.Repeat("0f", 24), "0x00000002", "19"},
		{"answer to probe 19: echo-reply from 2001:db8:3::2 rtt=0.300ms", "", "", "", "", "19", "", "", strings.Repeat("0f", 24), "0x00000001", "19"},
		{"unmatched: echo-reply from 198.18.3.2", "60", "0", "0", "99", "", "", "", "", "0x00000001", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		for j, v := range w {
			if rows[i][j] != v {
				t.Errorf("frame %d field %d: got %q, want %q", i+1, j, rows[i][j], v)
			}
		}
		if rows[i][11] != "echolot:raw" || rows[i][12] != "raw sockets in lab node client" {
			t.Errorf("frame %d interface %q %q", i+1, rows[i][11], rows[i][12])
		}
		wantTime := fmt.Sprintf("%d.%09d", s.recs[i].Time.Unix(), s.recs[i].Time.Nanosecond())
		if rows[i][13] != wantTime {
			t.Errorf("frame %d time %s, want %s", i+1, rows[i][13], wantTime)
		}
	}
	if rows[4][14] != "64" || rows[4][15] != "8" {
		t.Errorf("IPv6 hop limit %q, DSCP %q", rows[4][14], rows[4][15])
	}
}

// TestWriteReadRoundTrip reads back what the writer wrote, in both formats
// and byte orders.
func TestWriteReadRoundTrip(t *testing.T) {
	s := sampleExchanges(t)
	for _, tc := range []struct {
		name  string
		order byteOrder
	}{
		{"le.pcapng", binary.LittleEndian}, {"be.pcapng", binary.BigEndian},
		{"le.pcap", binary.LittleEndian}, {"be.pcap", binary.BigEndian},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			format := FormatPcapng
			if strings.HasSuffix(tc.name, ".pcap") {
				format = FormatPcap
			}
			w, err := newWriter(f, Options{Format: format}, tc.order)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range s.recs {
				if err := w.WritePacket(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			checkTshark(t, path, len(s.recs))
			frames, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != len(s.recs) {
				t.Fatalf("%d frames, want %d", len(frames), len(s.recs))
			}
			for i, fr := range frames {
				r := s.recs[i]
				if !bytes.Equal(fr.Data, r.Data) || !fr.Time.Equal(r.Time) || fr.LinkType != LinkRaw || fr.NetOffset != 0 || fr.IP == nil || fr.Number != i+1 {
					t.Errorf("frame %d: %+v", i, fr)
				}
				if format == FormatPcap {
					if fr.Dir != DirUnknown || fr.ID != 0 || len(fr.Comments) != 0 {
						t.Errorf("pcap frame %d has pcapng-only data: %v %v %q", i, fr.Dir, fr.ID, fr.Comments)
					}
					continue
				}
				if fr.Dir != r.Dir || fr.ID != r.ID || len(fr.Comments) != 1 || fr.Comments[0] != r.Link.Comment() {
					t.Errorf("frame %d: dir %v id %d comments %q; want %v %d %q", i, fr.Dir, fr.ID, fr.Comments, r.Dir, r.ID, r.Link.Comment())
				}
			}
		})
	}
}

// TestCreateChoosesFormat: ".pcap" gives classic pcap with nanosecond
// magic, anything else pcapng; an explicit format wins.
func TestCreateChoosesFormat(t *testing.T) {
	s := sampleExchanges(t)
	for name, want := range map[string]string{"a.pcap": "4d3cb2a1", "a.pcapng": "0a0d0d0a", "a.cap": "0a0d0d0a"} {
		path := writeFile(t, name, Options{}, s.recs[:1])
		b, _ := os.ReadFile(path)
		if got := hex.EncodeToString(b[:4]); got != want {
			t.Errorf("%s starts with %s, want %s", name, got, want)
		}
		checkTshark(t, path, 1)
	}
	path := writeFile(t, "b.pcap", Options{Format: FormatPcapng}, s.recs[:1])
	if b, _ := os.ReadFile(path); hex.EncodeToString(b[:4]) != "0a0d0d0a" {
		t.Errorf("explicit pcapng to .pcap: %x", b[:4])
	}
	checkTshark(t, path, 1)
}

// ethFrame wraps an IP datagram in Ethernet with optional VLAN tags.
func ethFrame(ip []byte, src, dst byte, tags ...uint16) []byte {
	b := []byte{2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src}
	for _, tag := range tags {
		b = append(b, 0x81, 0x00, byte(tag>>8), byte(tag))
	}
	et := []byte{0x08, 0x00}
	if ip[0]>>4 == 6 {
		et = []byte{0x86, 0xdd}
	}
	return append(append(b, et...), ip...)
}

// TestMultipleInterfaces writes raw IP and Ethernet (plain and VLAN-tagged)
// interfaces into one pcapng, one of them added mid-capture.
func TestMultipleInterfaces(t *testing.T) {
	s := sampleExchanges(t)
	path := filepath.Join(t.TempDir(), "multi.pcapng")
	w, err := Create(path, Options{Interfaces: []Interface{
		{Name: "echolot:raw4", Description: "raw IPv4 socket"},
		{Name: "client:to-r1", Description: "lab node client, interface to-r1", LinkType: LinkEthernet},
	}, Section: SectionInfo{Application: "pcapio test", Comment: "two interfaces, a third added later", OS: "Linux", Hardware: "veth"}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WritePacket(Record{Time: t0, Data: s.bytes[0], Dir: DirOut, Iface: 0}))
	must(w.WritePacket(Record{Time: t0.Add(time.Microsecond), Data: ethFrame(s.bytes[0], 1, 2), Dir: DirOut, Iface: 1}))
	vlan, err := w.AddInterface(Interface{Name: "r1:vlan", Description: "VLAN trunk", LinkType: LinkEthernet, SnapLen: 1000})
	must(err)
	if vlan != 2 {
		t.Fatalf("AddInterface gave %d, want 2", vlan)
	}
	must(w.WritePacket(Record{Time: t0.Add(2 * time.Microsecond), Data: ethFrame(s.bytes[1], 2, 1, 10), Dir: DirIn, Iface: vlan}))
	must(w.WritePacket(Record{Time: t0.Add(3 * time.Microsecond), Data: ethFrame(s.bytes[4], 2, 1, 20, 30), Dir: DirIn, Iface: vlan}))
	if err := w.WritePacket(Record{Iface: 3, Data: s.bytes[0]}); err == nil || !strings.Contains(err.Error(), "interface 3") {
		t.Errorf("record for a missing interface: %v", err)
	}
	must(w.Close())
	checkTshark(t, path, 4)
	rows := tshark.FieldsFile(t, path, "frame.interface_id", "frame.interface_name", "vlan.id", "ip.src", "ipv6.src", "frame.encap_type")
	want := [][]string{
		{"0", "echolot:raw4", "", "198.18.1.2", ""},
		{"1", "client:to-r1", "", "198.18.1.2", ""},
		{"2", "r1:vlan", "10", "198.18.2.2,198.18.1.2", ""},
		{"2", "r1:vlan", "20,30", "", "2001:db8:1::2"},
	}
	for i, w := range want {
		for j, v := range w {
			if rows[i][j] != v {
				t.Errorf("frame %d field %d: %q, want %q", i+1, j, rows[i][j], v)
			}
		}
	}
	rd, frames := readAll(t, path)
	ifs := rd.Interfaces()
	if len(ifs) != 3 || ifs[2].Name != "r1:vlan" || ifs[2].LinkType != LinkEthernet || ifs[2].SnapLen != 1000 || ifs[1].Description != "lab node client, interface to-r1" || ifs[0].Resolution != time.Nanosecond {
		t.Errorf("interfaces %+v", ifs)
	}
	for i, f := range frames {
		if f.IP == nil {
			t.Fatalf("frame %d: no IP found (link %v, data % x)", i+1, f.LinkType, f.Data[:min(len(f.Data), 24)])
		}
	}
	if frames[2].NetOffset != 18 || frames[3].NetOffset != 22 || frames[3].IP.Version != 6 || frames[2].Iface != 2 {
		t.Errorf("VLAN frames: offsets %d %d", frames[2].NetOffset, frames[3].NetOffset)
	}
}

func readAll(t testing.TB, path string) (*Reader, []Frame) {
	t.Helper()
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
		if err == io.EOF {
			return rd, frames
		}
		if err != nil {
			t.Fatalf("after %d frames: %v", len(frames), err)
		}
		frames = append(frames, fr)
	}
}

func TestPcapOneLinkType(t *testing.T) {
	_, err := Create(filepath.Join(t.TempDir(), "x.pcap"), Options{Interfaces: []Interface{{}, {LinkType: LinkEthernet}}})
	if err == nil || !strings.Contains(err.Error(), "one link type") {
		t.Errorf("classic pcap with two link types: %v", err)
	}
	w, err := Create(filepath.Join(t.TempDir(), "y.pcap"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.AddInterface(Interface{LinkType: LinkEthernet}); err == nil {
		t.Error("AddInterface of another link type to a classic pcap writer succeeded")
	}
	if id, err := w.AddInterface(Interface{Name: "second raw"}); err != nil || id != 1 {
		t.Errorf("AddInterface of the same link type: %d %v", id, err)
	}
}

// TestSnapLenAndLongComments: records longer than the snapshot length keep
// their original length; comments too long for an option are cut at a
// UTF-8 boundary and invalid UTF-8 is replaced; tshark reads it all.
func TestSnapLenAndLongComments(t *testing.T) {
	s := sampleExchanges(t)
	long := strings.Repeat("ä", 40000) // 80000 bytes
	recs := []Record{
		{Time: t0, Data: s.bytes[0], Comments: []string{long, "bad \xff utf-8"}},
		{Time: t0.Add(time.Millisecond), Data: s.bytes[1], Len: 2000},
	}
	path := writeFile(t, "snap.pcapng", Options{Interfaces: []Interface{{SnapLen: 40}}}, recs)
	checkTshark(t, path, 2)
	frames, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames[0].Data) != 40 || frames[0].Len != len(s.bytes[0]) || frames[1].Len != 2000 {
		t.Errorf("lengths: %d/%d, %d", len(frames[0].Data), frames[0].Len, frames[1].Len)
	}
	c := frames[0].Comments
	if len(c) != 2 || len(c[0]) != 65534 || !strings.HasPrefix(long, c[0]) || c[1] != "bad \uFFFD utf-8" {
		t.Errorf("comments: %d comments, first %d bytes, second %q", len(c), len(c[0]), c[1])
	}
}

// TestTimestampResolutions writes pcapng with other if_tsresol values (as
// other tools do) and checks that reader and tshark agree on the times.
func TestTimestampResolutions(t *testing.T) {
	s := sampleExchanges(t)
	for _, tc := range []struct {
		res  uint8
		unit time.Duration
	}{{6, time.Microsecond}, {3, time.Millisecond}, {9, time.Nanosecond}, {0x80 | 20, time.Microsecond}, {0x80 | 30, 2 * time.Nanosecond}} {
		t.Run(fmt.Sprintf("tsresol-0x%02x", tc.res), func(t *testing.T) {
			testTSResol = tc.res
			defer func() { testTSResol = 0 }()
			path := writeFile(t, "res.pcapng", Options{}, s.recs)
			checkTshark(t, path, len(s.recs))
			rows := tshark.FieldsFile(t, path, "frame.time_epoch")
			frames, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range frames {
				d := s.recs[i].Time.Sub(f.Time)
				if d < 0 || d >= tc.unit {
					t.Errorf("frame %d: read %v, wrote %v (resolution %v)", i+1, f.Time, s.recs[i].Time, tc.unit)
				}
				// tshark prints nanoseconds; for binary fractions it may
				// round where this reader truncates.
				want := fmt.Sprintf("%d.%09d", f.Time.Unix(), f.Time.Nanosecond())
				if rows[i][0] != want && tc.res&0x80 == 0 {
					t.Errorf("frame %d: tshark %s, reader %s", i+1, rows[i][0], want)
				}
			}
		})
	}
}

// blockingWriter blocks every Write until released.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestQueueFullDropsWithoutBlocking: with the file stuck, WritePacket keeps
// returning at once, drops are counted, and the file written afterwards
// says how many were dropped.
func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	s := sampleExchanges(t)
	bw := &blockingWriter{release: make(chan struct{})}
	close(bw.release) // let the header through
	w, err := NewWriter(bw, Options{QueueLen: 8, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	bw.release = make(chan struct{}) // now every write blocks
	var dropped int
	start := time.Now()
	var slowest time.Duration
	for i := 0; i < 2000; i++ {
		t1 := time.Now()
		err := w.WritePacket(Record{Data: s.bytes[i%len(s.bytes)], ID: uint64(i + 1)})
		slowest = max(slowest, time.Since(t1))
		if errors.Is(err, ErrDropped) {
			dropped++
		} else if err != nil {
			t.Fatal(err)
		}
		if i == 100 {
			time.Sleep(20 * time.Millisecond) // the goroutine takes what it can and blocks in Write
		}
	}
	took := time.Since(start)
	st := w.Stats()
	if dropped == 0 || st.Dropped != uint64(dropped) || st.Queued+st.Dropped != 2000 {
		t.Errorf("dropped %d, stats %+v", dropped, st)
	}
	t.Logf("2000 WritePacket calls against a stuck file: %v, slowest %v, %d dropped", took, slowest, dropped)
	if slowest > 50*time.Millisecond {
		t.Errorf("a WritePacket call took %v while the file was stuck", slowest)
	}
	close(bw.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st = w.Stats()
	if st.Written != st.Queued || st.Lost != 0 {
		t.Errorf("after Close: %+v", st)
	}
	path := filepath.Join(t.TempDir(), "drops.pcapng")
	if err := os.WriteFile(path, bw.buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	checkTshark(t, path, int(st.Queued))
	frames, err := ReadFile(path)
	if err != nil || len(frames) != int(st.Queued) {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	if !bytes.Contains(bw.buf.Bytes(), []byte(fmt.Sprintf("%d record(s) of this interface dropped", dropped))) {
		t.Error("no interface statistics block with the drop count")
	}
}

// TestLossless: with Options.Lossless nothing is dropped even with a tiny
// queue and many writers; each writer's records stay in order.
func TestLossless(t *testing.T) {
	s := sampleExchanges(t)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{QueueLen: 4, Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := w.WritePacket(Record{Data: s.bytes[0], ID: uint64(g<<16 | i), Iface: 0}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	frames, err := Read(&buf)
	if err != nil || len(frames) != writers*each {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	next := make([]uint64, writers)
	for _, f := range frames {
		g, i := f.ID>>16, f.ID&0xffff
		if i != next[g] {
			t.Fatalf("writer %d: record %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	if st := w.Stats(); st.Dropped != 0 || st.Written != writers*each {
		t.Errorf("stats %+v", st)
	}
}

// TestFlushPolicy: a record reaches the file within FlushInterval without
// any call; Flush writes at once; Close after Close and WritePacket after
// Close report ErrClosed or the first result.
func TestFlushPolicy(t *testing.T) {
	s := sampleExchanges(t)
	path := filepath.Join(t.TempDir(), "flush.pcapng")
	w, err := Create(path, Options{FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	hdr := size()
	if hdr == 0 {
		t.Fatal("the file header was not written at once")
	}
	checkTshark(t, path, 0)
	if err := w.WritePacket(s.recs[0]); err != nil {
		t.Fatal(err)
	}
	if size() != hdr {
		t.Error("the record was written at once; want it buffered")
	}
	deadline := time.Now().Add(2 * time.Second)
	for size() == hdr && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if size() == hdr {
		t.Fatal("the record was not written within the flush interval")
	}
	if err := w.WritePacket(s.recs[1]); err != nil {
		t.Fatal(err)
	}
	before := size()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if size() == before {
		t.Error("Flush did not write")
	}
	if st := w.Stats(); st.Written != 2 || st.Bytes != uint64(size()) {
		t.Errorf("stats %+v, file %d bytes", st, size())
	}
	checkTshark(t, path, 2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.WritePacket(s.recs[2]); !errors.Is(err, ErrClosed) {
		t.Errorf("WritePacket after Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestWriteErrorIsReported(t *testing.T) {
	s := sampleExchanges(t)
	if _, err := NewWriter(&failingWriter{}, Options{}); err == nil || !strings.Contains(err.Error(), "file header") {
		t.Errorf("header write error: %v", err)
	}
	w, err := NewWriter(&failingWriter{after: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(s.recs[0]); err != nil {
		t.Fatal(err)
	}
	err = w.Flush()
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "offset") {
		t.Errorf("Flush: %v", err)
	}
	if err := w.WritePacket(s.recs[1]); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WritePacket after a failed write: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close hides the write error")
	}
	if st := w.Stats(); st.Lost != 1 || st.Written != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestZeroTimeMeansNow and records from several families in one raw-IP
// file.
func TestZeroTimeMeansNow(t *testing.T) {
	s := sampleExchanges(t)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Options{})
	before := time.Now()
	w.WritePacket(Record{Data: s.bytes[0]})
	w.Close()
	frames, err := Read(&buf)
	if err != nil || len(frames) != 1 {
		t.Fatal(err)
	}
	if frames[0].Time.Before(before.Truncate(time.Microsecond)) || frames[0].Time.After(time.Now()) {
		t.Errorf("time %v, want about %v", frames[0].Time, before)
	}
}

// TestWritePacketAllocatesNothing: in steady state (every queue slot has
// held a record), WritePacket allocates nothing, for a probe and for an
// answer with changes and comments. The writer goroutine is held in a
// write meanwhile, so only WritePacket's allocations are counted.
func TestWritePacketAllocatesNothing(t *testing.T) {
	for _, rec := range []Record{benchRecord(t), benchAnswer(t)} {
		g := newGateWriter()
		w, err := NewWriter(g, Options{QueueLen: 1024, FlushInterval: time.Millisecond, Lossless: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2048; i++ {
			w.WritePacket(rec)
		}
		stallWriter(w, g, rec)
		allocs := testing.AllocsPerRun(500, func() {
			if err := w.WritePacket(rec); err != nil {
				t.Fatal(err)
			}
		})
		g.set(true)
		w.Close()
		if allocs != 0 {
			t.Errorf("%v: %v allocations per WritePacket", rec.Link.Kind, allocs)
		}
	}
}
