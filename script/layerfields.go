package script

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
)

// fieldDef is one field of a layer as Lua sees it: how to read it and,
// unless the builder computes it, how to write it. The tables below are
// the only list of fields: reading, writing, error messages, tostring of
// a layer and completion all come from them.
type fieldDef struct {
	name string
	get  func(in *Interp, L *lua.LState, p *Pkt) (lua.LValue, error)
	// set writes the field; name is "layer.field" for errors. nil for
	// fields the builder computes.
	set func(in *Interp, p *Pkt, name string, v lua.LValue) error
}

// numField is an unsigned integer field in [0, hi] at the place at gives;
// then, when set, runs after (to mark an identifier as fixed).
func numField[T uint8 | uint16 | uint32](name string, hi int64, at func(*packet.Packet) *T, after func(*Pkt)) fieldDef {
	return fieldDef{name: name,
		get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) { return lua.LNumber(*at(&p.P)), nil },
		set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
			n, err := intValue(name, v, 0, hi)
			if err != nil {
				return err
			}
			*at(&p.P) = T(n)
			if after != nil {
				after(p)
			}
			return nil
		}}
}

// boolField is a flag.
func boolField(name string, at func(*packet.Packet) *bool) fieldDef {
	return fieldDef{name: name,
		get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) { return lua.LBool(*at(&p.P)), nil },
		set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
			b, err := boolValue(name, v)
			if err == nil {
				*at(&p.P) = b
			}
			return err
		}}
}

// addrField is an address of the family v6 says; host names resolve.
func addrField(name string, v6 bool, at func(*packet.Packet) *netip.Addr) fieldDef {
	return fieldDef{name: name,
		get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) { return addrValue(*at(&p.P)), nil },
		set: func(in *Interp, p *Pkt, name string, v lua.LValue) error {
			a, err := in.addrArg(name, v, v6)
			if err == nil {
				*at(&p.P) = a
			}
			return err
		}}
}

// builtField reads a value the builder computes (a length, a checksum)
// from the packet as built, or as received; needIP refuses a layer not
// yet stacked on an IP header, whose pseudo-header the value covers.
func builtField(name string, needIP bool, of func(*packet.Packet) int) fieldDef {
	return fieldDef{name: name, get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) {
		if needIP && !p.HasIP && !p.Parsed {
			return lua.LNil, fmt.Errorf("computed once the packet has an IP layer: stack it on ip{} or ip6{}")
		}
		b, err := p.built()
		if err != nil {
			return lua.LNil, err
		}
		return lua.LNumber(of(b)), nil
	}}
}

// checksumField reads the computed checksum and writes a fixed one (to
// send a wrong one on purpose); nil computes it again.
func checksumField(needIP bool, of func(*packet.Packet) (*uint16, *bool)) fieldDef {
	f := builtField("chksum", needIP, func(b *packet.Packet) int { s, _ := of(b); return int(*s) })
	f.set = func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
		sum, fixed := of(&p.P)
		if v == lua.LNil {
			*sum, *fixed = 0, false
			return nil
		}
		n, err := intValue(name, v, 0, 65535)
		*sum, *fixed = uint16(n), err == nil
		return err
	}
	return f
}

// constField is a read-only value of the packet.
func constField(name string, of func(p *Pkt) lua.LValue) fieldDef {
	return fieldDef{name: name, get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) { return of(p), nil }}
}

// tableField is a field read into a Lua table (options, recorded routes).
func tableField(name string, of func(L *lua.LState, p *Pkt) lua.LValue) fieldDef {
	return fieldDef{name: name, get: func(_ *Interp, L *lua.LState, p *Pkt) (lua.LValue, error) { return of(L, p), nil }}
}

var ipFields = []fieldDef{
	addrField("src", false, func(q *packet.Packet) *netip.Addr { return &q.IPv4.Src }),
	addrField("dst", false, func(q *packet.Packet) *netip.Addr { return &q.IPv4.Dst }),
	numField("ttl", 255, func(q *packet.Packet) *uint8 { return &q.IPv4.TTL }, nil),
	numField("tos", 255, func(q *packet.Packet) *uint8 { return &q.IPv4.TOS }, nil),
	dsField("dscp", 63, func(q *packet.Packet) *uint8 { return &q.IPv4.TOS }, 2, 0xfc),
	dsField("ecn", 3, func(q *packet.Packet) *uint8 { return &q.IPv4.TOS }, 0, 0x03),
	numField("id", 65535, func(q *packet.Packet) *uint16 { return &q.IPv4.ID }, nil),
	boolField("df", func(q *packet.Packet) *bool { return &q.IPv4.DF }),
	boolField("mf", func(q *packet.Packet) *bool { return &q.IPv4.MF }),
	boolField("evil", func(q *packet.Packet) *bool { return &q.IPv4.Evil }),
	numField("frag", 8191, func(q *packet.Packet) *uint16 { return &q.IPv4.FragOffset }, nil),
	protoField("proto", func(q *packet.Packet) *uint8 { return &q.IPv4.Protocol }),
	checksumField(false, func(q *packet.Packet) (*uint16, *bool) { return &q.IPv4.Checksum, &q.IPv4.FixedChecksum }),
	{name: "options",
		get: func(_ *Interp, L *lua.LState, p *Pkt) (lua.LValue, error) {
			t := L.NewTable()
			for _, o := range p.P.IPv4.Options {
				t.Append(pushOption(L, o))
			}
			return t, nil
		},
		set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
			opts, err := optionList(name, v)
			if err == nil {
				p.P.IPv4.Options = opts
			}
			return err
		}},
	tableField("rr", func(L *lua.LState, p *Pkt) lua.LValue {
		for _, o := range p.P.IPv4.Options {
			if rr, ok := o.(*packet.RecordRoute); ok {
				t := L.NewTable()
				for _, a := range rr.Route {
					t.Append(lua.LString(a.String()))
				}
				return t
			}
		}
		return lua.LNil
	}),
	tableField("ts", func(L *lua.LState, p *Pkt) lua.LValue {
		for _, o := range p.P.IPv4.Options {
			if ts, ok := o.(*packet.Timestamp); ok {
				return tsTable(L, ts)
			}
		}
		return lua.LNil
	}),
	builtField("len", false, func(b *packet.Packet) int { return b.IPv4.TotalLen }),
	builtField("hlen", false, func(b *packet.Packet) int { return b.IPv4.HeaderLen }),
	constField("version", func(*Pkt) lua.LValue { return lua.LNumber(4) }),
}

var ip6Fields = []fieldDef{
	addrField("src", true, func(q *packet.Packet) *netip.Addr { return &q.IPv6.Src }),
	addrField("dst", true, func(q *packet.Packet) *netip.Addr { return &q.IPv6.Dst }),
	numField("hlim", 255, func(q *packet.Packet) *uint8 { return &q.IPv6.HopLimit }, nil),
	numField("ttl", 255, func(q *packet.Packet) *uint8 { return &q.IPv6.HopLimit }, nil),
	numField("tc", 255, func(q *packet.Packet) *uint8 { return &q.IPv6.TrafficClass }, nil),
	numField("tos", 255, func(q *packet.Packet) *uint8 { return &q.IPv6.TrafficClass }, nil),
	dsField("dscp", 63, func(q *packet.Packet) *uint8 { return &q.IPv6.TrafficClass }, 2, 0xfc),
	dsField("ecn", 3, func(q *packet.Packet) *uint8 { return &q.IPv6.TrafficClass }, 0, 0x03),
	numField("flow", 1<<20-1, func(q *packet.Packet) *uint32 { return &q.IPv6.FlowLabel }, nil),
	protoField("nh", func(q *packet.Packet) *uint8 { return &q.IPv6.NextHeader }),
	protoField("proto", func(q *packet.Packet) *uint8 { return &q.IPv6.NextHeader }),
	builtField("plen", false, func(b *packet.Packet) int { return b.IPv6.PayloadLen }),
	constField("version", func(*Pkt) lua.LValue { return lua.LNumber(6) }),
}

// dsField is the DSCP (RFC 2474 §3) or ECN (RFC 3168 §5) part of the
// TOS or traffic class octet: the bits under mask, shifted.
func dsField(name string, hi int64, octet func(*packet.Packet) *uint8, shift uint, mask uint8) fieldDef {
	return fieldDef{name: name,
		get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) {
			return lua.LNumber(*octet(&p.P) & mask >> shift), nil
		},
		set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
			n, err := intValue(name, v, 0, hi)
			if err == nil {
				o := octet(&p.P)
				*o = *o&^mask | uint8(n)<<shift
			}
			return err
		}}
}

// protoField reads the protocol the builder will write (computed from
// the transport unless set) and writes it.
func protoField(name string, at func(*packet.Packet) *uint8) fieldDef {
	f := numField(name, 255, at, nil)
	f.get = func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) { return lua.LNumber(p.P.Protocol()), nil }
	return f
}

// icmpFields are ICMP's (v6 false) or ICMPv6's.
func icmpFields(v6 bool) []fieldDef {
	fixID := func(p *Pkt) { p.AutoID = false }
	fixSeq := func(p *Pkt) { p.AutoSeq = false }
	fixBoth := func(p *Pkt) { p.AutoID, p.AutoSeq = false, false }
	// The four bytes after the checksum by their meaning: ICMPv6 puts a
	// 32-bit MTU or pointer there (RFC 4443 §3.2, §3.4).
	word32 := func(name string) fieldDef {
		return fieldDef{name: name,
			set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
				n, err := intValue(name, v, 0, math.MaxUint32)
				p.P.ICMP.ID, p.P.ICMP.Seq = uint16(n>>16), uint16(n)
				fixBoth(p)
				return err
			}}
	}
	mtu, pointer := word32("mtu"), word32("pointer")
	if !v6 {
		// Frag needed: the next-hop MTU in bytes 6–7 (RFC 1191 §4);
		// parameter problem: the pointer in byte 4 (RFC 792).
		mtu = numField("mtu", 65535, func(q *packet.Packet) *uint16 { return &q.ICMP.Seq }, fixSeq)
		pointer.set = func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
			n, err := intValue(name, v, 0, 255)
			p.P.ICMP.ID = uint16(n) << 8
			fixID(p)
			return err
		}
	}
	optNumber := func(f func(*packet.Packet) (int, bool)) func(*Interp, *lua.LState, *Pkt) (lua.LValue, error) {
		return func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) {
			if n, ok := f(&p.P); ok {
				return lua.LNumber(n), nil
			}
			return lua.LNil, nil
		}
	}
	mtu.get = optNumber((*packet.Packet).NextHopMTU)
	pointer.get = optNumber((*packet.Packet).Pointer)
	layer := "icmp"
	if v6 {
		layer = "icmp6"
	}
	fs := []fieldDef{
		{name: "type",
			get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) { return lua.LNumber(p.P.ICMP.Type), nil },
			set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
				if s, ok := v.(lua.LString); ok {
					t, c, ok := icmpTypeByName(v6, string(s))
					if !ok {
						return fmt.Errorf("%s: unknown ICMP message %q; use a number or one of %s", name, string(s), strings.Join(icmpTypeNames(v6), ", "))
					}
					p.P.ICMP.Type, p.P.ICMP.Code = t, c
					return nil
				}
				n, err := intValue(name, v, 0, 255)
				p.P.ICMP.Type = uint8(n)
				return err
			}},
		numField("code", 255, func(q *packet.Packet) *uint8 { return &q.ICMP.Code }, nil),
		checksumField(true, func(q *packet.Packet) (*uint16, *bool) { return &q.ICMP.Checksum, &q.ICMP.FixedChecksum }),
		numField("id", 65535, func(q *packet.Packet) *uint16 { return &q.ICMP.ID }, fixID),
		numField("seq", 65535, func(q *packet.Packet) *uint16 { return &q.ICMP.Seq }, fixSeq),
		mtu, pointer,
	}
	if !v6 {
		fs = append(fs, fieldDef{name: "gateway",
			get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) {
				if a, ok := p.P.Gateway(); ok {
					return lua.LString(a.String()), nil
				}
				return lua.LNil, nil
			},
			set: func(in *Interp, p *Pkt, name string, v lua.LValue) error {
				a, err := in.addrArg(name, v, false)
				if err != nil {
					return err
				}
				b := a.As4()
				p.P.ICMP.ID, p.P.ICMP.Seq = uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3])
				fixBoth(p)
				return nil
			}})
	}
	return append(fs, constField("name", func(p *Pkt) lua.LValue {
		return lua.LString(packet.ICMPTypeName(layer == "icmp6", p.P.ICMP.Type, p.P.ICMP.Code))
	}))
}

func portField(name string, at func(*packet.Packet) *uint16) fieldDef {
	return numField(name, 65535, at, nil)
}

var udpFields = []fieldDef{
	portField("sport", func(q *packet.Packet) *uint16 { return &q.UDP.SrcPort }),
	portField("dport", func(q *packet.Packet) *uint16 { return &q.UDP.DstPort }),
	{name: "len", get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) {
		if !p.Parsed {
			return lua.LNumber(packet.UDPHeaderLen + len(p.P.Payload)), nil
		}
		return lua.LNumber(p.P.UDP.Length), nil
	}},
	checksumField(true, func(q *packet.Packet) (*uint16, *bool) { return &q.UDP.Checksum, &q.UDP.FixedChecksum }),
}

var tcpFields = []fieldDef{
	portField("sport", func(q *packet.Packet) *uint16 { return &q.TCP.SrcPort }),
	portField("dport", func(q *packet.Packet) *uint16 { return &q.TCP.DstPort }),
	numField("seq", math.MaxUint32, func(q *packet.Packet) *uint32 { return &q.TCP.Seq }, nil),
	numField("ack", math.MaxUint32, func(q *packet.Packet) *uint32 { return &q.TCP.Ack }, nil),
	{name: "flags",
		get: func(_ *Interp, _ *lua.LState, p *Pkt) (lua.LValue, error) {
			return lua.LString(p.P.TCP.Flags.String()), nil
		},
		set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
			if s, ok := v.(lua.LString); ok {
				f, err := packet.ParseTCPFlags(string(s))
				if err != nil {
					return fmt.Errorf("%s: %v", name, err)
				}
				p.P.TCP.Flags = f
				return nil
			}
			n, err := intValue(name, v, 0, 511)
			p.P.TCP.Flags = packet.TCPFlags(n)
			return err
		}},
	numField("win", 65535, func(q *packet.Packet) *uint16 { return &q.TCP.Window }, nil),
	checksumField(true, func(q *packet.Packet) (*uint16, *bool) { return &q.TCP.Checksum, &q.TCP.FixedChecksum }),
	numField("urg", 65535, func(q *packet.Packet) *uint16 { return &q.TCP.Urgent }, nil),
	numField("reserved", 7, func(q *packet.Packet) *uint8 { return &q.TCP.Reserved }, nil),
	{name: "options",
		get: func(_ *Interp, L *lua.LState, p *Pkt) (lua.LValue, error) {
			t := L.NewTable()
			for _, o := range p.P.TCP.Options {
				t.Append(lua.LString(o.String()))
			}
			return t, nil
		},
		set: func(_ *Interp, p *Pkt, name string, v lua.LValue) error {
			opts, err := tcpOptionList(name, v)
			if err == nil {
				p.P.TCP.Options = opts
			}
			return err
		}},
}

// layers holds every layer's fields in the order they are listed.
var layers = map[string][]fieldDef{
	"ip": ipFields, "ip6": ip6Fields, "icmp": icmpFields(false), "icmp6": icmpFields(true), "udp": udpFields, "tcp": tcpFields,
}

// layerOrder is the order layers are searched when a field is assigned
// on the packet itself, for the hint the error gives.
var layerOrder = []string{"ip", "ip6", "icmp", "icmp6", "udp", "tcp"}

// layerFields lists each layer's field names, for errors and completion.
var layerFields = func() map[string][]string {
	m := map[string][]string{}
	for l, fs := range layers {
		for _, f := range fs {
			m[l] = append(m[l], f.name)
		}
	}
	return m
}()

func findField(layer, k string) (fieldDef, bool) {
	for _, f := range layers[layer] {
		if f.name == k {
			return f, true
		}
	}
	return fieldDef{}, false
}

// getField reads a field of one layer.
func (in *Interp) getField(L *lua.LState, p *Pkt, layer, k string) (lua.LValue, error) {
	f, ok := findField(layer, k)
	if !ok || f.get == nil {
		return lua.LNil, fmt.Errorf("%s has no field %q; its fields are %s", layer, k, strings.Join(layerFields[layer], ", "))
	}
	v, err := f.get(in, L, p)
	if err != nil {
		return lua.LNil, fmt.Errorf("%s.%s: %w", layer, k, err)
	}
	return v, nil
}

// setField writes a field of one layer, with the limits packet enforces
// named in the error.
func (in *Interp) setField(L *lua.LState, p *Pkt, layer, k string, v lua.LValue) error {
	f, ok := findField(layer, k)
	switch {
	case !ok:
		return fmt.Errorf("%s has no field %q; its fields are %s", layer, k, strings.Join(layerFields[layer], ", "))
	case f.set == nil:
		return fmt.Errorf("%s.%s is computed by the builder and cannot be set", layer, k)
	}
	p.edited()
	return f.set(in, p, layer+"."+k, v)
}
