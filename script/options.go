package script

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// optionVal is an IPv4 option in Lua: opt.rr(9), or one of a parsed
// packet's p.ip.options.
type optionVal struct{ o packet.Option }

const optionType = "echolot.option"

func pushOption(L *lua.LState, o packet.Option) lua.LValue {
	return pushUD(L, &optionVal{o: o}, optionType)
}

// cloneOptions deep-copies options, so a packet's copy does not share a
// record route that the other one's edits would change.
func cloneOptions(opts []packet.Option) []packet.Option {
	if opts == nil {
		return nil
	}
	c := make([]packet.Option, len(opts))
	for i, o := range opts {
		switch x := o.(type) {
		case *packet.RecordRoute:
			y := *x
			y.Route = append([]netip.Addr(nil), x.Route...)
			c[i] = &y
		case *packet.Timestamp:
			y := *x
			y.Entries = append([]packet.TSEntry(nil), x.Entries...)
			c[i] = &y
		case *packet.SourceRoute:
			y := *x
			y.Route = append([]netip.Addr(nil), x.Route...)
			c[i] = &y
		case packet.RawOption:
			c[i] = packet.RawOption{Bytes: append([]byte(nil), x.Bytes...)}
		default:
			c[i] = o
		}
	}
	return c
}

// optionList reads ip.options: a list of options.
func optionList(name string, v lua.LValue) ([]packet.Option, error) {
	if v == lua.LNil {
		return nil, nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		if o := toOption(v); o != nil {
			return cloneOptions([]packet.Option{o.o}), nil
		}
		return nil, fmt.Errorf("%s: %s is not a list of options, e.g. {opt.rr(9)}", name, describe(v))
	}
	var opts []packet.Option
	for i := 1; i <= t.Len(); i++ {
		o := toOption(t.RawGetInt(i))
		if o == nil {
			return nil, fmt.Errorf("%s[%d]: %s is not an option (opt.rr, opt.ts, opt.lsrr, opt.ssrr, opt.ra, opt.nop, opt.eol, opt.raw)", name, i, describe(t.RawGetInt(i)))
		}
		opts = append(opts, o.o)
	}
	opts = cloneOptions(opts)
	n := 0
	for _, o := range opts {
		n += o.Len()
	}
	if n > packet.MaxIPv4OptionsLen {
		return nil, fmt.Errorf("%s: the options take %d bytes, the limit is %d (the IPv4 header holds at most 60 bytes)", name, n, packet.MaxIPv4OptionsLen)
	}
	return opts, nil
}

func toOption(v lua.LValue) *optionVal { return fromUD[*optionVal](v) }

// registerOptions installs the opt table and the option type.
func (in *Interp) registerOptions() {
	L := in.L
	mt := L.NewTypeMetatable(optionType)
	L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(checkOption(L, 1).o.String()))
		return 1
	}))
	L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
		o := checkOption(L, 1).o
		switch k := L.CheckString(2); k {
		case "name":
			L.Push(lua.LString(o.Name()))
		case "len":
			L.Push(lua.LNumber(o.Len()))
		case "bytes":
			b, err := sock.IPv4OptionBytes(o)
			if err != nil {
				L.RaiseError("option bytes: %v", err)
			}
			L.Push(lua.LString(b[:o.Len()]))
		case "route":
			var route []netip.Addr
			switch x := o.(type) {
			case *packet.RecordRoute:
				route = x.Route
			case *packet.SourceRoute:
				route = x.Route
			default:
				L.Push(lua.LNil)
				return 1
			}
			t := L.NewTable()
			for _, a := range route {
				t.Append(lua.LString(a.String()))
			}
			L.Push(t)
		case "entries":
			if ts, ok := o.(*packet.Timestamp); ok {
				L.Push(tsTable(L, ts))
			} else {
				L.Push(lua.LNil)
			}
		case "full":
			if rr, ok := o.(*packet.RecordRoute); ok {
				L.Push(lua.LBool(rr.Full()))
			} else if ts, ok := o.(*packet.Timestamp); ok {
				L.Push(lua.LBool(len(ts.Recorded()) >= tsSlots(ts)))
			} else {
				L.Push(lua.LNil)
			}
		case "overflow":
			if ts, ok := o.(*packet.Timestamp); ok {
				L.Push(lua.LNumber(ts.Overflow))
			} else {
				L.Push(lua.LNil)
			}
		case "pointer":
			switch x := o.(type) {
			case *packet.RecordRoute:
				L.Push(lua.LNumber(x.Pointer))
			case *packet.Timestamp:
				L.Push(lua.LNumber(x.Pointer))
			case *packet.SourceRoute:
				L.Push(lua.LNumber(x.Pointer))
			default:
				L.Push(lua.LNil)
			}
		default:
			L.RaiseError("an option has no field %q; it has name, len, bytes, route, entries, full, overflow, pointer", k)
		}
		return 1
	}))

	opt := L.NewTable()
	L.SetFuncs(opt, map[string]lua.LGFunction{
		"rr": func(L *lua.LState) int {
			n := int(L.OptNumber(1, 9))
			if n < 1 || n > 9 || float64(n) != float64(L.OptNumber(1, 9)) {
				L.RaiseError("opt.rr: %v slots is out of range, the limit is 1–9 (9 slots take 39 of the 40 option bytes)", L.Get(1))
			}
			rr := &packet.RecordRoute{Slots: n}
			if t, ok := L.Get(2).(*lua.LTable); ok {
				rr.PrefillSource = lua.LVAsBool(t.RawGetString("prefill"))
			}
			L.Push(pushOption(L, rr))
			return 1
		},
		"ts": func(L *lua.LState) int {
			kind := L.OptString(1, "tsonly")
			ts := &packet.Timestamp{}
			// {prefill=true} comes last: after the slots or the
			// prespecified addresses, or in place of the slots.
			last := 3
			if _, ok := L.Get(2).(*lua.LTable); ok && kind != "prespec" && kind != "tsprespec" {
				last = 2
			}
			if t, ok := L.Get(last).(*lua.LTable); ok {
				ts.PrefillSource = lua.LVAsBool(t.RawGetString("prefill"))
			} else if L.Get(last) != lua.LNil {
				L.RaiseError("opt.ts: argument %d is %s, want {prefill=true} or nothing", last, describe(L.Get(last)))
			}
			switch kind {
			case "tsonly":
				ts.Flag = packet.TSOnly
			case "tsandaddr":
				ts.Flag = packet.TSAndAddr
			case "prespec", "tsprespec":
				ts.Flag = packet.TSPrespec
				t, ok := L.Get(2).(*lua.LTable)
				if !ok || t.Len() == 0 {
					L.RaiseError(`opt.ts: "prespec" needs the addresses to stamp: opt.ts("prespec", {"198.18.1.1", "198.18.3.2"})`)
				}
				if t.Len() > 4 {
					L.RaiseError("opt.ts: %d prespecified addresses, the limit is 4", t.Len())
				}
				for i := 1; i <= t.Len(); i++ {
					a, err := in.addrArg(fmt.Sprintf("opt.ts prespec[%d]", i), t.RawGetInt(i), false)
					if err != nil {
						L.RaiseError("%v", err)
					}
					ts.Entries = append(ts.Entries, packet.TSEntry{Addr: a})
				}
				L.Push(pushOption(L, ts))
				return 1
			default:
				L.RaiseError(`opt.ts: kind %q is not one of "tsonly", "tsandaddr", "prespec"`, kind)
			}
			limit := 9
			if ts.Flag == packet.TSAndAddr {
				limit = 4
			}
			n := limit
			if last == 3 && L.Get(2) != lua.LNil {
				v, err := intValue("opt.ts slots", L.Get(2), 1, int64(limit))
				if err != nil {
					L.RaiseError("%v", err)
				}
				n = int(v)
			}
			ts.Slots = n
			L.Push(pushOption(L, ts))
			return 1
		},
		"lsrr": func(L *lua.LState) int { L.Push(pushOption(L, in.sourceRoute(L, "opt.lsrr", false))); return 1 },
		"ssrr": func(L *lua.LState) int { L.Push(pushOption(L, in.sourceRoute(L, "opt.ssrr", true))); return 1 },
		"ra": func(L *lua.LState) int {
			v, err := intValue("opt.ra value", L.Get(1), 0, 65535)
			if L.Get(1) == lua.LNil {
				v, err = 0, nil
			}
			if err != nil {
				L.RaiseError("%v", err)
			}
			L.Push(pushOption(L, packet.RouterAlert{Value: uint16(v)}))
			return 1
		},
		"nop": func(L *lua.LState) int { L.Push(pushOption(L, packet.NOP{})); return 1 },
		"eol": func(L *lua.LState) int { L.Push(pushOption(L, packet.EOL{})); return 1 },
		"raw": func(L *lua.LState) int {
			s := L.CheckString(1)
			if len(s) == 0 || len(s) > packet.MaxIPv4OptionsLen {
				L.RaiseError("opt.raw: %d bytes, the limit is 1–%d (type and length octets included)", len(s), packet.MaxIPv4OptionsLen)
			}
			L.Push(pushOption(L, packet.RawOption{Bytes: []byte(s)}))
			return 1
		},
	})
	L.SetGlobal("opt", opt)
}

func checkOption(L *lua.LState, n int) *optionVal {
	return checkUD[*optionVal](L, n, "an IPv4 option (opt.rr(9) …)")
}

// sourceRoute reads opt.lsrr{...} / opt.ssrr{...}.
func (in *Interp) sourceRoute(L *lua.LState, fn string, strict bool) packet.Option {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok || t.Len() == 0 {
		L.RaiseError(`%s: give the hops as a list: %s{"198.18.2.2", "198.18.3.2"}`, fn, fn)
	}
	if t.Len() > 9 {
		L.RaiseError("%s: %d hops, the limit is 9 (the option holds at most 9 addresses)", fn, t.Len())
	}
	sr := &packet.SourceRoute{Strict: strict}
	for i := 1; i <= t.Len(); i++ {
		a, err := in.addrArg(fn+"["+strconv.Itoa(i)+"]", t.RawGetInt(i), false)
		if err != nil {
			L.RaiseError("%v", err)
		}
		sr.Route = append(sr.Route, a)
	}
	return sr
}

// tsSlots is how many entries a timestamp option has room for.
func tsSlots(ts *packet.Timestamp) int {
	if ts.Slots > 0 {
		return ts.Slots
	}
	if ts.Flag == packet.TSOnly {
		return 9
	}
	if ts.Flag == packet.TSPrespec {
		return len(ts.Entries)
	}
	return 4
}

// tcpOptionList reads tcp.options: strings such as "mss=1460",
// "wscale=7", "sackok", "ts=1,0", "nop", "eol".
func tcpOptionList(name string, v lua.LValue) ([]packet.TCPOption, error) {
	if v == lua.LNil {
		return nil, nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf(`%s: %s is not a list, e.g. {"mss=1460", "sackok", "ts=1,0", "nop", "wscale=7"}`, name, describe(v))
	}
	var opts []packet.TCPOption
	n := 0
	for i := 1; i <= t.Len(); i++ {
		s, ok := t.RawGetInt(i).(lua.LString)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: %s is not an option string such as \"mss=1460\"", name, i, describe(t.RawGetInt(i)))
		}
		o, err := parseTCPOption(string(s))
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", name, i, err)
		}
		opts = append(opts, o)
		n += o.Len()
	}
	if n > packet.MaxTCPOptionsLen {
		return nil, fmt.Errorf("%s: the options take %d bytes, the limit is %d", name, n, packet.MaxTCPOptionsLen)
	}
	return opts, nil
}

func parseTCPOption(s string) (packet.TCPOption, error) {
	name, val, _ := strings.Cut(s, "=")
	num := func(lim uint64) (uint64, error) {
		u, err := strconv.ParseUint(val, 0, 64)
		if err != nil || u > lim {
			return 0, fmt.Errorf("%s: value %q is not a number in 0–%d", name, val, lim)
		}
		return u, nil
	}
	switch strings.ToLower(name) {
	case "mss":
		u, err := num(65535)
		return packet.MSS(uint16(u)), err
	case "wscale":
		u, err := num(14)
		return packet.WindowScale(uint8(u)), err
	case "sackok":
		return packet.SACKPermitted(), nil
	case "ts":
		a, b, _ := strings.Cut(val, ",")
		x, err1 := strconv.ParseUint(a, 0, 32)
		y, err2 := strconv.ParseUint(b, 0, 32)
		if val == "" {
			x, y, err1, err2 = 0, 0, nil, nil
		}
		if err1 != nil || err2 != nil {
			return packet.TCPOption{}, fmt.Errorf(`ts: %q is not "TSVAL,TSECR"`, val)
		}
		return packet.Timestamps(uint32(x), uint32(y)), nil
	case "nop":
		return packet.TCPOption{Kind: packet.TCPOptNOP}, nil
	case "eol":
		return packet.TCPOption{Kind: packet.TCPOptEOL}, nil
	}
	return packet.TCPOption{}, fmt.Errorf(`unknown TCP option %q: use mss=N, wscale=N, sackok, ts=VAL,ECR, nop or eol`, s)
}
