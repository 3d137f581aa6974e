package labtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
)

func TestMain(m *testing.M) { Main(m) }

func TestNextName(t *testing.T) {
	a, b := NextName(), NextName()
	if a == b || !strings.HasPrefix(a, Prefix()) || len(a) > lab.MaxNameLen || lab.CheckName(a) != nil {
		t.Errorf("NextName() = %q, %q", a, b)
	}
	if !strings.HasPrefix(lab.StateDir(a), lab.StateRoot) || !nameRE.MatchString(a) {
		t.Errorf("name %q not recognised as a labtest name", a)
	}
	// The namespaces carry testenv's per-process prefix.
	if ns := "echolot-" + a + "-client"; !strings.HasPrefix(ns, testenv.NetnsPrefix()) {
		t.Errorf("namespace %s lacks the prefix %s", ns, testenv.NetnsPrefix())
	}
}

// TestNewCleansUp checks that the lab of a subtest is gone when the
// subtest ends.
func TestNewCleansUp(t *testing.T) {
	var l *lab.Lab
	t.Run("inner", func(t *testing.T) {
		l = New(t)
		if !strings.HasPrefix(l.Name(), Prefix()) {
			t.Errorf("lab name %q", l.Name())
		}
		if _, err := os.Stat("/run/netns/" + l.Namespace("client")); err != nil {
			t.Fatal(err)
		}
		if out, err := l.Command(context.Background(), "client", "ping", "-c", "1", "-W", "2", "198.18.1.1").CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	if l == nil {
		return // skipped
	}
	if _, err := os.Stat("/run/netns/" + l.Namespace("client")); !os.IsNotExist(err) {
		t.Errorf("namespace %s remains after the subtest: %v", l.Namespace("client"), err)
	}
	if _, err := os.Stat(lab.StateDir(l.Name())); !os.IsNotExist(err) {
		t.Errorf("state %s remains after the subtest: %v", lab.StateDir(l.Name()), err)
	}
}

// TestSweepDead checks that labs of dead test processes are removed and
// those of live ones kept.
func TestSweepDead(t *testing.T) {
	testenv.NeedNetns(t)
	// A pid that just ended.
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("t%d-1", c.Process.Pid)
	live := fmt.Sprintf("t%d-999", os.Getppid())
	for _, name := range []string{dead, live} {
		t.Cleanup(func() { lab.Down(name) })
		l, err := lab.Up(context.Background(), lab.Options{Name: name, FaultInProcess: true})
		if err != nil {
			t.Fatal(err)
		}
		// Drop the in-process fault node, as a killed process would.
		_ = l
	}
	sweepDead()
	labs, _ := lab.List()
	var names []string
	for _, s := range labs {
		names = append(names, s.Name)
	}
	if strings.Contains(strings.Join(names, " "), dead) {
		t.Errorf("lab %s of a dead process survived the sweep: %v", dead, names)
	}
	found := false
	for _, n := range names {
		found = found || n == live
	}
	if !found {
		t.Errorf("lab %s of a live process was swept: %v", live, names)
	}
}
