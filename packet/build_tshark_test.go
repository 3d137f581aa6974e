package packet

import (
	"slices"
	"testing"

	"github.com/echolot/echolot/internal/tshark"
)

// TestBuildJudgedByTshark builds every case and has Wireshark dissect the
// bytes: every field the case expects must come back with that value, and
// tshark must report no malformed packet.
func TestBuildJudgedByTshark(t *testing.T) {
	cases := buildCases()
	var pkts [][]byte
	var fields []string
	for _, c := range cases {
		b, err := c.pkt.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		pkts = append(pkts, b)
		for f := range c.tshark {
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
	}
	slices.Sort(fields)
	rows := tshark.Fields(t, pkts, append(fields, "_ws.malformed", "_ws.expert.message")...)
	if len(rows) != len(cases) {
		t.Fatalf("tshark returned %d rows for %d packets", len(rows), len(cases))
	}
	for i, c := range cases {
		for j, f := range fields {
			want, ok := c.tshark[f]
			if ok && rows[i][j] != want {
				t.Errorf("%s: tshark %s = %q, want %q", c.name, f, rows[i][j], want)
			}
		}
		if m := rows[i][len(fields)]; m != "" {
			t.Errorf("%s: tshark says malformed: %q (expert: %s)", c.name, m, rows[i][len(fields)+1])
		}
	}
}
