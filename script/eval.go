package script

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// ErrIncomplete is returned by Eval for input that is not a whole chunk
// yet (an open block, string or bracket): the REPL reads another line
// and tries again with both.
var ErrIncomplete = errors.New("script: incomplete input")

// Eval runs one piece of REPL input. An expression is evaluated and its
// values returned formatted as the REPL prints them (tostring for
// packets, answers and patterns, a readable dump for tables); a
// statement returns nothing. A runtime error is returned with its
// traceback and leaves the interpreter usable.
func (in *Interp) Eval(ctx context.Context, src string) ([]string, error) {
	fn, err := in.L.Load(strings.NewReader("return "+src), "stdin")
	if err != nil {
		fn, err = in.L.Load(strings.NewReader(src), "stdin")
		if err != nil {
			if incomplete(err) {
				return nil, ErrIncomplete
			}
			return nil, errors.New(syntaxMessage(err))
		}
	}
	vals, err := in.call(ctx, fn, lua.MultRet)
	if err != nil {
		if errors.Is(err, ErrCancelled) {
			return nil, err
		}
		return nil, errors.New(errorText(err))
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = in.format(v)
	}
	return out, nil
}

// incomplete tells a chunk that ended too early from a real syntax error,
// as the lua interpreter does: the parser stopped at the end of the input.
func incomplete(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "at EOF") && !strings.Contains(msg, "unterminated string")
}

// format renders a value as the REPL prints it: a table with a
// __tostring (an answer, a change) by its one-line text.
func (in *Interp) format(v lua.LValue) string {
	return in.pretty(v, 0, map[*lua.LTable]bool{}, false)
}

// dump renders a value as pp prints it: like format, but a table with a
// __tostring shows that line and then its fields, so pp(answer) shows
// changes, damage and the rest.
func (in *Interp) dump(v lua.LValue) string {
	if isTableWithToString(in.L, v) {
		return in.tostring(v) + "\n" + in.pretty(v, 0, map[*lua.LTable]bool{}, true)
	}
	return in.format(v)
}

// pretty prints tables with their fields sorted, lists in order, nested
// tables indented, cycles marked; other values as tostring does. A table
// with a __tostring is shown by it unless expand is set (for the top
// level of dump).
func (in *Interp) pretty(v lua.LValue, depth int, seen map[*lua.LTable]bool, expand bool) string {
	t, ok := v.(*lua.LTable)
	if !ok {
		return in.tostring(v)
	}
	if !expand && isTableWithToString(in.L, t) {
		return in.tostring(v)
	}
	if seen[t] {
		return "<cycle>"
	}
	if depth > 6 {
		return "{…}"
	}
	seen[t] = true
	defer delete(seen, t)
	n := t.Len()
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		if kn, ok := k.(lua.LNumber); ok && float64(kn) >= 1 && float64(kn) <= float64(n) && float64(kn) == float64(int(kn)) {
			return
		}
		keys = append(keys, k)
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	var parts []string
	for i := 1; i <= n; i++ {
		parts = append(parts, in.pretty(t.RawGetInt(i), depth+1, seen, false))
	}
	for _, k := range keys {
		ks := k.String()
		if s, ok := k.(lua.LString); !ok || !isIdent(string(s)) {
			ks = "[" + luaRepr(k) + "]"
		}
		parts = append(parts, ks+"="+in.pretty(t.RawGet(k), depth+1, seen, false))
	}
	one := "{" + strings.Join(parts, ", ") + "}"
	if len(one) <= 100 || len(parts) <= 1 {
		return one
	}
	ind := strings.Repeat("  ", depth+1)
	return "{\n" + ind + strings.Join(parts, ",\n"+ind) + "\n" + strings.Repeat("  ", depth) + "}"
}

// tostring calls Lua's tostring (metamethods included); strings are
// quoted so that "1" and 1 differ.
func (in *Interp) tostring(v lua.LValue) string {
	if s, ok := v.(lua.LString); ok {
		return fmt.Sprintf("%q", string(s))
	}
	if _, ok := v.(*lua.LUserData); ok || isTableWithToString(in.L, v) {
		L := in.L
		L.Push(L.GetGlobal("tostring"))
		L.Push(v)
		if err := L.PCall(1, 1, nil); err == nil {
			s := L.Get(-1).String()
			L.Pop(1)
			return s
		}
	}
	return v.String()
}

func isTableWithToString(L *lua.LState, v lua.LValue) bool {
	t, ok := v.(*lua.LTable)
	if !ok {
		return false
	}
	mt, ok := L.GetMetatable(t).(*lua.LTable)
	return ok && mt.RawGetString("__tostring") != lua.LNil
}

// luaRepr writes a scalar as Lua source.
func luaRepr(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return fmt.Sprintf("%q", string(x))
	case lua.LNumber:
		return x.String()
	}
	return v.String()
}

func isIdent(s string) bool {
	if s == "" || luaKeywords[s] {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var luaKeywords = map[string]bool{"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true, "false": true, "for": true, "function": true, "if": true, "in": true, "local": true, "nil": true, "not": true, "or": true, "repeat": true, "return": true, "then": true, "true": true, "until": true, "while": true}

// Complete returns completions for the name chain that ends line (as
// "p.icmp.se" or "pattern.wa" or "p:he"): globals, table keys, the fields
// of packets, layers, patterns, options and answers, and methods after
// ":". Each completion is the whole chain, sorted.
func (in *Interp) Complete(line string) []string {
	i := len(line)
	for i > 0 {
		c := line[i-1]
		if c == '.' || c == ':' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			i--
			continue
		}
		break
	}
	chain := line[i:]
	sep := strings.LastIndexAny(chain, ".:")
	var names []string
	prefix, partial := "", chain
	if sep < 0 {
		in.L.Get(lua.GlobalsIndex).(*lua.LTable).ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); ok {
				names = append(names, string(s))
			}
		})
		names = append(names, "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while")
	} else {
		prefix, partial = chain[:sep+1], chain[sep+1:]
		v := in.lookup(chain[:sep])
		names = in.members(v, chain[sep] == ':')
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, partial) && !seen[n] && !strings.HasPrefix(n, "_") {
			seen[n] = true
			out = append(out, prefix+n)
		}
	}
	sort.Strings(out)
	return out
}

// lookup follows a dotted chain from the globals without calling any
// Lua code other than echolot's own field readers.
func (in *Interp) lookup(chain string) lua.LValue {
	var v lua.LValue = in.L.Get(lua.GlobalsIndex)
	for _, part := range strings.Split(strings.ReplaceAll(chain, ":", "."), ".") {
		switch x := v.(type) {
		case *lua.LTable:
			v = x.RawGetString(part)
		case *lua.LUserData:
			switch u := x.Value.(type) {
			case *Pkt:
				v = in.safeField(func() lua.LValue { return in.pktField(in.L, u, part) })
			case *layerRef:
				v = in.safeField(func() lua.LValue {
					r, _ := in.getField(in.L, u.p, u.layer, part)
					return r
				})
			default:
				return lua.LNil
			}
		default:
			return lua.LNil
		}
	}
	return v
}

// safeField runs a field reader that may raise a Lua error, returning nil
// then.
func (in *Interp) safeField(f func() lua.LValue) (v lua.LValue) {
	L := in.L
	fn := L.NewFunction(func(L *lua.LState) int {
		L.Push(f())
		return 1
	})
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		return lua.LNil
	}
	v = L.Get(-1)
	L.Pop(1)
	return v
}

// members lists what can follow "v." (or "v:" when methods).
func (in *Interp) members(v lua.LValue, methods bool) []string {
	var names []string
	switch x := v.(type) {
	case *lua.LTable:
		x.ForEach(func(k, val lua.LValue) {
			if s, ok := k.(lua.LString); ok {
				if !methods || val.Type() == lua.LTFunction {
					names = append(names, string(s))
				}
			}
		})
	case *lua.LUserData:
		switch u := x.Value.(type) {
		case *Pkt:
			if methods {
				return []string{"show", "hex", "bytes", "copy", "summary"}
			}
			return pktFields
		case *layerRef:
			return layerFields[u.layer]
		case *patternVal:
			return []string{"name", "note", "bytes", "len"}
		case *optionVal:
			return []string{"name", "len", "bytes", "route", "entries", "full", "overflow", "pointer"}
		}
	}
	return names
}
