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

// layerFields lists each layer's fields, for errors and completion.
var layerFields = map[string][]string{
	"ip":    {"src", "dst", "ttl", "tos", "dscp", "ecn", "id", "df", "mf", "evil", "frag", "proto", "chksum", "options", "rr", "ts", "len", "hlen", "version"},
	"ip6":   {"src", "dst", "hlim", "ttl", "tc", "tos", "dscp", "ecn", "flow", "nh", "proto", "plen", "version"},
	"icmp":  {"type", "code", "chksum", "id", "seq", "mtu", "pointer", "gateway", "name"},
	"icmp6": {"type", "code", "chksum", "id", "seq", "mtu", "pointer", "name"},
	"udp":   {"sport", "dport", "len", "chksum"},
	"tcp":   {"sport", "dport", "seq", "ack", "flags", "win", "chksum", "urg", "reserved", "options"},
}

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
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if r, ok := ud.Value.(*layerRef); ok {
			return r
		}
	}
	L.RaiseError("argument %d is %s, want a layer (p.ip, p.icmp …)", n, describe(L.Get(n)))
	return nil
}

func pushLayer(L *lua.LState, p *Pkt, layer string) lua.LValue {
	ud := L.NewUserData()
	ud.Value = &layerRef{p: p, layer: layer}
	L.SetMetatable(ud, L.GetTypeMetatable(layerType))
	return ud
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
	for _, layer := range []string{"ip", "ip6", "icmp", "icmp6", "udp", "tcp"} {
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

// getField reads a field of one layer.
func (in *Interp) getField(L *lua.LState, p *Pkt, layer, k string) (lua.LValue, error) {
	q := &p.P
	switch layer {
	case "ip":
		h := &q.IPv4
		switch k {
		case "src":
			return addrValue(h.Src), nil
		case "dst":
			return addrValue(h.Dst), nil
		case "ttl":
			return lua.LNumber(h.TTL), nil
		case "tos":
			return lua.LNumber(h.TOS), nil
		case "dscp":
			return lua.LNumber(h.DSCP()), nil
		case "ecn":
			return lua.LNumber(h.ECN()), nil
		case "id":
			return lua.LNumber(h.ID), nil
		case "df":
			return lua.LBool(h.DF), nil
		case "mf":
			return lua.LBool(h.MF), nil
		case "evil":
			return lua.LBool(h.Evil), nil
		case "frag":
			return lua.LNumber(h.FragOffset), nil
		case "proto":
			return lua.LNumber(q.Protocol()), nil
		case "chksum":
			b, err := p.built()
			if err != nil {
				return lua.LNil, err
			}
			return lua.LNumber(b.IPv4.Checksum), nil
		case "len", "hlen":
			b, err := p.built()
			if err != nil {
				return lua.LNil, err
			}
			if k == "len" {
				return lua.LNumber(b.IPv4.TotalLen), nil
			}
			return lua.LNumber(b.IPv4.HeaderLen), nil
		case "options":
			t := L.NewTable()
			for _, o := range h.Options {
				t.Append(pushOption(L, o))
			}
			return t, nil
		case "rr":
			for _, o := range h.Options {
				if rr, ok := o.(*packet.RecordRoute); ok {
					t := L.NewTable()
					for _, a := range rr.Route {
						t.Append(lua.LString(a.String()))
					}
					return t, nil
				}
			}
			return lua.LNil, nil
		case "ts":
			for _, o := range h.Options {
				if ts, ok := o.(*packet.Timestamp); ok {
					return tsTable(L, ts), nil
				}
			}
			return lua.LNil, nil
		case "version":
			return lua.LNumber(4), nil
		}
	case "ip6":
		h := &q.IPv6
		switch k {
		case "src":
			return addrValue(h.Src), nil
		case "dst":
			return addrValue(h.Dst), nil
		case "hlim", "ttl":
			return lua.LNumber(h.HopLimit), nil
		case "tc", "tos":
			return lua.LNumber(h.TrafficClass), nil
		case "dscp":
			return lua.LNumber(h.DSCP()), nil
		case "ecn":
			return lua.LNumber(h.ECN()), nil
		case "flow":
			return lua.LNumber(h.FlowLabel), nil
		case "nh", "proto":
			return lua.LNumber(q.Protocol()), nil
		case "plen":
			b, err := p.built()
			if err != nil {
				return lua.LNil, err
			}
			return lua.LNumber(b.IPv6.PayloadLen), nil
		case "version":
			return lua.LNumber(6), nil
		}
	case "icmp", "icmp6":
		h := &q.ICMP
		switch k {
		case "type":
			return lua.LNumber(h.Type), nil
		case "code":
			return lua.LNumber(h.Code), nil
		case "name":
			return lua.LString(packet.ICMPTypeName(layer == "icmp6", h.Type, h.Code)), nil
		case "chksum":
			if !p.HasIP && !p.Parsed {
				return lua.LNil, fmt.Errorf("%s.chksum: the checksum is computed when the packet has an IP layer", layer)
			}
			b, err := p.built()
			if err != nil {
				return lua.LNil, err
			}
			return lua.LNumber(b.ICMP.Checksum), nil
		case "id":
			return lua.LNumber(h.ID), nil
		case "seq":
			return lua.LNumber(h.Seq), nil
		case "mtu":
			if m, ok := q.NextHopMTU(); ok {
				return lua.LNumber(m), nil
			}
			return lua.LNil, nil
		case "pointer":
			if m, ok := q.Pointer(); ok {
				return lua.LNumber(m), nil
			}
			return lua.LNil, nil
		case "gateway":
			if a, ok := q.Gateway(); ok {
				return lua.LString(a.String()), nil
			}
			return lua.LNil, nil
		}
	case "udp":
		h := &q.UDP
		switch k {
		case "sport":
			return lua.LNumber(h.SrcPort), nil
		case "dport":
			return lua.LNumber(h.DstPort), nil
		case "len", "chksum":
			if k == "len" && !p.Parsed {
				return lua.LNumber(packet.UDPHeaderLen + len(q.Payload)), nil
			}
			if !p.HasIP && !p.Parsed {
				return lua.LNil, fmt.Errorf("udp.%s: computed when the packet has an IP layer", k)
			}
			b, err := p.built()
			if err != nil {
				return lua.LNil, err
			}
			if k == "len" {
				return lua.LNumber(b.UDP.Length), nil
			}
			return lua.LNumber(b.UDP.Checksum), nil
		}
	case "tcp":
		h := &q.TCP
		switch k {
		case "sport":
			return lua.LNumber(h.SrcPort), nil
		case "dport":
			return lua.LNumber(h.DstPort), nil
		case "seq":
			return lua.LNumber(h.Seq), nil
		case "ack":
			return lua.LNumber(h.Ack), nil
		case "flags":
			return lua.LString(h.Flags.String()), nil
		case "win":
			return lua.LNumber(h.Window), nil
		case "urg":
			return lua.LNumber(h.Urgent), nil
		case "reserved":
			return lua.LNumber(h.Reserved), nil
		case "chksum":
			if !p.HasIP && !p.Parsed {
				return lua.LNil, fmt.Errorf("tcp.chksum: computed when the packet has an IP layer")
			}
			b, err := p.built()
			if err != nil {
				return lua.LNil, err
			}
			return lua.LNumber(b.TCP.Checksum), nil
		case "options":
			t := L.NewTable()
			for _, o := range h.Options {
				t.Append(lua.LString(o.String()))
			}
			return t, nil
		}
	}
	return lua.LNil, fmt.Errorf("%s has no field %q; its fields are %s", layer, k, strings.Join(layerFields[layer], ", "))
}

// setField writes a field of one layer, with the limits packet enforces
// named in the error.
func (in *Interp) setField(L *lua.LState, p *Pkt, layer, k string, v lua.LValue) error {
	q := &p.P
	name := layer + "." + k
	p.edited()
	num := func(lo, hi int64) (int64, error) { return intValue(name, v, lo, hi) }
	switch layer {
	case "ip":
		h := &q.IPv4
		switch k {
		case "src", "dst":
			a, err := in.addrArg(name, v, false)
			if err != nil {
				return err
			}
			if k == "src" {
				h.Src = a
			} else {
				h.Dst = a
			}
			return nil
		case "ttl":
			n, err := num(0, 255)
			h.TTL = uint8(n)
			return err
		case "tos":
			n, err := num(0, 255)
			h.TOS = uint8(n)
			return err
		case "dscp":
			n, err := num(0, 63)
			if err == nil {
				err = h.SetDSCP(int(n))
			}
			return err
		case "ecn":
			n, err := num(0, 3)
			if err == nil {
				err = h.SetECN(int(n))
			}
			return err
		case "id":
			n, err := num(0, 65535)
			h.ID = uint16(n)
			return err
		case "df", "mf", "evil":
			b, err := boolValue(name, v)
			switch k {
			case "df":
				h.DF = b
			case "mf":
				h.MF = b
			default:
				h.Evil = b
			}
			return err
		case "frag":
			n, err := num(0, 8191)
			h.FragOffset = uint16(n)
			return err
		case "proto":
			n, err := num(0, 255)
			h.Protocol = uint8(n)
			return err
		case "chksum":
			return setChecksum(v, num, &h.Checksum, &h.FixedChecksum)
		case "options":
			opts, err := optionList(name, v)
			if err != nil {
				return err
			}
			h.Options = opts
			return nil
		}
	case "ip6":
		h := &q.IPv6
		switch k {
		case "src", "dst":
			a, err := in.addrArg(name, v, true)
			if err != nil {
				return err
			}
			if k == "src" {
				h.Src = a
			} else {
				h.Dst = a
			}
			return nil
		case "hlim", "ttl":
			n, err := num(0, 255)
			h.HopLimit = uint8(n)
			return err
		case "tc", "tos":
			n, err := num(0, 255)
			h.TrafficClass = uint8(n)
			return err
		case "dscp":
			n, err := num(0, 63)
			h.TrafficClass = h.TrafficClass&3 | uint8(n)<<2
			return err
		case "ecn":
			n, err := num(0, 3)
			h.TrafficClass = h.TrafficClass&^3 | uint8(n)
			return err
		case "flow":
			n, err := num(0, 1<<20-1)
			h.FlowLabel = uint32(n)
			return err
		case "nh", "proto":
			n, err := num(0, 255)
			h.NextHeader = uint8(n)
			return err
		}
	case "icmp", "icmp6":
		h := &q.ICMP
		switch k {
		case "type":
			if s, ok := v.(lua.LString); ok {
				t, c, ok := icmpTypeByName(layer == "icmp6", string(s))
				if !ok {
					return fmt.Errorf("%s: unknown ICMP message %q; use a number or one of %s", name, string(s), strings.Join(icmpTypeNames(layer == "icmp6"), ", "))
				}
				h.Type, h.Code = t, c
				return nil
			}
			n, err := num(0, 255)
			h.Type = uint8(n)
			return err
		case "code":
			n, err := num(0, 255)
			h.Code = uint8(n)
			return err
		case "chksum":
			return setChecksum(v, num, &h.Checksum, &h.FixedChecksum)
		case "id":
			n, err := num(0, 65535)
			h.ID, p.AutoID = uint16(n), false
			return err
		case "seq":
			n, err := num(0, 65535)
			h.Seq, p.AutoSeq = uint16(n), false
			return err
		case "mtu":
			if layer == "icmp6" {
				n, err := num(0, math.MaxUint32)
				h.ID, h.Seq = uint16(n>>16), uint16(n)
				p.AutoID, p.AutoSeq = false, false
				return err
			}
			n, err := num(0, 65535)
			h.Seq, p.AutoSeq = uint16(n), false
			return err
		case "pointer":
			if layer == "icmp6" {
				n, err := num(0, math.MaxUint32)
				h.ID, h.Seq = uint16(n>>16), uint16(n)
				p.AutoID, p.AutoSeq = false, false
				return err
			}
			n, err := num(0, 255)
			h.ID, p.AutoID = uint16(n)<<8, false
			return err
		case "gateway":
			a, err := in.addrArg(name, v, false)
			if err != nil {
				return err
			}
			b := a.As4()
			h.ID, h.Seq = uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3])
			p.AutoID, p.AutoSeq = false, false
			return nil
		}
	case "udp":
		h := &q.UDP
		switch k {
		case "sport", "dport":
			n, err := num(0, 65535)
			if k == "sport" {
				h.SrcPort = uint16(n)
			} else {
				h.DstPort = uint16(n)
			}
			return err
		case "chksum":
			return setChecksum(v, num, &h.Checksum, &h.FixedChecksum)
		}
	case "tcp":
		h := &q.TCP
		switch k {
		case "sport", "dport":
			n, err := num(0, 65535)
			if k == "sport" {
				h.SrcPort = uint16(n)
			} else {
				h.DstPort = uint16(n)
			}
			return err
		case "seq", "ack":
			n, err := num(0, math.MaxUint32)
			if k == "seq" {
				h.Seq = uint32(n)
			} else {
				h.Ack = uint32(n)
			}
			return err
		case "flags":
			if s, ok := v.(lua.LString); ok {
				f, err := packet.ParseTCPFlags(string(s))
				if err != nil {
					return fmt.Errorf("%s: %v", name, err)
				}
				h.Flags = f
				return nil
			}
			n, err := num(0, 511)
			h.Flags = packet.TCPFlags(n)
			return err
		case "win":
			n, err := num(0, 65535)
			h.Window = uint16(n)
			return err
		case "urg":
			n, err := num(0, 65535)
			h.Urgent = uint16(n)
			return err
		case "reserved":
			n, err := num(0, 7)
			h.Reserved = uint8(n)
			return err
		case "chksum":
			return setChecksum(v, num, &h.Checksum, &h.FixedChecksum)
		case "options":
			opts, err := tcpOptionList(name, v)
			if err != nil {
				return err
			}
			h.Options = opts
			return nil
		}
	}
	for _, f := range layerFields[layer] {
		if f == k {
			return fmt.Errorf("%s is computed by the builder and cannot be set", name)
		}
	}
	return fmt.Errorf("%s has no field %q; its fields are %s", layer, k, strings.Join(layerFields[layer], ", "))
}

// setChecksum writes a chksum field: a number fixes the checksum (to
// send a wrong one on purpose), nil lets the builder compute it again.
func setChecksum(v lua.LValue, num func(lo, hi int64) (int64, error), sum *uint16, fixed *bool) error {
	if v == lua.LNil {
		*sum, *fixed = 0, false
		return nil
	}
	n, err := num(0, 65535)
	*sum, *fixed = uint16(n), err == nil
	return err
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
