package sock

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Family is an address family: IPv4 or IPv6.
type Family uint8

// Families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6".
func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

func (f Family) af() int {
	if f == IPv6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// TxMode says how send times are taken on a Conn.
type TxMode uint8

// Send-timestamp modes.
const (
	// TxUser: only Sent.Time, read with time.Now() just before sendmsg.
	TxUser TxMode = iota
	// TxKernel: the kernel also reports, on the error queue, when it handed
	// each packet to the device driver (SO_TIMESTAMPING with
	// SOF_TIMESTAMPING_TX_SOFTWARE); Sent.ID names the send in the
	// KindTxTimestamp entry. Sent.Time is still taken as a fallback for
	// packets whose timestamp never comes (a driver that does not stamp).
	TxKernel
)

// String returns "user" or "kernel".
func (m TxMode) String() string {
	if m == TxKernel {
		return "kernel"
	}
	return "user"
}

// Conn is one Linux socket opened by this package. It is non-blocking and
// registered with the Go runtime's poller through os.NewFile, so reads and
// writes wait without holding a thread, obey SetReadDeadline and
// SetWriteDeadline, and are unblocked by Close from another goroutine.
//
// One goroutine may receive (Recv, RecvErrQueue) while another sends (Send)
// and a third calls setters; receives are serialised among themselves, as
// are sends. Neither path allocates in the steady state.
type Conn struct {
	f       *os.File
	rc      syscall.RawConn
	fd      int
	family  Family
	typ     int
	proto   int
	what    string
	hdrincl bool
	recvErr bool
	tx      TxMode
	pmtu    atomic.Uint32 // PMTUMode
	port    uint16
	closed  atomic.Bool
	// txOut counts sends whose kernel timestamp Recv has not read yet;
	// while it is non-zero Recv looks at the error queue first, so that
	// timestamps do not pile up there (they count against the receive
	// buffer and would end up starving the receive queue).
	txOut atomic.Int64
	// rdeadline mirrors the read deadline (UnixNano, 0 for none) for
	// readUnpolled.
	rdeadline atomic.Int64

	rmu    sync.Mutex
	r      readState
	readFn func(uintptr) bool

	wmu     sync.Mutex
	w       writeState
	writeFn func(uintptr) bool

	mtuMu sync.Mutex
	mtuFd int // UDP socket of the same family and netns for IP_MTU / IPV6_MTU, -1 if none
}

type readState struct {
	hdr       unix.Msghdr
	iov       unix.Iovec
	name      unix.RawSockaddrAny
	oob       []byte
	buf       []byte
	errqOnly  bool // RecvErrQueue
	errq      bool // Recv also reads the error queue
	wait      bool
	hint      bool // the error queue probably holds an entry
	fromErrq  bool
	n         int
	errno     syscall.Errno
	softCount int
}

type writeState struct {
	hdr    unix.Msghdr
	iov    unix.Iovec
	name   [unix.SizeofSockaddrInet6]byte
	nameN  int
	oob    []byte
	buf    []byte
	t0     time.Time
	errno  syscall.Errno
	soft   syscall.Errno
	txNext uint32
}

const oobSize = 512

func newConn(fd int, family Family, typ, proto int, what string) (*Conn, error) {
	f := os.NewFile(uintptr(fd), what)
	if f == nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock: %s: os.NewFile rejected fd %d", what, fd)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sock: %s: %w", what, err)
	}
	c := &Conn{f: f, rc: rc, fd: fd, family: family, typ: typ, proto: proto, what: what, mtuFd: -1}
	c.r.oob = make([]byte, oobSize)
	c.w.oob = make([]byte, 0, sendOOBSize)
	c.readFn = c.doRead
	c.writeFn = c.doWrite
	return c, nil
}

// Family returns IPv4 or IPv6.
func (c *Conn) Family() Family { return c.family }

// Protocol returns the protocol number the socket was opened with (255
// for header-included senders).
func (c *Conn) Protocol() int { return c.proto }

// HeaderIncluded reports whether Send expects whole IP datagrams, header
// first (IPPROTO_RAW sockets), rather than the transport message only.
func (c *Conn) HeaderIncluded() bool { return c.hdrincl }

// TxTimestamps says which send times the Conn provides.
func (c *Conn) TxTimestamps() TxMode { return c.tx }

// LocalPort returns the bound port of a datagram socket: the ICMP echo
// identifier the kernel writes into every echo sent on a ping socket, or the
// source port of a UDP or TCP probe socket. It is 0 for raw sockets.
func (c *Conn) LocalPort() uint16 { return c.port }

// String describes the socket, e.g. "raw IPv4 ICMP socket".
func (c *Conn) String() string { return c.what }

// SyscallConn gives access to the file descriptor for options this package
// does not wrap.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// SetReadDeadline sets when a blocked Recv or RecvErrQueue returns
// os.ErrDeadlineExceeded; the zero Time means never.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.rdeadline.Store(0)
	} else {
		c.rdeadline.Store(t.UnixNano())
	}
	return c.f.SetReadDeadline(t)
}

// SetWriteDeadline sets when a Send blocked on a full socket buffer (or
// WaitConnect) gives up with os.ErrDeadlineExceeded.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// Close closes the socket. A Recv or Send blocked in another goroutine
// returns os.ErrClosed.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return os.ErrClosed
	}
	c.mtuMu.Lock()
	if c.mtuFd >= 0 {
		unix.Close(c.mtuFd)
		c.mtuFd = -1
	}
	c.mtuMu.Unlock()
	return c.f.Close()
}

// control runs fn with the file descriptor (for setsockopt and friends).
func (c *Conn) control(fn func(fd int) error) error {
	var err error
	cerr := c.rc.Control(func(fd uintptr) { err = fn(int(fd)) })
	if cerr != nil {
		if c.closed.Load() {
			return os.ErrClosed
		}
		return cerr
	}
	return err
}

// ioErr maps an error of the runtime poller to what this package returns.
func (c *Conn) ioErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	if c.closed.Load() {
		return os.ErrClosed
	}
	return err
}

// ---- receive ----

// Recv reads the next message into buf and m, waiting until one arrives,
// the read deadline passes or the Conn is closed. It returns an error only
// for those last two (os.ErrDeadlineExceeded, os.ErrClosed) and for
// failures of the socket itself; everything the network says is a Msg.
//
// On sockets with IP_RECVERR / IPV6_RECVERR or send timestamps it also
// returns error-queue entries (KindError, KindTxTimestamp), and it turns the
// once-only socket error Linux raises from an ordinary read after queuing an
// ICMP error into a KindSoftError message instead of an error; the next
// Recv then returns the queued entry.
//
// The data is read into buf (a datagram longer than buf sets m.Truncated);
// m.Data aliases it. Reusing buf and m, Recv allocates nothing.
func (c *Conn) Recv(buf []byte, m *Msg) error {
	return c.recv(buf, m, false, true)
}

// RecvErrQueue reads only the error queue (MSG_ERRQUEUE): ICMP errors
// (KindError) and send timestamps (KindTxTimestamp). It waits like Recv.
// On a header-included sender, whose receive queue stays empty, this is
// how send timestamps are collected.
func (c *Conn) RecvErrQueue(buf []byte, m *Msg) error {
	return c.recv(buf, m, true, true)
}

// PollErrQueue is RecvErrQueue without waiting: ok is false when the error
// queue is empty.
func (c *Conn) PollErrQueue(buf []byte, m *Msg) (ok bool, err error) {
	if err := c.recv(buf, m, true, false); err != nil {
		if errors.Is(err, syscall.EAGAIN) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (c *Conn) recv(buf []byte, m *Msg, errqOnly, wait bool) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	r := &c.r
	r.buf = buf
	r.errqOnly = errqOnly
	r.errq = c.recvErr || c.tx == TxKernel
	r.wait = wait
	err := c.rc.Read(c.readFn)
	if err != nil && err.Error() == "not pollable" && !c.closed.Load() {
		err = c.readUnpolled()
	}
	r.buf = nil
	r.iov.Base = nil
	if err != nil {
		return c.ioErr(err)
	}
	switch {
	case r.errno == syscall.EAGAIN:
		return syscall.EAGAIN
	case r.errno != 0 && !r.fromErrq && isSoft(r.errno):
		r.softCount++
		if r.softCount > maxSoftInARow {
			return fmt.Errorf("sock: %s: recvmsg keeps failing with %w (%d times in a row, no packet between): the socket is broken", c.what, r.errno, r.softCount)
		}
		r.hint = true
		m.reset()
		m.Kind = KindSoftError
		m.SoftErr = r.errno
		return nil
	case r.errno != 0:
		return fmt.Errorf("sock: %s: recvmsg: %w", c.what, r.errno)
	}
	r.softCount = 0
	m.reset()
	n := r.n
	m.Len = n
	if n > len(buf) {
		n = len(buf)
		m.Truncated = true
	}
	m.Data = buf[:n]
	if r.hdr.Flags&unix.MSG_TRUNC != 0 {
		m.Truncated = true
	}
	m.CtrlTruncated = r.hdr.Flags&unix.MSG_CTRUNC != 0
	if r.hdr.Namelen > 0 {
		nb := unsafe.Slice((*byte)(unsafe.Pointer(&r.name)), min(int(r.hdr.Namelen), unix.SizeofSockaddrAny))
		m.From, m.Port, m.Scope, _ = parseSockaddr(nb)
	}
	ee := m.parseControl(r.oob[:r.hdr.Controllen])
	switch {
	case r.fromErrq && ee && m.Err.Origin == OriginTimestamping:
		m.Kind = KindTxTimestamp
		m.TxID = m.Err.Data
		if c.txOut.Add(-1) < 0 {
			c.txOut.Store(0)
		}
	case r.fromErrq:
		m.Kind = KindError
	default:
		m.Kind = KindPacket
	}
	return nil
}

// readUnpolled works around the Go runtime's poller, which marks a
// descriptor whose latest epoll event was EPOLLERR alone (an error-queue
// entry on a socket that is neither readable nor writable: a TCP socket in
// SYN_SENT, a sender whose buffer is full) and then fails every read with
// "not pollable" until another event comes. It reads directly, waiting with
// poll(2) in short slices, and returns to the poller as soon as it works
// again.
func (c *Conn) readUnpolled() error {
	for {
		done := false
		if err := c.rc.Control(func(fd uintptr) { done = c.readFn(fd) }); err != nil {
			return err
		}
		if done {
			return nil
		}
		wait := 20 * time.Millisecond
		if d := c.rdeadline.Load(); d != 0 {
			left := time.Until(time.Unix(0, d))
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			wait = min(wait, left)
		}
		if c.closed.Load() {
			return os.ErrClosed
		}
		if err := c.rc.Control(func(fd uintptr) {
			pfd := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			unix.Poll(pfd[:], int(wait/time.Millisecond)+1)
		}); err != nil {
			return err
		}
		err := c.rc.Read(c.readFn)
		if err == nil || err.Error() != "not pollable" {
			return err
		}
	}
}

// maxSoftInARow bounds how many soft errors Recv reports without a message
// in between before it calls the socket broken (a genuine, persistent
// failure would otherwise spin the caller's loop).
const maxSoftInARow = 64

// isSoft reports whether errno is one Linux stores as a pending socket
// error (sk_err) when an ICMP error arrives (icmp_err_convert,
// icmpv6_err_convert) or a connection attempt fails.
func isSoft(errno syscall.Errno) bool {
	switch errno {
	case unix.ENETUNREACH, unix.EHOSTUNREACH, unix.ENOPROTOOPT, unix.ECONNREFUSED,
		unix.EMSGSIZE, unix.EOPNOTSUPP, unix.EHOSTDOWN, unix.ENONET, unix.EACCES,
		unix.EPROTO, unix.ETIMEDOUT, unix.ECONNRESET:
		return true
	}
	return false
}

// IsSoftErrno reports whether errno is one of the errors Linux reports once
// from an ordinary read or send after it queued an ICMP error on the socket
// (see KindSoftError): not a failure of the socket.
func IsSoftErrno(errno syscall.Errno) bool { return isSoft(errno) }

// doRead runs on the poller's behalf; it returns false to wait.
func (c *Conn) doRead(fd uintptr) bool {
	r := &c.r
	r.fromErrq = false
	if r.errqOnly {
		r.errno = c.recvmsg(fd, unix.MSG_ERRQUEUE)
		r.fromErrq = true
		return r.errno != syscall.EAGAIN || !r.wait
	}
	if r.errq && (r.hint || c.txOut.Load() > 0) {
		if e := c.recvmsg(fd, unix.MSG_ERRQUEUE); e != syscall.EAGAIN {
			r.errno = e
			r.fromErrq = true
			return true
		}
		r.hint = false
		c.txOut.Store(0) // whatever is missing is not coming (yet): stop looking first
	}
	r.errno = c.recvmsg(fd, unix.MSG_TRUNC)
	if r.errno == syscall.EAGAIN && r.errq {
		// The poller is edge-triggered: an error-queue entry that came in
		// while we were busy must be picked up before waiting again.
		if e := c.recvmsg(fd, unix.MSG_ERRQUEUE); e != syscall.EAGAIN {
			r.errno = e
			r.fromErrq = true
			return true
		}
	}
	return r.errno != syscall.EAGAIN || !r.wait
}

// recvmsg is one recvmsg(2) into r.buf, r.name and r.oob.
//
// It and doWrite's sendmsg(2) use unix.RawSyscall, which does not tell the
// Go scheduler (no entersyscall / exitsyscall): every descriptor of this
// package is non-blocking (SOCK_NONBLOCK, waiting is the runtime poller's
// job), so neither call can block. With Syscall a flood pays on every
// probe: between a probe and its answer all the Ps are idle, the runtime's
// monitor thread (sysmon) goes to sleep, and the next entersyscall wakes
// it again (a futex wake-up, then sysmon polling every 20 µs on a CPU the
// packet path needs). Measured on the lab path (probe/bench_test.go):
// sysmon's wake-ups fell from about 0.3 per probe to almost none and the
// flood's matched replies per second rose.
func (c *Conn) recvmsg(fd uintptr, flags int) syscall.Errno {
	r := &c.r
	r.hdr = unix.Msghdr{}
	r.hdr.Name = (*byte)(unsafe.Pointer(&r.name))
	r.hdr.Namelen = unix.SizeofSockaddrAny
	if len(r.buf) > 0 {
		r.iov.Base = &r.buf[0]
	} else {
		r.iov.Base = nil
	}
	r.iov.SetLen(len(r.buf))
	r.hdr.Iov = &r.iov
	r.hdr.SetIovlen(1)
	r.hdr.Control = &r.oob[0]
	r.hdr.SetControllen(len(r.oob))
	for {
		// RawSyscall, not Syscall: see recvmsg.
		n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.hdr)), uintptr(flags))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			r.n = 0
			return e
		}
		r.n = int(n)
		return 0
	}
}

// ---- send ----

// SendOpts are per-packet settings for Send, passed as control messages
// (IP_TTL, IP_TOS, IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_DONTFRAG). They apply to
// sockets whose IP header the kernel builds: ping, UDP and raw ICMPv6
// sockets. A header-included send takes everything from the header.
type SendOpts struct {
	// TTL is the IPv4 TTL (1–255) or IPv6 hop limit (0–255) of this packet
	// when HasTTL is set; otherwise the socket's (SetTTL) applies.
	TTL    int
	HasTTL bool // use TTL for this packet
	// TOS is the IPv4 TOS octet or IPv6 traffic class of this packet when
	// HasTOS is set.
	TOS    int
	HasTOS bool // use TOS for this packet
	// DontFrag sets (1) or clears (-1) IPV6_DONTFRAG for this IPv6 packet;
	// 0 keeps the socket's setting.
	DontFrag int
}

// Sent describes a packet Send handed to the kernel.
type Sent struct {
	// Time is time.Now() taken just before the sendmsg system call: the
	// send time to use when no kernel timestamp arrives (Tx == TxUser, or
	// the driver does not stamp).
	Time time.Time
	// Tx says whether a kernel send timestamp will follow on the error
	// queue, as a KindTxTimestamp whose TxID equals ID.
	Tx TxMode
	// ID is the send counter (SOF_TIMESTAMPING_OPT_ID) that names this
	// packet's kernel timestamp; it counts successful sends from 0.
	ID uint32
	// SoftErr is set when the first sendmsg failed only because it
	// consumed the socket's pending ICMP error (see KindSoftError); the
	// packet was then sent by a second sendmsg.
	SoftErr syscall.Errno
}

// Send sends b to dst (the port matters only for UDP sockets). For a
// header-included sender b is a whole IP datagram (packet.Packet.AppendTo
// makes one) and dst its destination (the zero AddrPort means the
// header's); for ping sockets b is an
// ICMP echo message whose identifier and checksum the kernel fills in; for
// raw ICMPv6 sockets the kernel computes the checksum.
//
// A datagram too big for what the kernel allows locally fails with an
// *MTUError (errors.Is(err, syscall.EMSGSIZE)): it never left this host.
// Send waits while the socket buffer is full (see SetWriteDeadline); a
// congested device queue gives ENOBUFS, which a flood should treat as "slow
// down", not as fatal. o may be nil. Send allocates nothing unless it fails.
func (c *Conn) Send(b []byte, dst netip.AddrPort, o *SendOpts) (Sent, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w := &c.w
	if !dst.Addr().IsValid() && c.hdrincl {
		dst = headerDst(b)
	}
	if err := c.fillName(dst); err != nil {
		return Sent{}, err
	}
	w.oob = w.oob[:0]
	if o != nil {
		c.fillOOB(o)
	}
	w.buf = b
	w.soft = 0
	err := c.rc.Write(c.writeFn)
	w.buf = nil
	w.iov.Base = nil
	s := Sent{Time: w.t0, Tx: c.tx, SoftErr: w.soft}
	if err != nil {
		return s, c.ioErr(err)
	}
	if w.errno != 0 {
		return s, c.sendErr(w.errno, len(b), dst.Addr())
	}
	if c.tx == TxKernel {
		s.ID = w.txNext
		w.txNext++
		c.txOut.Add(1)
	}
	return s, nil
}

// headerDst reads the destination address of an IP datagram.
func headerDst(b []byte) netip.AddrPort {
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), 0)
	case len(b) >= 40 && b[0]>>4 == 6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), 0)
	}
	return netip.AddrPort{}
}

func (c *Conn) fillName(dst netip.AddrPort) error {
	w := &c.w
	a := dst.Addr()
	clear(w.name[:])
	switch {
	case c.family == IPv4 && (a.Is4() || a.Is4In6()):
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&w.name[0]))
		sa.Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(dst.Port()>>8), byte(dst.Port())
		sa.Addr = a.Unmap().As4()
		w.nameN = unix.SizeofSockaddrInet4
	case c.family == IPv6 && a.Is6() && !a.Is4In6():
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&w.name[0]))
		sa.Family = unix.AF_INET6
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(dst.Port()>>8), byte(dst.Port())
		sa.Addr = a.As16()
		w.nameN = unix.SizeofSockaddrInet6
	default:
		return fmt.Errorf("sock: %s: cannot send to %v: not an %v address", c.what, a, c.family)
	}
	return nil
}

func (c *Conn) fillOOB(o *SendOpts) {
	w := &c.w
	if c.family == IPv4 {
		if o.HasTTL {
			w.oob = putCmsgInt(w.oob, unix.IPPROTO_IP, unix.IP_TTL, o.TTL)
		}
		if o.HasTOS {
			w.oob = putCmsgInt(w.oob, unix.IPPROTO_IP, unix.IP_TOS, o.TOS)
		}
		return
	}
	if o.HasTTL {
		w.oob = putCmsgInt(w.oob, unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, o.TTL)
	}
	if o.HasTOS {
		w.oob = putCmsgInt(w.oob, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, o.TOS)
	}
	if o.DontFrag != 0 {
		w.oob = putCmsgInt(w.oob, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, max(o.DontFrag, 0))
	}
}

func (c *Conn) doWrite(fd uintptr) bool {
	w := &c.w
	w.hdr = unix.Msghdr{}
	w.hdr.Name = &w.name[0]
	w.hdr.Namelen = uint32(w.nameN)
	if len(w.buf) > 0 {
		w.iov.Base = &w.buf[0]
	} else {
		w.iov.Base = nil
	}
	w.iov.SetLen(len(w.buf))
	w.hdr.Iov = &w.iov
	w.hdr.SetIovlen(1)
	if len(w.oob) > 0 {
		w.hdr.Control = &w.oob[0]
		w.hdr.SetControllen(len(w.oob))
	}
	retried := false
	for {
		w.t0 = time.Now()
		// RawSyscall, not Syscall: see recvmsg.
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&w.hdr)), 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false
		case e != 0 && c.recvErr && !retried && isSoft(e):
			// sock_alloc_send_skb reports (and clears) a pending
			// socket error before it sends: retry once.
			w.soft = e
			retried = true
			continue
		}
		if e != 0 && retried {
			w.soft = 0 // the retry failed too: a real error, not a stale one
		}
		w.errno = e
		return true
	}
}
