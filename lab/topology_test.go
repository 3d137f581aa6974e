package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/echolot/echolot/lab/fault"
)

func TestDefaultTopology(t *testing.T) {
	topo := DefaultTopology()
	if len(topo.Nodes) != 5 || len(topo.Links) != 3 || len(topo.Addrs) != 12 {
		t.Fatalf("default topology has %d nodes, %d links, %d addresses", len(topo.Nodes), len(topo.Links), len(topo.Addrs))
	}
	f, a, b, ok := topo.FaultNode()
	if !ok || f != "fault" || a != "to-r1" || b != "to-r2" {
		t.Errorf("FaultNode() = %q %q %q %v", f, a, b, ok)
	}
	var got []string
	for _, v := range topo.Interfaces() {
		got = append(got, fmt.Sprintf("%s:%s-%s:%s mtu %d %v", v.Node, v.Name, v.PeerNode, v.PeerName, v.MTU, v.Addrs))
	}
	want := []string{
		"client:to-r1-r1:to-client mtu 1500 [198.18.1.2/24 2001:db8:1::2/64]",
		"r1:to-client-client:to-r1 mtu 1500 [198.18.1.1/24 2001:db8:1::1/64]",
		"r1:to-r2-fault:to-r1 mtu 1500 [198.18.2.1/24 2001:db8:2::1/64]",
		"fault:to-r1-r1:to-r2 mtu 1500 []",
		"fault:to-r2-r2:to-r1 mtu 1500 []",
		"r2:to-r1-fault:to-r2 mtu 1500 [198.18.2.2/24 2001:db8:2::2/64]",
		"r2:to-server-server:to-r2 mtu 1400 [198.18.3.1/24 2001:db8:3::1/64]",
		"server:to-r2-r2:to-server mtu 1400 [198.18.3.2/24 2001:db8:3::2/64]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Interfaces():\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = nil
	for _, r := range topo.Routes() {
		got = append(got, fmt.Sprintf("%s: %s via %s dev %s", r.Node, r.Dst, r.Via, r.Dev))
	}
	want = []string{
		"client: 0.0.0.0/0 via 198.18.1.1 dev to-r1",
		"client: ::/0 via 2001:db8:1::1 dev to-r1",
		"r1: 198.18.3.0/24 via 198.18.2.2 dev to-r2",
		"r1: 2001:db8:3::/64 via 2001:db8:2::2 dev to-r2",
		"r2: 198.18.1.0/24 via 198.18.2.1 dev to-r1",
		"r2: 2001:db8:1::/64 via 2001:db8:2::1 dev to-r1",
		"server: 0.0.0.0/0 via 198.18.3.1 dev to-r2",
		"server: ::/0 via 2001:db8:3::1 dev to-r2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Routes():\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTopologyRoundTrip checks String → ParseTopology and the JSON form
// kept in the state directory.
func TestTopologyRoundTrip(t *testing.T) {
	topo := DefaultTopology()
	again, err := ParseTopology(strings.NewReader(topo.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, topo.String())
	}
	if again.String() != topo.String() {
		t.Errorf("String round trip:\n%s\nvs\n%s", again.String(), topo.String())
	}
	b, err := json.Marshal(topo)
	if err != nil {
		t.Fatal(err)
	}
	var j Topology
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.String() != topo.String() || j.Validate() != nil {
		t.Errorf("JSON round trip:\n%s\n%s", b, j.String())
	}
}

// TestRoutesChain checks route derivation on a longer chain with a host
// hanging off a router in the middle and a host with two links.
func TestRoutesChain(t *testing.T) {
	topo, err := ParseTopology(strings.NewReader(`
node a host
node r1 router
node f fault
node r2 router
node r3 router
node b host
node m host
link a r1
link r1 r2 via f
link r2 r3
link r3 b
link r2 m
link m r3
addr a to-r1 198.18.10.2/24
addr r1 to-a 198.18.10.1/24
addr r1 to-r2 198.18.11.1/24
addr r2 to-r1 198.18.11.2/24
addr r2 to-r3 198.18.12.1/24
addr r3 to-r2 198.18.12.2/24
addr r3 to-b 198.18.13.1/24
addr b to-r3 198.18.13.2/24
addr r2 to-m 198.18.14.1/24
addr m to-r2 198.18.14.2/24
addr m to-r3 198.18.15.2/24
addr r3 to-m 198.18.15.1/24
`))
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string][]string{}
	for _, r := range topo.Routes() {
		routes[r.Node] = append(routes[r.Node], fmt.Sprintf("%s via %s", r.Dst, r.Via))
	}
	for node, want := range map[string][]string{
		"a":  {"0.0.0.0/0 via 198.18.10.1"},
		"r1": {"198.18.12.0/24 via 198.18.11.2", "198.18.14.0/24 via 198.18.11.2", "198.18.13.0/24 via 198.18.11.2", "198.18.15.0/24 via 198.18.11.2"},
		"r3": {"198.18.11.0/24 via 198.18.12.1", "198.18.14.0/24 via 198.18.12.1", "198.18.10.0/24 via 198.18.12.1"},
		// m has two links, so no default route: one route per subnet, via
		// the router on a shortest path (never through a host).
		"m": {"198.18.11.0/24 via 198.18.14.1", "198.18.12.0/24 via 198.18.14.1", "198.18.13.0/24 via 198.18.15.1", "198.18.10.0/24 via 198.18.14.1"},
	} {
		got := routes[node]
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("routes of %s: %v, want %v", node, got, want)
		}
	}
}

func TestParseTopologyErrors(t *testing.T) {
	def := DefaultTopologyText
	sub := func(old, new string) string {
		if !strings.Contains(def, old) {
			t.Fatalf("default topology lacks %q", old)
		}
		return strings.Replace(def, old, new, 1)
	}
	long := "node a host # " + strings.Repeat("x", maxLineLen)
	for _, c := range []struct {
		name  string
		text  string
		at    string // the error's line is the first line holding this (empty: line 0)
		field string
		value string
		limit string
	}{
		{"unknown keyword", def + "route a b\n", "route a b", "keyword", "route", "node, link or addr"},
		{"node syntax", sub("node r1     router", "node r1"), "node r1", "node", "r1", "node NAME KIND"},
		{"node upper case", sub("node r1     router", "node R1 router"), "node R1", "node name", "R1", "lower-case letter"},
		{"node hyphen", sub("node r1     router", "node r-1 router"), "node r-1", "node name", "r-1", "no '-'"},
		{"node too long", def + "node abcdefghijklm host\n", "abcdefghijklm", "node name", "abcdefghijklm", "up to 11"},
		{"node kind", sub("node r1     router", "node r1 switch"), "switch", "node kind", "switch", "host, router or fault"},
		{"node twice", def + "node r1 host\n", "node r1 host", "node name", "r1", "declared twice (first on line 4)"},
		{"no fault node", sub("node fault  fault", "node fault  router"), "", "fault nodes", "0", "exactly one node of kind fault"},
		{"two fault nodes", def + "node f2 fault\n", "node f2", "fault nodes", "2", "exactly one"},
		{"fault as link end", def + "link client fault\n", "link client fault", "link end", "fault", "not a link end"},
		{"fault beside a host", sub("link r1 r2 via fault", "link r1 r2\nlink client r2 via fault"), "via fault", "link", "client r2", "between two routers (client is a host"},
		{"via a router", sub("link r1 r2 via fault", "link r1 r2 via r1"), "via r1", "via", "r1", "of kind fault"},
		{"fault unused", sub("link r1 r2 via fault", "link r1 r2"), "node fault", "fault node", "fault", "in no link"},
		{"link unknown node", def + "link r1 r9\n", "link r1 r9", "link end", "r9", "no such node"},
		{"link to itself", def + "link r1 r1\n", "link r1 r1", "link", "r1 r1", "two different nodes"},
		{"link twice", def + "link r1 client\n", "link r1 client", "link", "r1 client", "already linked on line 9"},
		{"link syntax", def + "link r1\n", "link r1\n", "link", "r1", "link A B"},
		{"link option", sub("link r2 server mtu 1400", "link r2 server speed 10"), "speed", "link option", "speed", "link A B [via FAULT] [mtu N]"},
		{"mtu missing value", sub("link r2 server mtu 1400", "link r2 server mtu"), "link r2 server mtu", "mtu", "", "needs a value"},
		{"mtu too small", sub("mtu 1400", "mtu 67"), "mtu 67", "mtu", "67", "68–65535"},
		{"mtu too big", sub("mtu 1400", "mtu 65536"), "mtu 65536", "mtu", "65536", "68–65535"},
		{"mtu not a number", sub("mtu 1400", "mtu big"), "mtu big", "mtu", "big", "68–65535"},
		{"mtu twice", sub("mtu 1400", "mtu 1400 mtu 1300"), "mtu 1300", "mtu", "1300", "given twice"},
		{"mtu too small for IPv6", sub("mtu 1400", "mtu 1279"), "addr r2     to-server", "address", "2001:db8:3::1/64", "at least 1280"},
		{"addr syntax", def + "addr client to-r1\n", "addr client to-r1\n", "addr", "client to-r1", "addr NODE IFACE"},
		{"addr not a prefix", sub("198.18.1.2/24", "198.18.1.2"), "addr client", "address", "198.18.1.2", "prefix length"},
		{"addr outside v4", sub("198.18.1.2/24", "10.0.0.2/24"), "addr client", "address", "10.0.0.2/24", "198.18.0.0/15"},
		{"addr outside v6", sub("2001:db8:1::2/64", "2001:db9:1::2/64"), "addr client", "address", "2001:db9:1::2/64", "2001:db8::/32"},
		{"addr prefix too short", sub("198.18.1.2/24", "198.18.1.2/14"), "addr client", "address", "198.18.1.2/14", "15–32"},
		{"addr network address", sub("198.18.1.2/24", "198.18.1.0/24"), "addr client", "address", "198.18.1.0/24", "network or broadcast"},
		{"addr broadcast address", sub("198.18.1.2/24", "198.18.1.255/24"), "addr client", "address", "198.18.1.255/24", "network or broadcast"},
		{"addr v6 anycast", sub("2001:db8:1::2/64", "2001:db8:1::/64"), "addr client", "address", "2001:db8:1::/64", "anycast"},
		{"addr mapped", sub("198.18.1.2/24", "::ffff:198.18.1.2/120"), "addr client", "address", "::ffff:198.18.1.2/120", "dotted form"},
		{"addr unknown node", def + "addr r9 to-r1 198.18.9.1/24\n", "addr r9", "addr node", "r9", "no such node"},
		{"addr on fault", def + "addr fault to-r1 198.18.9.1/24\n", "addr fault", "addr node", "fault", "no addresses"},
		{"addr unknown iface", sub("addr client to-r1 ", "addr client to-r2 "), "addr client", "addr iface", "to-r2", "it has to-r1"},
		{"addr twice", def + "addr client to-r1 198.18.1.1/24\n", "addr client to-r1 198.18.1.1/24\n", "address", "198.18.1.1/24", "already used on line 14"},
		{"ends in different subnets", sub("198.18.1.2/24", "198.18.4.2/24"), "link client r1", "link", "client r1", "different subnets"},
		{"one end without v6", sub("198.18.1.2/24 2001:db8:1::2/64", "198.18.1.2/24"), "link client r1", "link", "client r1", "r1 has an IPv6 address on this link but client has none"},
		{"overlapping subnets", replacer(sub("198.18.3.1/24", "198.18.2.3/24")).replaceAll("198.18.3.2/24", "198.18.2.4/24"), "link r2 server", "link", "r2 server", "overlaps 198.18.2.0/24 of the link on line 10"},
		{"no nodes", "# nothing\n", "", "node", "", "no nodes"},
		{"node without link", def + "node lone host\n", "node lone", "node", "lone", "has no link"},
		{"unreachable island", def + "node x host\nnode y host\nlink x y\n", "node x", "node", "x", "cannot be reached from client"},
		{"line too long", long + "\n", long[:20], "line", "", "longer than 4096 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTopology(strings.NewReader(c.text))
			var te *TopologyError
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T), want a *TopologyError", err, err)
			}
			wantLine := 0
			if c.at != "" {
				// "at" ending in a newline is a whole line; otherwise a part of one.
				wantLine = slices.IndexFunc(strings.Split(c.text, "\n"), func(l string) bool {
					if whole, ok := strings.CutSuffix(c.at, "\n"); ok {
						return l == whole
					}
					return strings.Contains(l, c.at)
				}) + 1
			}
			if te.Line != wantLine || te.Field != c.field || te.Value != c.value || !strings.Contains(te.Limit, c.limit) {
				t.Errorf("got line %d field %q value %q limit %q\nwant line %d field %q value %q limit containing %q",
					te.Line, te.Field, te.Value, te.Limit, wantLine, c.field, c.value, c.limit)
			}
			if wantLine > 0 && !strings.Contains(err.Error(), fmt.Sprintf("line %d: ", wantLine)) {
				t.Errorf("message %q does not name line %d", err, wantLine)
			}
		})
	}
}

// replaceAll lets the table above chain replacements.
type replacer string

func (s replacer) replaceAll(old, new string) string { return strings.ReplaceAll(string(s), old, new) }

func TestValidateGoBuilt(t *testing.T) {
	topo := DefaultTopology()
	topo.Links[2].MTU = 70000
	err := topo.Validate()
	if err == nil || !strings.Contains(err.Error(), `mtu "70000": an MTU must be 68–65535`) {
		t.Errorf("Validate: %v", err)
	}
	topo = DefaultTopology()
	topo.Addrs[0].Prefix = netip.MustParsePrefix("192.0.2.1/24")
	if err := topo.Validate(); err == nil || !strings.Contains(err.Error(), "198.18.0.0/15") {
		t.Errorf("Validate: %v", err)
	}
}

func TestParseNS(t *testing.T) {
	for _, c := range []struct {
		in, lab, node string
		ok            bool
	}{
		{"echolot-lab-client", "lab", "client", true},
		{"echolot-t123-4-r1", "t123-4", "r1", true},
		{"echolot-a-b-c-server", "a-b-c", "server", true},
		{"echolot-lab-", "", "", false},
		{"echolot--client", "", "", false},
		{"echolot-client", "", "", false},
		{"other-lab-client", "", "", false},
		{"echolot-lab-Client", "", "", false},
		{"echolot-abcdefghijklmnopqrstu-r1", "", "", false}, // lab name of 21
	} {
		lab, node, ok := parseNS(c.in)
		if lab != c.lab || node != c.node || ok != c.ok {
			t.Errorf("parseNS(%q) = %q %q %v, want %q %q %v", c.in, lab, node, ok, c.lab, c.node, c.ok)
		}
	}
	// Lab "a" must not claim the namespaces of lab "a-b".
	if l, _, _ := parseNS(nsName("a-b", "client")); l != "a-b" {
		t.Errorf("lab of %s = %q", nsName("a-b", "client"), l)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"lab", "t12345-1", "a", "0", strings.Repeat("x", 20)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Lab", "a_b", "a.b", "a/b", strings.Repeat("x", 21), "lab "} {
		if err := CheckName(bad); err == nil || !strings.Contains(err.Error(), "1–20 characters") {
			t.Errorf("CheckName(%q) = %v", bad, err)
		}
	}
}

// TestDocsTopology checks that docs/lab.md shows the default topology as
// DefaultTopologyText and that every topology example in it parses.
func TestDocsTopology(t *testing.T) {
	b, err := os.ReadFile("../docs/lab.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```topology\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 2 {
		t.Fatalf("docs/lab.md has %d ```topology blocks, want the default and an example", len(blocks))
	}
	if blocks[0][1] != DefaultTopologyText {
		t.Errorf("the first topology block of docs/lab.md differs from DefaultTopologyText:\n%s", blocks[0][1])
	}
	for i, m := range blocks {
		if _, err := ParseTopology(strings.NewReader(m[1])); err != nil {
			t.Errorf("topology block %d of docs/lab.md: %v", i+1, err)
		}
	}
}

func FuzzParseTopology(f *testing.F) {
	f.Add(DefaultTopologyText)
	f.Add("node a host\nnode r router\nlink a r mtu 9000\naddr a to-r 198.18.0.1/31\n")
	f.Add("link a b via c mtu\naddr x y z\n# comment\n")
	f.Fuzz(func(t *testing.T, s string) {
		topo, err := ParseTopology(strings.NewReader(s))
		if err != nil {
			var te *TopologyError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *TopologyError", err)
			}
			return
		}
		again, err := ParseTopology(strings.NewReader(topo.String()))
		if err != nil {
			t.Fatalf("String() does not parse: %v\n%s", err, topo.String())
		}
		if again.String() != topo.String() {
			t.Fatalf("round trip differs:\n%s\n%s", topo.String(), again.String())
		}
		_ = topo.Routes()
		_ = topo.Interfaces()
	})
}

// TestDocsFaultRules checks that every "echolot lab fault add" example in
// docs/lab.md is a rule the fault node accepts.
func TestDocsFaultRules(t *testing.T) {
	b, err := os.ReadFile("../docs/lab.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile(`(?m)echolot lab fault add (.*?)(?:\s+#.*)?$`).FindAllStringSubmatch(string(b), -1) {
		text := strings.Trim(m[1], "'")
		for _, part := range strings.Split(text, ";") {
			if _, err := fault.ParseRule(strings.TrimSpace(part)); err != nil {
				t.Errorf("docs/lab.md: fault add %s: %v", text, err)
			}
			n++
		}
	}
	if n < 5 {
		t.Errorf("found %d fault add examples in docs/lab.md", n)
	}
}
