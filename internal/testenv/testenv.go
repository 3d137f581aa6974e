// Package testenv lets tests state what they need from the machine: root,
// network namespaces, or a tool such as tshark.
//
// The project's rule (design.md, "Test conventions") is that a test whose need
// is not met skips, with a message saying what is missing and how to get it,
// except when the environment has CI=true: CI runs everything, so there the
// same test fails instead of passing as skipped.
//
// With a real *testing.T or *testing.B the helpers return only when the need
// is met, because Skipf and Fatalf end the test.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CIVar is the name of the environment variable that marks a CI run. When it
// holds a true value as understood by strconv.ParseBool ("true", "1", "t",
// ...), unmet needs fail the test instead of skipping it.
const CIVar = "CI"

// InCI reports whether the tests run under CI, that is whether the
// environment variable CI holds a true value such as "true" or "1".
func InCI() bool {
	return inCI(os.Getenv)
}

// inCI is InCI with the environment lookup passed in.
func inCI(getenv func(string) string) bool {
	ok, err := strconv.ParseBool(strings.TrimSpace(getenv(CIVar)))
	return err == nil && ok
}

// Need is the primitive behind the other helpers. If ok is true it does
// nothing. Otherwise it reports that the test needs what (for example "root"
// or "tshark in PATH"), followed by howToFix (for example
// "apt-get install tshark"): with t.Fatalf when InCI reports true, with
// t.Skipf everywhere else.
func Need(t testing.TB, what string, ok bool, howToFix string) {
	t.Helper()
	need(t, InCI(), what, ok, howToFix)
}

// need is Need with the CI decision passed in. It returns ok, so that
// callers can stop early when t is a fake whose Skipf and Fatalf return.
func need(t testing.TB, ci bool, what string, ok bool, howToFix string) bool {
	t.Helper()
	if ok {
		return true
	}
	fix := ""
	if howToFix != "" {
		fix = "; to fix: " + howToFix
	}
	if ci {
		t.Fatalf("test needs %s, which is missing%s (%s=true: missing needs fail instead of skipping)", what, fix, CIVar)
	} else {
		t.Skipf("skipping: test needs %s, which is missing%s (with %s=true this would fail)", what, fix, CIVar)
	}
	return false
}

// NeedRoot skips or fails (see Need) unless the test runs with effective
// user id 0.
func NeedRoot(t testing.TB) {
	t.Helper()
	needRoot(t)
}

func needRoot(t testing.TB) bool {
	t.Helper()
	return need(t, InCI(), "root (effective uid 0; this is uid "+strconv.Itoa(os.Geteuid())+")",
		os.Geteuid() == 0, `run the tests as root, e.g. sudo env "PATH=$PATH" go test ./...`)
}

// debianPackage names the Debian package that provides a command, for the
// commands the tests use.
var debianPackage = map[string]string{
	"tshark":     "tshark",
	"capinfos":   "wireshark-common",
	"editcap":    "wireshark-common",
	"mergecap":   "wireshark-common",
	"dumpcap":    "wireshark-common",
	"ip":         "iproute2",
	"tc":         "iproute2",
	"ss":         "iproute2",
	"bridge":     "iproute2",
	"iptables":   "iptables",
	"ip6tables":  "iptables",
	"nft":        "nftables",
	"ping":       "iputils-ping",
	"tcpdump":    "tcpdump",
	"shellcheck": "shellcheck",
}

// InstallHint returns how to install the command name on Debian, for
// example "apt-get install tshark" for "tshark".
func InstallHint(name string) string {
	if pkg, ok := debianPackage[name]; ok {
		return "apt-get install " + pkg
	}
	return "install the Debian package that provides " + name + " (apt-file search bin/" + name + ")"
}

// sbinDirs are searched after PATH: on Debian an ordinary user's PATH lacks
// them, yet ip, iptables and friends live there and work for root.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// lookTool finds name in PATH, then in sbinDirs.
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		if abs, aerr := filepath.Abs(p); aerr == nil {
			p = abs
		}
		return p, nil
	}
	if strings.ContainsRune(name, filepath.Separator) {
		return "", err
	}
	for _, dir := range sbinDirs {
		if p, serr := exec.LookPath(filepath.Join(dir, name)); serr == nil {
			return p, nil
		}
	}
	return "", err
}

// NeedTool skips or fails (see Need) unless the command name can be found
// in PATH (or in /usr/sbin and /sbin, which an ordinary user's PATH may
// lack). It returns the command's absolute path. The message names the
// Debian package that provides the command (see InstallHint). NeedTool
// returns "" only when t is a fake whose Skipf and Fatalf return.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, _ := lookTool(name)
	if !need(t, InCI(), name+" in PATH", p != "", InstallHint(name)) {
		return ""
	}
	return p
}

// NetnsPrefix returns the prefix that every network namespace made by this
// test process should carry: "echolot-t<pid>-". It keeps names unique per
// run and lets a leftover be traced to the run that made it.
func NetnsPrefix() string {
	return fmt.Sprintf("echolot-t%d-", os.Getpid())
}

// netnsSeq numbers the throw-away namespaces made by probeNetns.
var netnsSeq atomic.Uint64

// netnsProbes caches, per path of ip, whether a throw-away namespace could
// be made and removed. A probe is done once per process.
var (
	netnsMu     sync.Mutex
	netnsProbes = map[string]error{}
)

// probeNetns adds and deletes a throw-away network namespace with ip.
func probeNetns(ip string) error {
	netnsMu.Lock()
	defer netnsMu.Unlock()
	if err, done := netnsProbes[ip]; done {
		return err
	}
	name := fmt.Sprintf("%sprobe%d", NetnsPrefix(), netnsSeq.Add(1))
	err := runIP(ip, "netns", "add", name)
	if err == nil {
		err = runIP(ip, "netns", "del", name)
	}
	netnsProbes[ip] = err
	return err
}

// runIP runs ip with args and a time limit, and returns an error carrying
// its output when it fails.
func runIP(ip string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, ip, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", ip, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// NeedNetns skips or fails (see Need) unless the test can make network
// namespaces: it needs root, the ip command (Debian package iproute2), and a
// throw-away namespace named with NetnsPrefix that ip netns add and ip netns
// del both accept. The check is made once per test process.
func NeedNetns(t testing.TB) {
	t.Helper()
	if !needRoot(t) {
		return
	}
	ip := NeedTool(t, "ip")
	if ip == "" {
		return
	}
	err := probeNetns(ip)
	what := "network namespaces"
	if err != nil {
		what += " (" + err.Error() + ")"
	}
	need(t, InCI(), what, err == nil,
		"run as root on a kernel with CONFIG_NET_NS, where /run/netns can be mounted (a container needs CAP_SYS_ADMIN)")
}
