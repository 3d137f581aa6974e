package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/echolot/echolot/lab/fault"
)

// bridgeBuilt reports whether the fault node's bridge is built in (it is;
// the tests that send across link b check it).
const bridgeBuilt = true

// FaultStartTimeout bounds how long Up waits for the fault node's control
// socket to answer.
const FaultStartTimeout = 10 * time.Second

// inprocNode is a fault node running on goroutines of this process.
type inprocNode struct {
	node   *fault.Node
	cancel context.CancelFunc
	done   chan struct{} // closed when Run and Serve have returned
	log    *os.File
}

var (
	inprocMu sync.Mutex
	inproc   = map[string]*inprocNode{} // by lab name
)

// startFault starts the fault node of l: in this process when
// o.FaultInProcess, otherwise as a daemon. It returns once the control
// socket answers.
func startFault(ctx context.Context, l *Lab, o Options) error {
	fname, a, b, ok := l.topo.FaultNode()
	if !ok {
		return errors.New("the topology has no fault link")
	}
	if o.FaultInProcess {
		return startInProcess(l, fname, a, b)
	}
	return startDaemon(ctx, l, o.Exe, fname)
}

// startInProcess opens the bridge sockets inside the fault namespace and
// runs the node and its control socket on goroutines.
func startInProcess(l *Lab, fname, a, b string) error {
	var cfg fault.Config
	err := l.InNode(fname, func() error {
		var err error
		cfg, err = fault.OpenBridge(a, b)
		return err
	})
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(FaultLog(l.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		cfg.Client.Close()
		cfg.Server.Close()
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logf, nil))
	n := fault.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	p := &inprocNode{node: n, cancel: cancel, done: make(chan struct{}), log: logf}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := n.Run(ctx); err != nil {
			cfg.Logger.Error("fault node stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := fault.Serve(ctx, n, FaultSocket(l.name)); err != nil {
			cfg.Logger.Error("control socket stopped", "err", err)
		}
	}()
	go func() {
		wg.Wait()
		close(p.done)
	}()
	inprocMu.Lock()
	inproc[l.name] = p
	inprocMu.Unlock()
	if err := writePid(l.name, os.Getpid()); err != nil {
		return err
	}
	return waitForSocket(context.Background(), l.name, p.done, nil)
}

// startDaemon starts "exe lab fault-node --name NAME" inside the fault
// namespace with ip netns exec, in a session of its own, with its output
// in fault.log, and waits until its control socket answers.
func startDaemon(ctx context.Context, l *Lab, exe, fname string) error {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("finding the echolot binary for the fault daemon: %w; set Options.Exe", err)
		}
	}
	ip, err := ipPath()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(FaultLog(l.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"netns", "exec", l.Namespace(fname), exe}, FaultNodeArgs(l.name)...)
	cmd := exec.Command(ip, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the fault daemon %s: %w", exe, err)
	}
	// ip netns exec execs the program, so this pid is the daemon's.
	if err := writePid(l.name, cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	exited := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(exited) }() // reaps it if it ends while we live
	err = waitForSocket(ctx, l.name, exited, func() error { return werr })
	if err != nil {
		cmd.Process.Kill()
	}
	return err
}

// waitForSocket waits until the fault node's control socket answers a
// List, the node ends (ended is closed), ctx is done or FaultStartTimeout
// passes.
func waitForSocket(ctx context.Context, name string, ended <-chan struct{}, why func() error) error {
	deadline := time.NewTimer(FaultStartTimeout)
	defer deadline.Stop()
	var last error
	for {
		c, err := fault.Dial(FaultSocket(name))
		if err == nil {
			if _, err = c.List(); err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ended:
			msg := "the fault node ended"
			if why != nil && why() != nil {
				msg += " (" + why().Error() + ")"
			}
			return fmt.Errorf("%s before its control socket answered; its log %s says: %s", msg, FaultLog(name), logTail(name))
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("the fault node's control socket did not answer within %v: %v; see %s", FaultStartTimeout, last, FaultLog(name))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logTail returns the end of fault.log.
func logTail(name string) string {
	b, _ := os.ReadFile(FaultLog(name))
	b = bytes.TrimSpace(b)
	if len(b) > 800 {
		b = b[len(b)-800:]
	}
	if len(b) == 0 {
		return "(nothing)"
	}
	return string(b)
}

// writePid records the pid of the process running the fault node.
func writePid(name string, pid int) error {
	return os.WriteFile(filepath.Join(StateDir(name), faultPidFile), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// stopInProcess stops the fault node of lab name if it runs in this
// process, and waits for it.
func stopInProcess(name string) error {
	inprocMu.Lock()
	p := inproc[name]
	delete(inproc, name)
	inprocMu.Unlock()
	if p == nil {
		return nil
	}
	p.cancel()
	defer p.log.Close()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the in-process fault node did not stop within 5s")
	}
}

// faultStatus fills in whether the fault node answers.
func faultStatus(name string, s *Status) {
	if s.Topology == nil {
		return
	}
	c, err := fault.Dial(FaultSocket(name))
	if err == nil {
		_, err = c.List()
	}
	if err == nil {
		s.FaultAnswers = true
		return
	}
	p := "the fault node does not answer"
	switch {
	case s.FaultPID == 0:
		p += " (no fault.pid)"
	case processAlive(s.FaultPID):
		p += fmt.Sprintf(" (pid %d is running)", s.FaultPID)
	default:
		p += fmt.Sprintf(" (pid %d is gone)", s.FaultPID)
	}
	s.Problems = append(s.Problems, p+"; see "+FaultLog(name)+", and rebuild the lab: echolot lab down --name "+name+"; echolot lab up --name "+name)
}

// Fault returns the controller of the lab's fault node: the node itself
// when it runs in this process, otherwise a client of its control socket
// (fault.Dial). If no node answers, every method of the result returns an
// error saying so.
func (l *Lab) Fault() fault.Controller {
	inprocMu.Lock()
	p := inproc[l.name]
	inprocMu.Unlock()
	if p != nil {
		return p.node
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.fault.(fault.Controller); ok {
		return c
	}
	c, err := fault.Dial(FaultSocket(l.name))
	if err != nil {
		return errController{fmt.Errorf("lab %s: %w", l.name, err)}
	}
	l.fault = c
	return c
}

// FaultStats returns the fault node's per-direction counters.
func (l *Lab) FaultStats() (fault.Stats, error) {
	switch c := l.Fault().(type) {
	case *fault.Node:
		return c.Stats(), nil
	case interface{ Stats() (fault.Stats, error) }:
		return c.Stats()
	case errController:
		return fault.Stats{}, c.err
	default:
		return fault.Stats{}, fmt.Errorf("lab %s: the fault controller %T has no counters", l.name, c)
	}
}

// errController is the Controller of a fault node that cannot be reached.
type errController struct{ err error }

func (e errController) Add(fault.Rule) (int, error)       { return 0, e.err }
func (e errController) List() ([]fault.RuleStatus, error) { return nil, e.err }
func (e errController) Delete(int) error                  { return e.err }
func (e errController) Clear() error                      { return e.err }

// RunFaultNode runs the fault node of the lab name in this process until
// ctx is done: it opens the bridge sockets inside the fault namespace,
// forwards, and serves the control socket. It is the body of the hidden
// command "echolot lab fault-node --name NAME", which Up starts inside the
// fault namespace; it logs to standard error.
func RunFaultNode(ctx context.Context, name string) error {
	return runFaultNode(ctx, name, os.Stderr)
}

func runFaultNode(ctx context.Context, name string, logw io.Writer) error {
	if err := CheckName(name); err != nil {
		return err
	}
	topo, err := readTopology(name)
	if err != nil {
		return fmt.Errorf("lab fault-node %s: %w (is the lab up? this command is started by echolot lab up)", name, err)
	}
	fname, a, b, ok := topo.FaultNode()
	if !ok {
		return fmt.Errorf("lab fault-node %s: the topology has no fault link", name)
	}
	var cfg fault.Config
	err = inNetns(filepath.Join(netnsDir, nsName(name, fname)), func() error {
		var err error
		cfg, err = fault.OpenBridge(a, b)
		return err
	})
	if err != nil {
		return fmt.Errorf("lab fault-node %s: %w", name, err)
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	cfg.Logger = log
	if err := writePid(name, os.Getpid()); err != nil {
		cfg.Client.Close()
		cfg.Server.Close()
		return fmt.Errorf("lab fault-node %s: %w", name, err)
	}
	n := fault.New(cfg)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- n.Run(ctx) }()
	go func() { errc <- fault.Serve(ctx, n, FaultSocket(name)) }()
	log.Info("fault node started", "lab", name, "pid", os.Getpid(), "bridge", a+" <-> "+b, "socket", FaultSocket(name))
	first := <-errc
	cancel()
	second := <-errc
	log.Info("fault node stopped", "lab", name)
	if err := errors.Join(first, second); err != nil {
		return fmt.Errorf("lab fault-node %s: %w", name, err)
	}
	return nil
}
