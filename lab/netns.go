package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// netnsDir is where ip(8) keeps the bind mounts of named namespaces.
const netnsDir = "/run/netns"

// nsPrefix starts the name of every namespace a lab makes.
const nsPrefix = "echolot-"

// nsName returns the namespace of node in lab: "echolot-LAB-NODE".
func nsName(lab, node string) string { return nsPrefix + lab + "-" + node }

// parseNS splits a namespace name "echolot-LAB-NODE" into its lab and node.
// Node names contain no '-', so the last '-' separates them.
func parseNS(s string) (lab, node string, ok bool) {
	rest, ok := strings.CutPrefix(s, nsPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 || i == len(rest)-1 {
		return "", "", false
	}
	lab, node = rest[:i], rest[i+1:]
	if !labNameOK(lab) || !nodeNameRE.MatchString(node) {
		return "", "", false
	}
	return lab, node, true
}

// labNamespaces returns the names of the existing namespaces of lab, found
// by name in /run/netns.
func labNamespaces(lab string) ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var out []string
	for _, e := range ents {
		if l, _, ok := parseNS(e.Name()); ok && l == lab {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// sbinDirs are searched for ip after PATH: an ordinary user's PATH on
// Debian lacks them.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// ipPath finds ip(8).
var ipPath = sync.OnceValues(func() (string, error) {
	if p, err := exec.LookPath("ip"); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		if p, err := exec.LookPath(filepath.Join(d, "ip")); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the ip command (iproute2) was not found in PATH, /usr/sbin or /sbin; install it: apt-get install iproute2")
})

// runIP runs ip with args, feeding it stdin when not empty (for -batch -).
// The error carries ip's output.
func runIP(ctx context.Context, stdin string, args ...string) error {
	ip, err := ipPath()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, ip, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if stdin != "" {
			msg += "\n  commands given to ip -batch:\n    " + strings.ReplaceAll(strings.TrimSpace(stdin), "\n", "\n    ")
		}
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}

// nsInode returns the inode of the namespace file at path (a bind mount in
// /run/netns or a /proc/.../ns/net link).
func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// inNetns runs fn on a fresh OS thread switched into the network namespace
// at nsPath. The thread is locked for the duration, returned to its
// original namespace afterwards and only then unlocked; if it cannot be
// returned it stays locked and the Go runtime discards it when the
// goroutine ends. A panic in fn is re-raised in the caller.
func inNetns(nsPath string, fn func() error) error {
	target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w (is the lab up?)", nsPath, err)
	}
	defer unix.Close(target)
	var want unix.Stat_t
	if err := unix.Fstat(target, &want); err != nil {
		return fmt.Errorf("namespace %s: %w", nsPath, err)
	}

	type result struct {
		err      error
		panicked bool
		pv       any
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var res result
		var orig = -1
		finished := false
		defer func() {
			if !finished {
				if r := recover(); r != nil {
					res = result{panicked: true, pv: r}
				} else if res.err == nil {
					res.err = errors.New("the function run in the namespace called runtime.Goexit (t.FailNow?); return an error instead")
				}
			}
			if orig >= 0 {
				err := unix.Setns(orig, unix.CLONE_NEWNET)
				unix.Close(orig)
				if err != nil {
					// Stay locked: the runtime ends the thread with the goroutine.
					res.err = errors.Join(res.err, fmt.Errorf("returning the thread from %s: %w (thread discarded)", nsPath, err))
					ch <- res
					return
				}
			}
			runtime.UnlockOSThread()
			ch <- res
		}()
		o, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			res.err = fmt.Errorf("opening this thread's namespace: %w", err)
			finished = true
			return
		}
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			unix.Close(o)
			res.err = fmt.Errorf("entering namespace %s: %w (needs CAP_SYS_ADMIN)", nsPath, err)
			finished = true
			return
		}
		orig = o
		if ino, err := nsInode("/proc/thread-self/ns/net"); err != nil || ino != want.Ino {
			res.err = fmt.Errorf("entering namespace %s: the thread is not in it after setns (inode %d, want %d, %v)", nsPath, ino, want.Ino, err)
			finished = true
			return
		}
		res.err = fn()
		finished = true
	}()
	res := <-ch
	if res.panicked {
		panic(res.pv)
	}
	return res.err
}

// writeSysctl writes value to the sysctl key (dotted, as sysctl(8) names
// it). It must run on a thread inside the node's namespace: /proc/sys/net
// shows the namespace of the thread that opens it.
func writeSysctl(key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", key, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(value+"\n")); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// readSysctl reads the sysctl key in the calling thread's namespace.
func readSysctl(key string) (string, error) {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", key, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// ethtoolValue is struct ethtool_value from linux/ethtool.h.
type ethtoolValue struct {
	cmd, data uint32
}

// ifreqPtr is struct ifreq with ifr_data set (40 bytes on 64-bit).
type ifreqPtr struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtool issues one SIOCETHTOOL command with an ethtool_value on the
// interface ifname, through socket fd (which must live in the interface's
// namespace), and returns the value the kernel left in data.
func ethtool(fd int, ifname string, cmd, data uint32) (uint32, error) {
	v := &ethtoolValue{cmd: cmd, data: data}
	var ifr ifreqPtr
	if len(ifname) >= len(ifr.name) {
		return 0, fmt.Errorf("interface name %q is longer than %d bytes", ifname, len(ifr.name)-1)
	}
	copy(ifr.name[:], ifname)
	ifr.data = unsafe.Pointer(v)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(v)
	if errno != 0 {
		return 0, errno
	}
	return v.data, nil
}

// offloads lists the offloads the lab turns off on every veth, as
// (set command, get command, name).
var offloads = []struct {
	set, get uint32
	name     string
}{
	{unix.ETHTOOL_STXCSUM, unix.ETHTOOL_GTXCSUM, "tx-checksumming"},
	{unix.ETHTOOL_SRXCSUM, unix.ETHTOOL_GRXCSUM, "rx-checksumming"},
	{unix.ETHTOOL_STSO, unix.ETHTOOL_GTSO, "tcp-segmentation-offload"},
	{unix.ETHTOOL_SGSO, unix.ETHTOOL_GGSO, "generic-segmentation-offload"},
	{unix.ETHTOOL_SGRO, unix.ETHTOOL_GGRO, "generic-receive-offload"},
}

// disableOffloads turns off checksum offload, TSO, GSO and GRO on the
// interfaces, so that AF_PACKET in the fault node sees complete, correctly
// checksummed, MTU-sized frames. It must run inside their namespace.
func disableOffloads(ifnames []string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for SIOCETHTOOL: %w", err)
	}
	defer unix.Close(fd)
	for _, ifn := range ifnames {
		for _, o := range offloads {
			if _, err := ethtool(fd, ifn, o.set, 0); err != nil {
				return fmt.Errorf("turning off %s on %s (SIOCETHTOOL): %w", o.name, ifn, err)
			}
		}
	}
	return nil
}

// offloadState returns, for each offload the lab turns off, whether it is
// on for ifname. It must run inside the interface's namespace.
func offloadState(ifname string) (map[string]bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	m := map[string]bool{}
	for _, o := range offloads {
		v, err := ethtool(fd, ifname, o.get, 0)
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", o.name, ifname, err)
		}
		m[o.name] = v != 0
	}
	return m, nil
}

// procsInNamespaces returns the processes (other than this one) whose
// network namespace is one of the inodes given.
func procsInNamespaces(inodes map[uint64]string) []int {
	if len(inodes) == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		ino, err := nsInode("/proc/" + e.Name() + "/ns/net")
		if err != nil {
			continue
		}
		if _, ok := inodes[ino]; ok {
			pids = append(pids, pid)
		}
	}
	return pids
}
