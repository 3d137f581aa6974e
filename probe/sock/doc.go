// Package sock is echolot's Linux socket layer: the raw and datagram
// sockets the probe engine sends through and receives from, opened with
// golang.org/x/sys/unix and registered with the Go runtime's poller, so that
// reads have deadlines and Close from another goroutine unblocks them.
//
// # Sockets
//
//	OpenSender(f)    IPPROTO_RAW, header included: Send takes whole IP datagrams (packet.Packet.AppendTo)
//	OpenICMP(IPv4)   raw ICMP receiver, ICMP_FILTER + optional BPF (EchoFilter); Data starts at the IP header
//	OpenICMP(IPv6)   raw ICMPv6 send+receive: kernel checksum, ICMP6_FILTER, per-packet hop limit/tclass/DONTFRAG
//	OpenRaw(f, p)    raw TCP or UDP receiver for answers to header-included probes (PortFilter)
//	OpenPing(f)      ICMP datagram ("ping") socket: no privilege, needs net.ipv4.ping_group_range
//	OpenUDP(f)       UDP probe socket with IP_RECVERR
//	DialTCP(dst)     TCP connect probe with IP_RECVERR; WaitConnect
//	OpenEcho(f, m)   the echo set for a mode, falling back from raw to ping sockets with the reason
//
// Every constructor explains a refusal: a *PrivilegeError names
// CAP_NET_RAW (`setcap cap_net_raw+ep`) or net.ipv4.ping_group_range
// (`sysctl -w net.ipv4.ping_group_range="0 2147483647"`).
//
// # Receiving
//
// Conn.Recv fills a Msg and returns an error only when the deadline passes
// (os.ErrDeadlineExceeded), the Conn is closed (os.ErrClosed) or the socket
// itself fails. Everything the network or the kernel says is a Msg:
// KindPacket (with the kernel receive timestamp, TTL/hop limit, TOS/traffic
// class, IPv4 options, flow label, destination and interface from the
// control messages), KindError (an error-queue entry: origin, type, code,
// MTU, offender, and the original datagram), KindTxTimestamp (a kernel send
// timestamp with its send counter), KindSoftError (see below). Control
// messages are parsed by hand and buffers are reused: the steady state
// allocates nothing (TestSteadyStateAllocs, BenchmarkEcho).
//
// # Linux behaviour the engine must live with (observed on 6.18)
//
//   - The error-queue quirk. When an ICMP error is queued on a socket with
//     IP_RECVERR (ping, UDP, TCP sockets; raw ICMPv6 with Options.RecvErr),
//     Linux also sets the socket's pending error. The next ordinary
//     recvmsg returns it once (EHOSTUNREACH for time exceeded, ECONNREFUSED
//     for port unreachable, EMSGSIZE for frag-needed), before any queued
//     packet: Recv reports it as KindSoftError and then reads the queued
//     entry. The next sendmsg may consume it instead and fail without
//     sending: Send retries once and reports the consumed errno in
//     Sent.SoftErr.
//   - A header-included IPv4 send goes out as built except that the kernel
//     rewrites checksum and total length, fills a zero source and a zero ID
//     (the latter only without DF). Above the interface MTU they fail with
//     EMSGSIZE whatever their DF bit; below it, one without DF that is
//     bigger than a cached path MTU is fragmented by the kernel (PMTUWant,
//     PMTUDo), as the server's 1400-byte reply to such an echo showed.
//   - Once a path MTU is cached (after a frag-needed or packet-too-big),
//     sockets in the kernel's default modes refuse bigger DF sends locally
//     (EMSGSIZE, returned here as *MTUError with the cached MTU), and Linux
//     also delivers a locally generated frag-needed (source = destination =
//     this host, Msg.FromSelf) to raw ICMP sockets. PMTUProbe, the default
//     here, sends anyway and lets the router answer; it also stops source
//     fragmentation at the learnt MTU (IPv6: a 1400-byte datagram without
//     DONTFRAG leaves whole and draws another packet too big). Use PMTUWant
//     to let the kernel fragment to the path MTU; PMTUDo refuses.
//   - Raw sockets receive a copy of every datagram of their protocol that
//     reaches this host, while the kernel's own stack also answers it: a
//     SYN-ACK to a raw SYN is reset by the kernel (RST seen at the server),
//     a UDP reply to an unbound port draws a port unreachable from this
//     host. A raw ICMPv6 socket with IPV6_RECVERR gets error-queue entries
//     for ICMPv6 errors about any raw ICMPv6 socket's packets to the same
//     destination.
//   - Received IPv4 datagrams with record-route or timestamp options carry
//     a stale header checksum on raw sockets: Linux writes its own address
//     into the option on input without recomputing it. Do not count that as
//     damage.
//   - Linux's echo replies copy TOS/traffic class and IPv4 options; its
//     ICMP errors use TOS 0xc0. Record route through a ping socket
//     (IP_OPTIONS) lists this host first; a header-included one does not.
//   - The Go poller reports "not pollable" for a descriptor whose only epoll
//     event was EPOLLERR (an error-queue entry on a socket neither readable
//     nor writable, e.g. a TCP socket in SYN_SENT). Recv works around it by
//     reading directly and waiting with poll(2) until the poller recovers.
//   - Kernel send timestamps (SO_TIMESTAMPING, TX_SOFTWARE) carry a
//     per-socket counter (OPT_ID) that stayed in step with Sent.ID across
//     local failures and soft-error retries on this kernel. Unread
//     timestamps fill the socket's receive buffer; Recv reads them first
//     while any are due, and a header-included sender's must be drained
//     with RecvErrQueue (or turned off with Options.NoTxTimestamps).
package sock
