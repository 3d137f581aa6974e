// Package probe is echolot's probe engine: it sends probes built from a
// packet.Packet template, ties every packet that comes back to the probe
// that caused it, times it in nanoseconds from kernel timestamps and keeps
// iputils-compatible statistics. echolot ping, the Lua runtime and the
// shipped scripts all use it; it knows nothing about Lua.
//
//	e, err := probe.New(probe.Probe{Packet: tmpl, Patterns: pats, Stamp: packet.StampTail},
//		probe.Options{Count: 10, Interval: 200 * time.Millisecond, Results: show})
//	if err != nil { ... }          // says what is missing: CAP_NET_RAW, ping_group_range, ...
//	defer e.Close()
//	stats, err := e.Run(ctx)       // until the count, the deadline or ctx; stats either way
//
// # Sending
//
// New opens the sockets of probe/sock in the calling thread's network
// namespace: in ModeRaw a header-included raw socket sends the datagram
// exactly as packet.Packet.AppendTo built it (PMTU probe mode, so a path
// MTU the kernel cached never blocks a don't-fragment probe) and raw ICMP,
// TCP or UDP sockets receive; in ModeDgram (no privileges) an ICMP
// datagram socket or a UDP socket does both, with TTL, TOS, DF and IPv4
// options applied by the kernel, and TCP probes become TCP-connect probes
// (below). ModeAuto tries raw first.
//
// Pacing (Options): a count, an interval or a rate on an absolute
// schedule (a token bucket of depth Burst: accurate at any rate, see
// pacer), preload, a window of outstanding probes, ping -f's flood and
// ping -A's adaptive interval, a deadline and a per-probe timeout. Run
// stops at the count, the deadline or when its context is cancelled, and
// returns the statistics in every case.
//
// An engine can run again through the same sockets: Rearm gives it a new
// Probe and Options between runs (the Lua runtime's sr1 in a loop), keeping
// its identifiers and filters. Its identifiers go on from run to run, so
// an answer to an earlier run is never taken for one to the next (see
// rearm.go).
//
// # Matching
//
// Outstanding probes live in a ring (at most 65,536 of them, fewer for
// large probes, so memory is bounded and flat however many probes are
// sent) indexed by a map from packet.ProbeKey. A received packet's
// packet.AnswerKey finds its probe with one lookup and packet.Answers
// confirms it (quoted protocol and addresses, TCP sequence numbers).
// Every received packet becomes exactly one Result: reply, error (with the
// router, the MTU and the quote diff), local, damaged (payload compared
// byte by byte with what was sent: every byte, stamp included), duplicate,
// late, corrupted (bad checksum, as ping's "BAD CHECKSUM!") or unrelated;
// probes without an answer become timeouts. Local conditions, a send
// refused with EMSGSIZE (with the kernel's MTU) or a frag-needed this host
// generated about its own packet (sock.Msg.FromSelf), are reported as
// local, never as answers from the network.
//
// Engines stay out of each other's way (and of iputils ping's): each has
// an ICMP identifier of its own, reserved with a ping socket (see ids.go),
// and a range of source ports for UDP and TCP; the kernel filters replies
// with BPF (sock.EchoFilter, sock.PortFilter) before they are ever read,
// and the key check drops whatever another program's errors quote.
//
// # TCP SYN probes and the RST
//
// A SYN-ACK answering a raw SYN means the server holds a half-open
// connection. The engine then sends a RST with the acknowledged sequence
// number, as Nping does, so that the server frees it at once. The Linux
// kernel of the probing host does the same on its own: a raw socket gets a
// copy of the SYN-ACK while the kernel's TCP also receives it, finds no
// socket for the connection and answers with a RST (probe/sock observed it
// at the server). The server therefore usually sees two RSTs, the
// kernel's and ours; the second is ignored. Ours still matters when the
// kernel's never leaves: a firewall on the probing host dropping outgoing
// RSTs (a common trick of scanners), or a probe whose source address is
// not one of this host's.
//
// # TCP-connect probes (no privileges)
//
// Without raw sockets a TCP probe is a plain SYN sent by a non-blocking
// connect(2) on a socket of its own (sock.DialTCP), with the probe's TTL
// or hop limit and TOS or traffic class (per probe, so Vary can run a
// traceroute) and IP_RECVERR / IPV6_RECVERR. The kernel chooses the source
// port (Engine.Ports reports none), sequence number, window and options; a
// template asking for anything else (flags other than SYN, options,
// sequence numbers, a window, a payload, a stamp, IPv4 options) is refused
// by New with an error naming CAP_NET_RAW. The sockets are opened on a
// locked OS thread of the engine's own that stays in the network namespace
// New was called in (it is discarded, never reused, when the engine
// closes), so Run may be called from anywhere.
//
// A goroutine per outstanding probe waits for the outcome and closes the
// socket at the first answer (SO_LINGER 0: an established connection is
// reset, never closed with a FIN) or at the probe's timeout, since the
// kernel would otherwise keep retransmitting the SYN; at most Window
// sockets are open at once. The outcome is reported as the packet it
// stands for and counted like any answer: connected, or reset by the
// server after the handshake, is tcp-open; refused is tcp-closed; an ICMP
// error about the SYN read from the error queue (time exceeded,
// unreachable) is an error Result naming the router, with PartialQuote
// set: the kernel returns the quoted TCP header but not the IP header.
// The probe's record then becomes the SYN as the kernel sent it (its
// sequence number, window and options, with the engine's ports), so the
// quote diff shows what the path changed, not what the kernel chose. A
// connect that fails at once, or with no error on the queue, is local. RTTs
// run from just before the connect to the kernel's receive timestamp of an
// ICMP error, or to when the connect was seen complete (user space: a
// SYN-ACK or RST has no timestamp a connect can read); Result.RxKernel
// says which.
//
// # Timing
//
// RTTs are nanoseconds between two wall-clock timestamps: the kernel's
// send timestamp (SO_TIMESTAMPING, taken when the packet reached the
// driver; read back from the sender's error queue right after the send)
// when there is one, else the time taken just before the send system
// call; and the kernel's receive timestamp (SO_TIMESTAMPNS). Floods use
// the user-space send time by default, as ping -f does (Options.TxStamps).
// Result says which ones were used (TxKernel, RxKernel).
//
// # Statistics
//
// Stats counts as iputils ping does (transmitted, received, +duplicates,
// +corrupted, +errors, loss, rtt min/avg/max/mdev over replies including
// duplicates, ewma) and adds what ping does not: damaged, late,
// unrelated, errors and local conditions by kind, and RTT percentiles
// from a fixed-size histogram (see RTTStats).
//
// # Records and capture
//
// Options.Results receives every Result as it happens: the stream JSON
// output and Lua consume. Options.Tap hands every packet sent and received,
// with its timestamp and its link to the probe (number, kind, RTT,
// changes), to a CaptureWriter through a bounded queue that never blocks
// the engine (drops are counted); PcapngWriter writes pcapng with
// direction flags, packet ids and comments such as
// "answer to probe 17: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1".
package probe
