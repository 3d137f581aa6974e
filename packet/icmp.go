package packet

// ICMPv4 message types (RFC 792, RFC 1256).
const (
	ICMPEchoReply      = 0
	ICMPDestUnreach    = 3
	ICMPSourceQuench   = 4
	ICMPRedirect       = 5
	ICMPEchoRequest    = 8
	ICMPTimeExceeded   = 11
	ICMPParamProblem   = 12
	ICMPTimestamp      = 13
	ICMPTimestampReply = 14
)

// ICMPv4 Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1,
// RFC 1812 §5.2.7.1).
const (
	CodeNetUnreach       = 0
	CodeHostUnreach      = 1
	CodeProtoUnreach     = 2
	CodePortUnreach      = 3
	CodeFragNeeded       = 4 // carries the next-hop MTU (RFC 1191 §4)
	CodeSourceRouteFail  = 5
	CodeNetUnknown       = 6
	CodeHostUnknown      = 7
	CodeHostIsolated     = 8
	CodeNetProhibited    = 9
	CodeHostProhibited   = 10
	CodeNetTOSUnreach    = 11
	CodeHostTOSUnreach   = 12
	CodeFiltered         = 13
	CodePrecedenceViol   = 14
	CodePrecedenceCutoff = 15
)

// ICMPv6 message types (RFC 4443 §2.1).
const (
	ICMPv6DestUnreach  = 1
	ICMPv6PacketTooBig = 2
	ICMPv6TimeExceeded = 3
	ICMPv6ParamProblem = 4
	ICMPv6EchoRequest  = 128
	ICMPv6EchoReply    = 129
)

// ICMPv6 Destination Unreachable codes (RFC 4443 §3.1).
const (
	Code6NoRoute        = 0
	Code6Prohibited     = 1
	Code6BeyondScope    = 2
	Code6AddrUnreach    = 3
	Code6PortUnreach    = 4
	Code6PolicyFailed   = 5
	Code6RejectRoute    = 6
	Code6SourceRouteErr = 7
)

// ICMPHeaderLen is the length of the ICMP and ICMPv6 header: type, code,
// checksum and four bytes whose meaning depends on the type.
const ICMPHeaderLen = 8

// ICMP is an ICMP (RFC 792) or ICMPv6 (RFC 4443) header; which one is given
// by Packet.Transport. The four bytes after the checksum are held as ID and
// Seq, which is what they are for echo and timestamp messages; for other
// types use the Packet accessors NextHopMTU, Pointer, Gateway and
// ExtensionLen, which read the same bytes by their meaning for that type.
// The message body (echo data, a quoted datagram) is Packet.Payload.
type ICMP struct {
	Type uint8
	Code uint8
	// Checksum is computed by the builder unless FixedChecksum is set (to
	// send a deliberately wrong one). ICMPv6 checksums cover the IPv6
	// pseudo-header (RFC 4443 §2.3).
	Checksum      uint16
	FixedChecksum bool
	// ID is header bytes 4–5: the echo or timestamp identifier.
	ID uint16
	// Seq is header bytes 6–7: the echo or timestamp sequence number.
	Seq uint16
}

// isErrorV4 reports whether an ICMPv4 type carries a quoted datagram.
func isErrorV4(t uint8) bool {
	switch t {
	case ICMPDestUnreach, ICMPSourceQuench, ICMPRedirect, ICMPTimeExceeded, ICMPParamProblem:
		return true
	}
	return false
}

// isErrorV6 reports whether an ICMPv6 type is an error message: types below
// 128 (RFC 4443 §2.1). Types 1–4 are the ones that quote a datagram.
func isErrorV6(t uint8) bool { return t >= 1 && t <= 4 }

// ICMPTypeName names an ICMPv4 (v6 false) or ICMPv6 type and code the way
// the Lua API and the capture comments spell answers, e.g. "echo-reply",
// "time-exceeded", "frag-needed", "port-unreachable", "packet-too-big".
func ICMPTypeName(v6 bool, typ, code uint8) string {
	if v6 {
		switch typ {
		case ICMPv6DestUnreach:
			switch code {
			case Code6PortUnreach:
				return "port-unreachable"
			case Code6AddrUnreach:
				return "host-unreachable"
			case Code6NoRoute:
				return "net-unreachable"
			case Code6Prohibited, Code6PolicyFailed, Code6RejectRoute:
				return "prohibited"
			}
			return "dest-unreachable"
		case ICMPv6PacketTooBig:
			return "packet-too-big"
		case ICMPv6TimeExceeded:
			if code == 1 {
				return "reassembly-timeout"
			}
			return "time-exceeded"
		case ICMPv6ParamProblem:
			return "param-problem"
		case ICMPv6EchoRequest:
			return "echo-request"
		case ICMPv6EchoReply:
			return "echo-reply"
		}
		return "icmp6-" + itoa(int(typ)) + "-" + itoa(int(code))
	}
	switch typ {
	case ICMPEchoReply:
		return "echo-reply"
	case ICMPDestUnreach:
		switch code {
		case CodeFragNeeded:
			return "frag-needed"
		case CodePortUnreach:
			return "port-unreachable"
		case CodeProtoUnreach:
			return "protocol-unreachable"
		case CodeHostUnreach:
			return "host-unreachable"
		case CodeNetUnreach:
			return "net-unreachable"
		case CodeNetProhibited, CodeHostProhibited, CodeFiltered:
			return "prohibited"
		case CodeSourceRouteFail:
			return "source-route-failed"
		}
		return "dest-unreachable"
	case ICMPSourceQuench:
		return "source-quench"
	case ICMPRedirect:
		return "redirect"
	case ICMPEchoRequest:
		return "echo-request"
	case ICMPTimeExceeded:
		if code == 1 {
			return "reassembly-timeout"
		}
		return "time-exceeded"
	case ICMPParamProblem:
		return "param-problem"
	case ICMPTimestamp:
		return "timestamp-request"
	case ICMPTimestampReply:
		return "timestamp-reply"
	}
	return "icmp-" + itoa(int(typ)) + "-" + itoa(int(code))
}
