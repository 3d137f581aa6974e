package packet

import "net/netip"

// Key is the hash-table key that ties answers to probes, in the manner of
// Scapy's hashret: a probe and every packet that may answer it have the same
// Key, so the engine finds candidates with one map lookup and then confirms
// with Answers. Keys are built from per-probe identifiers, never from
// addresses alone:
//
//   - ICMP and ICMPv6 echo and timestamp requests: protocol, request type,
//     identifier and sequence number. Echo replies may come from another
//     address (ping's "DIFFERENT ADDRESS!"), so the peer is not part of it;
//     the engine keeps (id, seq) unique among outstanding probes.
//   - UDP and TCP: protocol, source and destination port of the probe, and
//     the probe's destination address. Sequence numbers are checked by
//     Answers, since an ICMP error may quote only the first 8 bytes.
//   - Anything else over IPv4: protocol, IP identification and destination.
//
// Key is comparable and allocation-free.
type Key struct {
	Proto uint8      // IP protocol of the probe
	Type  uint8      // ICMP request type (8, 13, 128); 0 for other protocols
	A, B  uint16     // ICMP id and seq; UDP/TCP source and destination port; IPv4 ID
	Peer  netip.Addr // the probe's destination (UDP, TCP, other); unset for ICMP
}

// ProbeKey returns the key of p as a probe. ok is false for packets that
// nothing can be matched to (an ICMP type that expects no answer over IPv6,
// a transport header too short to hold its identifiers).
func ProbeKey(p *Packet) (k Key, ok bool) {
	switch p.Transport {
	case TransportICMP:
		switch p.ICMP.Type {
		case ICMPEchoRequest, ICMPTimestamp:
			return Key{Proto: ProtoICMP, Type: p.ICMP.Type, A: p.ICMP.ID, B: p.ICMP.Seq}, true
		}
	case TransportICMPv6:
		if p.ICMP.Type == ICMPv6EchoRequest {
			return Key{Proto: ProtoICMPv6, Type: ICMPv6EchoRequest, A: p.ICMP.ID, B: p.ICMP.Seq}, true
		}
		return Key{}, false
	case TransportUDP:
		return Key{Proto: ProtoUDP, A: p.UDP.SrcPort, B: p.UDP.DstPort, Peer: p.Dst()}, true
	case TransportTCP:
		return Key{Proto: ProtoTCP, A: p.TCP.SrcPort, B: p.TCP.DstPort, Peer: p.Dst()}, true
	}
	if p.Version == 4 {
		return Key{Proto: p.IPv4.Protocol, A: p.IPv4.ID, Peer: p.IPv4.Dst}, true
	}
	return Key{}, false
}

// AnswerKey returns the key of the probe that a may answer: for echo and
// timestamp replies their id and seq, for TCP and UDP the ports reversed
// and the source address, and for ICMP errors the key of the quoted
// datagram. ok is false for packets that answer nothing (requests, our own
// looped-back probes, quotes too short to hold identifiers).
func AnswerKey(a *Packet) (k Key, ok bool) {
	switch a.Transport {
	case TransportICMP:
		switch a.ICMP.Type {
		case ICMPEchoReply:
			return Key{Proto: ProtoICMP, Type: ICMPEchoRequest, A: a.ICMP.ID, B: a.ICMP.Seq}, !a.shortICMP()
		case ICMPTimestampReply:
			return Key{Proto: ProtoICMP, Type: ICMPTimestamp, A: a.ICMP.ID, B: a.ICMP.Seq}, !a.shortICMP()
		}
	case TransportICMPv6:
		if a.ICMP.Type == ICMPv6EchoReply {
			return Key{Proto: ProtoICMPv6, Type: ICMPv6EchoRequest, A: a.ICMP.ID, B: a.ICMP.Seq}, !a.shortICMP()
		}
	case TransportUDP:
		return Key{Proto: ProtoUDP, A: a.UDP.DstPort, B: a.UDP.SrcPort, Peer: a.Src()}, true
	case TransportTCP:
		return Key{Proto: ProtoTCP, A: a.TCP.DstPort, B: a.TCP.SrcPort, Peer: a.Src()}, true
	}
	if a.IsICMPError() && a.Quote != nil && quoteHoldsKey(a.Quote) {
		return ProbeKey(a.Quote)
	}
	return Key{}, false
}

// shortICMP reports whether an ICMP header was cut before its sequence
// number.
func (p *Packet) shortICMP() bool { return p.TransportBytes < ICMPHeaderLen }

// quoteHoldsKey reports whether a quoted datagram kept the transport bytes
// its key is made of: 8 for ICMP (id and seq), 4 for UDP ports, 8 for TCP
// ports and sequence number.
func quoteHoldsKey(q *Packet) bool {
	switch q.Transport {
	case TransportICMP, TransportICMPv6:
		return q.TransportBytes >= ICMPHeaderLen
	case TransportUDP:
		return q.TransportBytes >= 4
	case TransportTCP:
		return q.TransportBytes >= 8 // ports and the sequence number Answers checks
	}
	return q.Version == 4
}

// Match describes how an answer relates to the probe it answers.
type Match struct {
	// Kind names the answer as the Lua API does: "echo-reply",
	// "timestamp-reply", "time-exceeded", "frag-needed",
	// "port-unreachable", "packet-too-big", "param-problem",
	// "tcp-open" (SYN-ACK), "tcp-closed" (RST), "tcp-reply",
	// "udp-reply", …
	Kind string
	// Error is set when the answer is an ICMP error quoting the probe.
	Error bool
	// DifferentAddress is set when a direct answer (not an error) came
	// from an address other than the probe's destination.
	DifferentAddress bool
}

// Answers decides whether a answers probe, after a Key lookup found the
// pair, and how. It checks what the key leaves out: the quoted protocol and
// addresses of ICMP errors, TCP sequence and acknowledgement numbers (so a
// stale SYN-ACK for an earlier connection on the same ports is not taken),
// and the direction of UDP and TCP answers.
func Answers(probe, a *Packet) (Match, bool) {
	pk, ok1 := ProbeKey(probe)
	ak, ok2 := AnswerKey(a)
	if !ok1 || !ok2 || pk != ak {
		return Match{}, false
	}
	if a.IsICMPError() {
		return answersError(probe, a)
	}
	m := Match{Kind: a.Kind(), DifferentAddress: a.Src() != probe.Dst()}
	switch a.Transport {
	case TransportTCP:
		return answersTCP(probe, a, m)
	case TransportUDP:
		m.Kind = "udp-reply"
		return m, a.Src() == probe.Dst()
	case TransportICMP, TransportICMPv6:
		return m, a.Version == probe.Version
	}
	return Match{}, false
}

// answersError confirms an ICMP error: the quote must carry the probe's
// protocol and, unless a translator rewrote it, its destination. Over IPv4 a
// rewritten destination is still accepted when the quoted IP identification
// matches the probe's (NAT on the path; the quote diff shows the rewrite).
func answersError(probe, a *Packet) (Match, bool) {
	q := a.Quote
	if q.Version != probe.Version || q.Protocol() != probe.Protocol() {
		return Match{}, false
	}
	if q.Dst() != probe.Dst() && (probe.Version == 6 || q.IPv4.ID != probe.IPv4.ID) {
		return Match{}, false
	}
	if probe.Transport == TransportTCP && !quotedSeqMatches(probe, q) {
		return Match{}, false
	}
	return Match{Kind: a.Kind(), Error: true}, true
}

// quotedSeqMatches checks the TCP sequence number in a quote: bytes 4–7,
// present in every quote since RFC 792 requires 8 bytes of the datagram.
func quotedSeqMatches(probe, q *Packet) bool {
	return q.TCP.Seq == probe.TCP.Seq
}

// segLen is the sequence space a TCP segment occupies: payload plus one for
// SYN and one for FIN (RFC 9293 §3.4).
func segLen(t *TCP, payload int) uint32 {
	n := uint32(payload)
	if t.Flags&TCPSyn != 0 {
		n++
	}
	if t.Flags&TCPFin != 0 {
		n++
	}
	return n
}

// answersTCP checks a TCP answer against the TCP probe: an answer with ACK
// must acknowledge the probe's sequence space; a bare RST answers a probe
// that carried ACK and takes its sequence number from that acknowledgement
// (RFC 9293 §3.10.7.1).
func answersTCP(probe, a *Packet, m Match) (Match, bool) {
	if a.Src() != probe.Dst() {
		return Match{}, false
	}
	pt, at := &probe.TCP, &a.TCP
	switch {
	case at.Flags&TCPAck != 0:
		if at.Ack != pt.Seq+segLen(pt, len(probe.Payload)) {
			return Match{}, false
		}
	case at.Flags&TCPRst != 0:
		if pt.Flags&TCPAck == 0 || at.Seq != pt.Ack {
			return Match{}, false
		}
	default:
		return Match{}, false
	}
	switch {
	case at.Flags&TCPRst != 0:
		m.Kind = "tcp-closed"
	case at.Flags&(TCPSyn|TCPAck) == TCPSyn|TCPAck:
		m.Kind = "tcp-open"
	default:
		m.Kind = "tcp-reply"
	}
	m.DifferentAddress = false
	return m, true
}
