package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/echolot/echolot/scripts"
)

// shippedScript returns the shipped script called name ("tcping" or
// "tcping.lua").
func shippedScript(name string) (scripts.Script, bool) { return scripts.Lookup(name) }

// runScripts is "echolot scripts [NAME]": the list, or one's header.
func runScripts(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintln(stderr, "echolot scripts: give at most one NAME")
		return exitUsage
	}
	if len(args) == 1 {
		s, ok := scripts.Lookup(args[0])
		if !ok {
			fmt.Fprintf(stderr, "echolot scripts: no shipped script %q; echolot scripts lists them\n", args[0])
			return exitUsage
		}
		fmt.Fprintln(stdout, s.Header)
		return exitOK
	}
	fmt.Fprintln(stdout, "Shipped experiments (echolot run NAME [ARGS]; echolot scripts NAME for usage):")
	for _, s := range scripts.List() {
		fmt.Fprintf(stdout, "  %-10s %s\n", s.Name, strings.TrimPrefix(s.Summary, s.Name+": "))
	}
	return exitOK
}
