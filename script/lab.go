package script

import (
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/lab/fault"
)

// registerLab sets the global lab from the environment echolot lab run
// gives a script (lab.Lab.Env): lab.name; per node lab.NODE.ip4 and
// lab.NODE.ip6 (its primary addresses) and lab.NODE.addrs (all of them);
// and lab.faults, the fault node's rules. lab is nil outside a lab.
// nodename(addr) and whois(addr) name the node any of whose addresses
// addr is.
func (in *Interp) registerLab() {
	L := in.L
	nodes := map[string]string{} // address → node
	L.SetGlobal("nodename", L.NewFunction(func(L *lua.LState) int {
		if n, ok := nodes[L.OptString(1, "")]; ok {
			L.Push(lua.LString(n))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}))
	L.SetGlobal("whois", L.NewFunction(func(L *lua.LState) int {
		if L.Get(1) == lua.LNil {
			L.Push(lua.LString("?"))
			return 1
		}
		a := L.CheckString(1)
		if n, ok := nodes[a]; ok {
			a += " (" + n + ")"
		}
		L.Push(lua.LString(a))
		return 1
	}))
	name := os.Getenv("ECHOLOT_LAB")
	if name == "" {
		return
	}
	t := L.NewTable()
	t.RawSetString("name", lua.LString(name))
	node := func(n string) *lua.LTable {
		nt, ok := t.RawGetString(n).(*lua.LTable)
		if !ok {
			nt = L.NewTable()
			t.RawSetString(n, nt)
		}
		return nt
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(k, "ECHOLOT_")
		if !ok {
			continue
		}
		switch {
		case strings.HasSuffix(rest, "_IP4"), strings.HasSuffix(rest, "_IP6"):
			n := strings.ToLower(rest[:len(rest)-4])
			node(n).RawSetString(strings.ToLower(rest[len(rest)-3:]), lua.LString(v))
			nodes[v] = n
		case strings.HasSuffix(rest, "_ADDRS"):
			n := strings.ToLower(rest[:len(rest)-6])
			list := L.NewTable()
			for _, a := range strings.Fields(v) {
				list.Append(lua.LString(a))
				nodes[a] = n
			}
			node(n).RawSetString("addrs", list)
		}
	}
	if sock := os.Getenv("ECHOLOT_LAB_FAULT"); sock != "" {
		t.RawSetString("faults", in.faultsTable(sock))
	}
	L.SetGlobal("lab", t)
}

// faultsTable is lab.faults: add, del, clear, list and with, on the
// fault node serving the control socket sock. The node is dialled on
// first use, so a script that never touches the rules works without it.
func (in *Interp) faultsTable(sock string) *lua.LTable {
	L := in.L
	var ctl fault.Controller
	get := func(L *lua.LState, fn string) fault.Controller {
		if ctl == nil {
			c, err := fault.Dial(sock)
			if err != nil {
				L.RaiseError("lab.faults.%s: %v", fn, err)
			}
			ctl = c
		}
		return ctl
	}
	add := func(L *lua.LState, fn string, n int) int {
		s := L.CheckString(n)
		r, err := fault.ParseRule(s)
		if err != nil {
			L.RaiseError("lab.faults.%s: %v", fn, err)
		}
		id, err := get(L, fn).Add(r)
		if err != nil {
			L.RaiseError("lab.faults.%s(%q): %v", fn, s, err)
		}
		return id
	}
	del := func(L *lua.LState, fn string, id int) {
		if err := get(L, fn).Delete(id); err != nil {
			L.RaiseError("lab.faults.%s(%d): %v", fn, id, err)
		}
	}
	t := L.NewTable()
	t.RawSetString("add", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(add(L, "add", 1)))
		return 1
	}))
	t.RawSetString("del", L.NewFunction(func(L *lua.LState) int {
		del(L, "del", L.CheckInt(1))
		return 0
	}))
	t.RawSetString("clear", L.NewFunction(func(L *lua.LState) int {
		if err := get(L, "clear").Clear(); err != nil {
			L.RaiseError("lab.faults.clear: %v", err)
		}
		return 0
	}))
	t.RawSetString("list", L.NewFunction(func(L *lua.LState) int {
		rs, err := get(L, "list").List()
		if err != nil {
			L.RaiseError("lab.faults.list: %v", err)
		}
		out := L.NewTable()
		for _, r := range rs {
			e := L.NewTable()
			e.RawSetString("id", lua.LNumber(r.ID))
			e.RawSetString("rule", lua.LString(r.Rule.String()))
			e.RawSetString("seen", lua.LNumber(r.Seen))
			e.RawSetString("matched", lua.LNumber(r.Matched))
			out.Append(e)
		}
		L.Push(out)
		return 1
	}))
	// with(rule, fn, ...) applies rule while fn runs and removes it
	// afterwards, also when fn raises an error (which then propagates).
	t.RawSetString("with", L.NewFunction(func(L *lua.LState) int {
		fn := L.CheckFunction(2)
		id := add(L, "with", 1)
		args := make([]lua.LValue, 0, L.GetTop()-2)
		for i := 3; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		base := L.GetTop()
		L.Push(fn)
		for _, a := range args {
			L.Push(a)
		}
		err := L.PCall(len(args), lua.MultRet, nil)
		derr := get(L, "with").Delete(id)
		if err != nil {
			if ae, ok := err.(*lua.ApiError); ok {
				L.Error(ae.Object, 0)
			}
			L.RaiseError("%v", err)
		}
		if derr != nil {
			L.RaiseError("lab.faults.with: removing rule %d: %v", id, derr)
		}
		return L.GetTop() - base
	}))
	return t
}
