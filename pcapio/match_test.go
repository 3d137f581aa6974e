package pcapio

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/tshark"
	"github.com/echolot/echolot/packet"
)

// framesOf turns records into frames as the reader would return them,
// without comments.
func framesOf(t testing.TB, recs []Record, lt LinkType) []Frame {
	t.Helper()
	frames := make([]Frame, len(recs))
	for i, r := range recs {
		frames[i] = Frame{Number: i + 1, Time: r.Time, LinkType: lt, Data: r.Data, Len: len(r.Data), Dir: r.Dir}
		decodeLink(&frames[i])
		if frames[i].IP == nil {
			t.Fatalf("record %d has no IP", i)
		}
	}
	return frames
}

// TestAnnotateSample: the offline matcher finds what the engine's links
// in sampleExchanges say, and writes the same comments (its probe numbers
// count the probes in the capture).
func TestAnnotateSample(t *testing.T) {
	s := sampleExchanges(t)
	frames := framesOf(t, s.recs, LinkRaw)
	ex := Annotate(frames)
	if len(ex) != 3 {
		t.Fatalf("exchanges %+v", ex)
	}
	for i, e := range ex {
		if e.Probe != 2*i || e.Answer != 2*i+1 || e.Number != i+1 || e.Duplicate {
			t.Errorf("exchange %d: %+v", i, e)
		}
	}
	if ex[0].RTT != 412*time.Microsecond || ex[0].Match.Kind != "time-exceeded" || !ex[0].Match.Error {
		t.Errorf("exchange 1: %+v", ex[0])
	}
	want := []string{
		"probe 1 seq=17 ttl=3 pattern=0xa5",
		"answer to probe 1: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1 tos 0x10→0x28",
		"probe 2 seq=18 ttl=64 pattern=0x5a",
		"answer to probe 2: echo-reply from 198.18.3.2 rtt=0.500ms",
		"probe 3 seq=19 ttl=64 pattern=0x0f",
		"answer to probe 3: echo-reply from 2001:db8:3::2 rtt=0.300ms",
		"unmatched: echo-reply from 198.18.3.2",
	}
	for i, w := range want {
		if got := strings.Join(frames[i].Comments, " | "); got != w {
			t.Errorf("frame %d\n got %q\nwant %q", i+1, got, w)
		}
	}
}

// TestAnnotateUnknownDirections: the same with directions unknown (as in a
// tcpdump capture) gives the same matches; InferDirection restores them.
func TestAnnotateUnknownDirections(t *testing.T) {
	s := sampleExchanges(t)
	frames := framesOf(t, s.recs, LinkRaw)
	for i := range frames {
		frames[i].Dir = DirUnknown
	}
	a := Match(frames)
	InferDirection(frames, client, client6)
	for i, f := range frames {
		if f.Dir != s.recs[i].Dir {
			t.Errorf("frame %d: inferred %v, want %v", i+1, f.Dir, s.recs[i].Dir)
		}
	}
	b := Match(frames)
	if len(a) != len(b) {
		t.Fatalf("%d exchanges without directions, %d with", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("exchange %d: %+v without directions, %+v with", i, a[i], b[i])
		}
	}
}

// TestAnnotateDuplicatesAndLoss: a probe answered twice, a probe never
// answered, a damaged echo payload, a reply from another address.
func TestAnnotateDuplicatesAndLoss(t *testing.T) {
	mk := func(p packet.Packet, dir Direction, at time.Duration) Record {
		b, _ := mustMarshal(t, p)
		return Record{Time: t0.Add(at), Data: b, Dir: dir}
	}
	req := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: client, Dst: server, TTL: 64, ID: 1},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest, ID: 9, Seq: 1}, Payload: pattern(t, "55aa", 32)}
	rep := req
	rep.IPv4.Src, rep.IPv4.Dst = server, client
	rep.ICMP.Type = packet.ICMPEchoReply
	lost := req
	lost.ICMP.Seq = 2
	req3 := req
	req3.ICMP.Seq = 3
	rep3 := rep
	rep3.ICMP.Seq = 3
	rep3.Payload = bytes.Clone(rep.Payload)
	rep3.Payload[5] ^= 0x10
	req4 := req
	req4.ICMP.Seq = 4
	rep4 := rep
	rep4.ICMP.Seq = 4
	rep4.IPv4.Src = r2
	recs := []Record{
		mk(req, DirOut, 0), mk(rep, DirIn, time.Millisecond), mk(rep, DirIn, 2*time.Millisecond),
		mk(lost, DirOut, 3*time.Millisecond),
		mk(req3, DirOut, 4*time.Millisecond), mk(rep3, DirIn, 5*time.Millisecond),
		mk(req4, DirOut, 6*time.Millisecond), mk(rep4, DirIn, 7*time.Millisecond),
	}
	frames := framesOf(t, recs, LinkRaw)
	ex := Annotate(frames)
	if len(ex) != 5 || !ex[4].Duplicate || ex[4].Answer != 2 || ex[4].RTT != 2*time.Millisecond || ex[1].Answer != -1 {
		t.Fatalf("exchanges %+v", ex)
	}
	want := []string{
		"probe 1 seq=1 ttl=64 pattern=0x55aa",
		"answer to probe 1: echo-reply from 198.18.3.2 rtt=1.000ms",
		"answer to probe 1: echo-reply from 198.18.3.2 rtt=2.000ms; duplicate",
		"probe 2 seq=2 ttl=64 pattern=0x55aa | no answer in this capture",
		"probe 3 seq=3 ttl=64 pattern=0x55aa",
		"answer to probe 3: echo-reply from 198.18.3.2 rtt=1.000ms; payload damaged: ",
		"probe 4 seq=4 ttl=64 pattern=0x55aa",
		"answer to probe 4: echo-reply from 198.18.2.2 rtt=1.000ms; from a different address than the probe's destination",
	}
	for i, w := range want {
		if got := strings.Join(frames[i].Comments, " | "); !strings.HasPrefix(got, w) {
			t.Errorf("frame %d\n got %q\nwant %q…", i+1, got, w)
		}
	}
	// Written with the comments, the file passes tshark.
	var out []Record
	for _, f := range frames {
		out = append(out, f.Record())
	}
	path := writeFile(t, "annotated.pcapng", Options{}, out)
	checkTshark(t, path, len(out))
	rows := tshark.FieldsFile(t, path, "frame.comment")
	for i := range frames {
		if rows[i][0] != strings.Join(frames[i].Comments, ",") {
			t.Errorf("frame %d: tshark comment %q", i+1, rows[i][0])
		}
	}
}

// TestGuessPattern recognises iputils ping payloads: the default ramp and
// -p patterns, after ping's 16-byte timestamp.
func TestGuessPattern(t *testing.T) {
	stamp := bytes.Repeat([]byte{0xee}, 16)
	ramp := make([]byte, 56)
	for i := range ramp {
		ramp[i] = byte(i)
	}
	withStamp := func(p []byte) []byte { return append(bytes.Clone(stamp), p[16:]...) }
	for _, tc := range []struct {
		payload []byte
		want    string
	}{
		{withStamp(ramp), "ramp"},
		{ramp, "ramp"},
		{withStamp(pattern(t, "a5", 56)), "0xa5"},
		{withStamp(pattern(t, "abcdef", 56)), "0xabcdef"},
		{withStamp(pattern(t, "0102030405", 100)), "0x0102030405"},
		{pattern(t, "deadbeef", 64), "0xdeadbeef"},
		{[]byte{1, 7, 3, 9, 4, 4, 4, 2, 8}, ""},
		{nil, ""},
	} {
		p := &packet.Packet{Version: 4, Transport: packet.TransportICMP, Payload: tc.payload}
		if got := guessPattern(p); got != tc.want {
			t.Errorf("%s: got %q, want %q", hex.EncodeToString(tc.payload), got, tc.want)
		}
	}
}

// TestAnnotatedLabNodeCapture: Ethernet frames sniffed on a lab node,
// annotated offline, written as pcapng with an interface named after the
// node.
func TestAnnotatedLabNodeCapture(t *testing.T) {
	s := sampleExchanges(t)
	var recs []Record
	for i, r := range s.recs[:4] {
		src, dst := byte(2), byte(1)
		if r.Dir == DirOut {
			src, dst = 1, 2
		}
		recs = append(recs, Record{Time: r.Time, Data: ethFrame(s.bytes[i], src, dst), Dir: r.Dir})
	}
	frames := framesOf(t, recs, LinkEthernet)
	Annotate(frames)
	ifc := Interface{Name: "client:to-r1", Description: "echolot lab node client, interface to-r1", LinkType: LinkEthernet}
	path := filepath.Join(t.TempDir(), "tour.pcapng")
	w, err := Create(path, Options{Interfaces: []Interface{ifc}, Section: SectionInfo{Application: "echolot lab tour"}, Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		r := f.Record()
		r.ID = uint64(i + 1)
		if err := w.WritePacket(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkTshark(t, path, 4)
	rows := tshark.FieldsFile(t, path, "frame.comment", "eth.type", "frame.interface_description", "frame.packet_id")
	if rows[1][0] != "answer to probe 1: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1 tos 0x10→0x28" ||
		rows[1][1] != "0x0800" || rows[1][2] != ifc.Description || rows[3][3] != "4" {
		t.Errorf("rows %q", rows)
	}
}
