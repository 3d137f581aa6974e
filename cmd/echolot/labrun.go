package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/echolot/echolot/lab"
)

func init() {
	labExtra["run"] = labCommand{
		usage: "run [--name LAB] [--keep] SCRIPT [ARGS...]",
		brief: "build a lab, run SCRIPT inside the client node, tear the lab down; exits with SCRIPT's status",
		run:   labRun,
	}
}

// labRun is "echolot lab run": a fresh lab for one script. SCRIPT is any
// executable (a shell script driving ping, tcpdump, echolot decode …); it
// runs inside the client node with the lab described in its environment.
func labRun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, name := labFlags("run", stderr)
	fs.Lookup("name").DefValue = "run"
	*name = "run"
	keep := fs.Bool("keep", false, "leave the lab up afterwards")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		return usageErr(stderr, "run", "give the script to run: echolot lab run SCRIPT [ARGS...]")
	}
	script, scriptArgs := fs.Arg(0), fs.Args()[1:]
	var path, msg string
	exists := fileExists(script)
	_, shipped := shippedScript(script)
	if strings.HasSuffix(script, ".lua") || (shipped && !exists) {
		// A Lua script, the user's or a shipped one: echolot runs it.
		if !exists && !shipped {
			return usageErr(stderr, "run", "%s: no such file, and no shipped script of that name (echolot scripts)", script)
		}
		self, err := os.Executable()
		if err != nil {
			return usageErr(stderr, "run", "cannot find the echolot executable to run %s: %v", script, err)
		}
		if exists {
			if abs, err := filepath.Abs(script); err == nil {
				script = abs
			}
		}
		path, scriptArgs = self, append([]string{"run", script}, scriptArgs...)
	} else if path, msg = resolveScript(script); msg != "" {
		return usageErr(stderr, "run", "%s", msg)
	}
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "run", "%v", err)
	}
	if !needPrivileges(stderr, "run") {
		return exitUsage
	}
	// SIGPIPE too: with the output cut short (| head) the script is
	// stopped and the lab still removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer stop()
	if _, err := lab.Open(*name); err == nil {
		return usageErr(stderr, "run", "a lab named %q is already up: remove it (echolot lab down --name %s) or choose another --name", *name, *name)
	}
	l, err := lab.Up(ctx, lab.Options{Name: *name, FaultInProcess: !*keep})
	if err != nil {
		fmt.Fprintf(stderr, "echolot lab run: %v\n", err)
		return exitFailure
	}
	if !*keep {
		defer func() {
			if err := l.Close(); err != nil {
				fmt.Fprintf(stderr, "echolot lab run: tearing down: %v\n", err)
			}
		}()
	}
	return runInClient(ctx, l, "run", append([]string{path}, scriptArgs...), stdin, stdout, stderr)
}

// runInClient runs argv inside l's client node with the lab described in
// its environment (Lab.Env) and returns its exit status. When ctx ends
// (Ctrl-C, SIGTERM) the program gets SIGINT and a few seconds to stop
// cleanly, flushing its captures, before it is killed; a program killed
// by a signal (SIGPIPE when its output was cut short) counts as failed.
func runInClient(ctx context.Context, l *lab.Lab, cmdName string, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := l.Command(ctx, "client", argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = append(os.Environ(), l.Env()...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	case err != nil:
		fmt.Fprintf(stderr, "echolot lab %s: %s: %v\n", cmdName, filepath.Base(argv[0]), err)
		return exitFailure
	}
	return exitOK
}

// resolveScript finds SCRIPT: a path (anything with a slash, or a file in
// the current directory) must be an executable file; a bare name is looked
// up in PATH. It returns the path to run, or a message saying what is wrong.
func resolveScript(script string) (path, msg string) {
	if !strings.Contains(script, "/") {
		if _, err := os.Stat(script); err != nil {
			p, err := exec.LookPath(script)
			if err != nil {
				return "", fmt.Sprintf("%s: not a file here and not found in PATH", script)
			}
			return p, ""
		}
	}
	abs, err := filepath.Abs(script)
	if err != nil {
		return "", err.Error()
	}
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		return "", err.Error()
	case st.IsDir() || st.Mode()&0o111 == 0:
		return "", fmt.Sprintf("%s is not an executable file (chmod +x it, or name its interpreter: echolot lab run sh %s)", script, script)
	}
	return abs, ""
}
