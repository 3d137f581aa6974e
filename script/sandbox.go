package script

import (
	"fmt"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// forbidden lists what the sandbox takes away, by library ("" for base
// functions), with why, for the error the stub raises.
var forbidden = map[string][]string{
	"":        {"dofile", "loadfile", "load", "require", "module", "getfenv", "setfenv", "newproxy", "_printregs"},
	"os":      {"execute", "exit", "remove", "rename", "tmpname", "setenv", "setlocale"},
	"io":      {"open", "popen", "lines", "read", "write", "close", "input", "output", "tmpfile", "type"},
	"debug":   {"debug", "getfenv", "gethook", "getinfo", "getlocal", "getmetatable", "getregistry", "getupvalue", "setfenv", "sethook", "setlocal", "setmetatable", "setupvalue", "traceback"},
	"package": {"loadlib", "seeall"},
}

// openLibs opens the standard library: all of it with Options.Unsafe,
// else the safe part with stubs for the rest.
func (in *Interp) openLibs() {
	L := in.L
	open := func(name string, fn lua.LGFunction) {
		L.Push(L.NewFunction(fn))
		L.Push(lua.LString(name))
		L.Call(1, 0)
	}
	if in.opts.Unsafe {
		L.OpenLibs()
		return
	}
	open(lua.BaseLibName, lua.OpenBase)
	open(lua.TabLibName, lua.OpenTable)
	open(lua.StringLibName, lua.OpenString)
	open(lua.MathLibName, lua.OpenMath)
	open(lua.CoroutineLibName, lua.OpenCoroutine)
	open(lua.OsLibName, lua.OpenOs)
	for lib, names := range forbidden {
		var t *lua.LTable
		switch lib {
		case "":
			t = L.Get(lua.GlobalsIndex).(*lua.LTable)
		case "os":
			t = L.GetGlobal("os").(*lua.LTable)
		default: // a library the sandbox does not open at all
			t = L.NewTable()
			L.SetGlobal(lib, t)
		}
		for _, n := range names {
			full := n
			if lib != "" {
				full = lib + "." + n
			}
			t.RawSetString(n, L.NewFunction(sandboxStub(full)))
		}
	}
	// string.dump does not exist in gopher-lua, so no bytecode can be made
	// or loaded.
}

// sandboxStub returns a function that refuses with a message naming the
// function and the way out.
func sandboxStub(name string) lua.LGFunction {
	return func(L *lua.LState) int {
		what := "is not available in echolot's sandbox"
		switch {
		case strings.HasPrefix(name, "io."), name == "dofile", name == "loadfile":
			what += " (scripts read and write files only through capture, pcap.read and pattern.file)"
		case name == "os.exit":
			what += " (use exit(n))"
		case name == "require", name == "module", strings.HasPrefix(name, "package."):
			what += " (scripts cannot load modules)"
		}
		L.RaiseError("%s %s: run echolot with --unsafe to allow it", name, what)
		return 0
	}
}

// checkPath resolves path for the function fn and refuses it, unless the
// sandbox is off, when it is neither under the interpreter's directory
// nor one of Options.AllowPaths.
func (in *Interp) checkPath(fn, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: empty path: give a file name", fn)
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(in.dir, abs)
	}
	abs = filepath.Clean(abs)
	if in.opts.Unsafe {
		return abs, nil
	}
	real := resolveLinks(abs)
	for _, a := range in.opts.AllowPaths {
		aa, err := filepath.Abs(a)
		if err == nil && (aa == abs || resolveLinks(aa) == real) {
			return abs, nil
		}
	}
	dir := resolveLinks(in.dir)
	if rel, err := filepath.Rel(dir, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && rel != "." {
		return abs, nil
	}
	return "", fmt.Errorf("%s: path %s is outside the working directory %s: give it on the command line, work from its directory, or run echolot with --unsafe", fn, path, in.dir)
}

// resolveLinks follows symbolic links in path as far as it exists, so a
// link inside the working directory cannot lead out of it.
func resolveLinks(path string) string {
	rest := ""
	p := path
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
