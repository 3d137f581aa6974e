// Package scripts holds the Lua experiments shipped inside the echolot
// binary (go:embed): `echolot scripts` lists them and `echolot run NAME`
// runs one. Each begins with a comment block: its first line says what
// the script does, the following ones how to use it.
package scripts

import (
	"embed"
	"sort"
	"strings"

	"github.com/echolot/echolot/script"
)

//go:embed *.lua
var files embed.FS

// Script is one shipped experiment.
type Script struct {
	Name    string // "tcping", run as `echolot run tcping`
	Summary string // the first line of its header comment
	Header  string // the whole header comment, comment marks removed
	Source  []byte
}

// List returns the shipped scripts sorted by name.
func List() []Script {
	ents, _ := files.ReadDir(".")
	var out []Script
	for _, e := range ents {
		if s, ok := Lookup(strings.TrimSuffix(e.Name(), ".lua")); ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the script called name ("tcping" or "tcping.lua").
func Lookup(name string) (Script, bool) {
	name = strings.TrimSuffix(name, ".lua")
	if name == "" || strings.ContainsAny(name, "/\\") {
		return Script{}, false
	}
	src, err := files.ReadFile(name + ".lua")
	if err != nil {
		return Script{}, false
	}
	s := Script{Name: name, Source: src}
	hdr := script.HeaderComment(string(src))
	s.Header = strings.Join(hdr, "\n")
	if len(hdr) > 0 {
		s.Summary = hdr[0]
	}
	return s, true
}
