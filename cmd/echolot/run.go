package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/echolot/echolot/probe"
	"github.com/echolot/echolot/script"
)

// scriptFlags are the flags run and repl share.
type scriptFlags struct {
	unsafe *bool
	mode   *string
}

func addScriptFlags(fs *flag.FlagSet) scriptFlags {
	return scriptFlags{
		unsafe: fs.Bool("unsafe", false, "lift the sandbox: the whole Lua standard library (io, os.execute, …) and any file path"),
		mode:   fs.String("mode", "auto", "sockets for sr/sr1: auto (raw when permitted), raw, or dgram (unprivileged); send always uses raw sockets"),
	}
}

// interp makes the interpreter the flags ask for.
func (f scriptFlags) interp(args, allow []string, stdout, stderr io.Writer) (*script.Interp, error) {
	m, err := probe.ParseMode(*f.mode)
	if err != nil {
		return nil, fmt.Errorf("--mode: %v", err)
	}
	return script.New(script.Options{Stdout: stdout, Stderr: stderr, Args: args, Unsafe: *f.unsafe, AllowPaths: allow, Mode: m})
}

// runScript is "echolot run FILE|NAME [ARGS...]".
func runScript(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addScriptFlags(fs)
	timeout := fs.Duration("timeout", 0, "cancel the script after this `duration` (e.g. 30s); 0: no limit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: echolot run [--unsafe] [--timeout D] [--mode M] FILE|NAME|- [ARGS...]")
		fmt.Fprintln(stderr, "Runs a Lua script (docs/lua-api.md): a file, a shipped script by name (echolot scripts), or - for stdin.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "echolot run: give the script: echolot run FILE [ARGS...] (echolot scripts lists the shipped ones)")
		return exitUsage
	}
	name, sargs := fs.Arg(0), fs.Args()[1:]
	var src []byte
	var err error
	switch {
	case name == "-":
		src, err = io.ReadAll(stdin)
		name = "stdin"
	case fileExists(name):
		src, err = os.ReadFile(name)
	default:
		if s, ok := shippedScript(name); ok {
			src, name = s.Source, s.Name+".lua" // errors name it tcping.lua
		} else if strings.ContainsAny(name, "/.") {
			err = fmt.Errorf("%s: no such file", name)
		} else {
			err = fmt.Errorf("%q is neither a file nor a shipped script; echolot scripts lists those", name)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "echolot run: %v\n", err)
		return exitUsage
	}
	in, err := sf.interp(sargs, sargs, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "echolot run: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	code := in.RunString(ctx, name, string(src))
	if err := in.Close(); err != nil {
		fmt.Fprintf(stderr, "echolot run: %v\n", err)
		if code == 0 {
			code = exitFailure
		}
	}
	return code
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
