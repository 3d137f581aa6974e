package packet

import (
	"encoding/binary"
	"strconv"
	"time"
)

// StampLen is the length of an encoded Stamp.
const StampLen = 16

// A Stamp is the send time and nonce a probe can carry in its payload, so
// the RTT and the probe's identity can be read back from the echo.
//
// Encoded, big-endian, StampLen bytes:
//
//	offset 0..7   Sent, Unix time in nanoseconds (two's complement int64)
//	offset 8..15  Nonce
//
// Unlike iputils ping, which writes its timeval over the first 16 pattern
// bytes and then never checks them, echolot never overwrites the pattern:
// the stamp goes before or after it (see StampPlace), and every pattern
// byte can be verified.
type Stamp struct {
	Sent  int64  // send time, Unix nanoseconds
	Nonce uint64 // caller's choice: a random value or a probe number
}

// Time returns Sent as a time.Time.
func (st Stamp) Time() time.Time { return time.Unix(0, st.Sent) }

// Put writes st into b[0:StampLen] in the layout documented on Stamp. It
// panics if len(b) < StampLen, as encoding/binary does.
func (st Stamp) Put(b []byte) {
	_ = b[StampLen-1]
	binary.BigEndian.PutUint64(b[0:8], uint64(st.Sent))
	binary.BigEndian.PutUint64(b[8:16], st.Nonce)
}

// stampRead decodes a Stamp from b[0:StampLen].
func stampRead(b []byte) Stamp {
	return Stamp{
		Sent:  int64(binary.BigEndian.Uint64(b[0:8])),
		Nonce: binary.BigEndian.Uint64(b[8:16]),
	}
}

// StampPlace says where a payload carries its Stamp. Any value other than
// the three below is treated as StampNone.
type StampPlace uint8

const (
	// StampNone: the payload is the pattern alone.
	StampNone StampPlace = iota
	// StampHead: payload[0:16] is the stamp, payload[16:16+len(pattern)]
	// the pattern. Pattern offsets in the ICMP data are shifted by 16.
	StampHead
	// StampTail: payload[0:len(pattern)] is the pattern, then 16 bytes of
	// stamp. Pattern offsets equal ICMP data offsets, as in iputils.
	StampTail
)

// String returns "none", "head" or "tail" ("StampPlace(N)" otherwise).
func (p StampPlace) String() string {
	switch p {
	case StampNone:
		return "none"
	case StampHead:
		return "head"
	case StampTail:
		return "tail"
	}
	return "StampPlace(" + strconv.Itoa(int(p)) + ")"
}

// ParseStampPlace is the inverse of StampPlace.String for the three named
// places. Errors are *FieldError with Field "stamp".
func ParseStampPlace(s string) (StampPlace, error) {
	for _, p := range [...]StampPlace{StampNone, StampHead, StampTail} {
		if s == p.String() {
			return p, nil
		}
	}
	return StampNone, fieldErr("stamp", s, "must be none, head or tail")
}

// StampOffset is where the stamp starts in a payload whose pattern is patLen
// bytes long: 0 for StampHead, patLen for StampTail, -1 for StampNone. A
// caller that patches the send time just before sending writes there with
// Stamp.Put.
func StampOffset(patLen int, place StampPlace) int {
	switch place {
	case StampHead:
		return 0
	case StampTail:
		return max(patLen, 0)
	}
	return -1
}

// PayloadLen is the length of the payload AppendPayload builds.
func PayloadLen(pat Pattern, place StampPlace) int {
	if place == StampHead || place == StampTail {
		return len(pat.Bytes) + StampLen
	}
	return len(pat.Bytes)
}

// AppendPayload appends the payload, pattern and stamp laid out as place
// says, to dst and returns the extended slice. It allocates nothing when dst
// has room for PayloadLen(pat, place) more bytes.
func AppendPayload(dst []byte, pat Pattern, place StampPlace, st Stamp) []byte {
	var s [StampLen]byte
	switch place {
	case StampHead:
		st.Put(s[:])
		dst = append(dst, s[:]...)
		return append(dst, pat.Bytes...)
	case StampTail:
		st.Put(s[:])
		dst = append(dst, pat.Bytes...)
		return append(dst, s[:]...)
	}
	return append(dst, pat.Bytes...)
}

// SplitPayload takes apart a received payload b whose pattern was patLen
// bytes long when sent. It returns the stamp, whether b was long enough to
// hold it, and the bytes where the pattern is (sub-slices of b, not copies):
//
//   - StampNone: no stamp (ok false); pattern is all of b.
//   - StampHead: the stamp is b[0:16]; pattern is b[16:], all of it, so a
//     reply that grew shows as a longer pattern. ok is false and pattern
//     empty when len(b) < 16.
//   - StampTail: the stamp is b[patLen:patLen+16]; pattern is
//     b[:min(patLen, len(b))]. ok is false when b ends before the stamp
//     does. Bytes after the stamp belong to neither: compare whole payloads
//     to see a reply that grew.
//
// A negative patLen counts as 0.
func SplitPayload(b []byte, patLen int, place StampPlace) (stamp Stamp, ok bool, pattern []byte) {
	patLen = max(patLen, 0)
	switch place {
	case StampHead:
		if len(b) < StampLen {
			return Stamp{}, false, b[len(b):]
		}
		return stampRead(b), true, b[StampLen:]
	case StampTail:
		if patLen >= len(b) {
			return Stamp{}, false, b
		}
		pattern = b[:patLen]
		if len(b)-patLen < StampLen {
			return Stamp{}, false, pattern
		}
		return stampRead(b[patLen:]), true, pattern
	}
	return Stamp{}, false, b
}
