package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/probe"
)

// Options configure an interpreter. The zero value writes to os.Stdout
// and os.Stderr, sandboxed, with sockets chosen by probe.ModeAuto.
type Options struct {
	// Stdout receives print, printf and the REPL's values; Stderr error
	// messages and warnings.
	Stdout, Stderr io.Writer
	// Args are the script's command-line arguments: arg[1], arg[2], …;
	// arg[0] is the script's name (RunFile sets it).
	Args []string
	// Unsafe opens the whole standard library (io, os, debug, package,
	// dofile, load …) and lets capture, pattern.file and pcap.read use any
	// path.
	Unsafe bool
	// Dir is the directory under which scripts may read and write files;
	// default the working directory.
	Dir string
	// AllowPaths are further files scripts may use wherever they are:
	// the paths given on the command line.
	AllowPaths []string
	// Mode chooses the sockets of sr and sr1 (probe.ModeAuto: raw when
	// permitted, else unprivileged datagram sockets).
	Mode probe.Mode
}

// Interp is one Lua state with echolot's API. It is not safe for
// concurrent use: one goroutine runs scripts and evaluates REPL input.
// Sending functions open their sockets, and look up the source address
// towards each destination once, in the network namespace of the calling
// thread: use an interpreter in one namespace.
type Interp struct {
	L    *lua.LState
	opts Options
	dir  string

	mu     sync.Mutex
	cancel context.CancelFunc // of the chunk running now

	exitCode int
	exited   bool

	chunk  string   // the running script's name, as arg[0]
	header []string // its leading comment block, for usage()

	cap     *capture                    // capture(path), nil when off
	tx      *txState                    // send's sockets, opened on first use
	engines map[engineKey]*probe.Engine // sr's and sr1's, kept from call to call
	srcs    map[srcKey]netip.Addr       // source address per destination (and interface)
	closed  bool
}

// New makes an interpreter with the API and the sandbox in place.
func New(o Options) (*Interp, error) {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	dir := o.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("script: working directory: %w", err)
		}
		dir = wd
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("script: directory %q: %w", dir, err)
	}
	in := &Interp{opts: o, dir: abs}
	in.L = lua.NewState(lua.Options{SkipOpenLibs: true, IncludeGoStackTrace: false})
	in.openLibs()
	in.register()
	in.setArgs("", o.Args)
	return in, nil
}

// Close flushes and closes the capture file, the sockets of send and the
// probe engines sr and sr1 keep between calls. The interpreter cannot be
// used afterwards.
func (in *Interp) Close() error {
	if in.closed {
		return nil
	}
	in.closed = true
	err := in.stopCapture()
	if in.tx != nil {
		in.tx.close()
	}
	in.closeEngines()
	in.L.Close()
	return err
}

// Exited reports whether the script called exit(n), and n.
func (in *Interp) Exited() (code int, ok bool) { return in.exitCode, in.exited }

// setArgs fills the global arg table as the lua interpreter does.
func (in *Interp) setArgs(name string, args []string) {
	t := in.L.NewTable()
	t.RawSetInt(0, lua.LString(name))
	for i, a := range args {
		t.RawSetInt(i+1, lua.LString(a))
	}
	in.L.SetGlobal("arg", t)
}

// RunFile runs the script at path with Options.Args as its arguments and
// returns the exit code: 0, the script's exit(n), or 2 after printing a
// Lua error with file:line and a traceback to Stderr.
func (in *Interp) RunFile(ctx context.Context, path string) int {
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(in.opts.Stderr, "echolot: %v\n", err)
		return 2
	}
	return in.RunString(ctx, path, string(src))
}

// RunString runs src as a chunk named name (shown in error positions) and
// returns the exit code as RunFile does.
func (in *Interp) RunString(ctx context.Context, name, src string) int {
	in.setArgs(name, in.opts.Args)
	if strings.HasPrefix(src, "#!") {
		src = "--" + src[2:] // a shebang line is a comment; lines keep their numbers
	}
	in.chunk, in.header = name, HeaderComment(src)
	fn, err := in.L.Load(strings.NewReader(src), chunkName(name))
	if err != nil {
		fmt.Fprintf(in.opts.Stderr, "echolot: %s\n", syntaxMessage(err))
		return 2
	}
	_, err = in.call(ctx, fn, 0)
	if code, ok := in.Exited(); ok {
		return code
	}
	if err != nil {
		fmt.Fprintf(in.opts.Stderr, "echolot: %s\n", errorText(err))
		return 2
	}
	return 0
}

// chunkName makes Lua report positions as "file:line:".
func chunkName(name string) string {
	if name == "" {
		return "stdin"
	}
	return name
}

// call runs fn with ctx as its context and returns its results.
func (in *Interp) call(ctx context.Context, fn *lua.LFunction, nret int) ([]lua.LValue, error) {
	ctx, cancel := context.WithCancel(ctx)
	in.mu.Lock()
	in.cancel = cancel
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.cancel = nil
		in.mu.Unlock()
		cancel()
		in.L.RemoveContext()
	}()
	in.L.SetContext(ctx)
	top := in.L.GetTop()
	in.L.Push(fn)
	err := in.L.PCall(0, nret, nil)
	if err != nil {
		if in.exited {
			return nil, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ErrCancelled, context.Cause(ctx))
		}
		return nil, err
	}
	n := in.L.GetTop() - top
	vals := make([]lua.LValue, n)
	for i := range n {
		vals[i] = in.L.Get(top + 1 + i)
	}
	in.L.SetTop(top)
	return vals, nil
}

// ErrCancelled is returned (wrapped) when the context of a run was
// cancelled: Ctrl-C or a deadline.
var ErrCancelled = errors.New("script: cancelled")

// exit ends the running chunk with code n (exit(n) in Lua).
func (in *Interp) exit(n int) {
	in.exitCode, in.exited = n, true
	in.mu.Lock()
	if in.cancel != nil {
		in.cancel() // also stops a pcall that caught the exit
	}
	in.mu.Unlock()
}

// errorText formats a Lua runtime error: the message with its file:line,
// then the traceback.
func errorText(err error) string {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		msg := ae.Object.String()
		if ae.StackTrace != "" {
			return msg + "\n" + ae.StackTrace
		}
		return msg
	}
	return err.Error()
}

// syntaxMessage shortens gopher-lua's compile errors to "file:line: what".
func syntaxMessage(err error) string {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		return strings.TrimSpace(ae.Object.String())
	}
	return err.Error()
}
