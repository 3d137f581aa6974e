package packet

// UDPHeaderLen is the length of a UDP header (RFC 768).
const UDPHeaderLen = 8

// UDP is a UDP header (RFC 768). Length is computed by the builder; the
// checksum, over the pseudo-header too, is computed unless FixedChecksum is
// set. Over IPv4 a fixed zero checksum means "no checksum"; a computed zero
// is sent as 0xffff.
type UDP struct {
	SrcPort, DstPort uint16
	// Length is the Length field as parsed; the builder ignores it.
	Length        int
	Checksum      uint16
	FixedChecksum bool
}
