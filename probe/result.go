package probe

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/echolot/echolot/packet"
)

// Kind says what a Result is. Every packet an engine receives becomes
// exactly one Result of one of the first eight kinds; KindTimeout reports a
// probe that got no answer in time.
type Kind uint8

// Kinds of Result.
const (
	// KindReply is a direct answer from the probed host: echo-reply,
	// timestamp-reply, udp-reply, tcp-open (SYN-ACK), tcp-closed (RST).
	KindReply Kind = iota + 1
	// KindError is an ICMP or ICMPv6 error from the network quoting the
	// probe: time-exceeded (From names the router), frag-needed and
	// packet-too-big (with MTU), port-unreachable, …, with the quote diff.
	KindError
	// KindLocal is a condition on this host, not an answer from the
	// network: a send refused with EMSGSIZE (MTU is the kernel's MTU
	// towards the destination), a frag-needed the kernel generated about
	// its own refusal (source and destination this host), or another
	// local send failure (Err).
	KindLocal
	// KindDamaged is a reply whose payload differs from what was sent
	// (Damage says where). It counts as received, and as damaged.
	KindDamaged
	// KindDuplicate is a further answer to a probe that was already
	// answered (ping's DUP!).
	KindDuplicate
	// KindLate is an answer to a probe whose timeout had passed.
	KindLate
	// KindCorrupted is a reply whose checksum does not verify (ping's
	// "BAD CHECKSUM!"): it is not counted as received and does not answer
	// the probe.
	KindCorrupted
	// KindUnrelated is a packet that answers none of this engine's
	// probes: another program's ICMP error, a reply to a probe long
	// forgotten, a segment for one of our ports that does not match.
	KindUnrelated
	// KindTimeout is a probe that got no answer within Options.Timeout
	// (or was still unanswered when the engine stopped).
	KindTimeout
)

var kindNames = [...]string{"", "reply", "error", "local", "damaged", "duplicate", "late", "corrupted", "unrelated", "timeout"}

// String returns "reply", "error", "local", "damaged", "duplicate", "late",
// "corrupted", "unrelated" or "timeout".
func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Result is one record of the per-probe stream (Options.Results): a
// received packet and what it means for the probe it answers, or a probe
// that timed out or could not be sent. It is plain data; JSON output, the
// capture tap and Lua read it.
type Result struct {
	// Kind classifies the record.
	Kind Kind
	// Answer names the received packet as the Lua API does:
	// "echo-reply", "timestamp-reply", "udp-reply", "tcp-open",
	// "tcp-closed", "time-exceeded", "frag-needed", "packet-too-big",
	// "port-unreachable", …; "send-error" for a local send failure; ""
	// for a timeout.
	Answer string
	// Probe is the number of the probe (from 1) the record is about; 0
	// for KindUnrelated.
	Probe uint64
	// Seq is the probe's ICMP sequence number (-1 for other transports).
	Seq int
	// TTL is the probe's TTL or hop limit as sent.
	TTL int
	// Pattern names the payload pattern of the probe.
	Pattern string
	// Sent is when the probe left: the kernel's send timestamp when there
	// is one (TxKernel), else the time taken just before the send call.
	Sent time.Time
	// Received is when the answer arrived: the kernel's receive timestamp
	// when there is one (RxKernel), else the time it was read.
	Received time.Time
	// RTT is Received − Sent, in nanoseconds; zero for timeouts.
	RTT time.Duration
	// TxKernel and RxKernel say whether Sent and Received are kernel
	// timestamps.
	TxKernel, RxKernel bool
	// From is the answer's source: the probed host, or the router that
	// sent an ICMP error.
	From netip.Addr
	// ReplyTTL is the answer's own TTL or hop limit, -1 when unknown.
	ReplyTTL int
	// MTU is the next-hop MTU of a frag-needed or packet-too-big, or, for
	// a local EMSGSIZE, the kernel's MTU towards the destination.
	MTU int
	// DifferentAddress is set when a reply came from an address other
	// than the probe's destination (ping's "DIFFERENT ADDRESS!").
	DifferentAddress bool
	// Changes lists what the path changed in the probe, from the quote
	// of an ICMP error (packet.QuoteDiff).
	Changes []packet.Change
	// PartialQuote is set for ICMP errors read from a datagram socket's
	// error queue: the kernel hands over the quoted transport header and
	// data but not the quoted IP header, so IP-level changes (TTL, TOS,
	// options) cannot be seen.
	PartialQuote bool
	// Damage describes how a reply's payload differs from what was sent
	// (nil when intact); offsets count from the start of the ICMP data
	// (UDP payload), as ping's "wrong data byte #N" does.
	Damage *packet.Damage
	// IPOptions are the IPv4 options of the answer (a record route
	// filled in by the path, timestamps), nil when it had none.
	IPOptions []packet.Option
	// Err is the local error of a KindLocal record.
	Err error
	// Packet is the answer as parsed and Bytes its bytes (starting at
	// the IP header), when Options.KeepPackets is set.
	Packet *packet.Packet
	Bytes  []byte // the answer's bytes, from its IP header
}

// String renders the result on one line, for example
//
//	probe 3 seq=3: echo-reply from 198.18.3.2 ttl=62 rtt=0.041ms
//	probe 2 seq=2: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 2→1
//	probe 7 seq=7: timeout
func (r *Result) String() string {
	var b strings.Builder
	if r.Kind == KindUnrelated {
		fmt.Fprintf(&b, "unrelated %s from %v", r.Answer, r.From)
		return b.String()
	}
	fmt.Fprintf(&b, "probe %d", r.Probe)
	if r.Seq >= 0 {
		fmt.Fprintf(&b, " seq=%d", r.Seq)
	}
	b.WriteString(": ")
	switch r.Kind {
	case KindTimeout:
		b.WriteString("timeout")
		return b.String()
	case KindLocal:
		b.WriteString("local ")
	case KindDuplicate:
		b.WriteString("duplicate ")
	case KindLate:
		b.WriteString("late ")
	case KindCorrupted:
		b.WriteString("corrupted ")
	}
	b.WriteString(r.Answer)
	if r.From.IsValid() {
		fmt.Fprintf(&b, " from %v", r.From)
	}
	if r.ReplyTTL >= 0 && r.Kind != KindLocal {
		fmt.Fprintf(&b, " ttl=%d", r.ReplyTTL)
	}
	if r.MTU > 0 {
		fmt.Fprintf(&b, " mtu=%d", r.MTU)
	}
	if r.RTT > 0 {
		b.WriteString(" rtt=" + FormatRTT(r.RTT))
	}
	if r.DifferentAddress {
		b.WriteString(" (different address)")
	}
	b.Write(appendChanges(nil, r.Changes))
	if r.Damage != nil {
		b.WriteString(" damaged: " + r.Damage.String())
	}
	if r.Err != nil && r.Kind == KindLocal {
		b.WriteString(": " + r.Err.Error())
	}
	return b.String()
}

// appendChanges appends " changed: ttl 3→1 tos 0x00→0x28" for the changes
// worth showing: all but recomputed checksums.
func appendChanges(b []byte, cs []packet.Change) []byte {
	first := true
	for _, c := range cs {
		if c.Expected && strings.HasSuffix(c.Field, "chksum") {
			continue
		}
		if first {
			b = append(b, " changed:"...)
			first = false
		}
		b = append(b, ' ')
		b = append(b, c.String()...)
	}
	return b
}

// FormatRTT renders a duration in milliseconds with three decimals, e.g.
// "0.412ms".
func FormatRTT(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + "ms"
}
