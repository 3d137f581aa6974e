package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/echolot/echolot/packet"
)

// runPatterns lists the payload pattern catalogue, or shows one pattern's
// bytes.
func runPatterns(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("patterns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.Int("s", 56, "payload size in bytes (ping's -s)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *size < 1 || *size > packet.MaxPatternLen {
		fmt.Fprintf(stderr, "echolot patterns: -s %d: the size must be 1–%d bytes\n", *size, packet.MaxPatternLen)
		return exitUsage
	}
	if fs.NArg() > 0 {
		p, err := packet.PatternByName(fs.Arg(0), *size)
		if err != nil {
			fmt.Fprintf(stderr, "echolot patterns: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "%s (%d bytes)", p.Name, len(p.Bytes))
		if p.Note != "" {
			fmt.Fprintf(stdout, ": %s", p.Note)
		}
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, hex.Dump(p.Bytes))
		return exitOK
	}
	fmt.Fprintf(stdout, "%-14s %-50s %s\n", "NAME", "FIRST BYTES", "WHY IT FINDS FAULTS")
	for _, p := range packet.Catalogue(*size) {
		first := hex.EncodeToString(p.Bytes[:min(len(p.Bytes), 16)])
		var spaced strings.Builder
		for i := 0; i < len(first); i += 2 {
			spaced.WriteString(first[i:i+2] + " ")
		}
		fmt.Fprintf(stdout, "%-14s %-50s %s\n", p.Name, strings.TrimSpace(spaced.String()), p.Note)
	}
	fmt.Fprintf(stdout, "\nAlso: any hex pattern (a5, deadbeef, 0x00ff…), ramp, random, random:SEED, prbs7…prbs31, almost-zero.\n")
	return exitOK
}
