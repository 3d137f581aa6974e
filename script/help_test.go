package script

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/lab/labtest"
)

// TestHelpExamples runs every example of docs/lua-api.md in the client
// node of a lab and compares what it prints with the documented output.
func TestHelpExamples(t *testing.T) {
	l := labtest.New(t)
	labtest.Setenv(t, l) // the global lab, as under echolot lab run
	for _, e := range Help() {
		if e.Example == "" {
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code, out, errs := runNamed(t, l, dir, ctx, "doc", e.Example)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			if e.Output == "" {
				if out == "" && e.Name != "exit" {
					t.Errorf("the example printed nothing")
				}
				return
			}
			got := strings.TrimRight(strings.ReplaceAll(out, dir, "WORKDIR"), "\n")
			if got != e.Output {
				t.Errorf("prints\n%s\nwant\n%s", got, e.Output)
			}
		})
	}
}

// TestHelpCoversAPI: every global function and every function of the
// API's tables has a help entry, and every entry names something real.
func TestHelpCoversAPI(t *testing.T) {
	in, err := New(Options{Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	documented := map[string]bool{}
	for _, e := range Help() {
		documented[e.Name] = true
		for _, f := range strings.FieldsFunc(e.Usage, func(r rune) bool { return strings.ContainsRune(" ,()[]|→{}=", r) }) {
			documented[f] = true
		}
	}
	for _, name := range []string{"ip", "ip6", "icmp", "icmp6", "udp", "tcp", "raw", "send", "sr", "sr1", "capture", "pp", "printf", "sleep", "now", "resolve", "hex", "unhex", "stats", "exit", "help", "target", "usage"} {
		if !documented[name] {
			t.Errorf("%s has no help entry", name)
		}
	}
	for _, tbl := range []string{"opt", "pattern", "bit", "pcap"} {
		out, err := in.Eval(context.Background(), `(function() local t = {} for k in pairs(`+tbl+`) do t[#t+1] = k end table.sort(t) return table.concat(t, " ") end)()`)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range strings.Fields(strings.Trim(out[0], `"`)) {
			if !documented[tbl+"."+k] {
				t.Errorf("%s.%s has no help entry", tbl, k)
			}
		}
	}
}

// TestLuaAPIDocIsGenerated: docs/lua-api.md is what gendoc writes.
func TestLuaAPIDocIsGenerated(t *testing.T) {
	b, err := os.ReadFile("../docs/lua-api.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != Markdown() {
		t.Errorf("docs/lua-api.md is out of date: run go run ./script/gendoc > docs/lua-api.md")
	}
}
