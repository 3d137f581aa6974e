package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// fakeTB records Skipf and Fatalf instead of ending the test. It embeds a
// nil testing.TB, so any other method the helpers might call panics and
// shows up as a test failure.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = true
	f.msg = fmt.Sprintf(format, args...)
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
}

func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{
		{"", false},
		{"true", true},
		{"TRUE", true},
		{"1", true},
		{" true\n", true},
		{"false", false},
		{"0", false},
		{"yes", false},
		{"garbage", false},
	} {
		got := inCI(func(k string) string {
			if k != CIVar {
				t.Errorf("looked up %q, want %q", k, CIVar)
			}
			return tc.val
		})
		if got != tc.want {
			t.Errorf("inCI with CI=%q = %v, want %v", tc.val, got, tc.want)
		}
	}
}

func TestInCIFromEnvironment(t *testing.T) {
	t.Setenv(CIVar, "true")
	if !InCI() {
		t.Error("InCI() = false with CI=true")
	}
	t.Setenv(CIVar, "")
	if InCI() {
		t.Error("InCI() = true with CI empty")
	}
	os.Unsetenv(CIVar) // t.Setenv restores the original value afterwards
	if InCI() {
		t.Error("InCI() = true with CI unset")
	}
}

func TestNeedDecision(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ci, ok      bool
		wantSkipped bool
		wantFailed  bool
	}{
		{"met outside CI", false, true, false, false},
		{"met in CI", true, true, false, false},
		{"missing outside CI skips", false, false, true, false},
		{"missing in CI fails", true, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{}
			got := need(f, tc.ci, "a widget", tc.ok, "apt-get install widget")
			if got != tc.ok {
				t.Errorf("need returned %v, want %v", got, tc.ok)
			}
			if f.skipped != tc.wantSkipped || f.failed != tc.wantFailed {
				t.Fatalf("skipped=%v failed=%v, want skipped=%v failed=%v (msg %q)",
					f.skipped, f.failed, tc.wantSkipped, tc.wantFailed, f.msg)
			}
			if tc.ok {
				if f.msg != "" {
					t.Errorf("unexpected message %q", f.msg)
				}
				return
			}
			for _, want := range []string{"a widget", "apt-get install widget", "CI=true"} {
				if !strings.Contains(f.msg, want) {
					t.Errorf("message %q lacks %q", f.msg, want)
				}
			}
		})
	}
}

// TestNeedReadsEnvironment checks the exported Need against the real
// environment variable, both ways.
func TestNeedReadsEnvironment(t *testing.T) {
	t.Setenv(CIVar, "true")
	f := &fakeTB{}
	Need(f, "a widget", false, "")
	if !f.failed || f.skipped {
		t.Errorf("CI=true: failed=%v skipped=%v, want a failure", f.failed, f.skipped)
	}

	os.Unsetenv(CIVar)
	f = &fakeTB{}
	Need(f, "a widget", false, "")
	if f.failed || !f.skipped {
		t.Errorf("CI unset: failed=%v skipped=%v, want a skip", f.failed, f.skipped)
	}
	if strings.Contains(f.msg, "to fix") {
		t.Errorf("empty howToFix still printed a fix: %q", f.msg)
	}
}

func TestNeedToolFound(t *testing.T) {
	t.Setenv(CIVar, "true")
	f := &fakeTB{}
	p := NeedTool(f, "sh")
	if f.failed || f.skipped {
		t.Fatalf("NeedTool(sh) reported: %s", f.msg)
	}
	if !strings.HasPrefix(p, "/") {
		t.Errorf("NeedTool(sh) = %q, want an absolute path", p)
	}
}

func TestNeedToolMissing(t *testing.T) {
	const name = "echolot-no-such-tool"
	for _, ci := range []string{"true", ""} {
		t.Setenv(CIVar, ci)
		f := &fakeTB{}
		if p := NeedTool(f, name); p != "" {
			t.Errorf("CI=%q: NeedTool(%s) = %q, want empty", ci, name, p)
		}
		if ci == "true" && !f.failed || ci == "" && !f.skipped {
			t.Errorf("CI=%q: failed=%v skipped=%v", ci, f.failed, f.skipped)
		}
		if !strings.Contains(f.msg, name) {
			t.Errorf("message %q does not name the tool", f.msg)
		}
	}
}

func TestInstallHint(t *testing.T) {
	for name, want := range map[string]string{
		"tshark":   "apt-get install tshark",
		"capinfos": "apt-get install wireshark-common",
		"ip":       "apt-get install iproute2",
		"ping":     "apt-get install iputils-ping",
		"iptables": "apt-get install iptables",
		"tcpdump":  "apt-get install tcpdump",
	} {
		if got := InstallHint(name); got != want {
			t.Errorf("InstallHint(%q) = %q, want %q", name, got, want)
		}
	}
	if got := InstallHint("frobnicate"); !strings.Contains(got, "frobnicate") {
		t.Errorf("InstallHint(frobnicate) = %q, does not name the command", got)
	}
}

func TestNeedRootMatchesUID(t *testing.T) {
	t.Setenv(CIVar, "")
	f := &fakeTB{}
	NeedRoot(f)
	if root := os.Geteuid() == 0; root == f.skipped || f.failed {
		t.Errorf("euid %d: skipped=%v failed=%v (%s)", os.Geteuid(), f.skipped, f.failed, f.msg)
	}
}

func TestNetnsPrefix(t *testing.T) {
	want := fmt.Sprintf("echolot-t%d-", os.Getpid())
	if got := NetnsPrefix(); got != want {
		t.Errorf("NetnsPrefix() = %q, want %q", got, want)
	}
}

// TestNeedNetns runs the real check. It skips without root (or fails under
// CI), and when it passes it verifies that the throw-away namespace is gone.
func TestNeedNetns(t *testing.T) {
	NeedNetns(t)
	ip := NeedTool(t, "ip")
	out, err := exec.Command(ip, "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), NetnsPrefix()) {
		t.Errorf("namespace with prefix %q left behind:\n%s", NetnsPrefix(), out)
	}
	// A second call uses the cached probe and must also pass.
	NeedNetns(t)
}
