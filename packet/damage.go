package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// ByteDamage is one byte that came back different from what was sent.
type ByteDamage struct {
	Offset int  // from the start of the compared data (see CompareAt)
	Sent   byte // what was sent
	Got    byte // what came back
}

// Bits returns the bits that differ: Sent XOR Got.
func (b ByteDamage) Bits() byte { return b.Sent ^ b.Got }

// Set returns the bits that went from 0 to 1.
func (b ByteDamage) Set() byte { return b.Got &^ b.Sent }

// Cleared returns the bits that went from 1 to 0.
func (b ByteDamage) Cleared() byte { return b.Sent &^ b.Got }

// Damage describes how a received payload differs from the one sent: every
// byte that differs over the length both have, in ascending offset order,
// and both lengths, so truncation and extension show. Compare returns nil
// for an intact payload; the methods accept a nil *Damage and treat it as
// intact.
type Damage struct {
	Bytes   []ByteDamage // every differing byte, ascending offset
	SentLen int          // length of what was sent
	GotLen  int          // length of what came back
}

// Compare compares the payload sent with the one that came back. It returns
// nil, allocating nothing, when they are identical (same length, same
// bytes). Offsets count from the start of sent; to match iputils' "wrong
// data byte #N", pass the whole ICMP echo data (everything after the 8-byte
// ICMP header), or use CompareAt.
func Compare(sent, got []byte) *Damage {
	return CompareAt(sent, got, 0)
}

// CompareAt is Compare with base added to every offset: compare the pattern
// region of a StampHead payload with base StampLen and the offsets are still
// counted from the start of the ICMP data.
func CompareAt(sent, got []byte, base int) *Damage {
	if bytes.Equal(sent, got) {
		return nil
	}
	n := min(len(sent), len(got))
	s, g := sent[:n], got[:n]
	count := 0
	for i := dmgNextDiff(s, g, 0); i < n; i = dmgNextDiff(s, g, i+1) {
		count++
	}
	d := &Damage{SentLen: len(sent), GotLen: len(got)}
	if count > 0 {
		d.Bytes = make([]ByteDamage, 0, count)
		for i := dmgNextDiff(s, g, 0); i < n; i = dmgNextDiff(s, g, i+1) {
			d.Bytes = append(d.Bytes, ByteDamage{Offset: base + i, Sent: s[i], Got: g[i]})
		}
	}
	return d
}

// dmgNextDiff returns the first index ≥ i where s and g (of equal length)
// differ, or len(s). It skips equal 8-byte words at a time.
func dmgNextDiff(s, g []byte, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := binary.BigEndian.Uint64(s[i:]) ^ binary.BigEndian.Uint64(g[i:])
		if x != 0 {
			return i + bits.LeadingZeros64(x)/8
		}
	}
	for ; i < len(s); i++ {
		if s[i] != g[i] {
			return i
		}
	}
	return len(s)
}

// First returns the lowest-offset damaged byte; ok is false when no byte
// differs (intact, or only the length changed).
func (d *Damage) First() (b ByteDamage, ok bool) {
	if d == nil || len(d.Bytes) == 0 {
		return ByteDamage{}, false
	}
	return d.Bytes[0], true
}

// Truncated reports whether fewer bytes came back than were sent.
func (d *Damage) Truncated() bool { return d != nil && d.GotLen < d.SentLen }

// Extended reports whether more bytes came back than were sent.
func (d *Damage) Extended() bool { return d != nil && d.GotLen > d.SentLen }

// dmgMaxListed is how many offsets Damage.String lists before "+N more".
const dmgMaxListed = 8

// String describes the damage on one line, for example
//
//	2 bytes differ (offsets 30, 41), first #30 sent 0xaa got 0xab bits 0x01; reply 8 bytes short
//
// At most 8 offsets are listed. A nil Damage is "intact".
func (d *Damage) String() string {
	if d == nil {
		return "intact"
	}
	var sb strings.Builder
	switch k := len(d.Bytes); k {
	case 0:
		fmt.Fprintf(&sb, "no byte differs in the %d common bytes", min(d.SentLen, d.GotLen))
	default:
		if k == 1 {
			sb.WriteString("1 byte differs (offset ")
		} else {
			fmt.Fprintf(&sb, "%d bytes differ (offsets ", k)
		}
		for i, b := range d.Bytes[:min(k, dmgMaxListed)] {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprint(&sb, b.Offset)
		}
		if k > dmgMaxListed {
			fmt.Fprintf(&sb, ", +%d more", k-dmgMaxListed)
		}
		sb.WriteString("), ")
		if k > 1 {
			sb.WriteString("first ")
		}
		b := d.Bytes[0]
		fmt.Fprintf(&sb, "#%d sent 0x%02x got 0x%02x bits 0x%02x", b.Offset, b.Sent, b.Got, b.Bits())
	}
	switch {
	case d.GotLen < d.SentLen:
		fmt.Fprintf(&sb, "; reply %d %s short", d.SentLen-d.GotLen, dmgPlural(d.SentLen-d.GotLen, "byte", "bytes"))
	case d.GotLen > d.SentLen:
		fmt.Fprintf(&sb, "; reply %d %s long", d.GotLen-d.SentLen, dmgPlural(d.GotLen-d.SentLen, "byte", "bytes"))
	}
	return sb.String()
}

func dmgPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// IPutilsLine is the line iputils ping prints for the first wrong byte, in
// its exact format ("wrong data byte #%d should be 0x%x but was 0x%x", hex
// not zero-padded):
//
//	wrong data byte #30 should be 0xaa but was 0xab
//
// iputils counts the offset from the start of the ICMP data; so does this
// line when the compared slices start there (see Compare). It is "" when no
// byte differs.
func (d *Damage) IPutilsLine() string {
	b, ok := d.First()
	if !ok {
		return ""
	}
	return fmt.Sprintf("wrong data byte #%d should be 0x%x but was 0x%x", b.Offset, b.Sent, b.Got)
}

// DamageMaxOffset is the highest byte offset a DamageMap records: the
// largest IP payload. Damage beyond it is counted in DamageMap.Ignored.
const DamageMaxOffset = MaxPatternLen - 1

// OffsetDamage is what a DamageMap knows about one payload offset.
type OffsetDamage struct {
	// Offset is the byte offset, as in ByteDamage.
	Offset int
	// Count is how many replies had this byte damaged.
	Count int
	// Set[b] counts how often bit b (mask 1<<b: bit 0 is 0x01, bit 7 is
	// 0x80) went from 0 to 1; Cleared[b] how often it went from 1 to 0.
	Set, Cleared [8]int
}

// Mask returns the bits that flipped at least once.
func (o OffsetDamage) Mask() byte {
	var m byte
	for b := range 8 {
		if o.Set[b] != 0 || o.Cleared[b] != 0 {
			m |= 1 << b
		}
	}
	return m
}

// Direction is "0→1" when bits only ever went from 0 to 1, "1→0" when they
// only went from 1 to 0, "both" otherwise ("" when nothing flipped).
func (o OffsetDamage) Direction() string {
	var set, cleared bool
	for b := range 8 {
		set = set || o.Set[b] != 0
		cleared = cleared || o.Cleared[b] != 0
	}
	switch {
	case set && cleared:
		return "both"
	case set:
		return "0→1"
	case cleared:
		return "1→0"
	}
	return ""
}

// DamageMap aggregates the Damage of many replies to the same pattern: how
// many replies came back, how many had damaged bytes, how many were
// truncated or extended, and per offset how often the byte was damaged and
// which bits flipped which way. Its memory grows with the highest damaged
// offset (at most DamageMaxOffset), never with the number of replies. The
// zero value is an empty map ready to use. It is not safe for concurrent
// use.
type DamageMap struct {
	replies, damaged, truncated, extended int
	ignored                               int
	hit                                   int // offsets with Count > 0
	offs                                  []OffsetDamage
}

// Add records one reply; d is its Damage, nil for an intact reply. A reply
// counts as damaged when at least one byte differs; truncation and extension
// are counted separately.
func (m *DamageMap) Add(d *Damage) {
	m.replies++
	if d == nil {
		return
	}
	if len(d.Bytes) > 0 {
		m.damaged++
	}
	if d.Truncated() {
		m.truncated++
	}
	if d.Extended() {
		m.extended++
	}
	for _, b := range d.Bytes {
		if b.Offset < 0 || b.Offset > DamageMaxOffset {
			m.ignored++
			continue
		}
		if b.Offset >= len(m.offs) {
			m.grow(b.Offset + 1)
		}
		o := &m.offs[b.Offset]
		if o.Count == 0 {
			m.hit++
		}
		o.Count++
		dmgCountBits(o, b.Set(), b.Cleared())
	}
}

// dmgCountBits adds the flips of one damaged byte to o.
func dmgCountBits(o *OffsetDamage, set, cleared byte) {
	for set != 0 {
		b := bits.TrailingZeros8(set)
		o.Set[b]++
		set &= set - 1
	}
	for cleared != 0 {
		b := bits.TrailingZeros8(cleared)
		o.Cleared[b]++
		cleared &= cleared - 1
	}
}

// grow extends offs to n entries, numbering the new ones.
func (m *DamageMap) grow(n int) {
	old := len(m.offs)
	if n > cap(m.offs) {
		c := max(n, 2*cap(m.offs), 64)
		c = min(c, DamageMaxOffset+1)
		grown := make([]OffsetDamage, old, c)
		copy(grown, m.offs)
		m.offs = grown
	}
	m.offs = m.offs[:n]
	for i := old; i < n; i++ {
		m.offs[i] = OffsetDamage{Offset: i}
	}
}

// Replies is the number of replies added.
func (m *DamageMap) Replies() int { return m.replies }

// Damaged is the number of replies with at least one damaged byte.
func (m *DamageMap) Damaged() int { return m.damaged }

// Truncated is the number of replies shorter than what was sent.
func (m *DamageMap) Truncated() int { return m.truncated }

// Extended is the number of replies longer than what was sent.
func (m *DamageMap) Extended() int { return m.extended }

// Ignored is the number of damaged bytes not recorded per offset because
// their offset was negative or above DamageMaxOffset.
func (m *DamageMap) Ignored() int { return m.ignored }

// Offsets returns the damaged offsets in ascending order with their counts.
// The result is a copy.
func (m *DamageMap) Offsets() []OffsetDamage {
	out := make([]OffsetDamage, 0, m.hit)
	for _, o := range m.offs {
		if o.Count > 0 {
			out = append(out, o)
		}
	}
	return out
}

// Summary describes the map on one line, for example
//
//	1000 replies, 12 damaged (1.2%), 3 truncated; 2 offsets hit, most #30 (10×, bits 0x01 0→1)
func (m *DamageMap) Summary() string {
	if m.replies == 0 {
		return "no replies"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d %s", m.replies, dmgPlural(m.replies, "reply", "replies"))
	if m.damaged == 0 && m.truncated == 0 && m.extended == 0 && m.ignored == 0 {
		sb.WriteString(", all intact")
		return sb.String()
	}
	fmt.Fprintf(&sb, ", %d damaged (%s)", m.damaged, dmgPercent(m.damaged, m.replies))
	if m.truncated > 0 {
		fmt.Fprintf(&sb, ", %d truncated", m.truncated)
	}
	if m.extended > 0 {
		fmt.Fprintf(&sb, ", %d extended", m.extended)
	}
	if m.hit > 0 {
		var worst OffsetDamage
		for _, o := range m.offs {
			if o.Count > worst.Count {
				worst = o
			}
		}
		fmt.Fprintf(&sb, "; %d %s hit, most #%d (%d×, bits 0x%02x %s)",
			m.hit, dmgPlural(m.hit, "offset", "offsets"), worst.Offset, worst.Count, worst.Mask(), worst.Direction())
	}
	if m.ignored > 0 {
		fmt.Fprintf(&sb, "; %d damaged bytes beyond offset %d not mapped", m.ignored, DamageMaxOffset)
	}
	return sb.String()
}

// dmgPercent formats part/whole as a percentage with up to 3 significant
// decimals, e.g. "1.2%", "0.01%", "100%".
func dmgPercent(part, whole int) string {
	if whole == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.3g%%", 100*float64(part)/float64(whole))
}

// String renders the map as a table under the Summary line: one row per
// damaged offset with how many replies had it damaged, the mask of bits that
// flipped, the direction, and per bit (most significant first) the count of
// 0→1 and 1→0 flips. For example
//
//	1000 replies, 12 damaged (1.2%); 2 offsets hit, most #30 (10×, bits 0x01 0→1)
//	offset  times  share   mask  dir   bits 0→1/1→0
//	    30     10  1%      0x01  0→1   b0:10/0
//	    41      2  0.2%    0x81  both  b7:2/0 b0:0/2
func (m *DamageMap) String() string {
	var sb strings.Builder
	sb.WriteString(m.Summary())
	sb.WriteByte('\n')
	if m.hit == 0 {
		return sb.String()
	}
	sb.WriteString("offset  times  share   mask  dir   bits 0→1/1→0\n")
	for _, o := range m.offs {
		if o.Count == 0 {
			continue
		}
		fmt.Fprintf(&sb, "%6d  %5d  %-6s  0x%02x  %-4s ", o.Offset, o.Count,
			dmgPercent(o.Count, m.replies), o.Mask(), o.Direction())
		for b := 7; b >= 0; b-- {
			if o.Set[b] != 0 || o.Cleared[b] != 0 {
				fmt.Fprintf(&sb, " b%d:%d/%d", b, o.Set[b], o.Cleared[b])
			}
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
