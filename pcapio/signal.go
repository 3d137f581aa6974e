package pcapio

import (
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// closeOnSignal is the process-wide set of writers CloseOnSignal closes.
var closeOnSignal struct {
	mu      sync.Mutex
	next    int
	closers map[int]io.Closer
	ch      chan os.Signal
}

// SignalCloseTimeout bounds how long CloseOnSignal waits for the writers to
// close before ending the process anyway.
const SignalCloseTimeout = 5 * time.Second

// CloseOnSignal makes a SIGINT (Ctrl-C) or SIGTERM close the given writers
// (any io.Closer) before the process ends, so that every record queued
// before the signal is in the file. After closing them it ends the process
// the way the signal would have: it restores the signal's default action
// and raises it again, so the exit status still says "killed by SIGTERM".
// The returned function unregisters the writers (call it after closing
// them yourself); the handler stays installed while anything is registered.
//
// Between the signal and the end of the process, WritePacket on a closed
// writer returns ErrClosed: take it as the end, not as a failure to report.
//
// Without it, Go ends the process at once on these signals: the file is
// still valid, but holds only what was written at the last flush (at most
// Options.FlushInterval old). A program that must survive Ctrl-C (a REPL)
// should not use it: it should catch the signal itself and Close its
// writers when it decides to exit.
func CloseOnSignal(closers ...io.Closer) (stop func()) {
	s := &closeOnSignal
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closers == nil {
		s.closers = map[int]io.Closer{}
	}
	ids := make([]int, len(closers))
	for i, c := range closers {
		s.next++
		ids[i] = s.next
		s.closers[s.next] = c
	}
	if s.ch == nil {
		s.ch = make(chan os.Signal, 1)
		signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM)
		go signalLoop(s.ch)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, id := range ids {
				delete(s.closers, id)
			}
			if len(s.closers) == 0 && s.ch != nil {
				signal.Stop(s.ch)
				close(s.ch)
				s.ch = nil
			}
		})
	}
}

func signalLoop(ch chan os.Signal) {
	sig, ok := <-ch
	if !ok {
		return
	}
	s := &closeOnSignal
	s.mu.Lock()
	var cs []io.Closer
	for _, c := range s.closers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Close()
			}()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(SignalCloseTimeout):
	}
	signal.Reset(sig)
	if sn, ok := sig.(syscall.Signal); ok {
		syscall.Kill(os.Getpid(), sn)
		time.Sleep(time.Second) // the default action ends the process first
		os.Exit(128 + int(sn))
	}
	os.Exit(1)
}
