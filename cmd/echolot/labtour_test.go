package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/pcapio"
)

// TestLabTour runs echolot lab tour end to end: tour.lua in a fresh lab,
// the summary, the capture, and the lab removed. What each step finds is
// checked by scripts' TestTour.
func TestLabTour(t *testing.T) {
	testenv.NeedNetns(t)
	name := labtest.NextName()
	t.Cleanup(func() { lab.Down(name) })
	pcap := filepath.Join(t.TempDir(), "tour.pcapng")
	code, out, errs := runCmd("", "lab", "tour", "--name", name, "--pcap", pcap)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"== 7. TTL exceeded", "== What the tour found ==", "Wrote ", pcap, "the lab has been removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := lab.Open(name); err == nil {
		t.Errorf("lab %s is still up after the tour", name)
	}
	if n := countFrames(t, pcap); n < 500 {
		t.Errorf("%s holds %d packets, want the tour's 500 and more", pcap, n)
	}
}

// TestLabTourStopped: the tour stopped part-way — by Ctrl-C, or by its
// output being cut short (| head, SIGPIPE) — exits non-zero, removes the
// lab, and leaves a readable capture of what it did so far.
func TestLabTourStopped(t *testing.T) {
	testenv.NeedNetns(t)
	for _, how := range []string{"interrupt", "pipe"} {
		t.Run(how, func(t *testing.T) {
			name := labtest.NextName()
			t.Cleanup(func() { lab.Down(name) })
			pcap := filepath.Join(t.TempDir(), "tour.pcapng")
			cmd := exec.Command(os.Args[0], "lab", "tour", "--name", name, "--pcap", pcap)
			cmd.Env = append(os.Environ(), asEcholot+"=1")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb strings.Builder
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the tour is in its third step, the sweep.
			sc := bufio.NewScanner(stdout)
			for sc.Scan() && !strings.HasPrefix(sc.Text(), "== 3.") {
			}
			if how == "interrupt" {
				cmd.Process.Signal(syscall.SIGINT)
			} else {
				stdout.Close()
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("the tour did not stop within 30 s of the %s", how)
			}
			if err == nil {
				t.Errorf("exit 0 after the %s, want a failure", how)
			}
			if how == "interrupt" && !strings.Contains(errb.String(), "interrupted; the lab is being removed") {
				t.Errorf("stderr does not say the tour was interrupted:\n%s", errb.String())
			}
			if _, err := lab.Open(name); err == nil {
				t.Errorf("lab %s is still up after the %s", name, how)
			}
			if n := countFrames(t, pcap); n == 0 {
				t.Errorf("the capture holds no packets after the %s", how)
			}
		})
	}
}

// countFrames reads a capture with pcapio and returns its packet count;
// a damaged file fails the test.
func countFrames(t *testing.T, path string) int {
	t.Helper()
	frames, err := pcapio.ReadFile(path)
	if err != nil {
		t.Errorf("after %d packets: %v", len(frames), err)
	}
	return len(frames)
}
