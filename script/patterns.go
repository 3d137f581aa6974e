package script

import (
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
)

// patternVal is a payload pattern in Lua.
type patternVal struct{ p packet.Pattern }

const patternType = "echolot.pattern"

// defaultPatternLen is the size of a pattern whose constructor was given
// none: ping's 56 data bytes.
const defaultPatternLen = 56

func pushPattern(L *lua.LState, p packet.Pattern) lua.LValue {
	return pushUD(L, &patternVal{p: p}, patternType)
}

func toPattern(v lua.LValue) *patternVal { return fromUD[*patternVal](v) }

// sizeArg reads an optional pattern size at argument n.
func sizeArg(L *lua.LState, fn string, n int, def int) int {
	if L.Get(n) == lua.LNil {
		return def
	}
	v, err := intValue(fn+" size", L.Get(n), 0, packet.MaxPatternLen)
	if err != nil {
		L.RaiseError("%v", err)
	}
	return int(v)
}

// registerPatterns installs the pattern table (callable: pattern(hex, n))
// and the pattern type.
func (in *Interp) registerPatterns() {
	L := in.L
	mt := L.NewTypeMetatable(patternType)
	L.SetField(mt, "__tostring", L.NewFunction(func(L *lua.LState) int {
		p := checkPattern(L, 1)
		L.Push(lua.LString(fmt.Sprintf("pattern %s (%d bytes)", p.p.Name, len(p.p.Bytes))))
		return 1
	}))
	L.SetField(mt, "__len", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(len(checkPattern(L, 1).p.Bytes)))
		return 1
	}))
	L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
		p := checkPattern(L, 1)
		switch k := L.CheckString(2); k {
		case "name":
			L.Push(lua.LString(p.p.Name))
		case "note":
			L.Push(lua.LString(p.p.Note))
		case "bytes":
			L.Push(lua.LString(p.p.Bytes))
		case "len":
			L.Push(lua.LNumber(len(p.p.Bytes)))
		default:
			L.RaiseError("a pattern has no field %q; it has name, note, bytes, len", k)
		}
		return 1
	}))

	t := L.NewTable()
	fns := map[string]lua.LGFunction{
		"random": func(L *lua.LState) int {
			n := sizeArg(L, "pattern.random", 1, defaultPatternLen)
			seed := uint64(packet.DefaultRandomSeed)
			if L.Get(2) != lua.LNil {
				v, err := intValue("pattern.random seed", L.Get(2), 0, 1<<53)
				if err != nil {
					L.RaiseError("%v", err)
				}
				seed = uint64(v)
			}
			L.Push(pushPattern(L, packet.RandomPattern(n, seed)))
			return 1
		},
		"ramp": func(L *lua.LState) int {
			L.Push(pushPattern(L, packet.Ramp(sizeArg(L, "pattern.ramp", 1, defaultPatternLen))))
			return 1
		},
		"walking_ones": func(L *lua.LState) int {
			L.Push(pushPattern(L, packet.WalkingOnes(sizeArg(L, "pattern.walking_ones", 1, defaultPatternLen))))
			return 1
		},
		"walking_zeros": func(L *lua.LState) int {
			L.Push(pushPattern(L, packet.WalkingZeros(sizeArg(L, "pattern.walking_zeros", 1, defaultPatternLen))))
			return 1
		},
		"prbs": func(L *lua.LState) int {
			order := int(L.OptNumber(2, 15))
			p, err := packet.PRBS(sizeArg(L, "pattern.prbs", 1, defaultPatternLen), order)
			if err != nil {
				L.RaiseError("pattern.prbs: %v", err)
			}
			L.Push(pushPattern(L, p))
			return 1
		},
		"bytes": func(L *lua.LState) int {
			tb, ok := L.Get(1).(*lua.LTable)
			if !ok {
				L.RaiseError("pattern.bytes: argument is %s, want a list of byte values, e.g. pattern.bytes{0x7e, 0x7d}", describe(L.Get(1)))
			}
			var b []byte
			for i := 1; i <= tb.Len(); i++ {
				v, err := intValue(fmt.Sprintf("pattern.bytes[%d]", i), tb.RawGetInt(i), 0, 255)
				if err != nil {
					L.RaiseError("%v", err)
				}
				b = append(b, byte(v))
			}
			n := sizeArg(L, "pattern.bytes", 2, len(b))
			name := "0x" + fmt.Sprintf("%x", b)
			L.Push(pushPattern(L, packet.BytesPattern(name, b, n)))
			return 1
		},
		"text": func(L *lua.LState) int {
			s := L.CheckString(1)
			L.Push(pushPattern(L, packet.TextPattern(s, sizeArg(L, "pattern.text", 2, len(s)))))
			return 1
		},
		"file": func(L *lua.LState) int {
			path, err := in.checkPath("pattern.file", L.CheckString(1))
			if err != nil {
				L.RaiseError("%v", err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				L.RaiseError("pattern.file: %v", err)
			}
			if len(data) > packet.MaxPatternLen {
				L.RaiseError("pattern.file: %s holds %d bytes, the limit is %d", path, len(data), packet.MaxPatternLen)
			}
			L.Push(pushPattern(L, packet.FilePattern(L.CheckString(1), data, sizeArg(L, "pattern.file", 2, len(data)))))
			return 1
		},
		"catalogue": func(L *lua.LState) int {
			r := L.NewTable()
			for _, p := range packet.Catalogue(sizeArg(L, "pattern.catalogue", 1, defaultPatternLen)) {
				r.Append(pushPattern(L, p))
			}
			L.Push(r)
			return 1
		},
		"named": func(L *lua.LState) int {
			p, err := packet.PatternByName(L.CheckString(1), sizeArg(L, "pattern.named", 2, defaultPatternLen))
			if err != nil {
				L.RaiseError("pattern.named: %v", err)
			}
			L.Push(pushPattern(L, p))
			return 1
		},
		"names": func(L *lua.LState) int {
			r := L.NewTable()
			for _, n := range packet.PatternNames() {
				r.Append(lua.LString(n))
			}
			L.Push(r)
			return 1
		},
		"compare": func(L *lua.LState) int {
			sent, _, err1 := payloadOf(L.Get(1))
			got, _, err2 := payloadOf(L.Get(2))
			if err1 != nil || err2 != nil {
				L.RaiseError("pattern.compare: give what was sent and what came back as strings or patterns")
			}
			L.Push(damageTable(L, packet.Compare(sent, got)))
			return 1
		},
	}
	L.SetFuncs(t, fns)
	call := L.NewTable()
	L.SetField(call, "__call", L.NewFunction(func(L *lua.LState) int {
		// pattern(hex [, n]): argument 1 is the table itself.
		hexs := L.CheckString(2)
		n := 0
		if L.Get(3) != lua.LNil {
			n = sizeArg(L, "pattern", 3, 0)
		} else {
			p, err := packet.HexPattern(hexs, packet.MaxPatternLen)
			if err != nil {
				L.RaiseError("pattern: %v", err)
			}
			n = (len(p.Name) - 2) / 2 // the name is "0x" and the decoded bytes once
		}
		p, err := packet.HexPattern(hexs, n)
		if err != nil {
			L.RaiseError("pattern: %v", err)
		}
		L.Push(pushPattern(L, p))
		return 1
	}))
	L.SetMetatable(t, call)
	L.SetGlobal("pattern", t)
}

func checkPattern(L *lua.LState, n int) *patternVal {
	return checkUD[*patternVal](L, n, `a pattern (pattern("a5", 56) …)`)
}
