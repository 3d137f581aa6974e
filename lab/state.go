package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StateRoot is the directory holding one state directory per lab:
// /run/echolot/labs/NAME/ with topology.json, fault.pid, fault.sock and
// fault.log. /run is a tmpfs, so the state goes away on reboot, as the
// namespaces do.
const StateRoot = "/run/echolot/labs"

// Files in a lab's state directory.
const (
	topologyFile = "topology.json"
	faultPidFile = "fault.pid"
	faultSock    = "fault.sock"
	faultLog     = "fault.log"
)

// DefaultName is the lab name used when none is given.
const DefaultName = "lab"

// MaxNameLen is the longest lab name.
const MaxNameLen = 20

var labNameRE = regexp.MustCompile(`^[a-z0-9-]{1,20}$`)

func labNameOK(name string) bool { return labNameRE.MatchString(name) }

// CheckName returns an error unless name is a valid lab name: 1–20
// characters from a–z, 0–9 and '-'.
func CheckName(name string) error {
	if labNameOK(name) {
		return nil
	}
	return fmt.Errorf("lab name %q: use 1–%d characters from a-z, 0-9 and '-' (it becomes part of namespace names)", name, MaxNameLen)
}

// StateDir returns the state directory of the lab name.
func StateDir(name string) string { return filepath.Join(StateRoot, name) }

// FaultSocket returns the path of the fault node's control socket of the
// lab name (for fault.Dial).
func FaultSocket(name string) string { return filepath.Join(StateDir(name), faultSock) }

// FaultLog returns the path of the fault daemon's log of the lab name.
func FaultLog(name string) string { return filepath.Join(StateDir(name), faultLog) }

// writeTopology stores t as topology.json in dir.
func writeTopology(dir string, t Topology) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, topologyFile), append(b, '\n'), 0o644)
}

// readTopology reads topology.json of the lab name.
func readTopology(name string) (Topology, error) {
	b, err := os.ReadFile(filepath.Join(StateDir(name), topologyFile))
	if err != nil {
		return Topology{}, err
	}
	var t Topology
	if err := json.Unmarshal(b, &t); err != nil {
		return Topology{}, fmt.Errorf("%s: %w", filepath.Join(StateDir(name), topologyFile), err)
	}
	if err := t.Validate(); err != nil {
		return Topology{}, fmt.Errorf("%s: %w", filepath.Join(StateDir(name), topologyFile), err)
	}
	return t, nil
}

// readPid reads a pid file; 0 when absent or unreadable.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may contain ')' so search from the end.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st != 'Z' && st != 'X'
}

// cmdline returns the arguments of pid.
func cmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// FaultNodeArgs returns the arguments (after the executable) that start the
// fault daemon of lab name: lab fault-node --name NAME. Down kills a process
// only when its command line carries them.
func FaultNodeArgs(name string) []string {
	return []string{"lab", "fault-node", "--name", name}
}

// isFaultNode reports whether pid is a live echolot fault node of lab name,
// judged by its command line: "lab fault-node" followed by "--name NAME"
// or "--name=NAME".
func isFaultNode(pid int, name string) bool {
	if !processAlive(pid) {
		return false
	}
	args := cmdline(pid)
	for i := 1; i+1 < len(args); i++ {
		if args[i] != "lab" || args[i+1] != "fault-node" {
			continue
		}
		rest := args[i+2:]
		for j, a := range rest {
			if a == "--name="+name || a == "-name="+name {
				return true
			}
			if (a == "--name" || a == "-name") && j+1 < len(rest) && rest[j+1] == name {
				return true
			}
		}
	}
	return false
}

// killAndWait sends sig to pid and waits up to d for it to end. It reports
// whether the process is gone.
func killAndWait(pid int, sig syscall.Signal, d time.Duration) bool {
	if err := syscall.Kill(pid, sig); err != nil {
		return errors.Is(err, syscall.ESRCH)
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !processAlive(pid) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return !processAlive(pid)
}

// CheckPrivileges returns an error unless this process may build a lab: it
// needs CAP_NET_ADMIN (links, addresses, routes) and CAP_SYS_ADMIN
// (namespaces), which root has.
func CheckPrivileges() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return fmt.Errorf("reading capabilities: %q: %w", line, err)
		}
		const capNetAdmin, capSysAdmin = 12, 21
		if caps&(1<<capNetAdmin) != 0 && caps&(1<<capSysAdmin) != 0 {
			return nil
		}
		break
	}
	return ErrPrivileges
}

// ErrPrivileges is returned when the process lacks the privileges a lab
// needs.
var ErrPrivileges = errors.New("the lab needs root (or the capabilities CAP_NET_ADMIN and CAP_SYS_ADMIN) to make network namespaces; run it with sudo")
