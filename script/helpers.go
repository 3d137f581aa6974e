package script

import (
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// register installs the whole API.
func (in *Interp) register() {
	in.registerPacket()
	in.registerLayers()
	in.registerOptions()
	in.registerPatterns()
	in.registerHelpers()
	in.registerSend()
	in.registerCapture()
	in.registerHelp()
}

// registerHelpers installs print, printf, pp, sleep, now, resolve, hex,
// unhex, bit, stats and exit.
func (in *Interp) registerHelpers() {
	L := in.L
	out := func(s string) { fmt.Fprint(in.opts.Stdout, s) }
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		var b strings.Builder
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				b.WriteByte('\t')
			}
			b.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
		b.WriteByte('\n')
		out(b.String())
		return 0
	}))
	L.SetGlobal("printf", L.NewFunction(func(L *lua.LState) int {
		n := L.GetTop()
		L.Push(L.GetField(L.GetGlobal("string"), "format"))
		for i := 1; i <= n; i++ {
			L.Push(L.Get(i))
		}
		L.Call(n, 1)
		out(L.Get(-1).String())
		return 0
	}))
	L.SetGlobal("printtable", L.NewFunction(func(L *lua.LState) int { return printTable(L, out) }))
	L.SetGlobal("pp", L.NewFunction(func(L *lua.LState) int {
		for i := 1; i <= L.GetTop(); i++ {
			out(in.dump(L.Get(i)) + "\n")
		}
		return 0
	}))
	L.SetGlobal("sleep", L.NewFunction(func(L *lua.LState) int {
		s := float64(L.CheckNumber(1))
		if s < 0 || math.IsNaN(s) || s > 86400 {
			L.RaiseError("sleep: %v seconds is out of range, the limit is 0–86400", s)
		}
		t := time.NewTimer(time.Duration(s * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-L.Context().Done():
			L.RaiseError("sleep: cancelled")
		}
		return 0
	}))
	L.SetGlobal("now", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(float64(time.Now().UnixNano()) / 1e9))
		return 1
	}))
	L.SetGlobal("resolve", L.NewFunction(func(L *lua.LState) int {
		a, err := in.resolve(L.CheckString(1), L.OptBool(2, false))
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		L.Push(lua.LString(a.String()))
		return 1
	}))
	L.SetGlobal("hex", L.NewFunction(func(L *lua.LState) int {
		v := L.Get(1)
		if n, ok := v.(lua.LNumber); ok {
			L.Push(lua.LString(fmt.Sprintf("0x%x", int64(n))))
			return 1
		}
		if p := toPkt(v); p != nil {
			b, err := p.wire()
			if err != nil {
				L.RaiseError("hex: %v", err)
			}
			L.Push(lua.LString(hex.EncodeToString(b)))
			return 1
		}
		L.Push(lua.LString(hex.EncodeToString([]byte(L.CheckString(1)))))
		return 1
	}))
	L.SetGlobal("unhex", L.NewFunction(func(L *lua.LState) int {
		s := strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(L.CheckString(1))
		s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		b, err := hex.DecodeString(s)
		if err != nil {
			L.RaiseError("unhex: %q is not hex: %v", L.CheckString(1), err)
		}
		L.Push(lua.LString(b))
		return 1
	}))
	L.SetGlobal("exit", L.NewFunction(func(L *lua.LState) int {
		n, err := intValue("exit code", L.Get(1), 0, 255)
		if L.Get(1) == lua.LNil {
			n, err = 0, nil
		}
		if err != nil {
			L.RaiseError("%v", err)
		}
		in.exit(int(n))
		L.RaiseError("exit(%d)", n)
		return 0
	}))
	in.registerBit()
	in.registerLab()
	in.registerUsage()
	L.SetGlobal("stats", L.NewFunction(func(L *lua.LState) int {
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			L.RaiseError("stats: argument is %s, want a list of numbers (RTTs in ms)", describe(L.Get(1)))
		}
		var xs []float64
		for i := 1; i <= t.Len(); i++ {
			n, ok := t.RawGetInt(i).(lua.LNumber)
			if !ok {
				L.RaiseError("stats: element %d is %s, want a number", i, describe(t.RawGetInt(i)))
			}
			xs = append(xs, float64(n))
		}
		L.Push(statsTable(L, xs))
		return 1
	}))
}

// printTable is printtable(head, rows): a header and rows in columns as
// wide as their widest cell, two spaces apart and indented by two, with
// no trailing spaces; nil cells print empty.
func printTable(L *lua.LState, out func(string)) int {
	head, ok := L.Get(1).(*lua.LTable)
	rows, ok2 := L.Get(2).(*lua.LTable)
	if !ok || !ok2 {
		L.RaiseError("printtable: give a header and a list of rows, e.g. printtable({\"HOP\", \"ADDRESS\"}, {{1, \"198.18.1.1\"}})")
	}
	cell := func(r *lua.LTable, i int) string {
		v := r.RawGetInt(i)
		if v == lua.LNil {
			return ""
		}
		return L.ToStringMeta(v).String()
	}
	all := []*lua.LTable{head}
	for i := 1; i <= rows.Len(); i++ {
		r, ok := rows.RawGetInt(i).(*lua.LTable)
		if !ok {
			L.RaiseError("printtable: row %d is %s, want a list of cells", i, describe(rows.RawGetInt(i)))
		}
		all = append(all, r)
	}
	cols := head.Len()
	w := make([]int, cols+1)
	for _, r := range all {
		for i := 1; i <= cols; i++ {
			w[i] = max(w[i], utf8.RuneCountInString(cell(r, i)))
		}
	}
	var b strings.Builder
	for _, r := range all {
		var line strings.Builder
		line.WriteString("  ")
		for i := 1; i <= cols; i++ {
			c := cell(r, i)
			line.WriteString(c)
			if i < cols {
				line.WriteString(strings.Repeat(" ", w[i]-utf8.RuneCountInString(c)) + "  ")
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	out(b.String())
	return 0
}

// statsTable summarises xs: n, min, avg, max, mdev (ping's: the standard
// deviation), and the nearest-rank percentiles p50, p90, p99.
func statsTable(L *lua.LState, xs []float64) *lua.LTable {
	r := L.NewTable()
	r.RawSetString("n", lua.LNumber(len(xs)))
	if len(xs) == 0 {
		return r
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sum, sq float64
	for _, x := range s {
		sum += x
		sq += x * x
	}
	avg := sum / float64(len(s))
	r.RawSetString("min", lua.LNumber(s[0]))
	r.RawSetString("max", lua.LNumber(s[len(s)-1]))
	r.RawSetString("avg", lua.LNumber(avg))
	r.RawSetString("mdev", lua.LNumber(math.Sqrt(math.Max(sq/float64(len(s))-avg*avg, 0))))
	pct := func(p float64) float64 {
		k := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[min(max(k, 0), len(s)-1)]
	}
	r.RawSetString("p50", lua.LNumber(pct(50)))
	r.RawSetString("p90", lua.LNumber(pct(90)))
	r.RawSetString("p99", lua.LNumber(pct(99)))
	return r
}

// registerBit installs bit: 32-bit operations as LuaJIT's bit library
// has them (Lua 5.1 has no bitwise operators). Results are unsigned.
func (in *Interp) registerBit() {
	L := in.L
	u32 := func(L *lua.LState, n int) uint32 {
		f := float64(L.CheckNumber(n))
		if f != math.Trunc(f) || f < -(1<<31) || f > math.MaxUint32 {
			L.RaiseError("bit: argument %d (%v) is not a 32-bit integer", n, f)
		}
		return uint32(int64(f))
	}
	fold := func(op func(a, b uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			r := u32(L, 1)
			for i := 2; i <= L.GetTop(); i++ {
				r = op(r, u32(L, i))
			}
			L.Push(lua.LNumber(r))
			return 1
		}
	}
	shift := func(op func(a uint32, n uint) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			n := L.CheckInt(2)
			if n < 0 || n > 31 {
				L.RaiseError("bit: shift %d is out of range, the limit is 0–31", n)
			}
			L.Push(lua.LNumber(op(u32(L, 1), uint(n))))
			return 1
		}
	}
	t := L.NewTable()
	L.SetFuncs(t, map[string]lua.LGFunction{
		"band":   fold(func(a, b uint32) uint32 { return a & b }),
		"bor":    fold(func(a, b uint32) uint32 { return a | b }),
		"bxor":   fold(func(a, b uint32) uint32 { return a ^ b }),
		"bnot":   func(L *lua.LState) int { L.Push(lua.LNumber(^u32(L, 1))); return 1 },
		"lshift": shift(func(a uint32, n uint) uint32 { return a << n }),
		"rshift": shift(func(a uint32, n uint) uint32 { return a >> n }),
		"tohex": func(L *lua.LState) int {
			w := L.OptInt(2, 8)
			if w < 1 || w > 8 {
				L.RaiseError("bit.tohex: width %d is out of range, the limit is 1–8", w)
			}
			s := fmt.Sprintf("%08x", u32(L, 1))
			L.Push(lua.LString(s[8-w:]))
			return 1
		},
	})
	L.SetGlobal("bit", t)
}
