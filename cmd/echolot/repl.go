package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/echolot/echolot/script/repl"
)

// runRepl is "echolot repl" and "echolot" alone: the interactive Lua
// prompt, or the script on stdin when stdin is not a terminal.
func runRepl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("repl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addScriptFlags(fs)
	hist := fs.String("history", "", "keep the REPL history in `FILE` (default $XDG_STATE_HOME/echolot/history; - for none)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: echolot [repl] [--unsafe] [--mode M] [--history FILE]")
		fmt.Fprintln(stderr, "The interactive Lua prompt (docs/lua-api.md): help() lists the API, Ctrl-C cancels a command, Ctrl-D exits.")
		fmt.Fprintln(stderr, "When stdin is not a terminal it runs stdin as a script.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "echolot repl: unexpected argument %q; to run a script: echolot run FILE\n", fs.Arg(0))
		return exitUsage
	}
	in, err := sf.interp(nil, nil, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "echolot repl: %v\n", err)
		return exitUsage
	}
	// SIGTERM ends the REPL; Ctrl-C (SIGINT) is the REPL's own business.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if stdin == nil {
		stdin = os.Stdin
	}
	code := repl.Run(ctx, in, repl.Options{Stdin: stdin, Stdout: stdout, Stderr: stderr, HistoryFile: *hist, Version: version})
	if err := in.Close(); err != nil {
		fmt.Fprintf(stderr, "echolot repl: %v\n", err)
		if code == 0 {
			code = exitFailure
		}
	}
	return code
}
