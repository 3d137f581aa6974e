package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
)

// asEcholot names the variable that makes the test binary echolot.
const asEcholot = "ECHOLOT_TEST_AS_ECHOLOT"

func TestMain(m *testing.M) {
	// "lab up" starts the fault daemon as os.Executable(), which in these
	// tests is the test binary: let it play echolot for that command.
	// "lab run x.lua" runs os.Executable() run x.lua in the client node.
	// With ECHOLOT_TEST_AS_ECHOLOT set, a test runs it as echolot itself.
	if len(os.Args) > 2 && (os.Args[1] == "lab" && os.Args[2] == "fault-node" || os.Args[1] == "run") || os.Getenv(asEcholot) != "" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	labtest.Main(m)
}

// TestLabBadInput checks argument handling; none of these reaches the
// point where root is needed.
func TestLabBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.topo")
	text := strings.Replace(lab.DefaultTopologyText, "mtu 1400", "mtu 70000", 1)
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lab"}, "Usage"},
		{[]string{"lab", "frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"lab", "up", "extra"}, `unexpected argument "extra"`},
		{[]string{"lab", "up", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"lab", "up", "--name", "Bad_Name"}, `lab name "Bad_Name": use 1–20 characters from a-z, 0-9 and '-'`},
		{[]string{"lab", "up", "--name", strings.Repeat("a", 21)}, "1–20 characters"},
		{[]string{"lab", "up", "--topology", "/nonexistent/topo"}, "no such file or directory"},
		{[]string{"lab", "up", "--topology", bad}, bad + `: topology line 11: mtu "70000": an MTU must be a number 68–65535`},
		{[]string{"lab", "down", "x"}, `unexpected argument "x"`},
		{[]string{"lab", "down", "--name", "a b"}, "1–20 characters"},
		{[]string{"lab", "status", "x"}, `unexpected argument "x"`},
		{[]string{"lab", "exec"}, "give the node and the command"},
		{[]string{"lab", "exec", "client"}, "give the command to run in client after --"},
		{[]string{"lab", "exec", "client", "--"}, "give the command to run in client after --"},
		{[]string{"lab", "exec", "--name", "X", "client", "--", "true"}, `lab name "X"`},
		{[]string{"lab", "fault"}, "give add RULE, list, stats or del ID|all"},
		{[]string{"lab", "fault", "frob"}, `unknown action "frob"`},
		{[]string{"lab", "fault", "add"}, "give a rule"},
		{[]string{"lab", "fault", "add", ";"}, "give a rule"},
		{[]string{"lab", "fault", "add", "explode"}, "explode"},
		{[]string{"lab", "fault", "add", "drop", "pattern=zz"}, "pattern"},
		{[]string{"lab", "fault", "add", "delay 10ms; loss 2"}, "loss"},
		{[]string{"lab", "fault", "list", "x"}, `unexpected argument "x"`},
		{[]string{"lab", "fault", "del"}, "give one rule ID"},
		{[]string{"lab", "fault", "del", "x"}, `rule ID "x": give a positive number`},
		{[]string{"lab", "fault", "del", "0"}, `rule ID "0"`},
		{[]string{"lab", "fault-node", "x"}, `unexpected argument "x"`},
	} {
		code, _, errs := runCmd("", c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d stderr %q, want exit 2 and %q", c.args, code, errs, c.want)
		}
	}
}

// TestLabNeedsRoot checks the message without the privileges a lab needs.
func TestLabNeedsRoot(t *testing.T) {
	old := checkPrivileges
	checkPrivileges = func() error { return lab.ErrPrivileges }
	defer func() { checkPrivileges = old }()
	for _, args := range [][]string{
		{"lab", "up"},
		{"lab", "down"},
		{"lab", "status"},
		{"lab", "exec", "client", "--", "true"},
		{"lab", "fault", "list"},
		{"lab", "fault", "add", "delay", "10ms"},
		{"lab", "fault-node", "--name", "lab"},
	} {
		code, out, errs := runCmd("", args...)
		if code != exitUsage || !strings.Contains(errs, "needs root (or the capabilities CAP_NET_ADMIN and CAP_SYS_ADMIN)") || !strings.Contains(errs, "sudo") {
			t.Errorf("%q: exit %d stdout %q stderr %q, want exit 2 and the privilege message", args, code, out, errs)
		}
	}
}

func TestLabHelp(t *testing.T) {
	code, out, _ := runCmd("", "lab", "help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"echolot lab up [--name LAB] [--topology FILE]", "echolot lab down", "echolot lab status",
		"echolot lab exec [--name LAB] NODE -- CMD...", "echolot lab fault", "docs/lab.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "fault-node") {
		t.Errorf("help shows the hidden fault-node:\n%s", out)
	}
	if code, out, _ := runCmd("", "help"); code != exitOK || !strings.Contains(out, "echolot lab up|down") {
		t.Errorf("echolot help lacks lab: %s", out)
	}
}

// TestLabCLI runs the lab commands for real (root): up with the fault node
// as a daemon (this test binary), status, exec, fault, down.
func TestLabCLI(t *testing.T) {
	testenv.NeedNetns(t)
	testenv.NeedTool(t, "ping")
	name := labtest.NextName()
	t.Cleanup(func() { lab.Down(name) })
	// expect runs echolot lab args; wantCode -1 accepts any exit status.
	expect := func(wantCode int, want string, args ...string) string {
		t.Helper()
		code, out, errs := runCmd("", append([]string{"lab"}, args...)...)
		if (wantCode >= 0 && code != wantCode) || !strings.Contains(out+errs, want) {
			t.Fatalf("%q: exit %d, want %d and %q\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, want, out, errs)
		}
		return out
	}
	out := expect(exitOK, "is up", "up", "--name", name)
	for _, want := range []string{
		"NODE    KIND    INTERFACE  PEER          MTU   ADDRESSES",
		"client  host    to-r1      r1            1500  198.18.1.2/24 2001:db8:1::2/64",
		"                to-r2      r2 via fault  1500  198.18.2.1/24 2001:db8:2::1/64",
		"fault   fault   to-r1      r1            1500  (bridge: no addresses)",
		"server  host    to-r2      r2            1400  198.18.3.2/24 2001:db8:3::2/64",
		"echolot lab down --name " + name,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lab up output lacks %q:\n%s", want, out)
		}
	}
	expect(exitFailure, "already exists", "up", "--name", name)
	out = expect(exitOK, "ok; 5 namespace(s)", "status", "--name", name)
	if !regexp.MustCompile(`fault node: daemon pid \d+, answers, 0 rule\(s\)`).MatchString(out) {
		t.Errorf("status:\n%s", out)
	}
	// Other labs (or other tools' namespaces named echolot-*) may be broken.
	out = expect(-1, name, "status")
	if !regexp.MustCompile(`(?m)^` + name + `\s+ok\s+5/5\s+daemon pid \d+, answers`).MatchString(out) {
		t.Errorf("status:\n%s", out)
	}
	expect(exitOK, "1 received", "exec", "--name", name, "client", "--", "ping", "-c", "1", "-W", "2", "198.18.3.2")
	expect(exitOK, "2001:db8:3::2", "exec", "--name", name, "server", "ip", "-6", "addr")
	expect(1, "", "exec", "--name", name, "client", "--", "false")
	expect(exitUsage, `has no node "nosuch"; its nodes are client, r1, fault, r2, server`, "exec", "--name", name, "nosuch", "--", "true")
	expect(exitOK, "rule 1: drop pattern=a5a5 dir=to-server", "fault", "--name", name, "add", "drop", "pattern=a5a5", "dir=to-server")
	expect(exitOK, "rule 2: delay 1ms", "fault", "--name", name, "add", "delay 1ms;")
	expect(exitFailure, "0 received", "exec", "--name", name, "client", "--", "ping", "-c", "1", "-W", "1", "-p", "a5a5", "198.18.3.2")
	// A script started with exec sees the lab, its rules included (through
	// the daemon's control socket).
	luaFile := filepath.Join(t.TempDir(), "rules.lua")
	os.WriteFile(luaFile, []byte(`print(lab.name, lab.server.ip4, #lab.faults.list(), lab.faults.list()[1].matched)`), 0o644)
	expect(exitOK, name+"\t198.18.3.2\t2\t1", "exec", "--name", name, "client", "--", os.Args[0], "run", luaFile)
	out = expect(exitOK, "drop pattern=a5a5 dir=to-server", "fault", "--name", name, "list")
	if !regexp.MustCompile(`(?m)^1\s+1\s+1\s+drop pattern=a5a5 dir=to-server$`).MatchString(out) {
		t.Errorf("fault list:\n%s", out)
	}
	expect(exitOK, "to-server", "fault", "--name", name, "stats")
	expect(exitOK, "rule 1 removed", "fault", "--name", name, "del", "1")
	expect(exitFailure, "no rule has this id", "fault", "--name", name, "del", "1")
	expect(exitOK, "all rules removed", "fault", "--name", name, "del", "all")
	expect(exitOK, "no rules", "fault", "--name", name, "list")
	expect(exitOK, "removed", "down", "--name", name)
	expect(exitOK, "nothing to remove", "down", "--name", name)
	expect(exitFailure, "no lab named", "status", "--name", name)
	expect(exitFailure, "no lab named", "fault", "--name", name, "list")
	expect(exitFailure, "no lab named", "exec", "--name", name, "client", "--", "true")
}

// TestLabCLITopology brings up a lab from a topology file.
func TestLabCLITopology(t *testing.T) {
	testenv.NeedNetns(t)
	name := labtest.NextName()
	t.Cleanup(func() { lab.Down(name) })
	file := filepath.Join(t.TempDir(), "small.topo")
	text := strings.Replace(lab.DefaultTopologyText, "link r2 server mtu 1400", "link r2 server mtu 9000", 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd("", "lab", "up", "--name", name, "--topology", file)
	if code != exitOK || !strings.Contains(out, "to-server  server        9000") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCmd("", "lab", "exec", "--name", name, "server", "--", "ip", "link", "show", "to-r2")
	if code != exitOK || !strings.Contains(out, "mtu 9000") {
		t.Errorf("exit %d\n%s", code, out)
	}
	if code, _, errs := runCmd("", "lab", "down", "--name", name); code != exitOK {
		t.Errorf("down: %d %s", code, errs)
	}
}
