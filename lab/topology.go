package lab

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Kind says what a node of the lab does.
type Kind string

// The kinds of node.
const (
	// KindHost is an end system: it does not forward. A host with a single
	// link to a router gets default routes via that router.
	KindHost Kind = "host"
	// KindRouter forwards IPv4 and IPv6 and answers with ICMP errors
	// without rate limits.
	KindRouter Kind = "router"
	// KindFault is the transparent fault-injecting node (package
	// lab/fault). It has no addresses; it bridges its two interfaces at
	// layer 2 and sits inside one link between two routers.
	KindFault Kind = "fault"
)

// Limits of a topology.
const (
	// DefaultMTU is the MTU of a link that does not name one.
	DefaultMTU = 1500
	// MinMTU and MaxMTU bound a link's MTU (68 is the IPv4 minimum).
	MinMTU = 68
	MaxMTU = 65535
	// MinMTU6 is the smallest MTU of a link that carries IPv6 (RFC 8200
	// §5); below it Linux disables IPv6 on the interface.
	MinMTU6 = 1280
	// MaxNodes bounds the number of nodes (each one is a namespace).
	MaxNodes = 64
	// MaxNodeName is the longest node name: "to-" + name must fit in an
	// interface name (15 bytes).
	MaxNodeName = 12
)

// The address ranges a lab may use: 198.18.0.0/15 (RFC 2544, benchmarking)
// and 2001:db8::/32 (RFC 3849, documentation). Nothing routable on the
// Internet.
var (
	Range4 = netip.MustParsePrefix("198.18.0.0/15")
	Range6 = netip.MustParsePrefix("2001:db8::/32")
)

// Node is a node of the topology: one network namespace.
type Node struct {
	Name string `json:"name"` // [a-z][a-z0-9]{0,11}
	Kind Kind   `json:"kind"`
	Line int    `json:"-"` // line in the topology file; 0 when not read from a file
}

// Link joins nodes A and B with a veth pair: A's interface "to-B" and B's
// interface "to-A". When Via names the fault node, the link runs through it:
// A's "to-B" is paired with Via's "to-A", and Via's "to-B" with B's "to-A";
// the fault node bridges its two interfaces, so A and B share one subnet as
// if wired directly. Frames from A towards B travel in the fault node's
// ToServer direction.
type Link struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Via  string `json:"via,omitempty"`
	MTU  int    `json:"mtu,omitempty"` // 0 means DefaultMTU; set on every interface of the link
	Line int    `json:"-"`             // line in the topology file; 0 when not read from a file
}

// Address is an address with its prefix length on one interface of a node,
// as "ip addr add" takes it (198.18.1.2/24, 2001:db8:1::2/64).
type Address struct {
	Node   string       `json:"node"`
	Iface  string       `json:"iface"`
	Prefix netip.Prefix `json:"prefix"`
	Line   int          `json:"-"` // line in the topology file; 0 when not read from a file
}

// Topology describes a lab: its nodes, the links between them and the
// addresses on their interfaces. Routes are not listed: Routes derives them.
// Read one from a file with ParseTopology; check one built in Go with
// Validate.
type Topology struct {
	Nodes []Node    `json:"nodes"`
	Links []Link    `json:"links"`
	Addrs []Address `json:"addrs"`
}

// DefaultTopologyText is the default topology in the file format of
// docs/lab.md; DefaultTopology parses it.
const DefaultTopologyText = `# echolot's default lab:
#   client —a— r1 —b (through the fault node)— r2 —c (MTU 1400)— server
node client host
node r1     router
node fault  fault
node r2     router
node server host

link client r1
link r1 r2 via fault
link r2 server mtu 1400

addr client to-r1     198.18.1.2/24 2001:db8:1::2/64
addr r1     to-client 198.18.1.1/24 2001:db8:1::1/64
addr r1     to-r2     198.18.2.1/24 2001:db8:2::1/64
addr r2     to-r1     198.18.2.2/24 2001:db8:2::2/64
addr r2     to-server 198.18.3.1/24 2001:db8:3::1/64
addr server to-r2     198.18.3.2/24 2001:db8:3::2/64
`

// DefaultTopology returns the built-in topology:
//
//	client —a— r1 —b (through the fault node)— r2 —c (MTU 1400)— server
//
// with 198.18.{1,2,3}.0/24 and 2001:db8:{1,2,3}::/64 on links a, b, c.
func DefaultTopology() Topology {
	t, err := ParseTopology(strings.NewReader(DefaultTopologyText))
	if err != nil {
		panic("lab: the built-in topology is invalid: " + err.Error())
	}
	return t
}

// TopologyError reports a topology that cannot be used. It names the line of
// the file (0 when the topology was not read from a file), the field, the
// value found and the limit it broke.
type TopologyError struct {
	Line  int
	Field string
	Value string
	Limit string
}

// Error returns "topology line N: FIELD "VALUE": LIMIT".
func (e *TopologyError) Error() string {
	var b strings.Builder
	b.WriteString("topology ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			fmt.Fprintf(&b, " %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Limit)
	return b.String()
}

func topoErr(line int, field, value, format string, args ...any) error {
	return &TopologyError{Line: line, Field: field, Value: value, Limit: fmt.Sprintf(format, args...)}
}

// maxLineLen bounds one line of a topology file.
const maxLineLen = 4096

// ParseTopology reads a topology in the line format of docs/lab.md:
//
//	node NAME KIND                  (KIND: host, router or fault)
//	link A B [via FAULT] [mtu N]
//	addr NODE IFACE ADDRESS/LEN...  (IFACE is "to-" + the peer's name)
//
// '#' starts a comment. The result is validated (see Validate); errors are
// *TopologyError values naming the line, field, value and limit.
func ParseTopology(r io.Reader) (Topology, error) {
	var t Topology
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLineLen)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "node":
			if len(f) != 3 {
				return Topology{}, topoErr(line, "node", strings.Join(f[1:], " "), "write 'node NAME KIND' (KIND is host, router or fault)")
			}
			t.Nodes = append(t.Nodes, Node{Name: f[1], Kind: Kind(f[2]), Line: line})
		case "link":
			l, err := parseLink(line, f[1:])
			if err != nil {
				return Topology{}, err
			}
			t.Links = append(t.Links, l)
		case "addr":
			if len(f) < 4 {
				return Topology{}, topoErr(line, "addr", strings.Join(f[1:], " "), "write 'addr NODE IFACE ADDRESS/LEN...' (for example addr client to-r1 198.18.1.2/24 2001:db8:1::2/64)")
			}
			for _, s := range f[3:] {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return Topology{}, topoErr(line, "address", s, "not an address with prefix length such as 198.18.1.2/24 or 2001:db8:1::2/64")
				}
				t.Addrs = append(t.Addrs, Address{Node: f[1], Iface: f[2], Prefix: p, Line: line})
			}
		default:
			return Topology{}, topoErr(line, "keyword", f[0], "a line starts with node, link or addr")
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return Topology{}, topoErr(line+1, "line", "", "longer than %d bytes", maxLineLen)
		}
		return Topology{}, fmt.Errorf("reading topology: %w", err)
	}
	if err := t.Validate(); err != nil {
		return Topology{}, err
	}
	return t, nil
}

// parseLink parses the fields after "link".
func parseLink(line int, f []string) (Link, error) {
	const syntax = "write 'link A B [via FAULT] [mtu N]'"
	if len(f) < 2 {
		return Link{}, topoErr(line, "link", strings.Join(f, " "), syntax)
	}
	l := Link{A: f[0], B: f[1], Line: line}
	for rest := f[2:]; len(rest) > 0; rest = rest[2:] {
		if len(rest) < 2 {
			return Link{}, topoErr(line, rest[0], "", "needs a value; %s", syntax)
		}
		switch rest[0] {
		case "via":
			if l.Via != "" {
				return Link{}, topoErr(line, "via", rest[1], "given twice; a link runs through at most one fault node")
			}
			l.Via = rest[1]
		case "mtu":
			if l.MTU != 0 {
				return Link{}, topoErr(line, "mtu", rest[1], "given twice")
			}
			n, err := strconv.Atoi(rest[1])
			if err != nil || n < MinMTU || n > MaxMTU {
				return Link{}, topoErr(line, "mtu", rest[1], "an MTU must be a number %d–%d", MinMTU, MaxMTU)
			}
			l.MTU = n
		default:
			return Link{}, topoErr(line, "link option", rest[0], "%s", syntax)
		}
	}
	return l, nil
}

var nodeNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// mtu returns the link's MTU, DefaultMTU when unset.
func (l Link) mtu() int {
	if l.MTU == 0 {
		return DefaultMTU
	}
	return l.MTU
}

// IfaceName returns the name of the interface of a node that faces peer:
// "to-" + peer.
func IfaceName(peer string) string { return "to-" + peer }

// Validate checks the topology: node names and kinds, links between known
// nodes, exactly one fault node inside one link between two routers, MTUs
// MinMTU–MaxMTU (MinMTU6 where IPv6 is used), addresses only from Range4 and
// Range6, both ends of a link in the same subnet, no subnet used twice, every
// node connected. The error is a *TopologyError.
func (t Topology) Validate() error {
	if len(t.Nodes) == 0 {
		return topoErr(0, "node", "", "the topology has no nodes; declare them with 'node NAME KIND'")
	}
	if len(t.Nodes) > MaxNodes {
		return topoErr(t.Nodes[MaxNodes].Line, "node", t.Nodes[MaxNodes].Name, "at most %d nodes", MaxNodes)
	}
	nodes := map[string]Node{}
	var faults []Node
	for _, n := range t.Nodes {
		if !nodeNameRE.MatchString(n.Name) {
			return topoErr(n.Line, "node name", n.Name, "a node name is a lower-case letter followed by up to %d lower-case letters or digits (no '-': it separates the lab and node names in namespace names)", MaxNodeName-1)
		}
		if old, dup := nodes[n.Name]; dup {
			return topoErr(n.Line, "node name", n.Name, "declared twice (first%s)", atLine(old.Line))
		}
		switch n.Kind {
		case KindHost, KindRouter:
		case KindFault:
			faults = append(faults, n)
		default:
			return topoErr(n.Line, "node kind", string(n.Kind), "the kind is host, router or fault")
		}
		nodes[n.Name] = n
	}
	if len(faults) != 1 {
		line := 0
		if len(faults) > 1 {
			line = faults[1].Line
		}
		return topoErr(line, "fault nodes", strconv.Itoa(len(faults)), "a lab needs exactly one node of kind fault, inside a link between two routers ('link r1 r2 via fault')")
	}
	fault := faults[0].Name

	pairs := map[[2]string]int{}
	links := map[string][]Link{} // node → its links
	faultUses := 0
	for _, l := range t.Links {
		for _, end := range []struct{ field, name string }{{"link end", l.A}, {"link end", l.B}} {
			n, ok := nodes[end.name]
			if !ok {
				return topoErr(l.Line, end.field, end.name, "no such node; declare it with 'node %s KIND' first", end.name)
			}
			if n.Kind == KindFault {
				return topoErr(l.Line, end.field, end.name, "a fault node is not a link end; put it inside a link between two routers: 'link r1 r2 via %s'", end.name)
			}
		}
		if l.A == l.B {
			return topoErr(l.Line, "link", l.A+" "+l.B, "a link joins two different nodes")
		}
		key := [2]string{min(l.A, l.B), max(l.A, l.B)}
		if old, dup := pairs[key]; dup {
			return topoErr(l.Line, "link", l.A+" "+l.B, "these nodes are already linked%s; at most one link joins two nodes (the interface names to-%s and to-%s would clash)", atLine(old), l.B, l.A)
		}
		pairs[key] = l.Line
		if l.MTU != 0 && (l.MTU < MinMTU || l.MTU > MaxMTU) {
			return topoErr(l.Line, "mtu", strconv.Itoa(l.MTU), "an MTU must be %d–%d", MinMTU, MaxMTU)
		}
		if l.Via != "" {
			n, ok := nodes[l.Via]
			if !ok {
				return topoErr(l.Line, "via", l.Via, "no such node; declare it with 'node %s fault'", l.Via)
			}
			if n.Kind != KindFault {
				return topoErr(l.Line, "via", l.Via, "the node inside a link must be of kind fault, not %s", n.Kind)
			}
			if nodes[l.A].Kind != KindRouter || nodes[l.B].Kind != KindRouter {
				return topoErr(l.Line, "link", l.A+" "+l.B, "the fault node must sit between two routers (%s is a %s, %s is a %s)", l.A, nodes[l.A].Kind, l.B, nodes[l.B].Kind)
			}
			faultUses++
			if faultUses > 1 {
				return topoErr(l.Line, "via", l.Via, "the fault node is inside exactly one link")
			}
		}
		links[l.A] = append(links[l.A], l)
		links[l.B] = append(links[l.B], l)
	}
	if faultUses == 0 {
		return topoErr(faults[0].Line, "fault node", fault, "it is in no link; put it between two routers with 'link r1 r2 via %s'", fault)
	}
	for _, n := range t.Nodes {
		if n.Kind != KindFault && len(links[n.Name]) == 0 {
			return topoErr(n.Line, "node", n.Name, "has no link; add 'link %s OTHER'", n.Name)
		}
	}

	// Addresses.
	type ifkey struct{ node, iface string }
	ifLink := map[ifkey]Link{}
	for _, l := range t.Links {
		ifLink[ifkey{l.A, IfaceName(l.B)}] = l
		ifLink[ifkey{l.B, IfaceName(l.A)}] = l
	}
	seen := map[netip.Addr]int{}
	perIf := map[ifkey][]netip.Prefix{}
	for _, a := range t.Addrs {
		n, ok := nodes[a.Node]
		if !ok {
			return topoErr(a.Line, "addr node", a.Node, "no such node")
		}
		if n.Kind == KindFault {
			return topoErr(a.Line, "addr node", a.Node, "the fault node has no addresses: it is a transparent bridge")
		}
		l, ok := ifLink[ifkey{a.Node, a.Iface}]
		if !ok {
			var names []string
			for _, l := range links[a.Node] {
				names = append(names, IfaceName(peerOf(l, a.Node)))
			}
			return topoErr(a.Line, "addr iface", a.Iface, "node %s has no such interface; it has %s (an interface is named to-PEER)", a.Node, strings.Join(names, ", "))
		}
		if err := checkPrefix(a); err != nil {
			return err
		}
		if old, dup := seen[a.Prefix.Addr()]; dup {
			return topoErr(a.Line, "address", a.Prefix.String(), "already used%s; every address is unique", atLine(old))
		}
		seen[a.Prefix.Addr()] = a.Line
		if a.Prefix.Addr().Is6() && l.mtu() < MinMTU6 {
			return topoErr(a.Line, "address", a.Prefix.String(), "IPv6 needs an MTU of at least %d, and the link %s–%s has mtu %d", MinMTU6, l.A, l.B, l.mtu())
		}
		k := ifkey{a.Node, a.Iface}
		perIf[k] = append(perIf[k], a.Prefix)
	}
	// Both ends of a link: same families, first address of each family in
	// the same subnet; subnets of different links do not overlap.
	type subnet struct {
		p    netip.Prefix
		line int
	}
	var subnets []subnet
	for _, l := range t.Links {
		ea, eb := perIf[ifkey{l.A, IfaceName(l.B)}], perIf[ifkey{l.B, IfaceName(l.A)}]
		for _, v6 := range []bool{false, true} {
			pa, oka := firstOf(ea, v6)
			pb, okb := firstOf(eb, v6)
			fam := familyName(v6)
			if oka != okb {
				has, lacks := l.A, l.B
				if okb {
					has, lacks = l.B, l.A
				}
				return topoErr(l.Line, "link", l.A+" "+l.B, "%s has an %s address on this link but %s has none; give both ends one (addr %s %s ...)", has, fam, lacks, lacks, IfaceName(peerOf(l, lacks)))
			}
			if !oka {
				continue
			}
			if pa.Masked() != pb.Masked() {
				return topoErr(l.Line, "link", l.A+" "+l.B, "the ends are in different subnets (%s on %s, %s on %s); both ends of a link share one subnet", pa, l.A, pb, l.B)
			}
			for _, s := range subnets {
				if s.p.Overlaps(pa.Masked()) {
					return topoErr(l.Line, "link", l.A+" "+l.B, "subnet %s overlaps %s of the link%s; give every link its own subnet", pa.Masked(), s.p, atLine(s.line))
				}
			}
			subnets = append(subnets, subnet{pa.Masked(), l.Line})
		}
	}
	// Connected?
	reached := map[string]bool{t.Nodes[0].Name: true}
	queue := []string{t.Nodes[0].Name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, l := range links[n] {
			if p := peerOf(l, n); !reached[p] {
				reached[p] = true
				queue = append(queue, p)
			}
		}
	}
	for _, n := range t.Nodes {
		if n.Kind != KindFault && !reached[n.Name] {
			return topoErr(n.Line, "node", n.Name, "cannot be reached from %s; link it to the rest of the lab", t.Nodes[0].Name)
		}
	}
	return nil
}

// checkPrefix checks that an address is one a lab may use.
func checkPrefix(a Address) error {
	p, addr := a.Prefix, a.Prefix.Addr()
	s := p.String()
	switch {
	case addr.Is4In6():
		return topoErr(a.Line, "address", s, "write IPv4 addresses in dotted form, not IPv4-mapped IPv6")
	case addr.Zone() != "":
		return topoErr(a.Line, "address", s, "an address has no zone here")
	case addr.Is4():
		if !Range4.Contains(addr) || p.Bits() < Range4.Bits() {
			return topoErr(a.Line, "address", s, "IPv4 addresses must lie in %s (the lab never uses addresses that exist elsewhere), with a prefix length of %d–32", Range4, Range4.Bits())
		}
		if p.Bits() <= 30 {
			host := addrBits(addr) &^ addrBits(netip.PrefixFrom(addr, p.Bits()).Masked().Addr())
			all := uint64(1)<<(32-p.Bits()) - 1
			if host == 0 || host == all {
				return topoErr(a.Line, "address", s, "this is the network or broadcast address of %s; use one between them", p.Masked())
			}
		}
	default:
		if !Range6.Contains(addr) || p.Bits() < Range6.Bits() {
			return topoErr(a.Line, "address", s, "IPv6 addresses must lie in %s (the documentation prefix), with a prefix length of %d–128", Range6, Range6.Bits())
		}
		if p.Bits() < 127 && addr == p.Masked().Addr() {
			return topoErr(a.Line, "address", s, "this is the subnet-router anycast address of %s; use another", p.Masked())
		}
	}
	return nil
}

// addrBits returns the low 32 bits of an IPv4 address.
func addrBits(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

func atLine(line int) string {
	if line == 0 {
		return ""
	}
	return fmt.Sprintf(" on line %d", line)
}

func familyName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// firstOf returns the first prefix of the family.
func firstOf(ps []netip.Prefix, v6 bool) (netip.Prefix, bool) {
	for _, p := range ps {
		if p.Addr().Is6() == v6 {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// peerOf returns the node at the other end of l from n.
func peerOf(l Link, n string) string {
	if l.A == n {
		return l.B
	}
	return l.A
}

// node returns the node named name.
func (t Topology) node(name string) (Node, bool) {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// FaultNode returns the fault node's name and its two interfaces: a faces
// the link's first router (frames read there travel ToServer) and b the
// second. ok is false when the topology has no fault link.
func (t Topology) FaultNode() (name, a, b string, ok bool) {
	for _, l := range t.Links {
		if l.Via != "" {
			return l.Via, IfaceName(l.A), IfaceName(l.B), true
		}
	}
	return "", "", "", false
}

// Interface is one end of a veth pair as the lab creates it.
type Interface struct {
	Node     string         // the node whose namespace holds it
	Name     string         // "to-" + the node it faces
	PeerNode string         // the node holding the other end of the veth
	PeerName string         // the other end's name
	MTU      int            // MTU set on it
	Addrs    []netip.Prefix // addresses, in topology order
}

// Interfaces returns every interface of the lab, link by link: for a link
// A–B, A's then B's; for a link A–B via F, A's, F's two, then B's.
func (t Topology) Interfaces() []Interface {
	addrs := func(node, iface string) []netip.Prefix {
		var ps []netip.Prefix
		for _, a := range t.Addrs {
			if a.Node == node && a.Iface == iface {
				ps = append(ps, a.Prefix)
			}
		}
		return ps
	}
	var out []Interface
	for _, l := range t.Links {
		m := l.mtu()
		if l.Via == "" {
			out = append(out,
				Interface{l.A, IfaceName(l.B), l.B, IfaceName(l.A), m, addrs(l.A, IfaceName(l.B))},
				Interface{l.B, IfaceName(l.A), l.A, IfaceName(l.B), m, addrs(l.B, IfaceName(l.A))})
			continue
		}
		out = append(out,
			Interface{l.A, IfaceName(l.B), l.Via, IfaceName(l.A), m, addrs(l.A, IfaceName(l.B))},
			Interface{l.Via, IfaceName(l.A), l.A, IfaceName(l.B), m, nil},
			Interface{l.Via, IfaceName(l.B), l.B, IfaceName(l.A), m, nil},
			Interface{l.B, IfaceName(l.A), l.Via, IfaceName(l.B), m, addrs(l.B, IfaceName(l.A))})
	}
	return out
}

// Route is a static route the lab installs in a node.
type Route struct {
	Node string
	Dst  netip.Prefix // 0.0.0.0/0 or ::/0 for a default route
	Via  netip.Addr
	Dev  string
}

// Routes derives the static routes: a host with a single link to a router
// gets default routes (IPv4 and IPv6) via that router; every other host and
// router gets a route to each subnet it is not attached to, via the
// neighbour on a shortest path through routers. Paths never cross a host.
func (t Topology) Routes() []Route {
	type ifkey struct{ node, iface string }
	addrs := map[ifkey][]netip.Prefix{}
	for _, a := range t.Addrs {
		k := ifkey{a.Node, a.Iface}
		addrs[k] = append(addrs[k], a.Prefix)
	}
	links := map[string][]Link{}
	for _, l := range t.Links {
		links[l.A] = append(links[l.A], l)
		links[l.B] = append(links[l.B], l)
	}
	kind := map[string]Kind{}
	for _, n := range t.Nodes {
		kind[n.Name] = n.Kind
	}
	// gw returns the route via neighbour h on link l (seen from n).
	gw := func(n string, l Link, h string, dst netip.Prefix) (Route, bool) {
		v6 := dst.Addr().Is6()
		_, own := firstOf(addrs[ifkey{n, IfaceName(h)}], v6)
		hp, ok := firstOf(addrs[ifkey{h, IfaceName(n)}], v6)
		if !own || !ok {
			return Route{}, false
		}
		return Route{Node: n, Dst: dst, Via: hp.Addr(), Dev: IfaceName(h)}, true
	}
	var out []Route
	for _, node := range t.Nodes {
		n := node.Name
		if node.Kind == KindFault {
			continue
		}
		ls := links[n]
		if node.Kind == KindHost && len(ls) == 1 && kind[peerOf(ls[0], n)] == KindRouter {
			h := peerOf(ls[0], n)
			for _, def := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
				if r, ok := gw(n, ls[0], h, def); ok {
					out = append(out, r)
				}
			}
			continue
		}
		// Breadth-first search through routers, remembering the first hop.
		attached := map[netip.Prefix]bool{}
		for _, l := range ls {
			for _, p := range addrs[ifkey{n, IfaceName(peerOf(l, n))}] {
				attached[p.Masked()] = true
			}
		}
		type hop struct {
			node  string
			first string // neighbour of n
			link  Link   // link from n to first
		}
		visited := map[string]bool{n: true}
		var queue []hop
		for _, l := range ls {
			h := peerOf(l, n)
			if kind[h] == KindRouter && !visited[h] {
				visited[h] = true
				queue = append(queue, hop{h, h, l})
			}
		}
		done := map[netip.Prefix]bool{}
		for len(queue) > 0 {
			x := queue[0]
			queue = queue[1:]
			for _, l := range links[x.node] {
				y := peerOf(l, x.node)
				for _, end := range [][]netip.Prefix{addrs[ifkey{x.node, IfaceName(y)}], addrs[ifkey{y, IfaceName(x.node)}]} {
					for _, p := range end {
						s := p.Masked()
						if attached[s] || done[s] {
							continue
						}
						done[s] = true
						if r, ok := gw(n, x.link, x.first, s); ok {
							out = append(out, r)
						}
					}
				}
				if kind[y] == KindRouter && !visited[y] {
					visited[y] = true
					queue = append(queue, hop{y, x.first, x.link})
				}
			}
		}
	}
	return out
}

// String returns the topology in the file format that ParseTopology reads.
func (t Topology) String() string {
	var b strings.Builder
	w := 0
	for _, n := range t.Nodes {
		w = max(w, len(n.Name))
	}
	for _, n := range t.Nodes {
		fmt.Fprintf(&b, "node %-*s %s\n", w, n.Name, n.Kind)
	}
	b.WriteByte('\n')
	for _, l := range t.Links {
		fmt.Fprintf(&b, "link %s %s", l.A, l.B)
		if l.Via != "" {
			fmt.Fprintf(&b, " via %s", l.Via)
		}
		if l.MTU != 0 {
			fmt.Fprintf(&b, " mtu %d", l.MTU)
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	iw := 0
	for _, a := range t.Addrs {
		iw = max(iw, len(a.Iface))
	}
	for i := 0; i < len(t.Addrs); {
		a := t.Addrs[i]
		fmt.Fprintf(&b, "addr %-*s %-*s", w, a.Node, iw, a.Iface)
		for ; i < len(t.Addrs) && t.Addrs[i].Node == a.Node && t.Addrs[i].Iface == a.Iface; i++ {
			fmt.Fprintf(&b, " %s", t.Addrs[i].Prefix)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
