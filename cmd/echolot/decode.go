package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/echolot/echolot/packet"
)

// runDecode dissects packets given as hex on the command line or, with "-",
// on standard input (one packet per blank-line-separated block).
func runDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	probeHex := fs.String("probe", "", "the probe as sent, as hex or @FILE: show whether each packet answers it, the quote diff and payload damage")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	var probe *packet.Packet
	if *probeHex != "" {
		b, err := readHexArg(*probeHex)
		if err != nil {
			fmt.Fprintf(stderr, "echolot decode: --probe: %v\n", err)
			return exitUsage
		}
		if probe, err = packet.Parse(b); err != nil {
			fmt.Fprintf(stderr, "echolot decode: --probe: %v\n", err)
			return exitUsage
		}
	}
	inputs := fs.Args()
	if len(inputs) == 1 && inputs[0] == "-" {
		blocks, err := readBlocks(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "echolot decode: reading standard input: %v\n", err)
			return exitUsage
		}
		inputs = blocks
	}
	if len(inputs) == 0 {
		fmt.Fprintln(stderr, "echolot decode: give the packet as hex (tcpdump -xx, Wireshark's hex, or plain), or - to read standard input")
		return exitUsage
	}
	code := exitOK
	for i, in := range inputs {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		b, err := readHexArg(in)
		if err != nil {
			fmt.Fprintf(stderr, "echolot decode: packet %d: %v\n", i+1, err)
			code = exitUsage
			continue
		}
		p, err := packet.Parse(b)
		if err != nil {
			fmt.Fprintf(stderr, "echolot decode: packet %d: %v\n", i+1, err)
			code = exitUsage
			continue
		}
		fmt.Fprint(stdout, p.Show())
		if probe != nil {
			describeMatch(stdout, probe, p)
		}
	}
	return code
}

// describeMatch says whether p answers probe, and what the path changed.
func describeMatch(w io.Writer, probe, p *packet.Packet) {
	m, ok := packet.Answers(probe, p)
	if !ok {
		fmt.Fprintln(w, "does not answer the probe")
		return
	}
	fmt.Fprintf(w, "answers the probe: %s", m.Kind)
	if m.DifferentAddress {
		fmt.Fprintf(w, " (from a different address than the probe was sent to)")
	}
	fmt.Fprintln(w)
	if m.Error && p.Quote != nil {
		changes := packet.QuoteDiff(probe, p.Quote)
		if len(changes) == 0 {
			fmt.Fprintln(w, "the quote shows no change on the way")
		}
		for _, c := range changes {
			mark := "changed "
			if c.Expected {
				mark = "expected"
			}
			fmt.Fprintf(w, "  %s  %-44s %s\n", mark, c.String(), c.Note)
		}
		return
	}
	if d := packet.Compare(probe.Payload, p.Payload); d != nil {
		fmt.Fprintf(w, "payload damaged: %s\n", d)
	} else if len(probe.Payload) > 0 {
		fmt.Fprintf(w, "payload intact (%d bytes)\n", len(p.Payload))
	}
}

// readHexArg reads a packet given on the command line: hex, or @FILE for a
// file holding hex.
func readHexArg(arg string) ([]byte, error) {
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%v (give the packet as hex, or @FILE naming a file of hex)", err)
		}
		b, err := parseHex(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		return b, nil
	}
	return parseHex(arg)
}

var offsetPrefix = regexp.MustCompile(`(?m)^\s*(0x)?[0-9a-fA-F]+:\s`)

// parseHex reads packet bytes written as hex: plain ("4500003c…"), spaced
// or colon-separated ("45 00 00 3c", "45:00"), or tcpdump -xx / od style
// lines with an offset prefix ("0x0000:  4500 003c …").
func parseHex(s string) ([]byte, error) {
	s = offsetPrefix.ReplaceAllString(s, "")
	var clean strings.Builder
	for i, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ':' || r == '-':
		case strings.ContainsRune("0123456789abcdefABCDEF", r):
			clean.WriteRune(r)
		default:
			return nil, fmt.Errorf("hex input: character %q at position %d is not a hex digit", r, i+1)
		}
	}
	h := clean.String()
	if len(h)%2 != 0 {
		return nil, fmt.Errorf("hex input: %d hex digits, an odd number: every byte needs two", len(h))
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("hex input: no bytes")
	}
	return hex.DecodeString(h)
}

// readBlocks splits r into blank-line-separated blocks.
func readBlocks(r io.Reader) ([]string, error) {
	var blocks []string
	var cur strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if cur.Len() > 0 {
				blocks = append(blocks, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteString(line + "\n")
	}
	if cur.Len() > 0 {
		blocks = append(blocks, cur.String())
	}
	return blocks, sc.Err()
}
