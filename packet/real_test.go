package packet

import (
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readHexFile reads one of the captured kernel packets in testdata/decode
// (see the README there for how they were made).
func readHexFile(t testing.TB, name string) []byte {
	t.Helper()
	s, err := os.ReadFile(filepath.Join("..", "testdata", "decode", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(s)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRealKernelTimeExceeded checks parsing, matching and the quote diff on
// a time-exceeded error a Linux router sent for an iputils `ping -R`.
func TestRealKernelTimeExceeded(t *testing.T) {
	probe, err := Parse(readHexFile(t, "ping-R-ttl2-probe.hex"))
	if err != nil {
		t.Fatal(err)
	}
	rr, ok := probe.IPv4.Options[1].(*RecordRoute)
	if _, nop := probe.IPv4.Options[0].(NOP); !nop || !ok || rr.Pointer != 8 || len(rr.Route) != 1 || rr.Route[0] != srcA {
		t.Fatalf("probe options %v: want NOP then RR prefilled by the kernel with 198.18.0.1", probe.IPv4.Options)
	}
	a, err := Parse(readHexFile(t, "ping-R-ttl2-time-exceeded.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if a.BadIPChecksum || a.BadTransportChecksum || a.Truncated {
		t.Errorf("error packet flags: %+v", a)
	}
	m, ok := Answers(probe, a)
	if !ok || m.Kind != "time-exceeded" || !m.Error {
		t.Fatalf("Answers = %+v %v", m, ok)
	}
	if a.Quote.BadIPChecksum || !a.Quote.ChecksumPredatesRecording {
		t.Errorf("the quoted header checksum should verify only without r2's own RR entry (see testdata/decode/README.md): bad %v predates %v",
			a.Quote.BadIPChecksum, a.Quote.ChecksumPredatesRecording)
	}
	qrr := a.Quote.IPv4.Options[1].(*RecordRoute)
	want := []netip.Addr{srcA, netip.MustParseAddr("198.18.1.1"), hop1}
	if len(qrr.Route) != 3 || qrr.Route[0] != want[0] || qrr.Route[1] != want[1] || qrr.Route[2] != want[2] {
		t.Errorf("quoted route %v, want %v", qrr.Route, want)
	}
	got := changesString(QuoteDiff(probe, a.Quote))
	wantDiff := "tos 0x10→0x28; dscp 4→10; ttl 2→1 (expected); " +
		"options.rr: rr slots=9 ptr=8 [198.18.0.1] → rr slots=9 ptr=16 [198.18.0.1 198.18.1.1 198.18.1.2] (expected); chksum * (expected)"
	if got != wantDiff {
		t.Errorf("diff\n got %s\nwant %s", got, wantDiff)
	}
	for _, c := range QuoteDiff(probe, a.Quote) {
		if c.Field == "chksum" && !strings.Contains(c.Note, "before the reporting router recorded itself") {
			t.Errorf("checksum note %q", c.Note)
		}
	}
}

func TestRealKernelEchoReply(t *testing.T) {
	probe, _ := Parse(readHexFile(t, "ping-R-probe.hex"))
	r, err := Parse(readHexFile(t, "ping-R-reply.hex"))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := Answers(probe, r)
	if !ok || m.Kind != "echo-reply" || m.DifferentAddress {
		t.Fatalf("Answers = %+v %v", m, ok)
	}
	if d := Compare(probe.Payload, r.Payload); d != nil {
		t.Errorf("payload damaged: %v", d)
	}
	rr, ok := r.IPv4.Options[0].(*RecordRoute)
	if !ok {
		t.Fatalf("reply options %v: the server echoed RR first, without ping's NOP", r.IPv4.Options)
	}
	// ping -R printed 8 entries; on the wire at the client there are 7:
	// the client's kernel records its own address on input, after tcpdump
	// saw the packet.
	want := "198.18.0.1 198.18.1.1 198.18.3.1 198.18.3.2 198.18.3.2 198.18.1.2 198.18.0.2"
	var got []string
	for _, a := range rr.Route {
		got = append(got, a.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("route %v, want %s", got, want)
	}
	if r.IPv4.TOS != 0x28 {
		t.Errorf("reply TOS 0x%02x: Linux copies the request's (rewritten) TOS", r.IPv4.TOS)
	}
}
