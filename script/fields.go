package script

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/net/icmp"

	"github.com/echolot/echolot/packet"
)

// layerRef is p.ip, p.icmp, …: a view of one layer of a packet whose
// fields read and write by name.
type layerRef struct {
	p     *Pkt
	layer string // "ip", "ip6", "icmp", "icmp6", "udp", "tcp"
}

const layerType = "echolot.layer"

// pktFields are the names a packet itself answers to.
var pktFields = []string{"ip", "ip6", "icmp", "icmp6", "udp", "tcp", "payload", "load", "pattern", "quote", "kind", "src", "dst", "len", "version", "mpls", "bad_checksum", "truncated", "show", "hex", "bytes", "copy", "summary"}

func (in *Interp) registerLayerRef() {
	L := in.L
	mt := L.NewTypeMetatable(layerType)
	L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
		r := checkLayer(L, 1)
		v, err := in.getField(L, r.p, r.layer, L.CheckString(2))
		if err != nil {
			L.RaiseError("%v", err)
		}
		L.Push(v)
		return 1
	}))
	L.SetField(mt, "__newindex", L.NewFunction(func(L *lua.LState) int {
		r := checkLayer(L, 1)
		if err := in.setField(L, r.p, r.layer, L.CheckString(2), L.Get(3)); err != nil {
			L.RaiseError("%v", err)
		}
		return 0
	}))
	L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
		r := checkLayer(L, 1)
		var b strings.Builder
		b.WriteString(r.layer + "{")
		for i, f := range layerFields[r.layer] {
			v, err := in.getField(L, r.p, r.layer, f)
			if err != nil || v == lua.LNil {
				continue
			}
			if i > 0 && b.Len() > len(r.layer)+1 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%s", f, luaRepr(v))
		}
		b.WriteString("}")
		L.Push(lua.LString(b.String()))
		return 1
	}))
}

func checkLayer(L *lua.LState, n int) *layerRef {
	return checkUD[*layerRef](L, n, "a layer (p.ip, p.icmp …)")
}

func pushLayer(L *lua.LState, p *Pkt, layer string) lua.LValue {
	return pushUD(L, &layerRef{p: p, layer: layer}, layerType)
}

// pktField is p.k for a packet.
func (in *Interp) pktField(L *lua.LState, p *Pkt, k string) lua.LValue {
	q := &p.P
	switch k {
	case "ip":
		if p.HasIP {
			if q.Version == 6 {
				return pushLayer(L, p, "ip6")
			}
			return pushLayer(L, p, "ip")
		}
		return lua.LNil
	case "ip6":
		if p.HasIP && q.Version == 6 {
			return pushLayer(L, p, "ip6")
		}
		return lua.LNil
	case "icmp", "icmp6", "udp", "tcp":
		if !p.HasL4 {
			return lua.LNil
		}
		name := layerName(p, 2)
		if name == k || (k == "icmp" && name == "icmp6") {
			return pushLayer(L, p, name)
		}
		return lua.LNil
	case "payload", "load":
		return lua.LString(q.Payload)
	case "pattern":
		if p.Pattern == "" {
			return lua.LNil
		}
		return lua.LString(p.Pattern)
	case "quote":
		if q.Quote == nil {
			return lua.LNil
		}
		return pushPkt(L, &Pkt{P: *q.Quote, HasIP: true, HasL4: q.Quote.Transport != packet.NoTransport, HasPayload: len(q.Quote.Payload) > 0, Parsed: true})
	case "kind":
		if !p.HasL4 {
			return lua.LNil
		}
		return lua.LString(q.Kind())
	case "src", "dst", "version":
		if !p.HasIP {
			return lua.LNil
		}
		layer := "ip"
		if q.Version == 6 {
			layer = "ip6"
		}
		v, _ := in.getField(L, p, layer, k)
		return v
	case "len":
		b, err := p.wire()
		if err != nil {
			return lua.LNil
		}
		return lua.LNumber(len(b))
	case "mpls":
		return mplsTable(L, q)
	case "bad_checksum":
		return lua.LBool(q.BadIPChecksum || q.BadTransportChecksum)
	case "truncated":
		return lua.LBool(q.Truncated)
	}
	L.RaiseError("a packet has no field %q; it has %s", k, strings.Join(pktFields, ", "))
	return lua.LNil
}

// setPktField is p.k = v for a packet.
func (in *Interp) setPktField(L *lua.LState, p *Pkt, k string, v lua.LValue) error {
	switch k {
	case "payload", "load":
		b, name, err := payloadOf(v)
		if err != nil {
			return fmt.Errorf("payload: %v", err)
		}
		p.P.Payload, p.Pattern, p.HasPayload = b, name, true
		p.edited()
		return nil
	}
	for _, f := range pktFields {
		if f == k {
			return fmt.Errorf("%s cannot be assigned on the packet: set fields on their layer, e.g. p.ip.ttl = 3 or p.icmp.seq = 1", k)
		}
	}
	for _, layer := range layerOrder {
		for _, f := range layerFields[layer] {
			if f == k {
				return fmt.Errorf("%s cannot be assigned on the packet: set fields on their layer, e.g. p.%s.%s = ...", k, layer, k)
			}
		}
	}
	return fmt.Errorf("a packet has no field %q; it has %s", k, strings.Join(pktFields, ", "))
}

// edited marks a parsed packet as changed: it is built anew from its
// fields from now on.
func (p *Pkt) edited() {
	p.Parsed, p.Bytes = false, nil
}

// payloadOf reads a payload: a string or a pattern.
func payloadOf(v lua.LValue) ([]byte, string, error) {
	switch x := v.(type) {
	case lua.LString:
		return []byte(x), "", nil
	case *lua.LUserData:
		if pv, ok := x.Value.(*patternVal); ok {
			return append([]byte(nil), pv.p.Bytes...), pv.p.Name, nil
		}
	}
	return nil, "", fmt.Errorf("%s is not a string or a pattern", describe(v))
}

// intValue checks that v is an integer within [lo, hi].
func intValue(name string, v lua.LValue, lo, hi int64) (int64, error) {
	n, ok := v.(lua.LNumber)
	if !ok {
		if s, isStr := v.(lua.LString); isStr {
			if f, err := parseNumber(string(s)); err == nil {
				n, ok = lua.LNumber(f), true
			}
		}
	}
	if !ok {
		return 0, fmt.Errorf("%s: %s is not a number", name, describeValue(v))
	}
	f := float64(n)
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("%s: %v is not a whole number", name, f)
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, fmt.Errorf("%s: %v is out of range, the limit is %d–%d", name, f, lo, hi)
	}
	return int64(f), nil
}

// parseNumber accepts "0x28" and decimal strings.
func parseNumber(s string) (float64, error) {
	var f float64
	var u uint64
	if _, err := fmt.Sscanf(s, "0x%x", &u); err == nil && strings.HasPrefix(strings.ToLower(s), "0x") {
		return float64(u), nil
	}
	_, err := fmt.Sscanf(s, "%g", &f)
	return f, err
}

func boolValue(name string, v lua.LValue) (bool, error) {
	switch x := v.(type) {
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	}
	return false, fmt.Errorf("%s: %s is not true or false", name, describeValue(v))
}

// describeValue shows a value for an error: strings quoted, numbers as
// they are, other types by name.
func describeValue(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return fmt.Sprintf("%q", string(x))
	case lua.LNumber:
		return x.String()
	case lua.LBool:
		return x.String()
	}
	return describe(v)
}

func addrValue(a netip.Addr) lua.LValue {
	if !a.IsValid() {
		return lua.LNil
	}
	return lua.LString(a.String())
}

// tsTable lists a timestamp option's recorded entries as {addr=, ms=}.
func tsTable(L *lua.LState, ts *packet.Timestamp) *lua.LTable {
	t := L.NewTable()
	for _, e := range ts.Recorded() {
		r := L.NewTable()
		if e.Addr.IsValid() {
			r.RawSetString("addr", lua.LString(e.Addr.String()))
		}
		r.RawSetString("ms", lua.LNumber(e.Time))
		if e.NonStandard() {
			r.RawSetString("nonstandard", lua.LTrue)
		}
		t.Append(r)
	}
	if ts.Overflow > 0 {
		t.RawSetString("overflow", lua.LNumber(ts.Overflow))
	}
	return t
}

// mplsTable lists the MPLS label stack entries (RFC 4950) of an ICMP
// error's extensions as {label=, tc=, s=, ttl=}; nil when there are none.
func mplsTable(L *lua.LState, q *packet.Packet) lua.LValue {
	var t *lua.LTable
	for _, e := range q.Extensions {
		st, ok := e.(*icmp.MPLSLabelStack)
		if !ok {
			continue
		}
		if t == nil {
			t = L.NewTable()
		}
		for _, l := range st.Labels {
			r := L.NewTable()
			r.RawSetString("label", lua.LNumber(l.Label))
			r.RawSetString("tc", lua.LNumber(l.TC))
			r.RawSetString("s", lua.LBool(l.S))
			r.RawSetString("ttl", lua.LNumber(l.TTL))
			t.Append(r)
		}
	}
	if t == nil {
		return lua.LNil
	}
	return t
}

// icmpNames maps ICMP message names to type and code, built from
// packet.ICMPTypeName so both directions use one spelling. It is built on
// first use, not when any echolot command starts.
var icmpNames = sync.OnceValue(func() [2]map[string][2]uint8 {
	var m [2]map[string][2]uint8
	for f := range 2 {
		m[f] = map[string][2]uint8{}
		for t := 255; t >= 0; t-- {
			for c := 15; c >= 0; c-- {
				n := packet.ICMPTypeName(f == 1, uint8(t), uint8(c))
				if strings.HasPrefix(n, "icmp") {
					continue
				}
				if old, ok := m[f][n]; ok && old[0] < uint8(t) {
					continue
				}
				m[f][n] = [2]uint8{uint8(t), uint8(c)}
			}
		}
	}
	return m
})

func icmpTypeByName(v6 bool, name string) (uint8, uint8, bool) {
	f := 0
	if v6 {
		f = 1
	}
	tc, ok := icmpNames()[f][name]
	return tc[0], tc[1], ok
}

func icmpTypeNames(v6 bool) []string {
	f := 0
	if v6 {
		f = 1
	}
	var s []string
	for n := range icmpNames()[f] {
		s = append(s, n)
	}
	sort.Strings(s)
	return s
}
