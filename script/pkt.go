package script

import (
	"encoding/hex"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
)

// Pkt is a packet as Lua sees it: a packet.Packet whose layers were
// stacked with "/" (or parsed), plus which of the fields the sender is to
// fill in.
type Pkt struct {
	P packet.Packet
	// Which layers are present: a network header, a transport header, a
	// payload given with raw().
	HasIP, HasL4, HasPayload bool
	// AutoID and AutoSeq ask the sender for an identifier and a sequence
	// number (icmp{} without id= or seq=).
	AutoID, AutoSeq bool
	// Pattern names the payload's pattern, "" when it is no pattern.
	Pattern string
	// Parsed is set for packets that arrived or were read from a file:
	// their fields are what was on the wire.
	Parsed bool
	// Bytes are the wire bytes of a parsed packet.
	Bytes []byte
}

const pktType = "echolot.packet"

// pushPkt wraps p as a Lua userdata.
func pushPkt(L *lua.LState, p *Pkt) lua.LValue { return pushUD(L, p, pktType) }

// toPkt returns the packet in v, or nil.
func toPkt(v lua.LValue) *Pkt { return fromUD[*Pkt](v) }

// checkPkt returns argument n as a packet or raises an error naming fn.
func checkPkt(L *lua.LState, n int, fn string) *Pkt {
	p := toPkt(L.Get(n))
	if p == nil {
		L.RaiseError("%s: argument %d is %s, want a packet (e.g. ip{dst=...} / icmp{})", fn, n, describe(L.Get(n)))
	}
	return p
}

// describe names a Lua value's type for error messages.
func describe(v lua.LValue) string {
	if ud, ok := v.(*lua.LUserData); ok {
		switch ud.Value.(type) {
		case *Pkt:
			return "a packet"
		case *layerRef:
			return "a layer"
		case *patternVal:
			return "a pattern"
		case *optionVal:
			return "an IPv4 option"
		}
	}
	if v == lua.LNil {
		return "nil"
	}
	return "a " + v.Type().String()
}

// clone deep-copies a packet: the options, the payload and the quote.
func (p *Pkt) clone() *Pkt {
	c := *p
	c.P.IPv4.Options = cloneOptions(p.P.IPv4.Options)
	c.P.TCP.Options = append([]packet.TCPOption(nil), p.P.TCP.Options...)
	c.P.Payload = append([]byte(nil), p.P.Payload...)
	c.Bytes = append([]byte(nil), p.Bytes...)
	if p.P.Quote != nil {
		q := *p.P.Quote
		c.P.Quote = &q
	}
	return &c
}

// top and bottom give the stacking rank (1 network, 2 transport, 3
// payload) of a packet's highest and lowest layer; "/" needs the left
// operand's top below the right operand's bottom.
func (p *Pkt) top() int {
	switch {
	case p.HasPayload:
		return 3
	case p.HasL4:
		return 2
	case p.HasIP:
		return 1
	}
	return 0
}

func (p *Pkt) bottom() int {
	switch {
	case p.HasIP:
		return 1
	case p.HasL4:
		return 2
	case p.HasPayload:
		return 3
	}
	return 4
}

// stack returns a / b: b's layers on top of a's.
func stack(a, b *Pkt) (*Pkt, error) {
	if a.top() >= b.bottom() {
		return nil, fmt.Errorf("cannot stack %s on %s: layers go network / transport / payload, each once", layerNames(b), layerNames(a))
	}
	c := a.clone()
	if b.HasIP {
		c.HasIP = true
		c.P.Version, c.P.IPv4, c.P.IPv6 = b.P.Version, b.P.IPv4, b.P.IPv6
	}
	if b.HasL4 {
		c.HasL4 = true
		c.P.Transport, c.P.ICMP, c.P.UDP, c.P.TCP = b.P.Transport, b.P.ICMP, b.P.UDP, b.P.TCP
		c.AutoID, c.AutoSeq = b.AutoID, b.AutoSeq
	}
	if b.HasPayload {
		c.HasPayload = true
		c.P.Payload = append([]byte(nil), b.P.Payload...)
		c.Pattern = b.Pattern
	}
	if err := c.checkFamily(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkFamily refuses ICMP over IPv6 and ICMPv6 over IPv4.
func (p *Pkt) checkFamily() error {
	if !p.HasIP || !p.HasL4 {
		return nil
	}
	switch {
	case p.P.Version == 6 && p.P.Transport == packet.TransportICMP:
		return fmt.Errorf("icmp{} over ip6{}: use icmp6{} (ICMPv6, RFC 4443) for IPv6")
	case p.P.Version == 4 && p.P.Transport == packet.TransportICMPv6:
		return fmt.Errorf("icmp6{} over ip{}: use icmp{} for IPv4, or ip6{} for ICMPv6")
	}
	return nil
}

func layerNames(p *Pkt) string {
	var s []string
	if p.HasIP {
		s = append(s, layerName(p, 1))
	}
	if p.HasL4 {
		s = append(s, layerName(p, 2))
	}
	if p.HasPayload {
		s = append(s, "raw")
	}
	if len(s) == 0 {
		return "an empty packet"
	}
	return strings.Join(s, "/")
}

// layerName is the Lua name of a packet's layer at rank r.
func layerName(p *Pkt, r int) string {
	if r == 1 {
		if p.P.Version == 6 {
			return "ip6"
		}
		return "ip"
	}
	switch p.P.Transport {
	case packet.TransportICMP:
		return "icmp"
	case packet.TransportICMPv6:
		return "icmp6"
	case packet.TransportUDP:
		return "udp"
	case packet.TransportTCP:
		return "tcp"
	}
	return "raw"
}

// wire returns the packet's bytes: as parsed, or built.
func (p *Pkt) wire() ([]byte, error) {
	if p.Parsed && p.Bytes != nil {
		return p.Bytes, nil
	}
	if !p.HasIP {
		return nil, fmt.Errorf("the packet has no IP layer: stack it on ip{dst=...} or ip6{dst=...}")
	}
	return p.P.Marshal()
}

// built returns the packet as the builder would write it, parsed back: the
// computed lengths and checksums filled in.
func (p *Pkt) built() (*packet.Packet, error) {
	if p.Parsed {
		return &p.P, nil
	}
	b, err := p.wire()
	if err != nil {
		return nil, err
	}
	return packet.Parse(b)
}

// String is tostring(p): one line, layer by layer.
func (p *Pkt) String() string {
	if !p.HasIP {
		var s []string
		if p.HasL4 {
			q := p.P
			q.Version = 4
			if q.Transport == packet.TransportICMPv6 {
				q.Version = 6
			}
			sum := q.Summary()
			if i := strings.Index(sum, "| "); i >= 0 {
				sum = sum[i+2:]
			}
			s = append(s, sum)
		} else if p.HasPayload {
			s = append(s, fmt.Sprintf("%d bytes", len(p.P.Payload)))
		}
		if len(s) == 0 {
			return "empty packet"
		}
		return strings.Join(s, " | ")
	}
	return p.P.Summary() // an unset source shows as (auto): the sender fills it in
}

// registerPacket installs the packet type: fields by layer, methods,
// "/", #, tostring, ==.
func (in *Interp) registerPacket() {
	L := in.L
	mt := L.NewTypeMetatable(pktType)
	methods := map[string]lua.LGFunction{
		"show": func(L *lua.LState) int {
			p := checkPkt(L, 1, "show")
			fmt.Fprint(in.opts.Stdout, in.showText(L, p))
			return 0
		},
		"hex": func(L *lua.LState) int {
			p := checkPkt(L, 1, "hex")
			b, err := p.wire()
			if err != nil {
				L.RaiseError("hex: %v", err)
			}
			L.Push(lua.LString(hexDump(b)))
			return 1
		},
		"bytes": func(L *lua.LState) int {
			p := checkPkt(L, 1, "bytes")
			b, err := p.wire()
			if err != nil {
				L.RaiseError("bytes: %v", err)
			}
			L.Push(lua.LString(b))
			return 1
		},
		"copy": func(L *lua.LState) int {
			L.Push(pushPkt(L, checkPkt(L, 1, "copy").clone()))
			return 1
		},
		"summary": func(L *lua.LState) int {
			L.Push(lua.LString(checkPkt(L, 1, "summary").String()))
			return 1
		},
	}
	methodFns := map[string]lua.LValue{}
	for n, f := range methods {
		methodFns[n] = L.NewFunction(f)
	}
	L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
		p := checkPkt(L, 1, "index")
		k := L.CheckString(2)
		if f, ok := methodFns[k]; ok {
			L.Push(f)
			return 1
		}
		L.Push(in.pktField(L, p, k))
		return 1
	}))
	L.SetField(mt, "__newindex", L.NewFunction(func(L *lua.LState) int {
		p := checkPkt(L, 1, "assignment")
		k := L.CheckString(2)
		if err := in.setPktField(L, p, k, L.Get(3)); err != nil {
			L.RaiseError("%v", err)
		}
		return 0
	}))
	L.SetField(mt, "__div", L.NewFunction(func(L *lua.LState) int {
		a, b := in.toStackable(L, 1), in.toStackable(L, 2)
		c, err := stack(a, b)
		if err != nil {
			L.RaiseError("%v", err)
		}
		L.Push(pushPkt(L, c))
		return 1
	}))
	L.SetField(mt, "__len", L.NewFunction(func(L *lua.LState) int {
		p := checkPkt(L, 1, "#")
		if !p.HasIP {
			n := len(p.P.Payload)
			if p.HasL4 {
				q := p.P
				q.Version = 4
				if q.Transport == packet.TransportICMPv6 {
					q.Version = 6
				}
				l, err := q.Len()
				if err != nil {
					L.RaiseError("#: %v", err)
				}
				n = l - packet.IPv4HeaderLen
				if q.Version == 6 {
					n = l - packet.IPv6HeaderLen
				}
			}
			L.Push(lua.LNumber(n))
			return 1
		}
		if p.Parsed && p.Bytes != nil {
			L.Push(lua.LNumber(len(p.Bytes)))
			return 1
		}
		n, err := p.P.Len()
		if err != nil {
			L.RaiseError("#: %v", err)
		}
		L.Push(lua.LNumber(n))
		return 1
	}))
	L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(checkPkt(L, 1, "tostring").String()))
		return 1
	}))
	L.SetField(mt, "__eq", L.NewFunction(func(L *lua.LState) int {
		a, b := toPkt(L.Get(1)), toPkt(L.Get(2))
		if a == nil || b == nil {
			L.Push(lua.LFalse)
			return 1
		}
		wa, e1 := a.wire()
		wb, e2 := b.wire()
		L.Push(lua.LBool(e1 == nil && e2 == nil && string(wa) == string(wb)))
		return 1
	}))
	in.registerLayerRef()
}

// toStackable converts an operand of "/" to a packet: packets as they
// are, strings and patterns as raw payloads.
func (in *Interp) toStackable(L *lua.LState, n int) *Pkt {
	v := L.Get(n)
	if p := toPkt(v); p != nil {
		return p
	}
	if s, ok := v.(lua.LString); ok {
		return &Pkt{HasPayload: true, P: packet.Packet{Payload: []byte(s)}}
	}
	if pv := toPattern(v); pv != nil {
		return &Pkt{HasPayload: true, P: packet.Packet{Payload: append([]byte(nil), pv.p.Bytes...)}, Pattern: pv.p.Name}
	}
	L.RaiseError("/: operand %d is %s; stack packets, layers (ip{}, icmp{} …), strings or patterns", n, describe(v))
	return nil
}

// showText is p:show(): packet.Show for whole packets.
func (in *Interp) showText(L *lua.LState, p *Pkt) string {
	if !p.HasIP {
		return p.String() + "\n"
	}
	q := p.P
	if !p.Parsed {
		b, err := p.built()
		if err != nil {
			L.RaiseError("show: %v", err)
		}
		q = *b
	}
	s := q.Show()
	if p.Pattern != "" {
		s = strings.TrimRight(s, "\n") + "\n  pattern " + p.Pattern + "\n"
	}
	return s
}

// hexDump formats b as offset, 16 hex bytes and ASCII per line.
func hexDump(b []byte) string {
	return strings.TrimRight(hex.Dump(b), "\n")
}
