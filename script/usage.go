package script

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// HeaderComment returns the comment block a script starts with, one
// element a line, the "--" and one space after it removed: where usage()
// finds the script's usage paragraph, and what `echolot scripts` shows.
func HeaderComment(src string) []string {
	var hdr []string
	for _, l := range strings.Split(src, "\n") {
		if !strings.HasPrefix(l, "--") {
			break
		}
		hdr = append(hdr, strings.TrimPrefix(strings.TrimPrefix(l, "--"), " "))
	}
	return hdr
}

// usageLines returns the header's usage paragraph: from the line that
// starts with "usage:" to the next empty line.
func usageLines(hdr []string) []string {
	for i, l := range hdr {
		if !strings.HasPrefix(l, "usage:") {
			continue
		}
		end := i + 1
		for end < len(hdr) && strings.TrimSpace(hdr[end]) != "" {
			end++
		}
		return hdr[i:end]
	}
	return nil
}

// scriptLabel is the name usage() prefixes its message with: the
// script's file name without directory and .lua.
func scriptLabel(name string) string {
	if name == "" {
		return "echolot"
	}
	return strings.TrimSuffix(filepath.Base(name), ".lua")
}

// registerUsage installs usage and target, the argument handling every
// shipped experiment needs.
func (in *Interp) registerUsage() {
	L := in.L
	usage := func(L *lua.LState, msg string) {
		if msg != "" {
			fmt.Fprintf(in.opts.Stderr, "%s: %s\n", scriptLabel(in.chunk), msg)
		}
		if u := usageLines(in.header); len(u) > 0 {
			fmt.Fprintln(in.opts.Stderr, strings.Join(u, "\n"))
		} else if in.chunk != "" {
			fmt.Fprintf(in.opts.Stderr, "usage: see the comment at the top of %s\n", in.chunk)
		}
		in.exit(2)
		L.RaiseError("exit(2)")
	}
	L.SetGlobal("usage", L.NewFunction(func(L *lua.LState) int {
		usage(L, L.OptString(1, ""))
		return 0
	}))
	L.SetGlobal("target", L.NewFunction(func(L *lua.LState) int {
		host := L.OptString(1, "")
		family := L.OptString(2, "")
		if family != "" && family != "4" && family != "6" {
			L.RaiseError(`target: family %q is not "4", "6" or nil (either)`, family)
		}
		if host == "" {
			srv, _ := L.GetGlobal("lab").(*lua.LTable)
			if srv != nil {
				srv, _ = srv.RawGetString("server").(*lua.LTable)
			}
			if srv == nil {
				usage(L, "give a HOST (outside a lab there is no default)")
			}
			host = lua.LVAsString(srv.RawGetString("ip" + map[bool]string{true: "6", false: "4"}[family == "6"]))
		}
		// A literal address says its family; a name is looked up in the
		// family asked for, IPv4 when either will do.
		v6 := family == "6"
		if lit, err := netip.ParseAddr(host); err == nil {
			v6 = lit.Unmap().Is6()
			if family != "" && v6 != (family == "6") {
				usage(L, fmt.Sprintf("HOST %s is IPv%s; this script works on IPv%s only", host, map[bool]string{true: "6", false: "4"}[v6], family))
			}
		}
		a, err := in.resolve(host, v6)
		if err != nil {
			usage(L, err.Error())
		}
		L.Push(lua.LString(a.String()))
		L.Push(lua.LBool(a.Is6()))
		return 2
	}))
}
