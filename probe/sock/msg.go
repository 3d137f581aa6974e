package sock

import (
	"net/netip"
	"syscall"
	"time"
)

// Kind says what a Msg returned by Recv or RecvErrQueue holds.
type Kind uint8

// Kinds of Msg.
const (
	// KindPacket is a datagram from the socket's receive queue: Data
	// holds its bytes (from the IP header on raw IPv4 sockets, from the
	// transport header on raw IPv6 and datagram sockets) and the other
	// fields what the control messages said about it.
	KindPacket Kind = iota + 1
	// KindError is an ICMP or local error from the error queue
	// (IP_RECVERR / IPV6_RECVERR): Err describes it, Data holds the
	// original datagram as the kernel returns it (the echo message on a
	// ping socket, the UDP payload on a UDP socket, the TCP header on a
	// TCP socket, the IP datagram on a raw socket) and From its
	// destination.
	KindError
	// KindTxTimestamp is a send timestamp from the error queue
	// (SO_TIMESTAMPING): Time is when the kernel handed the packet to the
	// device driver and TxID the counter of the send it belongs to (see
	// Sent.ID). Data is empty.
	KindTxTimestamp
	// KindSoftError is the once-only socket error that Linux reports from
	// the next ordinary recvmsg after it queued an ICMP error (sk_err:
	// EHOSTUNREACH, ECONNREFUSED, EMSGSIZE, ...). It is not a failure of
	// the socket: SoftErr names the errno, the error itself is (or was)
	// delivered as a KindError entry, and the caller simply reads on.
	KindSoftError
)

// String returns "packet", "error", "tx-timestamp" or "soft-error".
func (k Kind) String() string {
	switch k {
	case KindPacket:
		return "packet"
	case KindError:
		return "error"
	case KindTxTimestamp:
		return "tx-timestamp"
	case KindSoftError:
		return "soft-error"
	}
	return "none"
}

// Origins of an error-queue entry (struct sock_extended_err, ee_origin).
const (
	OriginNone         = 0 // SO_EE_ORIGIN_NONE
	OriginLocal        = 1 // SO_EE_ORIGIN_LOCAL: this host refused (EMSGSIZE with the MTU in Info)
	OriginICMP         = 2 // SO_EE_ORIGIN_ICMP: an ICMPv4 error from Offender
	OriginICMP6        = 3 // SO_EE_ORIGIN_ICMP6: an ICMPv6 error from Offender
	OriginTimestamping = 4 // SO_EE_ORIGIN_TIMESTAMPING: a send timestamp
)

// Types of send timestamp (ExtErr.Info of an OriginTimestamping entry).
const (
	TstampSnd   = 0 // SCM_TSTAMP_SND: handed to the driver
	TstampSched = 1 // SCM_TSTAMP_SCHED: entered the packet scheduler
	TstampAck   = 2 // SCM_TSTAMP_ACK: acknowledged (TCP)
)

// ExtErr is an error-queue entry's struct sock_extended_err with its
// offender address (SO_EE_OFFENDER).
type ExtErr struct {
	// Errno is the error the kernel maps the entry to: EHOSTUNREACH for
	// time exceeded, ECONNREFUSED for port unreachable, EMSGSIZE for
	// frag-needed / packet-too-big and local MTU refusals, ENOMSG for
	// timestamps.
	Errno syscall.Errno
	// Origin is one of the Origin constants.
	Origin uint8
	// Type and Code are the ICMP or ICMPv6 type and code (OriginICMP,
	// OriginICMP6).
	Type, Code uint8
	// Info is the MTU for frag-needed, packet-too-big and local EMSGSIZE
	// entries, the pointer of a parameter problem, the timestamp type
	// (TstampSnd, ...) of a timestamp entry.
	Info uint32
	// Data is the OPT_ID send counter of a timestamp entry.
	Data uint32
	// Offender is the address that sent the ICMP error (the router of a
	// time exceeded), or this host for local errors; invalid when the
	// kernel gave none.
	Offender netip.Addr
}

// Msg is one message read from a Conn. Recv fills it in place and reuses
// its storage, so reading into the same Msg allocates nothing.
type Msg struct {
	// Kind says which of the fields below are meaningful.
	Kind Kind
	// Data holds the bytes read; it aliases the buffer passed to Recv.
	Data []byte
	// Len is the datagram's full length. When it exceeds len(Data) the
	// buffer was too small and Truncated is set.
	Len       int
	Truncated bool // buf was too small: Data holds the start only
	// CtrlTruncated is set when the control messages did not fit
	// (MSG_CTRUNC); some of the fields below may then be missing.
	CtrlTruncated bool

	// From is the sender of a packet (for KindError: the original
	// destination). Scope is its IPv6 scope id (interface index), 0 when
	// none, and Port its port on UDP and TCP sockets.
	From  netip.Addr
	Scope uint32 // IPv6 scope id of From
	Port  uint16 // port of From (UDP, TCP)

	// Time is the kernel's timestamp: the receive time of a packet
	// (SO_TIMESTAMPNS, or SO_TIMESTAMPING software), the arrival time of
	// the ICMP error of a KindError, the send time of a KindTxTimestamp. It is the zero Time when the kernel gave none
	// (then use a user-space clock). It carries no monotonic reading.
	Time time.Time

	// TTL is the received IPv4 TTL or IPv6 hop limit (IP_RECVTTL,
	// IPV6_RECVHOPLIMIT), -1 when not reported.
	TTL int
	// TOS is the received IPv4 TOS octet or IPv6 traffic class
	// (IP_RECVTOS, IPV6_RECVTCLASS), -1 when not reported.
	TOS int
	// FlowLabel is the received IPv6 flow label (IPV6_FLOWINFO), -1 when
	// not reported.
	FlowLabel int
	// Dst and IfIndex come from IP_PKTINFO / IPV6_PKTINFO: the packet's
	// destination address and the interface it arrived on; invalid and 0
	// when not reported.
	Dst     netip.Addr
	IfIndex int // arrival interface

	// Err describes a KindError or KindTxTimestamp entry.
	Err ExtErr
	// TxID is the send counter of a KindTxTimestamp (equal to Err.Data).
	TxID uint32
	// SoftErr is the errno of a KindSoftError.
	SoftErr syscall.Errno

	opts   [40]byte
	optLen int
}

// Options returns the IPv4 options of the received datagram as reported by
// IP_RECVOPTS (the raw option bytes, padding included), or nil. The slice
// aliases m and is overwritten by the next read into m.
func (m *Msg) Options() []byte {
	if m.optLen == 0 {
		return nil
	}
	return m.opts[:m.optLen]
}

// FromSelf reports whether the message's sender is also its destination
// (From equals Dst from IP_PKTINFO): an ICMP error generated by this host
// about its own packet, such as the local frag-needed Linux delivers to raw
// sockets after refusing a send, or anything sent over loopback to itself.
func (m *Msg) FromSelf() bool {
	return m.From.IsValid() && m.Dst.IsValid() && m.From == m.Dst
}

// AppendIPv6Header appends a 40-byte IPv6 header for a message read from a
// raw IPv6 or ICMPv6 datagram socket, where the kernel strips the IP header:
// From and Dst as addresses, TTL as hop limit, TOS as traffic class,
// FlowLabel, Len as payload length and next as next header. The result,
// followed by Data, can be handed to a parser that wants a whole datagram
// (packet.Parse). Fields the kernel did not report are written as zero.
func (m *Msg) AppendIPv6Header(b []byte, next uint8) []byte {
	tc, fl, hl := 0, 0, 0
	if m.TOS >= 0 {
		tc = m.TOS
	}
	if m.FlowLabel >= 0 {
		fl = m.FlowLabel
	}
	if m.TTL >= 0 {
		hl = m.TTL
	}
	n := len(m.Data)
	b = append(b, 0x60|byte(tc>>4), byte(tc<<4)|byte(fl>>16&0x0f), byte(fl>>8), byte(fl),
		byte(n>>8), byte(n), next, byte(hl))
	src, dst := m.From.As16(), m.Dst.As16()
	b = append(b, src[:]...)
	return append(b, dst[:]...)
}

func (m *Msg) reset() {
	m.Kind = 0
	m.Data = nil
	m.Len = 0
	m.Truncated = false
	m.CtrlTruncated = false
	m.From = netip.Addr{}
	m.Scope = 0
	m.Port = 0
	m.Time = time.Time{}
	m.TTL, m.TOS, m.FlowLabel = -1, -1, -1
	m.Dst = netip.Addr{}
	m.IfIndex = 0
	m.Err = ExtErr{}
	m.TxID = 0
	m.SoftErr = 0
	m.optLen = 0
}
