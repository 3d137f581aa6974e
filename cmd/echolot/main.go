// Command echolot is a scriptable workbench for IP/ICMP diagnostics. This
// file only dispatches subcommands; the work is done in the packages under
// the module root (see docs/ARCHITECTURE.md).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/echolot/echolot/internal/gctune"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, as iputils ping uses them: 0 success, 1 the probe found a
// failure (no answer, damaged answer), 2 usage or input error.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand.
type command struct {
	name  string
	usage string
	brief string
	run   func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"decode", "decode [--probe HEX] [HEX ... | -]", "dissect packets given as hex: layers, ICMP error quotes, RFC 4884 extensions, and with --probe the match and quote diff", runDecode},
		{"lab", "lab up|down|status|exec|fault ...", "build and use the network lab of namespaces with a fault node (root; echolot lab help)", runLab},
		{"patterns", "patterns [-s SIZE] [NAME]", "list the payload patterns (the catalogue of classic troublemakers) or show one", runPatterns},
		{"ping", "ping [options] DESTINATION", "iputils-compatible ping on the probe engine (echolot ping -h)", runPing},
		{"repl", "repl [--unsafe] [--history FILE]", "the Lua REPL (also: echolot with no arguments); help() lists the API", runRepl},
		{"run", "run [--unsafe] [--timeout D] FILE|NAME|- [ARGS...]", "run a Lua script (docs/lua-api.md): a file or a shipped experiment", runScript},
		{"scripts", "scripts [NAME]", "list the shipped Lua experiments, or show one's usage", runScripts},
		{"version", "version", "print the version", runVersion},
	}
}

func main() {
	gctune.Apply()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// echolot alone is the Lua REPL (a script from stdin when stdin is
		// not a terminal).
		return runRepl(nil, stdin, stdout, stderr)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "echolot: unknown command %q; run 'echolot help' for the list\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "echolot — a scriptable workbench for IP/ICMP diagnostics")
	fmt.Fprintln(w, "\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  echolot %-36s %s\n", c.usage, c.brief)
	}
}

func runVersion(_ []string, _ io.Reader, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "echolot", version)
	return exitOK
}
