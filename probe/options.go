package probe

import (
	"fmt"
	"time"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// Mode says which sockets an Engine uses. It is probe/sock's Mode (auto,
// raw, dgram), so the engine and the socket layer speak of one thing.
type Mode = sock.Mode

// Modes, as the engine uses them.
const (
	// ModeAuto uses raw sockets when the process may open them
	// (CAP_NET_RAW) and falls back to datagram sockets otherwise.
	ModeAuto = sock.ModeAuto
	// ModeRaw sends hand-built IP datagrams through a header-included raw
	// socket and receives on raw ICMP, TCP and UDP sockets filtered with
	// BPF. Every header field is the probe's own. Needs CAP_NET_RAW.
	ModeRaw = sock.ModeRaw
	// ModeDgram uses unprivileged sockets: ICMP datagram ("ping") sockets
	// for echo requests (needs the process's group in
	// net.ipv4.ping_group_range) and a UDP socket for UDP probes. The
	// kernel builds the IP header (TTL, TOS, DF and IPv4 options are
	// applied; the IP ID and other fields are the kernel's), sets the echo
	// identifier to the socket's port, and returns ICMP errors through the
	// error queue, which holds the quoted transport header but not the
	// quoted IP header. TCP probes are plain connect() SYNs, one socket per
	// probe (see the package documentation); hand-built TCP segments and
	// ICMP timestamp requests are not possible.
	ModeDgram = sock.ModeDgram
)

// ParseMode is the inverse of Mode.String.
func ParseMode(s string) (Mode, error) {
	for _, m := range [...]Mode{ModeAuto, ModeRaw, ModeDgram} {
		if s == m.String() {
			return m, nil
		}
	}
	return ModeAuto, fmt.Errorf("probe: mode %q: use auto, raw or dgram", s)
}

// Probe is what an Engine sends: a template packet and what changes from
// one probe to the next. Probes are numbered from 1.
//
// For probe n the engine starts from a copy of Packet and sets:
//
//   - the source address when Packet's is unset: the address this host
//     uses towards the destination (checksums need it);
//   - the IPv4 TTL or IPv6 hop limit to 64 when zero;
//   - for ICMP and ICMPv6 echo and ICMP timestamp requests: the identifier
//     (the engine's own, unique among the engines of this host, see
//     Engine.ID; or Packet's when non-zero, as ping -e asks: New then
//     refuses an identifier another engine of this process holds, and a
//     datagram socket is bound to it) and the sequence number, uint16(n),
//     so probe 17 has seq=17;
//   - the IPv4 identification to a per-probe value when Packet's is zero;
//   - for UDP and TCP: the source port when Packet's is zero, from the
//     engine's own port range (Engine.Ports), one per probe in turn; for
//     TCP a per-probe sequence number when Packet's is zero, SYN when no
//     flag is set and a 1024-byte window when the window is zero;
//   - the payload: Patterns[(n-1) % len(Patterns)] (Packet.Payload when
//     there are none), with a packet.Stamp before or after it when Stamp
//     says so (send time and a per-engine nonce xor n).
//
// Then Vary, when set, may change anything else (a TTL per probe, for a
// traceroute); what it changes in the identifiers above is used as it is.
// In ModeDgram the kernel builds the IP header: per probe only the TTL
// (hop limit) and TOS (traffic class) apply; IPv4 options are those of
// the template, set once on the socket, and the socket is bound to the
// template's source address and UDP source port (New fails when this host
// cannot use them). A TCP probe there is a connect()
// whose source port, sequence number, window and options are the
// kernel's.
// Two probes whose match keys (packet.ProbeKey) are equal are never
// outstanding at once: the later one waits.
type Probe struct {
	// Packet is the template. Its Payload is used when Patterns is empty.
	Packet packet.Packet
	// Patterns are payload fills used in turn, e.g. for a pattern sweep.
	Patterns []packet.Pattern
	// Stamp is where the send stamp goes in the payload (packet.StampNone,
	// StampHead, StampTail).
	Stamp packet.StampPlace
	// DontFrag6 forbids fragmentation of IPv6 probes sent through
	// datagram sockets (IPV6_DONTFRAG); IPv4 uses Packet.IPv4.DF. Raw IPv6
	// probes are never fragmented by this host.
	DontFrag6 bool
	// Vary, when set, is called for every probe after the engine has set
	// the fields listed above; n counts from 1. It runs on the sending
	// goroutine and must not keep p.
	Vary func(n uint64, p *packet.Packet)
}

// Options control how an Engine sends and when it stops. The zero value
// sends one probe a second until the context is cancelled, in ModeAuto.
type Options struct {
	// Count is the number of probes to send; 0 means no limit.
	Count int
	// Interval is the time between probes (ping -i); default 1 s. It is
	// kept on an absolute schedule (probe k is due at start + k·Interval),
	// so timer granularity does not add up.
	Interval time.Duration
	// Rate, when positive, sends Rate probes per second instead of
	// Interval, on the same absolute schedule. It stays exact on average
	// at any rate: when the timer wakes late (its granularity on Linux is
	// about 1 ms), every probe that has become due is sent at once, up to
	// Burst of them.
	Rate float64
	// Burst bounds how many overdue probes are sent back to back to catch
	// up with the schedule; probes beyond it are skipped in time (the
	// schedule restarts from now). Default: Preload, or 10 ms worth at
	// Rate, whichever is larger.
	Burst int
	// Preload is the number of probes sent at once at the start (ping -l),
	// and the number of unanswered probes Flood and Adaptive keep in
	// flight; default 1.
	Preload int
	// Window bounds the probes outstanding at once (sent, neither answered
	// nor timed out): the sender waits while Window are. Default: half of
	// the engine's probe memory (up to 32768). It also bounds memory.
	Window int
	// Flood sends the next probe as soon as the previous one is answered
	// (as soon as fewer than Preload are in flight), or 10 ms after the
	// last send when no answer came (ping -f).
	Flood bool
	// Adaptive adapts the interval to the smoothed round-trip time
	// (ping -A): at most Preload probes in flight, the interval following
	// the RTT's exponentially weighted moving average; at least 2 ms when
	// the process is not root, as ping does.
	Adaptive bool
	// Deadline stops the engine this long after it started, whatever
	// else is pending (ping -w).
	Deadline time.Duration
	// Timeout is how long a probe waits for its answer (ping -W); an
	// answer that comes later is reported as late. Default 10 s. After
	// the last probe the engine waits at most this long for answers.
	Timeout time.Duration
	// Mode chooses the sockets; default ModeAuto.
	Mode Mode
	// PMTU is the path-MTU mode of sending sockets; the default,
	// sock.PMTUProbe, sends don't-fragment probes past any path MTU the
	// kernel has cached, so the network answers them.
	PMTU sock.PMTUMode
	// TxStamps chooses where RTTs start: TxAuto (the default) uses the
	// kernel's send timestamps except in a flood, TxKernel always, TxUser
	// never (the time taken just before the send system call).
	TxStamps TxStamps
	// RecvBuffer sets the receive buffer of the sockets in bytes (0: the
	// kernel default; floods with a deep Window may need more).
	RecvBuffer int
	// Device sends and receives through one network interface
	// (SO_BINDTODEVICE on every socket, ping -I IFACE), whatever the
	// routing table prefers; the source address is the one this host uses
	// through it. Empty: the routing table decides.
	Device string
	// Mark is the firewall mark of every socket (SO_MARK, ping -m); 0
	// leaves them unmarked. Without CAP_NET_ADMIN (or CAP_NET_RAW since
	// Linux 5.17) New fails with a *sock.MarkError.
	Mark uint32
	// Broadcast lets probes go to a broadcast address (SO_BROADCAST,
	// ping -b); every host that answers is a reply, the second and later
	// ones duplicates.
	Broadcast bool
	// SendBuffer sets the send buffer of the sending sockets in bytes
	// (SO_SNDBUF, ping -S); 0 keeps the kernel's default.
	SendBuffer int
	// PortRange is the number of source ports reserved for UDP and TCP
	// probes, one per probe in turn (default 256). It bounds the UDP and
	// TCP probes outstanding at once. Raw mode only: TCP-connect probes
	// use the kernel's ephemeral ports.
	PortRange int
	// KeepPackets makes every Result carry the answer as a parsed
	// *packet.Packet and its bytes (one allocation per answer).
	KeepPackets bool
	// Results, when set, receives every Result as it happens: each
	// received packet (reply, error, local condition, damaged, duplicate,
	// late, corrupted, unrelated), each probe that timed out and each
	// local send failure. Calls are serialised, from the engine's
	// goroutines; a slow callback slows the engine.
	Results func(Result)
	// Tap, when set, receives every packet sent and received with its
	// timestamp and match linkage, without ever blocking the engine (see
	// Tap).
	Tap *Tap
}

// TxStamps says which send times an engine takes.
type TxStamps uint8

// Send-time choices.
const (
	// TxAuto: kernel send timestamps (SO_TIMESTAMPING, taken when the
	// packet reaches the driver), except for floods, which use the
	// user-space time as ping -f does: a kernel timestamp costs a copy of
	// the packet's buffer on the error queue and a system call to read it,
	// about a quarter of a flood's rate on the lab.
	TxAuto TxStamps = iota
	// TxKernel: kernel send timestamps whenever the kernel gives them.
	TxKernel
	// TxUser: the time taken just before the send system call.
	TxUser
)

// kernelTx reports whether the engine asks for kernel send timestamps.
func (o *Options) kernelTx() bool {
	return o.TxStamps == TxKernel || o.TxStamps == TxAuto && !o.Flood
}

// Defaults.
const (
	DefaultInterval  = time.Second
	DefaultTimeout   = 10 * time.Second
	DefaultPortRange = 256
	// FloodMinInterval is the longest a flood waits for an answer before
	// it sends the next probe anyway (iputils' MIN_INTERVAL_MS).
	FloodMinInterval = 10 * time.Millisecond
	// AdaptiveMinUserInterval is the smallest adaptive interval for a
	// process that is not root (iputils' MIN_USER_INTERVAL_MS).
	AdaptiveMinUserInterval = 2 * time.Millisecond
)

// check validates o and fills in defaults.
func (o *Options) check() error {
	switch {
	case o.Count < 0:
		return fmt.Errorf("probe: count %d: must be 0 (no limit) or more", o.Count)
	case o.Interval < 0:
		return fmt.Errorf("probe: interval %v: must not be negative", o.Interval)
	case o.Rate < 0:
		return fmt.Errorf("probe: rate %g: must not be negative (0 means use the interval)", o.Rate)
	case o.Rate > 1e7:
		return fmt.Errorf("probe: rate %g probes per second: at most 10,000,000", o.Rate)
	case o.Preload < 0 || o.Preload > 65536:
		return fmt.Errorf("probe: preload %d: must be 0–65536", o.Preload)
	case o.Window < 0:
		return fmt.Errorf("probe: window %d: must not be negative", o.Window)
	case o.Burst < 0:
		return fmt.Errorf("probe: burst %d: must not be negative", o.Burst)
	case o.Deadline < 0 || o.Timeout < 0:
		return fmt.Errorf("probe: deadline and timeout must not be negative")
	case o.Flood && o.Rate > 0:
		return fmt.Errorf("probe: flood and rate exclude each other: a flood is paced by the answers")
	case o.Flood && o.Adaptive:
		return fmt.Errorf("probe: flood and adaptive exclude each other")
	case o.PortRange < 0 || o.PortRange > 16384:
		return fmt.Errorf("probe: port range %d: must be 0 (default %d) to 16384", o.PortRange, DefaultPortRange)
	case o.Mode > ModeDgram:
		return fmt.Errorf("probe: mode %d: use ModeAuto, ModeRaw or ModeDgram", o.Mode)
	case o.TxStamps > TxUser:
		return fmt.Errorf("probe: send timestamps %d: use TxAuto, TxKernel or TxUser", o.TxStamps)
	}
	if o.Interval == 0 && o.Rate == 0 && !o.Flood {
		o.Interval = DefaultInterval
	}
	if o.Preload == 0 {
		o.Preload = 1
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PortRange == 0 {
		o.PortRange = DefaultPortRange
	}
	if o.Burst == 0 {
		o.Burst = o.Preload
		if o.Rate > 0 {
			o.Burst = max(o.Burst, int(o.Rate*0.01+0.5))
		}
	}
	return nil
}
