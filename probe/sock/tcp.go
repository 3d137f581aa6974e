package sock

import (
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// ConnectState is the outcome of a TCP connect probe so far.
type ConnectState uint8

// Connect states.
const (
	// ConnectPending: no answer yet (the kernel retransmits the SYN).
	ConnectPending ConnectState = iota
	// ConnectOpen: the SYN was answered with a SYN-ACK: the port is open.
	ConnectOpen
	// ConnectRefused: the SYN was answered with a RST: the port is closed.
	ConnectRefused
	// ConnectFailed: the kernel gave up (ICMP unreachable, timeout).
	ConnectFailed
)

// String returns "pending", "open", "refused" or "failed".
func (s ConnectState) String() string {
	switch s {
	case ConnectOpen:
		return "open"
	case ConnectRefused:
		return "refused"
	case ConnectFailed:
		return "failed"
	}
	return "pending"
}

// DialTCP starts an unprivileged TCP connect probe: a non-blocking
// connect(2) to dst from a socket with IP_RECVERR / IPV6_RECVERR and the TTL
// / hop limit and TOS of o (o.Src and o.Port bind the source). It returns at
// once; WaitConnect tells how the attempt ends, and ICMP errors about the
// SYN (time exceeded from a router when the TTL runs out) are read from the
// error queue with RecvErrQueue as KindError entries whose Data is the TCP
// header of the SYN and whose Err.Offender names the router.
//
// The socket has SO_LINGER 0, so Close after an open port resets the
// connection (RST) instead of a FIN handshake and TIME_WAIT.
func DialTCP(dst netip.AddrPort, o *Options) (*Conn, error) {
	o = o.orDefault()
	f := IPv4
	if dst.Addr().Is6() && !dst.Addr().Is4In6() {
		f = IPv6
	}
	what := fmt.Sprintf("TCP connect probe to %v", dst)
	b, err := socket(f, unix.SOCK_STREAM, unix.IPPROTO_TCP, what, true)
	if err != nil {
		return nil, err
	}
	b.buffers(o)
	b.recvErr(f)
	b.ttlTos(f, o)
	b.pmtu(f, o.PMTU)
	b.do("SO_LINGER", func() error {
		return unix.SetsockoptLinger(b.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	})
	b.bind(f, o)
	b.do("connect", func() error {
		var sa unix.Sockaddr
		if f == IPv6 {
			sa = &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
		} else {
			sa = &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().Unmap().As4()}
		}
		if err := unix.Connect(b.fd, sa); err != nil && err != unix.EINPROGRESS {
			return err
		}
		return nil
	})
	c, err := b.finish(f, unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err != nil {
		return nil, err
	}
	c.recvErr = true
	c.pmtu.Store(uint32(o.PMTU))
	c.port = localPort(c.fd)
	return c, nil
}

// WaitConnect waits until the connection attempt of a DialTCP socket is
// decided, or the write deadline (SetWriteDeadline) passes, which returns
// ConnectPending with os.ErrDeadlineExceeded. errno is the socket error
// that decided it (ECONNREFUSED for a RST; EHOSTUNREACH, ENETUNREACH,
// ETIMEDOUT, ... for failures). An ICMP error the kernel does not consider
// final leaves the state pending with errno set: the kernel keeps
// retransmitting the SYN; read the details from the error queue.
func (c *Conn) WaitConnect() (state ConnectState, errno syscall.Errno, err error) {
	if c.typ != unix.SOCK_STREAM {
		return ConnectFailed, 0, fmt.Errorf("sock: %s: WaitConnect needs a DialTCP socket", c.what)
	}
	werr := c.rc.Write(func(fd uintptr) bool {
		state, errno = connectState(int(fd))
		return state != ConnectPending || errno != 0
	})
	if werr != nil {
		return ConnectPending, errno, c.ioErr(werr)
	}
	return state, errno, nil
}

// connectState reads SO_ERROR and the TCP state.
func connectState(fd int) (ConnectState, syscall.Errno) {
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return ConnectFailed, err.(syscall.Errno)
	}
	st := uint8(0)
	if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
		st = info.State
	}
	errno := syscall.Errno(soerr)
	switch {
	case errno == unix.ECONNREFUSED:
		return ConnectRefused, errno
	case st == tcpSynSent:
		return ConnectPending, errno
	case st == tcpClose || st == 0:
		if errno == 0 {
			return ConnectPending, 0
		}
		return ConnectFailed, errno
	}
	// ESTABLISHED, or already past it (CLOSE_WAIT when the server closed
	// at once): the handshake completed.
	return ConnectOpen, errno
}

// TCP states (include/net/tcp_states.h) as TCP_INFO reports them.
const (
	tcpSynSent = 2
	tcpClose   = 7
)
