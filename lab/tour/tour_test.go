package tour

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/internal/tshark"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

// TestTour runs the whole tour on a lab of its own and checks its findings,
// not just that it ran: the dropped pattern and nothing else, the MTU and the
// router that reported it, the route, and the rewritten TOS in the quote.
func TestTour(t *testing.T) {
	testenv.NeedTool(t, "ping")
	l := labtest.New(t)
	var out bytes.Buffer
	pcap := filepath.Join(t.TempDir(), "tour.pcapng")
	tr := &Tour{Lab: l, Out: &out, Pcapng: pcap}
	f, err := tr.Run(context.Background())
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if f.EchoReplies != 3 || !f.EchoIntact {
		t.Errorf("echo: %d replies, intact %v", f.EchoReplies, f.EchoIntact)
	}
	// ping -p aa: byte 30 of the ICMP data flipped in bit 0.
	if !slices.Equal(f.CorruptedAt, []int{30}) {
		t.Errorf("corrupted offsets %v, want [30]", f.CorruptedAt)
	}
	if !slices.Equal(f.Dropped, []string{"0x7e"}) || f.MinimalRun != 4 {
		t.Errorf("sweep: dropped %v, minimal run %d; want only 0x7e and a run of 4", f.Dropped, f.MinimalRun)
	}
	if f.PMTU != 1400 || f.PMTUFrom != l.Addr("r2", false) && f.PMTUFrom.String() != "198.18.2.2" {
		t.Errorf("pmtu %d from %v, want 1400 from r2", f.PMTU, f.PMTUFrom)
	}
	var route []string
	for _, a := range f.Route {
		route = append(route, a.String())
	}
	want := "198.18.1.2 198.18.2.1 198.18.3.1 198.18.3.2 198.18.3.2 198.18.2.2 198.18.1.1 198.18.1.2"
	if strings.Join(route, " ") != want {
		t.Errorf("route %v, want %s", route, want)
	}
	// client, r1, r2, server stamp; r2, r1 and the client find it full
	// on the way back.
	if f.Timestamps != 4 || f.Unrecorded != 3 {
		t.Errorf("%d timestamps, %d unrecorded; want 4 (the option holds 4 pairs) and 3", f.Timestamps, f.Unrecorded)
	}
	if f.TTLFrom.String() != "198.18.2.2" {
		t.Errorf("time exceeded from %v, want r2 198.18.2.2", f.TTLFrom)
	}
	var tos *packet.Change
	for i, c := range f.TTLChanges {
		if c.Field == "tos" {
			tos = &f.TTLChanges[i]
		}
	}
	if tos == nil || tos.Sent != 0x10 || tos.Seen != 0x28 || tos.Expected {
		t.Errorf("quote diff %v: want tos 0x10→0x28, not expected", f.TTLChanges)
	}
	// The capture: tshark reads it and sees the linkage comments.
	if _, err := os.Stat(pcap); err != nil {
		t.Fatal(err)
	}
	rows := tshark.FieldsFile(t, pcap, "frame.comment")
	var comments int
	var sawTE bool
	for _, r := range rows {
		if r[0] != "" {
			comments++
		}
		if strings.Contains(r[0], "time-exceeded from 198.18.2.2") && strings.Contains(r[0], "tos 0x10→0x28") {
			sawTE = true
		}
	}
	if comments == 0 || !sawTE {
		t.Errorf("capture: %d frames with comments, time-exceeded linkage seen: %v", comments, sawTE)
	}
}
