package packet

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPatternLen is the largest payload a pattern can fill: 65535 bytes, the
// largest IP datagram. Generators that take no error clamp n to 0..MaxPatternLen.
const MaxPatternLen = 65535

// IPutilsMaxPattern is the most bytes iputils ping accepts for -p. HexPattern
// accepts longer patterns as long as they fit in the payload.
const IPutilsMaxPattern = 16

// DefaultRandomSeed is the seed PatternByName uses for the name "random".
const DefaultRandomSeed = 1

// A Pattern is a named payload fill. Bytes is computed once, when the pattern
// is made, so sending it costs no allocation; treat it as read-only.
type Pattern struct {
	// Name is short and stable ("0xa5", "ramp", "prbs15", "random(seed=7)"),
	// so a result can say which pattern was damaged; PatternByName accepts
	// the names it gives out, except "file:" names.
	Name string
	// Note says in one sentence why the pattern is a classic troublemaker.
	// It may be empty.
	Note string
	// Bytes is the payload, exactly as long as requested.
	Bytes []byte
}

// patLen clamps a requested length to 0..MaxPatternLen.
func patLen(n int) int {
	return max(0, min(n, MaxPatternLen))
}

// patRepeat returns n bytes holding unit repeated from offset 0 (the last
// repetition cut short). An empty unit gives n zero bytes.
func patRepeat(unit []byte, n int) []byte {
	b := make([]byte, n)
	if len(unit) == 0 || n == 0 {
		return b
	}
	k := copy(b, unit)
	for k < n {
		k += copy(b[k:], b[:k])
	}
	return b
}

// HexPattern is iputils ping -p: hex digits, with an optional "0x" prefix and
// optional ':' or ' ' separators between bytes, repeated from payload offset
// 0 to fill n bytes. ping takes 1 to 16 bytes; longer patterns are accepted
// when they fit in n. The Name is the decoded bytes as "0x" plus lower-case
// hex ("DE:AD:be:ef" gives "0xdeadbeef"), so it parses back to the same bytes.
//
// Errors are *FieldError with Field "pattern": for n outside
// 0..MaxPatternLen, no digits, an odd number of digits, a separator inside a
// byte, a character that is not a hex digit (the error gives its 0-based byte
// position and the character), and for a pattern longer than both 16 bytes
// and n.
func HexPattern(hex string, n int) (Pattern, error) {
	if n < 0 || n > MaxPatternLen {
		return Pattern{}, fieldErr("pattern", n, "payload length must be 0..%d bytes", MaxPatternLen)
	}
	unit, err := patParseHex(hex)
	if err != nil {
		return Pattern{}, err
	}
	if len(unit) > IPutilsMaxPattern && len(unit) > n {
		return Pattern{}, fieldErr("pattern", hex,
			"%d pattern bytes do not fit in a %d-byte payload (more than %d bytes must fit)",
			len(unit), n, IPutilsMaxPattern)
	}
	return Pattern{Name: patHexName(unit), Bytes: patRepeat(unit, n)}, nil
}

// patHexName is the canonical name of a hex pattern: "0x" and lower-case hex.
func patHexName(unit []byte) string {
	return "0x" + hex.EncodeToString(unit)
}

// patParseHex decodes the text of a hex pattern (see HexPattern).
func patParseHex(s string) ([]byte, error) {
	i := 0
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		i = 2
	}
	out := make([]byte, 0, len(s)/2)
	digits := 0
	var hi byte
	for i < len(s) {
		c := s[i]
		if c == ':' || c == ' ' {
			if digits%2 == 1 {
				return nil, fieldErr("pattern", s,
					"separator %q at position %d splits a byte; put separators between pairs of hex digits", c, i)
			}
			i++
			continue
		}
		v, ok := patHexDigit(c)
		if !ok {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, fieldErr("pattern", s,
				"character %q at position %d is not a hex digit (0-9, a-f, A-F; separators ':' or ' ')", r, i)
		}
		if digits%2 == 0 {
			hi = v << 4
		} else {
			out = append(out, hi|v)
		}
		digits++
		i++
	}
	if digits == 0 {
		return nil, fieldErr("pattern", s, "no hex digits; give 1 to %d bytes such as a5 or 0xdeadbeef", IPutilsMaxPattern)
	}
	if digits%2 == 1 {
		return nil, fieldErr("pattern", s, "odd number of hex digits (%d); each byte takes two", digits)
	}
	return out, nil
}

func patHexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// BytesPattern repeats b from offset 0 to fill n bytes; an empty b gives n
// zero bytes. b is copied. n is clamped to 0..MaxPatternLen.
func BytesPattern(name string, b []byte, n int) Pattern {
	return Pattern{Name: name, Bytes: patRepeat(b, patLen(n))}
}

// textNameMax is how many characters of the text TextPattern puts in a name.
const textNameMax = 16

// TextPattern repeats the bytes of s to fill n bytes (zeros when s is empty).
// Its Name is "text:" and s, cut to 16 characters with "..." appended when
// longer, with non-printable characters escaped as in Go ("\r", "\x00") so the
// name stays on one line. n is clamped to 0..MaxPatternLen.
func TextPattern(s string, n int) Pattern {
	var name strings.Builder
	name.WriteString("text:")
	k := 0
	for _, r := range s {
		if k == textNameMax {
			name.WriteString("...")
			break
		}
		if unicode.IsPrint(r) && r != '\\' {
			name.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r) // 'x' with escapes
			name.WriteString(q[1 : len(q)-1])
		}
		k++
	}
	return Pattern{Name: name.String(), Bytes: patRepeat([]byte(s), patLen(n))}
}

// FilePattern repeats data, the contents of a file the caller has read, to
// fill n bytes (zeros when data is empty). Its Name is "file:" and name.
// n is clamped to 0..MaxPatternLen.
func FilePattern(name string, data []byte, n int) Pattern {
	return Pattern{Name: "file:" + name, Bytes: patRepeat(data, patLen(n))}
}

// RandomPattern gives n pseudo-random bytes that depend only on seed. The
// generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014): the state advances by
// 0x9e3779b97f4a7c15 per step and each state is mixed by
//
//	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
//	z = (z ^ z>>27) * 0x94d049bb133111eb
//	z = z ^ z>>31
//
// Each 64-bit output is written big-endian, so seed 0 begins e2 20 a8 39.
// The Name is "random(seed=SEED)". n is clamped to 0..MaxPatternLen.
func RandomPattern(n int, seed uint64) Pattern {
	n = patLen(n)
	b := make([]byte, n)
	state := seed
	var w [8]byte
	for i := 0; i < n; i += 8 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		binary.BigEndian.PutUint64(w[:], z)
		copy(b[i:], w[:])
	}
	return Pattern{Name: "random(seed=" + strconv.FormatUint(seed, 10) + ")", Bytes: b}
}

// Ramp is what ping sends without -p: byte i is i mod 256. Name "ramp".
func Ramp(n int) Pattern {
	b := make([]byte, patLen(n))
	for i := range b {
		b[i] = byte(i)
	}
	return Pattern{Name: "ramp", Bytes: b}
}

// WalkingOnes is 0x01, 0x02, 0x04, ... 0x80 repeated: one set bit walking
// through every bit position. Name "walking-ones".
func WalkingOnes(n int) Pattern {
	b := make([]byte, patLen(n))
	for i := range b {
		b[i] = 1 << (i % 8)
	}
	return Pattern{Name: "walking-ones", Bytes: b}
}

// WalkingZeros is 0xfe, 0xfd, 0xfb, ... 0x7f repeated: one clear bit walking
// through every bit position. Name "walking-zeros".
func WalkingZeros(n int) Pattern {
	b := make([]byte, patLen(n))
	for i := range b {
		b[i] = ^byte(1 << (i % 8))
	}
	return Pattern{Name: "walking-zeros", Bytes: b}
}

// Zeros is n bytes of 0x00. Name "zeros".
func Zeros(n int) Pattern {
	return Pattern{Name: "zeros", Bytes: make([]byte, patLen(n))}
}

// Ones is n bytes of 0xff. Name "ones".
func Ones(n int) Pattern {
	return Pattern{Name: "ones", Bytes: patRepeat([]byte{0xff}, patLen(n))}
}

// Alternating is 0x55, 0xaa, 0x55, ...: every bit changes from one byte to
// the next. Name "alt-55aa".
func Alternating(n int) Pattern {
	return Pattern{Name: "alt-55aa", Bytes: patRepeat([]byte{0x55, 0xaa}, patLen(n))}
}

// HDLCFlags is n bytes of 0x7e, the HDLC and PPP frame delimiter (RFC 1662
// §3.1). Byte-stuffing links must escape every one of them as 0x7d 0x5e
// (RFC 1662 §4.2), so the frame doubles on the wire. Name "0x7e".
func HDLCFlags(n int) Pattern {
	return Pattern{Name: "0x7e", Note: patNoteFlags, Bytes: patRepeat([]byte{0x7e}, patLen(n))}
}

// AlmostZero is n zero bytes with a single bit set. bit indexes the payload
// as one bit string, most significant bit first: bit 0 is 0x80 of byte 0,
// bit 7 is 0x01 of byte 0, bit 8 is 0x80 of byte 1. A bit outside 0..8n-1 is
// reduced modulo 8n (so -1 is the last bit); the Name gives the bit actually
// set: "almost-zero(bit=BIT)". With n = 0 the payload is empty.
func AlmostZero(n int, bit int) Pattern {
	n = patLen(n)
	b := make([]byte, n)
	if n > 0 {
		bits := 8 * n
		bit = (bit%bits + bits) % bits
		b[bit/8] = 0x80 >> (bit % 8)
	}
	return Pattern{Name: "almost-zero(bit=" + strconv.Itoa(bit) + ")", Bytes: b}
}

// prbsPoly describes one PRBS: the polynomial x^order + x^tap + 1 and whether
// ITU-T O.150 transmits it inverted.
type prbsPoly struct {
	order, tap int
	inverted   bool
}

var prbsPolys = [...]prbsPoly{
	{7, 6, false},
	{9, 5, false},
	{11, 9, false},
	{15, 14, true},
	{20, 3, false},
	{23, 18, true},
	{31, 28, true},
}

// PRBSOrders lists the orders PRBS accepts, ascending: 7, 9, 11, 15, 20, 23, 31.
func PRBSOrders() []int {
	out := make([]int, len(prbsPolys))
	for i, p := range prbsPolys {
		out[i] = p.order
	}
	return out
}

// PRBS gives n bytes of a maximal-length pseudo-random bit sequence of the
// given order, as ITU-T O.150 (05/96) §5 defines them: an order-stage shift
// register whose stage tap and stage order are added modulo 2 and fed back to
// stage 1, polynomial x^order + x^tap + 1, period 2^order - 1 bits. The
// output is the last stage; all stages start at one, so the sequence begins
// with order ones (O.150 §5.1 fixes this phase for PRBS9). O.150 §4 inverts
// the output of PRBS15, PRBS23 and PRBS31, and so does PRBS: those begin
// with order zeros. Bits fill each byte most significant bit first.
//
//	order  polynomial        O.150   output      first bytes
//	7      x^7 + x^6 + 1     (none)  plain       fe 04 18 51
//	9      x^9 + x^5 + 1     §5.1    plain       ff 83 df
//	11     x^11 + x^9 + 1    §5.2    plain
//	15     x^15 + x^14 + 1   §5.3    inverted    00 01 ff fb
//	20     x^20 + x^3 + 1    §5.4    plain
//	23     x^23 + x^18 + 1   §5.6    inverted
//	31     x^31 + x^28 + 1   §5.8    inverted
//
// PRBS7 is not an O.150 sequence; x^7 + x^6 + 1 is the customary short PRBS.
// PRBS20 is the plain 2^20-1 sequence of §5.4, not the zero-suppressed QRSS of
// §5.5. The Name is "prbsORDER". n is clamped to 0..MaxPatternLen. An
// order not in PRBSOrders() is an error naming the orders there are.
func PRBS(n int, order int) (Pattern, error) {
	var p prbsPoly
	for _, q := range prbsPolys {
		if q.order == order {
			p = q
		}
	}
	if p.order == 0 {
		return Pattern{}, fieldErr("pattern.prbs", order, "the PRBS order must be one of 7, 9, 11, 15, 20, 23, 31 (ITU-T O.150)")
	}
	n = patLen(n)
	b := make([]byte, n)
	mask := uint32(1)<<p.order - 1
	reg := mask // stage k is bit k-1; all ones
	out := p.order - 1
	tap := p.tap - 1
	var inv byte
	if p.inverted {
		inv = 0xff
	}
	for i := range b {
		var v byte
		for range 8 {
			bit := reg >> out & 1
			v = v<<1 | byte(bit)
			reg = (reg<<1 | (bit ^ reg>>tap&1)) & mask
		}
		b[i] = v ^ inv
	}
	return Pattern{Name: "prbs" + strconv.Itoa(order), Bytes: b}, nil
}

// prbsBytes is PRBS for the orders the catalogue knows to exist.
func prbsBytes(n, order int) []byte {
	p, _ := PRBS(n, order)
	return p.Bytes
}

// Notes shared by generators and the catalogue.
const (
	patNoteFlags = "The HDLC/PPP flag byte: byte-stuffing links escape every one (0x7d 0x5e), doubling the frame on the wire and exposing stuffing bugs."
	patNotePRBS  = "An ITU-T O.150 pseudo-random bit sequence: every n-bit word occurs once per period, the standard bit-error-rate stimulus."
)

// patEntry is one catalogue entry. gen builds n bytes.
type patEntry struct {
	name, note string
	gen        func(n int) []byte
}

func patFixed(unit ...byte) func(int) []byte {
	return func(n int) []byte { return patRepeat(unit, n) }
}

// patCatalogue is the catalogue in its stable order.
var patCatalogue = [...]patEntry{
	{"zeros", "All zero bits: no ones density, which starves clock recovery on AMI lines without B8ZS/HDB3, and shows bits stuck at one.",
		func(n int) []byte { return make([]byte, n) }},
	{"ones", "All one bits: the most HDLC zero-bit stuffing (an extra 0 after every five 1s), and shows bits stuck at zero.",
		patFixed(0xff)},
	{"0x55", "01010101: the most transitions per byte, worst case for crosstalk, EMI and marginal clocking.",
		patFixed(0x55)},
	{"0xaa", "10101010: the complement of 0x55, with every bit line in the opposite phase.",
		patFixed(0xaa)},
	{"alt-55aa", "0x55 and 0xaa alternating: every bit toggles between adjacent bytes, exposing bus, byte-lane and inversion faults.",
		patFixed(0x55, 0xaa)},
	{"0xa5", "10100101: the classic ping -p pattern, both bit phases within one byte.",
		patFixed(0xa5)},
	{"0x7e", patNoteFlags,
		patFixed(0x7e)},
	{"0x7d", "The PPP control-escape byte, itself escaped as 0x7d 0x5d on byte-stuffing links, where broken unstuffing eats or doubles it.",
		patFixed(0x7d)},
	{"0x1113", "XON and XOFF: software flow control on serial links, terminal servers and modems can swallow them.",
		patFixed(0x11, 0x13)},
	{"0x0d0a", "CR LF: text-mode translation (FTP ASCII mode, serial consoles, proxies) rewrites line endings.",
		patFixed(0x0d, 0x0a)},
	{"+++ath0", "The Hayes modem escape and hang-up command (+++ATH0 CR): modems without an escape guard time drop the call when it appears in data.",
		patFixed('+', '+', '+', 'A', 'T', 'H', '0', '\r')},
	{"1-in-8", "0x40 repeated, one 1 bit per byte: the 12.5% minimum ones density a T1 AMI line must carry.",
		patFixed(0x40)},
	{"3-in-24", "0x44 0x00 0x04: 3 ones in 24 bits with a run of 15 zeros, the T1 ones-density limit that starves repeater clock recovery.",
		patFixed(0x44, 0x00, 0x04)},
	{"almost-zero", "A single 1 bit (the top bit of the middle byte) in zeros: the lowest ones density there is, and a lone transition a receiver can miss.",
		func(n int) []byte { return AlmostZero(n, 8*(n/2)).Bytes }},
	{"walking-ones", "One set bit walking through all eight positions (0x01..0x80): isolates a single data line that is stuck or shorted.",
		func(n int) []byte { return WalkingOnes(n).Bytes }},
	{"walking-zeros", "One clear bit walking through all eight positions (0xfe..0x7f): isolates a single data line that cannot go low.",
		func(n int) []byte { return WalkingZeros(n).Bytes }},
	{"ramp", "Byte i is i mod 256, ping's fill without -p: every byte value once per 256 bytes, and a damaged byte tells its own offset.",
		func(n int) []byte { return Ramp(n).Bytes }},
	{"0xdeadbeef", "A marker easy to spot in hex dumps and captures, with mixed bit densities.",
		patFixed(0xde, 0xad, 0xbe, 0xef)},
	{"prbs7", patNotePRBS, func(n int) []byte { return prbsBytes(n, 7) }},
	{"prbs15", patNotePRBS, func(n int) []byte { return prbsBytes(n, 15) }},
	{"prbs23", patNotePRBS, func(n int) []byte { return prbsBytes(n, 23) }},
	{"prbs31", patNotePRBS, func(n int) []byte { return prbsBytes(n, 31) }},
}

// Catalogue returns the classic troublemakers for data-dependent faults, each
// n bytes long with a Note, in a stable order with unique names: zeros, ones,
// 0x55, 0xaa, alt-55aa, 0xa5, 0x7e, 0x7d, 0x1113, 0x0d0a, +++ath0, 1-in-8,
// 3-in-24, almost-zero, walking-ones, walking-zeros, ramp, 0xdeadbeef, prbs7,
// prbs15, prbs23, prbs31. n is clamped to 0..MaxPatternLen. Each call builds
// new Bytes; keep the result rather than calling it per probe.
func Catalogue(n int) []Pattern {
	n = patLen(n)
	out := make([]Pattern, len(patCatalogue))
	for i, e := range patCatalogue {
		out[i] = Pattern{Name: e.name, Note: e.note, Bytes: e.gen(n)}
	}
	return out
}

// patExtraNames are names PatternByName resolves besides the catalogue.
var patExtraNames = [...]string{"prbs9", "prbs11", "prbs20", "random"}

// PatternNames lists the fixed names PatternByName resolves: the catalogue
// in its order, then prbs9, prbs11, prbs20 and random. PatternByName also
// takes the forms random:SEED, almost-zero:BIT, text:TEXT and hex bytes.
func PatternNames() []string {
	names := make([]string, 0, len(patCatalogue)+len(patExtraNames))
	for _, e := range patCatalogue {
		names = append(names, e.name)
	}
	return append(names, patExtraNames[:]...)
}

// PatternByName makes the pattern called name, n bytes long. It resolves,
// ignoring case except in TEXT:
//
//   - the catalogue names (see Catalogue), with their Notes;
//   - prbsN for every N in PRBSOrders();
//   - random (seed DefaultRandomSeed), random:SEED and random(seed=SEED),
//     SEED decimal or 0x hex;
//   - almost-zero:BIT and almost-zero(bit=BIT);
//   - text:TEXT (TextPattern);
//   - anything else as hex bytes (HexPattern); a hex pattern equal to a
//     catalogue entry ("55", "0x7E") gets that entry's Note.
//
// Errors are *FieldError with Field "pattern": n outside 0..MaxPatternLen,
// a malformed seed or bit, a hex error when name looks like hex, and
// otherwise an unknown name, with the known names listed.
func PatternByName(name string, n int) (Pattern, error) {
	if n < 0 || n > MaxPatternLen {
		return Pattern{}, fieldErr("pattern", n, "payload length must be 0..%d bytes", MaxPatternLen)
	}
	lower := strings.ToLower(name)
	for _, e := range patCatalogue {
		if lower == e.name {
			return Pattern{Name: e.name, Note: e.note, Bytes: e.gen(n)}, nil
		}
	}
	if rest, ok := strings.CutPrefix(lower, "prbs"); ok {
		order, err := strconv.Atoi(rest)
		p, perr := PRBS(n, order)
		if err != nil || perr != nil {
			return Pattern{}, fieldErr("pattern", name, "PRBS order must be one of 7, 9, 11, 15, 20, 23, 31")
		}
		p.Note = patNotePRBS
		return p, nil
	}
	if lower == "random" {
		return RandomPattern(n, DefaultRandomSeed), nil
	}
	if arg, ok := patArg(lower, "random:", "random(seed="); ok {
		seed, err := strconv.ParseUint(arg, 0, 64)
		if err != nil {
			return Pattern{}, fieldErr("pattern", name, "seed must be an unsigned 64-bit integer, decimal or 0x hex")
		}
		return RandomPattern(n, seed), nil
	}
	if arg, ok := patArg(lower, "almost-zero:", "almost-zero(bit="); ok {
		bit, err := strconv.Atoi(arg)
		if err != nil || bit < 0 || (n > 0 && bit >= 8*n) {
			return Pattern{}, fieldErr("pattern", name, "bit must be an integer 0..%d (8 x payload length - 1)", max(0, 8*n-1))
		}
		return AlmostZero(n, bit), nil
	}
	if len(name) >= 5 && strings.EqualFold(name[:5], "text:") {
		return TextPattern(name[5:], n), nil
	}
	if strings.HasPrefix(lower, "file:") {
		return Pattern{}, fieldErr("pattern", name, "a file pattern needs the file's contents: read the file and call FilePattern")
	}
	p, err := HexPattern(name, n)
	if err == nil {
		for _, e := range patCatalogue {
			if e.name == p.Name {
				p.Note = e.note
			}
		}
		return p, nil
	}
	if patLooksHex(name) {
		return Pattern{}, err
	}
	return Pattern{}, fieldErr("pattern", name,
		"unknown pattern; known names: %s; or random:SEED, almost-zero:BIT, text:TEXT, or hex bytes such as a5 or 0xdeadbeef",
		strings.Join(PatternNames(), ", "))
}

// patArg returns the argument of "PREFIX:ARG" or "FUNC(KEY=ARG)".
func patArg(s, colon, paren string) (string, bool) {
	if arg, ok := strings.CutPrefix(s, colon); ok {
		return arg, true
	}
	if arg, ok := strings.CutPrefix(s, paren); ok {
		if arg, ok := strings.CutSuffix(arg, ")"); ok {
			return arg, true
		}
	}
	return "", false
}

// patLooksHex reports whether s is made only of hex digits and separators,
// with an optional 0x prefix: such a name was meant as a hex pattern.
func patLooksHex(s string) bool {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	for i := 0; i < len(s); i++ {
		if _, ok := patHexDigit(s[i]); !ok && s[i] != ':' && s[i] != ' ' {
			return false
		}
	}
	return true
}
