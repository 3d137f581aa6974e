// Package repl is echolot's interactive Lua prompt: line editing with
// github.com/chzyer/readline over a script.Interp, persistent history, tab
// completion of globals, fields and methods, multi-line input like the
// lua interpreter's, and Ctrl-C that cancels the running command rather
// than the REPL. When stdin is not a terminal it runs stdin as a script.
//
//	in, err := script.New(script.Options{})
//	if err != nil { ... }
//	defer in.Close()
//	os.Exit(repl.Run(ctx, in, repl.Options{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/chzyer/readline"
	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/script"
)

// Options configure Run. Zero values mean os.Stdin, os.Stdout, os.Stderr,
// the default history file, and the prompt "> ".
type Options struct {
	// Stdin is read for input. The REPL edits lines only when it is an
	// *os.File on a terminal; anything else is read whole and run as a
	// script named "stdin".
	Stdin io.Reader
	// Stdout receives the greeting, the prompt and the values of bare
	// expressions; Stderr errors.
	Stdout, Stderr io.Writer
	// HistoryFile keeps the input across sessions, one entry a line
	// (created with mode 0600). Default $XDG_STATE_HOME/echolot/history,
	// or ~/.local/state/echolot/history; "-" keeps no history file.
	HistoryFile string
	// Prompt is the primary prompt; a continuation line gets ">> ".
	Prompt string
	// Version is shown in the greeting.
	Version string
}

// ContinuationPrompt is the prompt of the lines that continue an
// incomplete chunk.
const ContinuationPrompt = ">> "

// historyLimit is how many entries the history keeps.
const historyLimit = 1000

// Run runs the REPL on in until Ctrl-D (exit code 0), exit(n) (code n)
// or the end of ctx (code 1). A runtime or syntax error is printed and
// the REPL goes on; Ctrl-C while a command runs cancels that command and
// prints "cancelled", Ctrl-C while editing discards the input.
//
// When Stdin is not a terminal Run reads it whole, runs it as the script
// "stdin" and returns the script's exit code (0, exit(n), or 2 after an
// error); Ctrl-C cancels it.
func Run(ctx context.Context, in *script.Interp, o Options) int {
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Prompt == "" {
		o.Prompt = "> "
	}
	f, ok := o.Stdin.(*os.File)
	if !ok || !readline.IsTerminal(int(f.Fd())) {
		return runScript(ctx, in, o)
	}
	r := &repl{in: in, o: o, fd: int(f.Fd())}
	return r.run(ctx, f)
}

// runScript runs all of stdin as one script.
func runScript(ctx context.Context, in *script.Interp, o Options) int {
	src, err := io.ReadAll(o.Stdin)
	if err != nil {
		fmt.Fprintf(o.Stderr, "echolot: reading stdin: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	return in.RunString(ctx, "stdin", string(src))
}

// repl is one interactive session.
type repl struct {
	in *script.Interp
	o  Options
	fd int // the terminal

	// busy is held while Lua runs, so that a completion asked for by
	// type-ahead does not touch the interpreter concurrently.
	busy sync.Mutex

	mu     sync.Mutex
	cancel context.CancelFunc // of the command running now

	hist *history
}

func (r *repl) run(ctx context.Context, stdin *os.File) int {
	r.hist = openHistory(r.o.HistoryFile, r.o.Stderr)
	defer r.hist.close()

	// raw is the terminal state to restore; readline leaves raw mode
	// from its own goroutine too when closed.
	var (
		rawMu sync.Mutex
		raw   *readline.State
	)
	// readline does not close the reader it is given: closing it ends a
	// read that would keep rl.Close waiting.
	cin := readline.NewCancelableStdin(stdin)
	defer cin.Close()
	cfg := &readline.Config{
		Prompt:                 r.o.Prompt,
		Stdin:                  cin,
		Stdout:                 r.o.Stdout,
		Stderr:                 r.o.Stderr,
		AutoComplete:           completer{r},
		DisableAutoSaveHistory: true,
		HistoryLimit:           historyLimit,
		FuncIsTerminal:         func() bool { return readline.IsTerminal(r.fd) },
		FuncMakeRaw: func() error {
			rawMu.Lock()
			defer rawMu.Unlock()
			st, err := readline.MakeRaw(r.fd)
			if err == nil {
				raw = st
			}
			return err
		},
		FuncExitRaw: func() error {
			rawMu.Lock()
			defer rawMu.Unlock()
			if raw == nil {
				return nil
			}
			st := raw
			raw = nil
			return readline.Restore(r.fd, st)
		},
		FuncGetWidth: func() int {
			ws, err := unix.IoctlGetWinsize(r.fd, unix.TIOCGWINSZ)
			if err != nil || ws.Col == 0 {
				return 80
			}
			return int(ws.Col)
		},
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		fmt.Fprintf(r.o.Stderr, "echolot: %v\n", err)
		return 1
	}
	defer func() {
		cin.Close()
		rl.Close()
	}()

	// SIGINT arrives only while a command runs: readline reads in raw
	// mode, where Ctrl-C is a key. Between the two it must not kill us.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-sig:
				r.mu.Lock()
				if r.cancel != nil {
					r.cancel()
				}
				r.mu.Unlock()
			case <-ctx.Done():
				cin.Close()
				rl.Close() // ends a waiting Readline
				return
			case <-done:
				return
			}
		}
	}()

	if r.o.Version != "" {
		fmt.Fprintf(r.o.Stdout, "echolot %s Lua REPL — help() lists the API, Ctrl-D exits\n", r.o.Version)
	} else {
		fmt.Fprintln(r.o.Stdout, "echolot Lua REPL — help() lists the API, Ctrl-D exits")
	}

	var lines []string // of the chunk being entered
	for {
		if ctx.Err() != nil {
			return 1
		}
		if len(lines) == 0 {
			rl.SetPrompt(r.o.Prompt)
		} else {
			rl.SetPrompt(ContinuationPrompt)
		}
		r.loadHistory(rl)
		line, err := rl.Readline()
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			lines = nil // Ctrl-C discards the line and any pending chunk
			continue
		case err == io.EOF:
			if ctx.Err() != nil {
				fmt.Fprintln(r.o.Stdout)
				return 1
			}
			return 0
		case err != nil:
			if ctx.Err() != nil {
				return 1
			}
			fmt.Fprintf(r.o.Stderr, "echolot: %v\n", err)
			return 1
		}
		if len(lines) == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		lines = append(lines, line)
		src := strings.Join(lines, "\n")
		if len(lines) == 1 && strings.HasPrefix(src, "=") {
			src = src[1:] // "=expr" as in Lua 5.1
		}
		vals, err := r.eval(ctx, src)
		if errors.Is(err, script.ErrIncomplete) {
			continue
		}
		r.hist.add(lines)
		lines = nil
		if code, ok := r.in.Exited(); ok {
			return code
		}
		switch {
		case errors.Is(err, script.ErrCancelled):
			fmt.Fprintln(r.o.Stderr, "cancelled")
		case err != nil:
			fmt.Fprintln(r.o.Stderr, strings.TrimRight(err.Error(), "\n"))
		case len(vals) > 0:
			fmt.Fprintln(r.o.Stdout, strings.Join(vals, "\t"))
		}
	}
}

// eval runs one chunk with a context that Ctrl-C cancels.
func (r *repl) eval(ctx context.Context, src string) ([]string, error) {
	r.busy.Lock()
	defer r.busy.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.cancel = nil
		r.mu.Unlock()
		cancel()
	}()
	return r.in.Eval(ctx, src)
}

// loadHistory gives readline the history afresh before each line: it
// saves entries as they are typed, line by line, while a multi-line
// chunk is one entry here.
func (r *repl) loadHistory(rl *readline.Instance) {
	rl.ResetHistory()
	for _, e := range r.hist.entries {
		_ = rl.SaveHistory(e) // no file behind readline's history: no error
	}
}

// completer adapts script.Interp.Complete to readline: it returns the
// suffixes that complete the last component of the name chain before
// the cursor, and that component's length.
type completer struct{ r *repl }

// Do implements readline.AutoCompleter.
func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	if !c.r.busy.TryLock() {
		return nil, 0 // typed ahead while a command runs
	}
	defer c.r.busy.Unlock()
	head := string(line[:pos])
	chain := chainAt(head)
	word := chain[strings.LastIndexAny(chain, ".:")+1:]
	var out [][]rune
	for _, s := range c.r.in.Complete(head) {
		if strings.HasPrefix(s, chain) {
			out = append(out, []rune(s[len(chain):]))
		}
	}
	return out, len([]rune(word))
}

// chainAt returns the name chain ("p.icmp.se", "p:he") that ends s, as
// script.Interp.Complete reads it.
func chainAt(s string) string {
	i := len(s)
	for i > 0 {
		c := s[i-1]
		if c == '.' || c == ':' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			i--
			continue
		}
		break
	}
	return s[i:]
}
