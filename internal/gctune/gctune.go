// Package gctune holds echolot's one garbage-collector setting, so that
// the binary and the benchmarks that stand for it run alike.
//
// echolot's live heap is small (a few megabytes: the Lua state, socket
// buffers, the outstanding-probe ring), and a script that builds a packet
// per iteration allocates fast (about 5 KB per packet, most of it Lua
// tables and packet values that die at once). With the default GOGC=100
// the collector then runs dozens of times a second and, on a machine
// whose other cores are busy forwarding those packets, takes about a
// fifth of a build-and-send loop. GOGC=400 lets the heap grow to five
// times the live data between collections: still flat over any number of
// probes, and the loop runs about a quarter faster
// (go test -run '^$' -bench LuaSendBuild ./script; README.md has the
// numbers).
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC value echolot runs with.
const Percent = 400

// Apply sets the collector to Percent unless the user chose a GOGC.
func Apply() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
}
