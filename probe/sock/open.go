package sock

import (
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// PMTUMode is how a sending socket treats path-MTU discovery
// (IP_MTU_DISCOVER, IPV6_MTU_DISCOVER).
type PMTUMode uint8

// Path-MTU modes. The zero value, PMTUProbe, is the default of every
// constructor here.
const (
	// PMTUProbe (IP_PMTUDISC_PROBE): DF set on datagrams the kernel builds,
	// and any path MTU the kernel has cached is ignored, so a probe bigger
	// than a learnt MTU still leaves and the network answers it. Only the
	// outgoing interface's MTU limits sends.
	PMTUProbe PMTUMode = iota
	// PMTUDo (IP_PMTUDISC_DO): DF set, and the cached path MTU is enforced:
	// a bigger datagram fails locally with EMSGSIZE (an *MTUError).
	PMTUDo
	// PMTUWant (IP_PMTUDISC_WANT): Linux's usual socket default: DF set
	// while the datagram fits the path MTU; for header-included sends the
	// cached path MTU is enforced on DF datagrams as with PMTUDo.
	PMTUWant
	// PMTUDont (IP_PMTUDISC_DONT): DF clear on datagrams the kernel builds,
	// which it fragments as needed.
	PMTUDont
	// PMTUKernel leaves the socket's default alone
	// (net.ipv4.ip_no_pmtu_disc).
	PMTUKernel
)

// String returns "probe", "do", "want", "dont" or "kernel".
func (m PMTUMode) String() string {
	switch m {
	case PMTUProbe:
		return "probe"
	case PMTUDo:
		return "do"
	case PMTUWant:
		return "want"
	case PMTUDont:
		return "dont"
	}
	return "kernel"
}

func (m PMTUMode) sockopt() (int, bool) {
	switch m {
	case PMTUProbe:
		return unix.IP_PMTUDISC_PROBE, true
	case PMTUDo:
		return unix.IP_PMTUDISC_DO, true
	case PMTUWant:
		return unix.IP_PMTUDISC_WANT, true
	case PMTUDont:
		return unix.IP_PMTUDISC_DONT, true
	}
	return 0, false // IPV6_PMTUDISC_* have the same values
}

// Options adjust the constructors. The zero value (or a nil *Options) is
// the default everywhere; each field says which sockets it applies to.
type Options struct {
	// Filter is a classic BPF program (EchoFilter, PortFilter, or one
	// assembled with golang.org/x/net/bpf) attached before the socket is
	// used, so that nothing unfiltered is ever read. Receiving sockets.
	Filter []bpf.RawInstruction
	// ICMPTypes are the ICMP (OpenICMP IPv4) or ICMPv6 (OpenICMP IPv6)
	// types the kernel passes to the socket (ICMP_FILTER, ICMP6_FILTER);
	// nil means DefaultICMPTypes or DefaultICMPv6Types.
	ICMPTypes []uint8
	// PMTU is the path-MTU mode of sending sockets; default PMTUProbe.
	PMTU PMTUMode
	// NoTxTimestamps turns off kernel send timestamps (SO_TIMESTAMPING) on
	// sending sockets; Sent.Time, read in user space, remains.
	NoTxTimestamps bool
	// RecvErr turns on IP_RECVERR / IPV6_RECVERR on raw sockets (datagram
	// sockets always have it). On a raw ICMPv6 socket it adds error-queue
	// entries for local errors and ICMP errors that are also received as
	// packets, and the once-only soft error (KindSoftError).
	RecvErr bool
	// RecvBuffer and SendBuffer set SO_RCVBUF and SO_SNDBUF in bytes
	// (SO_RCVBUFFORCE / SO_SNDBUFFORCE when permitted, so net.core.rmem_max
	// does not cap them); 0 keeps the kernel's default.
	RecvBuffer, SendBuffer int
	// Device binds the socket to a network interface by name
	// (SO_BINDTODEVICE): it sends through it, whatever the routing table
	// says, and receives only what arrives on it. Every socket.
	Device string
	// Mark sets SO_MARK, the firewall mark that policy routing (ip rule
	// fwmark) and netfilter match on; 0 leaves the socket unmarked. It
	// needs CAP_NET_ADMIN, or CAP_NET_RAW since Linux 5.17; failing, the
	// open fails with a *MarkError. Every socket.
	Mark uint32
	// Broadcast sets SO_BROADCAST, without which the kernel refuses sends
	// to a broadcast address (EACCES). Sending sockets.
	Broadcast bool
	// Src is the local address to bind to; invalid means any. Datagram and
	// TCP sockets.
	Src netip.Addr
	// Port is the local port to bind: the echo identifier of a ping socket,
	// the source port of UDP and TCP probes; 0 lets the kernel choose.
	Port uint16
	// TTL is the initial TTL / hop limit (1–255) of sockets whose IP
	// header the kernel builds; 0 keeps the default (net.ipv4.ip_default_ttl).
	TTL int
	// TOS is the initial TOS octet / traffic class of such sockets.
	TOS int
}

func (o *Options) orDefault() *Options {
	if o == nil {
		return &Options{}
	}
	return o
}

// DefaultICMPTypes are the ICMPv4 types OpenICMP passes by default: echo
// reply (0), destination unreachable (3), source quench (4), redirect (5),
// time exceeded (11), parameter problem (12) and timestamp reply (14).
var DefaultICMPTypes = []uint8{0, 3, 4, 5, 11, 12, 14}

// DefaultICMPv6Types are the ICMPv6 types OpenICMP passes by default:
// destination unreachable (1), packet too big (2), time exceeded (3),
// parameter problem (4) and echo reply (129).
var DefaultICMPv6Types = []uint8{1, 2, 3, 4, 129}

// builder collects a socket's setup and closes the fd on failure.
type builder struct {
	fd   int
	what string
	err  error
}

func (b *builder) setInt(level, opt int, name string, v int) {
	if b.err != nil {
		return
	}
	if err := unix.SetsockoptInt(b.fd, level, opt, v); err != nil {
		b.err = setoptErr(b.what, name, err)
	}
}

func (b *builder) do(name string, fn func() error) {
	if b.err != nil {
		return
	}
	if err := fn(); err != nil {
		b.err = setoptErr(b.what, name, err)
	}
}

func socket(f Family, typ, proto int, what string, dgram bool) (*builder, error) {
	fd, err := unix.Socket(f.af(), typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, openErr(what, err, dgram)
	}
	return &builder{fd: fd, what: what}, nil
}

// finish wraps the fd in a Conn or, on an earlier error, closes it.
func (b *builder) finish(f Family, typ, proto int) (*Conn, error) {
	if b.err != nil {
		unix.Close(b.fd)
		return nil, b.err
	}
	return newConn(b.fd, f, typ, proto, b.what)
}

// buffers binds the socket to o.Device, applies the buffer sizes, the
// mark and the broadcast permission.
func (b *builder) buffers(o *Options) {
	if o.Mark != 0 {
		b.do("SO_MARK", func() error {
			if err := unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_MARK, int(o.Mark)); err != nil {
				return &MarkError{Mark: o.Mark, Err: err}
			}
			return nil
		})
	}
	if o.Broadcast {
		b.setInt(unix.SOL_SOCKET, unix.SO_BROADCAST, "SO_BROADCAST", 1)
	}
	if o.Device != "" {
		b.do("SO_BINDTODEVICE "+o.Device, func() error {
			err := unix.BindToDevice(b.fd, o.Device)
			if err == unix.ENODEV {
				return fmt.Errorf("%w (this network namespace has no interface %q: ip link lists them)", err, o.Device)
			}
			return err
		})
	}
	if o.RecvBuffer > 0 {
		b.do("SO_RCVBUF", func() error {
			if unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, o.RecvBuffer) == nil {
				return nil
			}
			return unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.RecvBuffer)
		})
	}
	if o.SendBuffer > 0 {
		b.do("SO_SNDBUF", func() error {
			if unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, o.SendBuffer) == nil {
				return nil
			}
			return unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, o.SendBuffer)
		})
	}
}

func (b *builder) filter(o *Options) {
	if len(o.Filter) > 0 {
		b.do("SO_ATTACH_FILTER", func() error { return attachFilter(b.fd, o.Filter) })
	}
}

func (b *builder) rxMeta(f Family, ttlTos, opts bool) {
	b.setInt(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, "SO_TIMESTAMPNS", 1)
	if f == IPv6 {
		b.setInt(unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO", 1)
		b.setInt(unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT", 1)
		b.setInt(unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, "IPV6_RECVTCLASS", 1)
		b.setInt(unix.IPPROTO_IPV6, ipv6FlowInfo, "IPV6_FLOWINFO", 1)
		return
	}
	b.setInt(unix.IPPROTO_IP, unix.IP_PKTINFO, "IP_PKTINFO", 1)
	if ttlTos {
		b.setInt(unix.IPPROTO_IP, unix.IP_RECVTTL, "IP_RECVTTL", 1)
		b.setInt(unix.IPPROTO_IP, unix.IP_RECVTOS, "IP_RECVTOS", 1)
	}
	if opts {
		b.setInt(unix.IPPROTO_IP, unix.IP_RECVOPTS, "IP_RECVOPTS", 1)
	}
}

func (b *builder) pmtu(f Family, m PMTUMode) {
	v, ok := m.sockopt()
	if !ok {
		return
	}
	if f == IPv6 {
		b.setInt(unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER", v)
	} else {
		b.setInt(unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, "IP_MTU_DISCOVER", v)
	}
}

func (b *builder) recvErr(f Family) {
	if f == IPv6 {
		b.setInt(unix.IPPROTO_IPV6, unix.IPV6_RECVERR, "IPV6_RECVERR", 1)
	} else {
		b.setInt(unix.IPPROTO_IP, unix.IP_RECVERR, "IP_RECVERR", 1)
	}
}

func (b *builder) ttlTos(f Family, o *Options) {
	if o.TTL != 0 {
		if f == IPv6 {
			b.setInt(unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", o.TTL)
		} else {
			b.setInt(unix.IPPROTO_IP, unix.IP_TTL, "IP_TTL", o.TTL)
		}
	}
	if o.TOS != 0 {
		if f == IPv6 {
			b.setInt(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, "IPV6_TCLASS", o.TOS)
		} else {
			b.setInt(unix.IPPROTO_IP, unix.IP_TOS, "IP_TOS", o.TOS)
		}
	}
}

// txFlags are the SO_TIMESTAMPING flags of sending sockets: software
// timestamps when the packet reaches the driver, reported without the
// packet's bytes (TSONLY), each tagged with a per-socket send counter (ID).
const txFlags = unix.SOF_TIMESTAMPING_TX_SOFTWARE | unix.SOF_TIMESTAMPING_SOFTWARE |
	unix.SOF_TIMESTAMPING_OPT_TSONLY | unix.SOF_TIMESTAMPING_OPT_ID

// tx asks for kernel send timestamps; it reports whether they are on. A
// kernel that refuses them leaves the Conn with user-space times.
func (b *builder) tx(o *Options) bool {
	if b.err != nil || o.NoTxTimestamps {
		return false
	}
	return unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING, txFlags) == nil
}

// bind binds to o.Src and o.Port.
func (b *builder) bind(f Family, o *Options) {
	if !o.Src.IsValid() && o.Port == 0 {
		return
	}
	b.do("bind", func() error {
		if f == IPv6 {
			sa := &unix.SockaddrInet6{Port: int(o.Port)}
			if o.Src.IsValid() {
				sa.Addr = o.Src.As16()
			}
			return unix.Bind(b.fd, sa)
		}
		sa := &unix.SockaddrInet4{Port: int(o.Port)}
		if o.Src.IsValid() {
			sa.Addr = o.Src.Unmap().As4()
		}
		return unix.Bind(b.fd, sa)
	})
}

// localPort reads the bound port (getsockname).
func localPort(fd int) uint16 {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return uint16(a.Port)
	case *unix.SockaddrInet6:
		return uint16(a.Port)
	}
	return 0
}

// openMTUHelper opens the UDP socket PathMTU uses. It must run in the
// Conn's network namespace, hence at construction.
func (c *Conn) openMTUHelper() {
	fd, err := unix.Socket(c.family.af(), unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err == nil {
		c.mtuFd = fd
	}
}

// pmtuProbe reports whether the socket is in PMTUProbe mode.
func (c *Conn) pmtuProbe() bool { return PMTUMode(c.pmtu.Load()) == PMTUProbe }

// OpenSender opens a header-included raw socket (socket(AF_INET or
// AF_INET6, SOCK_RAW, IPPROTO_RAW), IP_HDRINCL / IPV6_HDRINCL): Send takes
// whole IP datagrams, header first, and the kernel sends them as built
// except that for IPv4 it rewrites the header checksum and total length,
// fills a zero source address and fills a zero ID only when DF is clear.
// IPv6 headers, flow label included, go out untouched.
//
// The socket is in o.PMTU mode (default PMTUProbe, so a cached path MTU
// never blocks a DF probe) and asks for kernel send timestamps, read with
// RecvErrQueue. It needs CAP_NET_RAW; without it the error is a
// *PrivilegeError saying how to grant it.
func OpenSender(f Family, o *Options) (*Conn, error) {
	o = o.orDefault()
	what := fmt.Sprintf("raw %v sender (IPPROTO_RAW, header included)", f)
	b, err := socket(f, unix.SOCK_RAW, unix.IPPROTO_RAW, what, false)
	if err != nil {
		return nil, err
	}
	if f == IPv6 {
		b.setInt(unix.IPPROTO_IPV6, unix.IPV6_HDRINCL, "IPV6_HDRINCL", 1)
	} else {
		b.setInt(unix.IPPROTO_IP, unix.IP_HDRINCL, "IP_HDRINCL", 1)
	}
	b.pmtu(f, o.PMTU)
	b.buffers(o)
	if o.RecvErr {
		b.recvErr(f)
	}
	tx := b.tx(o)
	c, err := b.finish(f, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return nil, err
	}
	c.hdrincl = true
	c.recvErr = o.RecvErr
	c.pmtu.Store(uint32(o.PMTU))
	if tx {
		c.tx = TxKernel
	}
	c.openMTUHelper()
	return c, nil
}

// OpenICMP opens a raw ICMP socket (SOCK_RAW, IPPROTO_ICMP or
// IPPROTO_ICMPV6) that receives the ICMP types in o.ICMPTypes (default
// DefaultICMPTypes / DefaultICMPv6Types) through the kernel's ICMP filter,
// then o.Filter (EchoFilter keeps other programs' echo replies out). Every
// message comes with a kernel receive timestamp and IP_PKTINFO /
// IPV6_PKTINFO.
//
// IPv4: Data starts with the IP header (options included), which holds the
// TTL, TOS and options, so Msg.TTL and Msg.TOS stay -1. The socket also
// sees ICMP messages this host sends, such as looped-back echo requests,
// when the filters let them through. It is meant as the receiver beside an
// OpenSender; Send on it sends ICMP messages behind a kernel-built header
// (per-packet TTL and TOS via SendOpts, o.PMTU mode), without kernel send
// timestamps.
//
// IPv6: Data starts at the ICMPv6 header (Linux strips the IPv6 header);
// hop limit, traffic class, flow label and destination come as control
// messages (Msg.AppendIPv6Header rebuilds a header). The same socket sends
// ICMPv6 messages with the checksum computed by the kernel (IPV6_CHECKSUM
// is fixed at offset 2 for ICMPv6), per-packet hop limit, traffic class and
// don't-fragment (SendOpts), in o.PMTU mode and with send timestamps.
//
// It needs CAP_NET_RAW.
func OpenICMP(f Family, o *Options) (*Conn, error) {
	o = o.orDefault()
	proto, what := unix.IPPROTO_ICMP, "raw IPv4 ICMP socket"
	if f == IPv6 {
		proto, what = unix.IPPROTO_ICMPV6, "raw ICMPv6 socket"
	}
	b, err := socket(f, unix.SOCK_RAW, proto, what, false)
	if err != nil {
		return nil, err
	}
	types := o.ICMPTypes
	if f == IPv6 {
		if types == nil {
			types = DefaultICMPv6Types
		}
		b.do("ICMP6_FILTER", func() error { return setICMP6Filter(b.fd, types) })
		b.do("IPV6_CHECKSUM", func() error {
			v, err := unix.GetsockoptInt(b.fd, unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM)
			if err == nil && v != 2 {
				return fmt.Errorf("reads %d, expected 2 (kernel-computed ICMPv6 checksum at offset 2)", v)
			}
			return err
		})
	} else {
		if types == nil {
			types = DefaultICMPTypes
		}
		b.do("ICMP_FILTER", func() error { return setICMPFilter(b.fd, types) })
	}
	b.filter(o)
	b.rxMeta(f, false, false)
	b.buffers(o)
	b.pmtu(f, o.PMTU)
	b.ttlTos(f, o)
	tx := false
	if f == IPv6 {
		if o.RecvErr {
			b.recvErr(f)
		}
		tx = b.tx(o)
	}
	if b.err == nil {
		drain(b.fd)
	}
	c, err := b.finish(f, unix.SOCK_RAW, proto)
	if err != nil {
		return nil, err
	}
	c.recvErr = o.RecvErr && f == IPv6
	c.pmtu.Store(uint32(o.PMTU))
	if tx {
		c.tx = TxKernel
	}
	c.openMTUHelper()
	return c, nil
}

// setICMPFilter installs the IPv4 ICMP_FILTER (SOL_RAW): a bit set blocks
// that type.
func setICMPFilter(fd int, types []uint8) error {
	mask := ^uint32(0)
	for _, t := range types {
		if t < 32 {
			mask &^= 1 << t
		}
	}
	return unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, int(int32(mask)))
}

// setICMP6Filter installs ICMP6_FILTER: block all, pass types.
func setICMP6Filter(fd int, types []uint8) error {
	var f unix.ICMPv6Filter
	for i := range f.Data {
		f.Data[i] = ^uint32(0)
	}
	for _, t := range types {
		f.Data[t>>5] &^= 1 << (t & 31)
	}
	return unix.SetsockoptICMPv6Filter(fd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, &f)
}

// OpenRaw opens a raw receive socket for protocol proto (unix.IPPROTO_TCP
// or unix.IPPROTO_UDP: answers to header-included TCP and UDP probes),
// filtered by o.Filter (PortFilter passes only our source ports).
//
// Linux delivers raw sockets a copy of every datagram of that protocol
// addressed to this host, and still hands the original to its own stack: a
// SYN-ACK answering our raw SYN reaches this socket and also the kernel's
// TCP, which, having no connection, answers it with a RST (so the server's
// half-open state is freed whether or not we send our own RST); a UDP reply
// to a port no socket is bound to makes the kernel send an ICMP port
// unreachable back. IPv4 Data starts with the IP header; IPv6 Data at the
// transport header, with hop limit, traffic class and addresses as control
// messages. It needs CAP_NET_RAW.
func OpenRaw(f Family, proto int, o *Options) (*Conn, error) {
	o = o.orDefault()
	what := fmt.Sprintf("raw %v socket for protocol %d", f, proto)
	b, err := socket(f, unix.SOCK_RAW, proto, what, false)
	if err != nil {
		return nil, err
	}
	b.filter(o)
	b.rxMeta(f, false, false)
	b.buffers(o)
	if b.err == nil {
		drain(b.fd)
	}
	c, err := b.finish(f, unix.SOCK_RAW, proto)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// OpenPing opens an ICMP datagram socket ("ping socket": SOCK_DGRAM,
// IPPROTO_ICMP or IPPROTO_ICMPV6), which needs no privilege when the
// process's group is in net.ipv4.ping_group_range (otherwise the error is a
// *PrivilegeError saying how to allow it; the kernel default "1 0" allows
// nobody, root included).
//
// Send takes an ICMP echo request message (type, code, checksum, id, seq,
// data); the kernel sets the identifier to the socket's bound port
// (LocalPort, chosen with o.Port or by the kernel) and computes the
// checksum, and delivers only echo replies carrying that identifier. TTL,
// TOS and DF (o.PMTU: PMTUDont clears DF) apply, per socket or per packet
// (SendOpts); SetIPOptions adds record-route or timestamp options, whose
// echoed copy comes back in Msg.Options (IP_RECVOPTS). ICMP errors about our
// echoes arrive on the error queue (IP_RECVERR, always on), and Recv returns
// them as KindError with the offender, type, code, MTU and the original
// echo message.
func OpenPing(f Family, o *Options) (*Conn, error) {
	return openDgram(f, unix.IPPROTO_ICMP, o, "IPv4 ICMP datagram (ping) socket")
}

// OpenUDP opens a UDP socket for unprivileged UDP probes: Send sends a
// payload to an address and port; with a short TTL (Options.TTL, SetTTL or
// SendOpts) the time-exceeded errors, and the port-unreachable of the
// destination, come back on the error queue (KindError with offender and
// the original UDP payload). Replies from the destination arrive as
// KindPacket.
func OpenUDP(f Family, o *Options) (*Conn, error) {
	return openDgram(f, unix.IPPROTO_UDP, o, "UDP probe socket")
}

func openDgram(f Family, proto int, o *Options, what string) (*Conn, error) {
	o = o.orDefault()
	if f == IPv6 {
		what = "IPv6 " + what
		if proto == unix.IPPROTO_ICMP {
			proto, what = unix.IPPROTO_ICMPV6, "ICMPv6 datagram (ping) socket"
		}
	} else if proto == unix.IPPROTO_UDP {
		what = "IPv4 " + what
	}
	ping := proto != unix.IPPROTO_UDP
	b, err := socket(f, unix.SOCK_DGRAM, proto, what, ping)
	if err != nil {
		return nil, err
	}
	b.recvErr(f)
	b.rxMeta(f, true, true)
	b.pmtu(f, o.PMTU)
	b.ttlTos(f, o)
	b.buffers(o)
	b.filter(o)
	if ping && !o.Src.IsValid() && o.Port == 0 {
		// A ping socket gets its identifier at its first send unless
		// bound: bind to port 0 now so that LocalPort is known up front.
		o2 := *o
		o2.Src = netip.IPv4Unspecified()
		if f == IPv6 {
			o2.Src = netip.IPv6Unspecified()
		}
		o = &o2
	}
	b.bind(f, o)
	tx := b.tx(o)
	c, err := b.finish(f, unix.SOCK_DGRAM, proto)
	if err != nil {
		return nil, err
	}
	c.recvErr = true
	c.pmtu.Store(uint32(o.PMTU))
	if tx {
		c.tx = TxKernel
	}
	c.port = localPort(c.fd)
	c.openMTUHelper()
	return c, nil
}

// ---- setters ----

// SetTTL sets the TTL (IPv4, IP_TTL, 1–255) or unicast hop limit (IPv6,
// IPV6_UNICAST_HOPS, 0–255; -1 restores the default) of datagrams the
// kernel builds for this socket.
func (c *Conn) SetTTL(ttl int) error {
	return c.control(func(fd int) error {
		if c.family == IPv6 {
			return wrapSet(c, "IPV6_UNICAST_HOPS", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl))
		}
		return wrapSet(c, "IP_TTL", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl))
	})
}

// SetTOS sets the TOS octet (IPv4, IP_TOS) or traffic class (IPv6,
// IPV6_TCLASS) of datagrams the kernel builds for this socket.
func (c *Conn) SetTOS(tos int) error {
	return c.control(func(fd int) error {
		if c.family == IPv6 {
			return wrapSet(c, "IPV6_TCLASS", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos))
		}
		return wrapSet(c, "IP_TOS", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos))
	})
}

// SetPMTU changes the path-MTU mode (see PMTUMode).
func (c *Conn) SetPMTU(m PMTUMode) error {
	v, ok := m.sockopt()
	if !ok {
		return fmt.Errorf("sock: %s: PMTUKernel cannot be set afterwards, only left alone at open", c.what)
	}
	err := c.control(func(fd int) error {
		if c.family == IPv6 {
			return wrapSet(c, "IPV6_MTU_DISCOVER", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, v))
		}
		return wrapSet(c, "IP_MTU_DISCOVER", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, v))
	})
	if err == nil {
		c.pmtu.Store(uint32(m))
	}
	return err
}

// SetDontFrag sets IPV6_DONTFRAG on an IPv6 socket: datagrams larger than
// the MTU are not fragmented by this host; they are sent (in PMTUProbe
// mode, up to the interface MTU) for a router to answer with packet too big,
// or refused locally with an *MTUError. On IPv4 use SetPMTU (PMTUDont
// clears DF, the other modes set it).
func (c *Conn) SetDontFrag(on bool) error {
	if c.family != IPv6 {
		return fmt.Errorf("sock: %s: IPV6_DONTFRAG is an IPv6 option; for IPv4 DF use SetPMTU", c.what)
	}
	v := 0
	if on {
		v = 1
	}
	return c.control(func(fd int) error {
		return wrapSet(c, "IPV6_DONTFRAG", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, v))
	})
}

// SetIPOptions sets the IPv4 options (IP_OPTIONS: the raw option bytes, at
// most 40, e.g. a record-route or timestamp option; see IPv4OptionBytes)
// that the kernel puts on every datagram it builds for this socket; nil
// removes them. The kernel fills the first record-route slot or timestamp
// with this host itself, unlike a header-included send.
func (c *Conn) SetIPOptions(opts []byte) error {
	if c.family != IPv4 {
		return fmt.Errorf("sock: %s: IP_OPTIONS is an IPv4 option", c.what)
	}
	if len(opts) > 40 {
		return fmt.Errorf("sock: %s: %d bytes of IPv4 options, at most 40 fit in a header", c.what, len(opts))
	}
	return c.control(func(fd int) error {
		return wrapSet(c, "IP_OPTIONS", unix.SetsockoptString(fd, unix.IPPROTO_IP, unix.IP_OPTIONS, string(opts)))
	})
}

// SetICMPTypes replaces the kernel ICMP filter of a raw ICMP or ICMPv6
// socket: only the listed types are received.
func (c *Conn) SetICMPTypes(types []uint8) error {
	return c.control(func(fd int) error {
		switch {
		case c.typ == unix.SOCK_RAW && c.proto == unix.IPPROTO_ICMP:
			return wrapSet(c, "ICMP_FILTER", setICMPFilter(fd, types))
		case c.typ == unix.SOCK_RAW && c.proto == unix.IPPROTO_ICMPV6:
			return wrapSet(c, "ICMP6_FILTER", setICMP6Filter(fd, types))
		}
		return fmt.Errorf("sock: %s: ICMP type filters exist only on raw ICMP sockets", c.what)
	})
}

func wrapSet(c *Conn, opt string, err error) error {
	if err == nil {
		return nil
	}
	return setoptErr(c.what, opt, err)
}
