package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
)

func TestLabRunBadInput(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.sh")
	os.WriteFile(plain, []byte("echo hi\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lab", "run"}, "give the script to run"},
		{[]string{"lab", "run", "probe.lua"}, "probe.lua: no such file, and no shipped script of that name"},
		{[]string{"lab", "run", plain}, "is not an executable file (chmod +x it"},
		{[]string{"lab", "run", dir}, "is not an executable file"},
		{[]string{"lab", "run", "no-such-program-here"}, "not a file here and not found in PATH"},
		{[]string{"lab", "run", filepath.Join(dir, "missing")}, "no such file"},
	} {
		code, _, errs := runCmd("", c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d stderr %q, want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

// TestLabRun runs a script in a fresh lab (root): it sees the lab in its
// environment, reaches the server through the fault node, and its exit
// status comes back; the lab is gone afterwards.
func TestLabRun(t *testing.T) {
	testenv.NeedNetns(t)
	testenv.NeedTool(t, "ping")
	name := labtest.NextName()
	t.Cleanup(func() { lab.Down(name) })
	script := filepath.Join(t.TempDir(), "probe.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
echo "lab=$ECHOLOT_LAB server=$ECHOLOT_SERVER_IP4 $ECHOLOT_SERVER_IP6 args=$*"
ping -n -c 1 -W 2 "$ECHOLOT_SERVER_IP4" | grep -o '1 received'
exit 3
`), 0o755)
	code, out, errs := runCmd("", "lab", "run", "--name", name, script, "a", "b")
	if code != 3 {
		t.Fatalf("exit %d, want the script's 3\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"lab=" + name + " server=198.18.3.2 2001:db8:3::2 args=a b", "1 received"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := lab.Open(name); err == nil {
		t.Errorf("lab %s is still up after lab run", name)
	}
}

// TestLabRunLua runs a Lua script and a shipped experiment in a fresh
// lab: the script reads the lab's addresses from the lab global, its
// sr1 reaches the server, and its exit code comes back.
func TestLabRunLua(t *testing.T) {
	testenv.NeedNetns(t)
	name := labtest.NextName()
	t.Cleanup(func() { lab.Down(name) })
	script := filepath.Join(t.TempDir(), "probe.lua")
	os.WriteFile(script, []byte(`local a = sr1(ip{dst=lab.server.ip4} / icmp{})
print(lab.name, a.kind, a.from, arg[1])
exit(4)
`), 0o644)
	code, out, errs := runCmd("", "lab", "run", "--name", name, script, "x")
	if code != 4 || !strings.Contains(out, name+"\techo-reply\t198.18.3.2\tx") {
		t.Errorf("exit %d (want the script's 4)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runCmd("", "lab", "run", "--name", name, "tcping", "198.18.3.2", "9", "1", "0")
	if code != 0 || !strings.Contains(out, "closed") {
		t.Errorf("tcping: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if _, err := lab.Open(name); err == nil {
		t.Errorf("lab %s is still up after lab run", name)
	}
}
