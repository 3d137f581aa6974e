package packet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// patMustHex decodes a hex literal used as an expectation.
func patMustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex literal %q: %v", s, err)
	}
	return b
}

func TestHexPattern(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		name string
		want string // hex of the expected Bytes
	}{
		// One byte repeated: iputils -p a5 with -s 5.
		{"a5", 5, "0xa5", "a5a5a5a5a5"},
		// Prefix, upper case, ':' separators: bytes de ad be ef, repeated
		// from offset 0 and cut at 10 bytes: deadbeef deadbeef dead.
		{"0xDE:AD:BE:EF", 10, "0xdeadbeef", "deadbeefdeadbeefdead"},
		// Space separators and mixed case; 0X prefix.
		{"0X0d 0A", 5, "0x0d0a", "0d0a0d0a0d"},
		// Separators may repeat and lead or trail, as long as no byte is split.
		{" 01::02 ", 3, "0x0102", "010201"},
		// n = 0: the pattern is valid, the payload empty.
		{"ff", 0, "0xff", ""},
		// 16 bytes (iputils' maximum) into an 8-byte payload: cut short.
		{"000102030405060708090a0b0c0d0e0f", 8, "0x000102030405060708090a0b0c0d0e0f", "0001020304050607"},
		// 17 bytes fit in 20: allowed beyond iputils' 16; bytes 0..16 then 0,1,2.
		{"000102030405060708090a0b0c0d0e0f10", 20, "0x000102030405060708090a0b0c0d0e0f10",
			"000102030405060708090a0b0c0d0e0f10000102"},
	}
	for _, tt := range tests {
		p, err := HexPattern(tt.in, tt.n)
		if err != nil {
			t.Errorf("HexPattern(%q, %d): %v", tt.in, tt.n, err)
			continue
		}
		if p.Name != tt.name || !bytes.Equal(p.Bytes, patMustHex(t, tt.want)) || len(p.Bytes) != tt.n {
			t.Errorf("HexPattern(%q, %d) = %q % x, want %q %s", tt.in, tt.n, p.Name, p.Bytes, tt.name, tt.want)
		}
	}
}

func TestHexPatternErrors(t *testing.T) {
	tests := []struct {
		in    string
		n     int
		value any
		limit string // substring of FieldError.Limit
	}{
		{"", 56, "", "no hex digits"},
		{"0x", 56, "0x", "no hex digits"},
		{": :", 56, ": :", "no hex digits"},
		{"abc", 56, "abc", "odd number of hex digits (3)"},
		{"a:bc", 56, "a:bc", "separator ':' at position 1 splits a byte"},
		// 'g' is byte 5 of "0xabcg" (0-based, prefix included).
		{"0xabcg", 56, "0xabcg", "character 'g' at position 5"},
		{"a-b", 56, "a-b", "character '-' at position 1"},
		// A multi-byte character is reported whole, at its byte offset.
		{"aé", 56, "aé", "character 'é' at position 1"},
		{"a5", -1, -1, "payload length must be 0..65535"},
		{"a5", 65536, 65536, "payload length must be 0..65535"},
		// 17 bytes do not fit in 16 and exceed iputils' 16.
		{"000102030405060708090a0b0c0d0e0f10", 16, "000102030405060708090a0b0c0d0e0f10", "17 pattern bytes do not fit in a 16-byte payload"},
	}
	for _, tt := range tests {
		_, err := HexPattern(tt.in, tt.n)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("HexPattern(%q, %d) error = %v, want *FieldError", tt.in, tt.n, err)
			continue
		}
		if fe.Field != "pattern" || fe.Value != tt.value || !strings.Contains(fe.Limit, tt.limit) {
			t.Errorf("HexPattern(%q, %d) = %#v, want Field pattern, Value %#v, Limit containing %q",
				tt.in, tt.n, fe, tt.value, tt.limit)
		}
	}
}

func TestSimpleGenerators(t *testing.T) {
	tests := []struct {
		p    Pattern
		name string
		want string
	}{
		// Byte i is i mod 256.
		{Ramp(4), "ramp", "00010203"},
		// 1<<(i%8), so the ninth byte starts over at 0x01.
		{WalkingOnes(9), "walking-ones", "010204081020408001"},
		// The complements of the walking ones: ^0x01 = 0xfe ... ^0x80 = 0x7f.
		{WalkingZeros(9), "walking-zeros", "fefdfbf7efdfbf7ffe"},
		{Zeros(3), "zeros", "000000"},
		{Ones(3), "ones", "ffffff"},
		{Alternating(5), "alt-55aa", "55aa55aa55"},
		{HDLCFlags(3), "0x7e", "7e7e7e"},
		// Bit 0 is the MSB of byte 0.
		{AlmostZero(4, 0), "almost-zero(bit=0)", "80000000"},
		// Bit 9 = byte 1, bit 1 from the top: 0x80>>1 = 0x40.
		{AlmostZero(4, 9), "almost-zero(bit=9)", "00400000"},
		// Bit 31 is the last: 0x01 of byte 3.
		{AlmostZero(4, 31), "almost-zero(bit=31)", "00000001"},
		// -1 mod 32 = 31; 32 mod 32 = 0.
		{AlmostZero(4, -1), "almost-zero(bit=31)", "00000001"},
		{AlmostZero(4, 32), "almost-zero(bit=0)", "80000000"},
		{BytesPattern("abc", []byte{1, 2, 3}, 7), "abc", "01020301020301"},
		{BytesPattern("empty", nil, 3), "empty", "000000"},
		// "AB" is 0x41 0x42.
		{TextPattern("AB", 5), "text:AB", "4142414241"},
		{TextPattern("", 2), "text:", "0000"},
		{FilePattern("x.bin", []byte{9, 8}, 3), "file:x.bin", "090809"},
	}
	for _, tt := range tests {
		if tt.p.Name != tt.name || !bytes.Equal(tt.p.Bytes, patMustHex(t, tt.want)) {
			t.Errorf("got %q % x, want %q %s", tt.p.Name, tt.p.Bytes, tt.name, tt.want)
		}
	}
	// Ramp wraps after 255: byte 256 is 0, byte 300 is 300-256 = 44.
	r := Ramp(301).Bytes
	if r[255] != 0xff || r[256] != 0 || r[300] != 44 {
		t.Errorf("Ramp: bytes 255, 256, 300 = %#x %#x %d", r[255], r[256], r[300])
	}
	// Lengths are clamped to 0..MaxPatternLen.
	if n := len(Ramp(-5).Bytes); n != 0 {
		t.Errorf("Ramp(-5) has %d bytes", n)
	}
	if n := len(Zeros(MaxPatternLen + 10).Bytes); n != MaxPatternLen {
		t.Errorf("Zeros(MaxPatternLen+10) has %d bytes", n)
	}
	if p := AlmostZero(0, 5); len(p.Bytes) != 0 {
		t.Errorf("AlmostZero(0, 5) = % x", p.Bytes)
	}
}

func TestBytesPatternCopies(t *testing.T) {
	b := []byte{1, 2}
	p := BytesPattern("x", b, 2)
	b[0] = 9
	if p.Bytes[0] != 1 {
		t.Errorf("BytesPattern kept a reference to its input")
	}
}

func TestTextPatternName(t *testing.T) {
	tests := []struct{ in, name string }{
		{"hello", "text:hello"},
		// Exactly 16 characters: kept whole.
		{"0123456789abcdef", "text:0123456789abcdef"},
		// 17: the first 16 and "...".
		{"0123456789abcdefg", "text:0123456789abcdef..."},
		// Control characters and the backslash are escaped; the name stays on one line.
		{"a\r\n\x00\\", `text:a\r\n\x00\\`},
		// Characters, not bytes, are counted: 17 × 'é' (2 bytes each).
		{strings.Repeat("é", 17), "text:" + strings.Repeat("é", 16) + "..."},
	}
	for _, tt := range tests {
		if got := TextPattern(tt.in, 1).Name; got != tt.name {
			t.Errorf("TextPattern(%q).Name = %q, want %q", tt.in, got, tt.name)
		}
	}
}

func TestRandomPattern(t *testing.T) {
	// SplitMix64 from seed 0 gives 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4,
	// 0x06c45d188009454f (the reference outputs of Vigna's splitmix64.c);
	// written big-endian and cut at 20 bytes.
	want := patMustHex(t, "e220a8397b1dcdaf 6e789e6aa1b965f4 06c45d18")
	p := RandomPattern(20, 0)
	if !bytes.Equal(p.Bytes, want) || p.Name != "random(seed=0)" {
		t.Errorf("RandomPattern(20, 0) = %q % x, want % x", p.Name, p.Bytes, want)
	}
	a, b := RandomPattern(1000, 7), RandomPattern(1000, 7)
	if !bytes.Equal(a.Bytes, b.Bytes) || a.Name != "random(seed=7)" {
		t.Errorf("same seed, different bytes or name %q", a.Name)
	}
	if c := RandomPattern(1000, 8); bytes.Equal(a.Bytes, c.Bytes) {
		t.Errorf("seeds 7 and 8 gave the same bytes")
	}
	// A shorter pattern is a prefix of a longer one with the same seed.
	if s := RandomPattern(13, 7); !bytes.Equal(s.Bytes, a.Bytes[:13]) {
		t.Errorf("RandomPattern(13, 7) is not a prefix of RandomPattern(1000, 7)")
	}
}

// patPRBSReference generates count bits of a PRBS the slow way, exactly as
// ITU-T O.150 §5 words it: stages q[1]..q[order], all ones at the start; at
// each clock the output is q[order], the outputs of stages tap and order are
// added modulo two and fed to stage 1 while every stage passes its bit on.
func patPRBSReference(order, tap int, inverted bool, count int) []byte {
	q := make([]byte, order+1)
	for i := 1; i <= order; i++ {
		q[i] = 1
	}
	bits := make([]byte, count)
	for k := range bits {
		out := q[order]
		fb := q[tap] ^ q[order]
		for i := order; i > 1; i-- {
			q[i] = q[i-1]
		}
		q[1] = fb
		if inverted {
			out ^= 1
		}
		bits[k] = out
	}
	return bits
}

// patBits unpacks bytes MSB first.
func patBits(b []byte) []byte {
	out := make([]byte, 0, 8*len(b))
	for _, v := range b {
		for i := 7; i >= 0; i-- {
			out = append(out, v>>i&1)
		}
	}
	return out
}

func TestPRBSFirstBytes(t *testing.T) {
	// By hand. A register with stages tap and order fed back gives the
	// recurrence a[k+order] = a[k+order-tap] XOR a[k] on the output a,
	// with a[0..order-1] = 1 (the initial stages, last stage first).
	//
	// PRBS7 (x^7+x^6+1): a[k+7] = a[k+1]^a[k].
	//   a0..a6 = 1111111; a7..a12 = a1^a0.. = 000000; a13 = a7^a6 = 1;
	//   a14..a18 = 00000; a19 = a13^a12 = 1; a20 = a14^a13 = 1;
	//   a21..a24 = 0000; a25 = a19^a18 = 1; a26 = 0; a27 = a21^a20 = 1;
	//   a28..a30 = 000; a31 = a25^a24 = 1.
	//   Bytes: 11111110 00000100 00011000 01010001 = fe 04 18 51.
	// PRBS9 (x^9+x^5+1): a[k+9] = a[k+4]^a[k].
	//   a0..a8 = 1; a9..a13 = 00000 (a4^a0 .. a8^a4); a14..a17 = 1111
	//   (a9^a5 .. a12^a8 = 0^1); a18 = a13^a9 = 0; a19..a23 = 11111.
	//   Bytes: 11111111 10000011 11011111 = ff 83 df.
	// PRBS15 (x^15+x^14+1), inverted: a[k+15] = a[k+1]^a[k], a0..a14 = 1,
	//   a15..a28 = 0 (14 zeros), a29 = a15^a14 = 1, a30 = a31 = 0.
	//   Inverted: 15 zeros, 14 ones, 0, 1, 1:
	//   00000000 00000001 11111111 11111011 = 00 01 ff fb.
	// PRBS31 inverted begins with 31 zeros and then the first feedback,
	//   a31 = a3^a0 = 0, inverted 1: 00 00 00 01.
	tests := []struct {
		order int
		want  string
	}{
		{7, "fe041851"},
		{9, "ff83df"},
		{15, "0001fffb"},
		{31, "00000001"},
	}
	for _, tt := range tests {
		want := patMustHex(t, tt.want)
		p := patPRBS(len(want), tt.order)
		if !bytes.Equal(p.Bytes, want) {
			t.Errorf("PRBS(%d, %d) = % x, want % x", len(want), tt.order, p.Bytes, want)
		}
	}
}

func TestPRBSAgainstReference(t *testing.T) {
	// Polynomials and inversions from ITU-T O.150 (05/96) Table 1, written
	// out again here rather than taken from pattern.go.
	ref := []struct {
		order, tap int
		inverted   bool
	}{
		{7, 6, false}, {9, 5, false}, {11, 9, false}, {15, 14, true},
		{20, 3, false}, {23, 18, true}, {31, 28, true},
	}
	const n = 1500
	for _, r := range ref {
		p := patPRBS(n, r.order)
		if p.Name != "prbs"+strconv.Itoa(r.order) || len(p.Bytes) != n {
			t.Errorf("PRBS(%d, %d): name %q, %d bytes", n, r.order, p.Name, len(p.Bytes))
		}
		if got, want := patBits(p.Bytes), patPRBSReference(r.order, r.tap, r.inverted, 8*n); !bytes.Equal(got, want) {
			t.Errorf("PRBS%d differs from the bit-by-bit reference", r.order)
		}
	}
}

func TestPRBSPeriod(t *testing.T) {
	// A maximal-length sequence of order m repeats every 2^m-1 bits and
	// holds 2^(m-1) ones per period (2^(m-1)-1 when inverted: the 2^(m-1)-1
	// zeros become ones).
	for _, tc := range []struct {
		order    int
		inverted bool
	}{{7, false}, {9, false}, {11, false}, {15, true}} {
		period := 1<<tc.order - 1
		bits := patBits(patPRBS((2*period+7)/8+1, tc.order).Bytes)
		ones := 0
		for k := 0; k < period; k++ {
			ones += int(bits[k])
			if bits[k] != bits[k+period] {
				t.Errorf("PRBS%d: bit %d != bit %d", tc.order, k, k+period)
				break
			}
		}
		want := 1 << (tc.order - 1)
		if tc.inverted {
			want--
		}
		if ones != want {
			t.Errorf("PRBS%d: %d ones per period, want %d", tc.order, ones, want)
		}
	}
}

func TestPRBSBadOrder(t *testing.T) {
	_, err := PRBS(8, 8)
	if err == nil || !strings.Contains(err.Error(), "pattern.prbs = 8: the PRBS order must be one of 7, 9, 11, 15, 20, 23, 31") {
		t.Errorf("PRBS(8, 8): %v", err)
	}
}

// patPRBS is PRBS for orders the test knows to exist.
func patPRBS(n, order int) Pattern {
	p, err := PRBS(n, order)
	if err != nil {
		panic(err)
	}
	return p
}

func TestPRBSOrders(t *testing.T) {
	got := PRBSOrders()
	want := []int{7, 9, 11, 15, 20, 23, 31}
	if len(got) != len(want) {
		t.Fatalf("PRBSOrders() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("PRBSOrders() = %v, want %v", got, want)
		}
	}
	got[0] = 99 // a copy: no global state to corrupt
	if PRBSOrders()[0] != 7 {
		t.Errorf("PRBSOrders returned shared state")
	}
}

// patCatalogueOrder is the documented, stable order of Catalogue.
var patCatalogueOrder = []string{
	"zeros", "ones", "0x55", "0xaa", "alt-55aa", "0xa5", "0x7e", "0x7d", "0x1113",
	"0x0d0a", "+++ath0", "1-in-8", "3-in-24", "almost-zero", "walking-ones",
	"walking-zeros", "ramp", "0xdeadbeef", "prbs7", "prbs15", "prbs23", "prbs31",
}

func TestCatalogue(t *testing.T) {
	const n = 56
	cat := Catalogue(n)
	if len(cat) != len(patCatalogueOrder) {
		t.Fatalf("Catalogue has %d entries, want %d", len(cat), len(patCatalogueOrder))
	}
	seen := map[string]bool{}
	for i, p := range cat {
		if p.Name != patCatalogueOrder[i] {
			t.Errorf("Catalogue[%d] = %q, want %q", i, p.Name, patCatalogueOrder[i])
		}
		if seen[p.Name] {
			t.Errorf("duplicate name %q", p.Name)
		}
		seen[p.Name] = true
		if p.Note == "" || strings.Contains(p.Note, "\n") {
			t.Errorf("%s: Note %q, want one non-empty line", p.Name, p.Note)
		}
		if len(p.Bytes) != n {
			t.Errorf("%s: %d bytes, want %d", p.Name, len(p.Bytes), n)
		}
		// Every catalogue name resolves to the same pattern.
		q, err := PatternByName(p.Name, n)
		if err != nil || q.Name != p.Name || q.Note != p.Note || !bytes.Equal(q.Bytes, p.Bytes) {
			t.Errorf("PatternByName(%q) = %q, %v; differs from the catalogue", p.Name, q.Name, err)
		}
	}
	byName := func(name string) []byte {
		for _, p := range cat {
			if p.Name == name {
				return p.Bytes
			}
		}
		t.Fatalf("no %q in catalogue", name)
		return nil
	}
	// Spot checks of the fixed units (first bytes, by hand).
	checks := map[string]string{
		"0x1113":     "11131113",
		"0x0d0a":     "0d0a0d0a",
		"+++ath0":    "2b2b2b415448300d2b", // '+'=0x2b 'A'=0x41 'T'=0x54 'H'=0x48 '0'=0x30 CR=0x0d
		"1-in-8":     "4040",
		"3-in-24":    "440004440004",
		"0xdeadbeef": "deadbeefde",
		"0x7d":       "7d7d",
	}
	for name, want := range checks {
		w := patMustHex(t, want)
		if got := byName(name)[:len(w)]; !bytes.Equal(got, w) {
			t.Errorf("%s begins % x, want % x", name, got, w)
		}
	}
	// 3-in-24: 01000100 00000000 00000100 → 3 ones in 24 bits and, across
	// the wrap, a longest zero run of 15 (bits 6..20).
	bits := patBits(byName("3-in-24")[:6])
	ones, run, longest := 0, 0, 0
	for i, b := range bits {
		if i < 24 {
			ones += int(b)
		}
		if b == 0 {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if ones != 3 || longest != 15 {
		t.Errorf("3-in-24: %d ones per 24 bits, longest zero run %d; want 3 and 15", ones, longest)
	}
	// almost-zero: n=56, bit 8*28 = the top bit of byte 28, alone.
	az := byName("almost-zero")
	for i, v := range az {
		want := byte(0)
		if i == 28 {
			want = 0x80
		}
		if v != want {
			t.Errorf("almost-zero byte %d = %#x, want %#x", i, v, want)
		}
	}
}

func TestPatternByName(t *testing.T) {
	tests := []struct {
		in, name string
		want     string // hex of the first bytes
		note     bool
	}{
		{"ZEROS", "zeros", "0000", true},
		{"prbs9", "prbs9", "ff83df", true},
		{"PRBS7", "prbs7", "fe041851", true},
		{"prbs15", "prbs15", "0001fffb", true},
		// Hex falls back to HexPattern and picks up the catalogue Note.
		{"55", "0x55", "5555", true},
		{"0x7E", "0x7e", "7e7e", true},
		{"de:ad", "0xdead", "dead", false},
		{"random", "random(seed=1)", "", false},
		// SplitMix64 seed 0, first word e220a8397b1dcdaf.
		{"random:0", "random(seed=0)", "e220a839", false},
		{"random(seed=0)", "random(seed=0)", "e220a839", false},
		{"random:0x0", "random(seed=0)", "e220a839", false},
		{"almost-zero:9", "almost-zero(bit=9)", "0040", false},
		{"almost-zero(bit=9)", "almost-zero(bit=9)", "0040", false},
		// Text keeps its case; the prefix does not care.
		{"Text:Hi", "text:Hi", "4869", false},
		{"walking-zeros", "walking-zeros", "fefd", true},
	}
	for _, tt := range tests {
		p, err := PatternByName(tt.in, 8)
		if err != nil {
			t.Errorf("PatternByName(%q): %v", tt.in, err)
			continue
		}
		w := patMustHex(t, tt.want)
		if p.Name != tt.name || len(p.Bytes) != 8 || !bytes.Equal(p.Bytes[:len(w)], w) || (p.Note != "") != tt.note {
			t.Errorf("PatternByName(%q, 8) = %q %q % x, want %q %s note=%v", tt.in, p.Name, p.Note, p.Bytes, tt.name, tt.want, tt.note)
		}
	}
	// "random" is RandomPattern with DefaultRandomSeed.
	if p, _ := PatternByName("random", 64); !bytes.Equal(p.Bytes, RandomPattern(64, DefaultRandomSeed).Bytes) {
		t.Errorf("random differs from RandomPattern(64, DefaultRandomSeed)")
	}
	// Every listed name resolves.
	for _, name := range PatternNames() {
		if _, err := PatternByName(name, 56); err != nil {
			t.Errorf("PatternByName(%q): %v", name, err)
		}
	}
}

func TestPatternByNameErrors(t *testing.T) {
	tests := []struct {
		in    string
		n     int
		limit string
	}{
		{"nosuch", 56, "unknown pattern; known names: zeros, ones,"},
		{"prbs8", 56, "PRBS order must be one of 7, 9, 11, 15, 20, 23, 31"},
		{"prbsx", 56, "PRBS order must be one of"},
		{"random:-1", 56, "seed must be"},
		{"almost-zero:448", 56, "bit must be an integer 0..447"},
		{"almost-zero:x", 56, "bit must be"},
		// Looks like hex, so the hex error is the useful one.
		{"abc", 56, "odd number of hex digits"},
		{"zeros", 70000, "payload length must be 0..65535"},
		{"file:x.bin", 56, "read the file and call FilePattern"},
	}
	for _, tt := range tests {
		_, err := PatternByName(tt.in, tt.n)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "pattern" || !strings.Contains(fe.Limit, tt.limit) {
			t.Errorf("PatternByName(%q, %d) error = %v, want Field pattern and %q", tt.in, tt.n, err, tt.limit)
		}
	}
}

func TestPatternNames(t *testing.T) {
	names := PatternNames()
	want := append(append([]string{}, patCatalogueOrder...), "prbs9", "prbs11", "prbs20", "random")
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("PatternNames() = %v, want %v", names, want)
	}
}

func FuzzHexPattern(f *testing.F) {
	f.Add("a5", 56)
	f.Add("0xdeadbeef", 10)
	f.Add("de:ad be:ef", 1400)
	f.Add("0x", 1)
	f.Add("abc", 5)
	f.Add("a:bc", 5)
	f.Add("000102030405060708090a0b0c0d0e0f10", 16)
	f.Add("ff", 0)
	f.Add("ff", -1)
	f.Add("é", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		p, err := HexPattern(s, n)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "pattern" {
				t.Fatalf("HexPattern(%q, %d): error %v is not a pattern FieldError", s, n, err)
			}
			return
		}
		if len(p.Bytes) != n {
			t.Fatalf("HexPattern(%q, %d): %d bytes", s, n, len(p.Bytes))
		}
		// The name is the decoded unit; Bytes repeats it from offset 0.
		unit, err := hex.DecodeString(strings.TrimPrefix(p.Name, "0x"))
		if err != nil || len(unit) == 0 || !strings.HasPrefix(p.Name, "0x") {
			t.Fatalf("HexPattern(%q): name %q is not 0x and hex", s, p.Name)
		}
		// Independently: the hex digits of s, without prefix and separators.
		body := s
		if len(s) >= 2 && strings.EqualFold(s[:2], "0x") {
			body = s[2:]
		}
		digits := strings.NewReplacer(":", "", " ", "").Replace(body)
		if !strings.EqualFold(digits, hex.EncodeToString(unit)) {
			t.Fatalf("HexPattern(%q): decoded % x, digits %q", s, unit, digits)
		}
		for i, b := range p.Bytes {
			if b != unit[i%len(unit)] {
				t.Fatalf("HexPattern(%q, %d): byte %d = %#x, want %#x", s, n, i, b, unit[i%len(unit)])
			}
		}
	})
}
