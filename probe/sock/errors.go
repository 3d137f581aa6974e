package sock

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MTUError is a send this host refused because the datagram was bigger than
// the kernel allows towards its destination (a local EMSGSIZE). The packet
// never left: no router said anything. Compare a frag-needed or
// packet-too-big message received from the network, which is an answer.
type MTUError struct {
	// What names the socket, e.g. "raw IPv4 sender".
	What string
	// Dst is the destination and Size the length in bytes of what was
	// passed to Send: the whole datagram when HeaderIncluded, else the
	// message the kernel was to put behind its own IP header.
	Dst            netip.Addr
	Size           int  // bytes passed to Send
	HeaderIncluded bool // Size counts the IP header
	// MTU is the kernel's MTU towards Dst as IP_MTU / IPV6_MTU reports it
	// on a UDP socket connected there: the path MTU cached from an earlier
	// frag-needed or packet-too-big, else the outgoing interface's MTU.
	// 0 when it could not be read.
	MTU int
	// Probe is set when the socket was in PMTUProbe mode, which ignores the
	// cached path MTU: the limit was then the interface MTU (Linux refuses
	// header-included datagrams above it whatever their DF bit, and never
	// fragments don't-fragment ones).
	Probe bool
}

// Error explains the refusal and what to do about it.
func (e *MTUError) Error() string {
	var b strings.Builder
	what := "message (plus the kernel's IP header)"
	if e.HeaderIncluded {
		what = "datagram"
	}
	fmt.Fprintf(&b, "sock: %s: local EMSGSIZE: this host refused to send a %d-byte %s to %v (the packet never left, no router answered)", e.What, e.Size, what, e.Dst)
	if e.MTU > 0 {
		fmt.Fprintf(&b, "; the kernel's MTU towards %v is %d", e.Dst, e.MTU)
	}
	if e.Probe {
		b.WriteString("; the socket ignores cached path MTUs (IP_PMTUDISC_PROBE), so the outgoing interface MTU is the limit: send less, or clear DF and use a socket that may fragment")
	} else {
		b.WriteString(" (a path MTU cached from an earlier frag-needed / packet-too-big, or the interface MTU); use PMTUProbe (the default) to send past the cached value and let the network answer")
	}
	return b.String()
}

// Unwrap returns syscall.EMSGSIZE.
func (e *MTUError) Unwrap() error { return syscall.EMSGSIZE }

// Local reports true: the refusal happened on this host.
func (e *MTUError) Local() bool { return true }

// PrivilegeError says that the process may not open a kind of socket, what
// it lacks and how to grant it. errors.Is(err, os.ErrPermission) holds.
type PrivilegeError struct {
	// What names the socket, e.g. "raw IPv4 ICMP socket".
	What string
	// Err is the system error: EPERM for raw sockets, EACCES for ping
	// sockets.
	Err error
	// Need is the missing privilege: "CAP_NET_RAW" or
	// "net.ipv4.ping_group_range".
	Need string
	// Fix says how to grant it.
	Fix string
}

// Error names the socket, the missing privilege and the fix.
func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("sock: cannot open %s: %v: needs %s; %s", article(e.What), e.Err, e.Need, e.Fix)
}

// Unwrap returns the system error.
func (e *PrivilegeError) Unwrap() error { return e.Err }

// article prefixes a socket description with "a" or "an".
func article(what string) string {
	if strings.HasPrefix(what, "I") || strings.HasPrefix(what, "a") {
		return "an " + what
	}
	return "a " + what
}

// exeName is the program to name in setcap advice.
func exeName() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "/path/to/echolot"
}

// openErr turns a socket(2) failure into an error that says what to do.
func openErr(what string, err error, dgram bool) error {
	switch {
	case errors.Is(err, unix.EPERM) && !dgram:
		return &PrivilegeError{What: what, Err: err, Need: "CAP_NET_RAW",
			Fix: fmt.Sprintf("grant it with `sudo setcap cap_net_raw+ep %s` (or run as root), or use the unprivileged mode (ICMP datagram sockets: no hand-built IP headers, no raw TCP)", exeName())}
	case (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) && dgram:
		rng := "unknown"
		if b, rerr := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); rerr == nil {
			rng = strings.Join(strings.Fields(string(b)), " ")
		}
		note := ""
		if rng == "1 0" {
			note = ", the kernel default that allows nobody, not even root"
		}
		return &PrivilegeError{What: what, Err: err, Need: "net.ipv4.ping_group_range",
			Fix: fmt.Sprintf("group id %d of this process is outside net.ipv4.ping_group_range (now %q%s); allow it with `sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"` (set per network namespace; it also governs IPv6 ping sockets), or grant CAP_NET_RAW and use raw sockets", os.Getegid(), rng, note)}
	case errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT):
		return fmt.Errorf("sock: cannot open %s: %w (this kernel lacks the protocol or address family; for IPv6 check that it is not disabled with ipv6.disable=1)", article(what), err)
	case errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE):
		return fmt.Errorf("sock: cannot open %s: %w (raise the limit with `ulimit -n`)", article(what), err)
	}
	return fmt.Errorf("sock: cannot open %s: %w", article(what), err)
}

// MarkError is the failure to mark a socket (Options.Mark).
type MarkError struct {
	Mark uint32
	Err  error
}

func (e *MarkError) Error() string {
	if errors.Is(e.Err, unix.EPERM) {
		return fmt.Sprintf("cannot set mark %d: %v (it needs CAP_NET_ADMIN, or CAP_NET_RAW since Linux 5.17)", e.Mark, e.Err)
	}
	return fmt.Sprintf("cannot set mark %d: %v", e.Mark, e.Err)
}

func (e *MarkError) Unwrap() error { return e.Err }

// setoptErr wraps a setsockopt failure.
func setoptErr(what, opt string, err error) error {
	return fmt.Errorf("sock: %s: setsockopt %s: %w", what, opt, err)
}

// sendErr turns a sendmsg errno into the error Send returns.
func (c *Conn) sendErr(errno syscall.Errno, size int, dst netip.Addr) error {
	switch errno {
	case unix.EMSGSIZE:
		return &MTUError{What: c.what, Dst: dst, Size: size, HeaderIncluded: c.hdrincl, MTU: c.PathMTU(dst), Probe: c.pmtuProbe()}
	case unix.EPERM:
		return fmt.Errorf("sock: %s: sendmsg to %v: %w (a firewall rule of this host rejected the packet: check iptables/nftables OUTPUT)", c.what, dst, errno)
	case unix.EACCES:
		return fmt.Errorf("sock: %s: sendmsg to %v: %w (sending to a broadcast address needs SO_BROADCAST)", c.what, dst, errno)
	case unix.ENOBUFS:
		return fmt.Errorf("sock: %s: sendmsg to %v: %w (the device queue is full: slow down and retry)", c.what, dst, errno)
	case unix.ENETUNREACH, unix.EHOSTUNREACH:
		return fmt.Errorf("sock: %s: sendmsg to %v: %w (this host has no route there: a local error, no packet left)", c.what, dst, errno)
	}
	return fmt.Errorf("sock: %s: sendmsg to %v: %w", c.what, dst, errno)
}

// PathMTU returns the kernel's MTU towards dst (IP_MTU or IPV6_MTU on a UDP
// socket of the same network namespace connected to dst): the cached path
// MTU when one was learnt, else the outgoing interface's MTU. It returns 0
// when dst has no route or the Conn cannot send.
func (c *Conn) PathMTU(dst netip.Addr) int {
	c.mtuMu.Lock()
	defer c.mtuMu.Unlock()
	if c.mtuFd < 0 || !dst.IsValid() {
		return 0
	}
	var err error
	if c.family == IPv6 {
		err = unix.Connect(c.mtuFd, &unix.SockaddrInet6{Port: 9, Addr: dst.As16()})
	} else {
		err = unix.Connect(c.mtuFd, &unix.SockaddrInet4{Port: 9, Addr: dst.Unmap().As4()})
	}
	if err != nil {
		return 0
	}
	var v int
	if c.family == IPv6 {
		v, err = unix.GetsockoptInt(c.mtuFd, unix.IPPROTO_IPV6, unix.IPV6_MTU)
	} else {
		v, err = unix.GetsockoptInt(c.mtuFd, unix.IPPROTO_IP, unix.IP_MTU)
	}
	if err != nil {
		return 0
	}
	return v
}
