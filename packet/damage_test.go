package packet

import (
	"bytes"
	"strings"
	"testing"
)

func TestByteDamageBits(t *testing.T) {
	tests := []struct {
		sent, got          byte
		bits, set, cleared byte
	}{
		// 0xaa = 10101010 → 0xab = 10101011: bit 0 went 0→1.
		{0xaa, 0xab, 0x01, 0x01, 0x00},
		// 0xf0 → 0x0f: the high nibble cleared, the low nibble set.
		{0xf0, 0x0f, 0xff, 0x0f, 0xf0},
		// 0x81 → 0x01: bit 7 went 1→0.
		{0x81, 0x01, 0x80, 0x00, 0x80},
		{0x55, 0x55, 0, 0, 0},
	}
	for _, tt := range tests {
		b := ByteDamage{Sent: tt.sent, Got: tt.got}
		if b.Bits() != tt.bits || b.Set() != tt.set || b.Cleared() != tt.cleared {
			t.Errorf("%#x→%#x: bits %#x set %#x cleared %#x, want %#x %#x %#x",
				tt.sent, tt.got, b.Bits(), b.Set(), b.Cleared(), tt.bits, tt.set, tt.cleared)
		}
	}
}

// dmgFlip returns a copy of b with b[off] replaced by v.
func dmgFlip(b []byte, off int, v byte) []byte {
	c := bytes.Clone(b)
	c[off] = v
	return c
}

func TestCompareIPutilsLab(t *testing.T) {
	// The lab case of tools-compared.md §1.3: ping -p aa -s 56, the
	// responder flips bit 0 of data byte 30; iputils printed
	// "wrong data byte #30 should be 0xaa but was 0xab".
	sent := bytes.Repeat([]byte{0xaa}, 56)
	got := dmgFlip(sent, 30, 0xab)
	d := Compare(sent, got)
	if d == nil {
		t.Fatal("Compare found no damage")
	}
	if line := d.IPutilsLine(); line != "wrong data byte #30 should be 0xaa but was 0xab" {
		t.Errorf("IPutilsLine() = %q", line)
	}
	if s := d.String(); s != "1 byte differs (offset 30), #30 sent 0xaa got 0xab bits 0x01" {
		t.Errorf("String() = %q", s)
	}
	if b, ok := d.First(); !ok || b != (ByteDamage{Offset: 30, Sent: 0xaa, Got: 0xab}) {
		t.Errorf("First() = %+v, %v", b, ok)
	}
	if d.Truncated() || d.Extended() || d.SentLen != 56 || d.GotLen != 56 {
		t.Errorf("lengths %d/%d truncated=%v", d.SentLen, d.GotLen, d.Truncated())
	}
}

func TestCompareString(t *testing.T) {
	sent := bytes.Repeat([]byte{0xaa}, 56)
	// Bytes 30 and 41 damaged, and only 48 bytes came back: 56-48 = 8 short.
	got := dmgFlip(dmgFlip(sent, 30, 0xab), 41, 0x2a)[:48]
	d := Compare(sent, got)
	want := "2 bytes differ (offsets 30, 41), first #30 sent 0xaa got 0xab bits 0x01; reply 8 bytes short"
	if d.String() != want {
		t.Errorf("String() = %q\nwant       %q", d.String(), want)
	}
	// 0xaa → 0x2a clears bit 7.
	if len(d.Bytes) != 2 || d.Bytes[1] != (ByteDamage{41, 0xaa, 0x2a}) || d.Bytes[1].Cleared() != 0x80 {
		t.Errorf("Bytes = %+v", d.Bytes)
	}
	if !d.Truncated() {
		t.Errorf("Truncated() = false")
	}

	tests := []struct {
		sent, got []byte
		want      string
	}{
		// Only the length changed.
		{sent, sent[:55], "no byte differs in the 55 common bytes; reply 1 byte short"},
		{sent[:4], append(bytes.Clone(sent[:4]), 1, 2), "no byte differs in the 4 common bytes; reply 2 bytes long"},
		// Nothing came back at all.
		{sent[:4], nil, "no byte differs in the 0 common bytes; reply 4 bytes short"},
		// Ten bytes differ (0..9, all 0xaa → 0x55, bits 0xff): eight listed, "+2 more".
		{sent[:12], append(bytes.Repeat([]byte{0x55}, 10), 0xaa, 0xaa),
			"10 bytes differ (offsets 0, 1, 2, 3, 4, 5, 6, 7, +2 more), first #0 sent 0xaa got 0x55 bits 0xff"},
	}
	for _, tt := range tests {
		if s := Compare(tt.sent, tt.got).String(); s != tt.want {
			t.Errorf("String() = %q\nwant       %q", s, tt.want)
		}
	}
}

func TestIPutilsLineFormat(t *testing.T) {
	// iputils prints with %x: no zero padding, so 0x0 and 0x1, not 0x00.
	d := Compare([]byte{0, 0, 0}, []byte{0, 0, 1})
	if s := d.IPutilsLine(); s != "wrong data byte #2 should be 0x0 but was 0x1" {
		t.Errorf("IPutilsLine() = %q", s)
	}
	// No differing byte, no line.
	if s := Compare([]byte{1, 2}, []byte{1}).IPutilsLine(); s != "" {
		t.Errorf("truncation only: IPutilsLine() = %q", s)
	}
}

func TestCompareNil(t *testing.T) {
	// Identical payloads, including empty and nil, give nil.
	for _, c := range [][2][]byte{{nil, nil}, {nil, {}}, {{1, 2, 3}, {1, 2, 3}}} {
		if d := Compare(c[0], c[1]); d != nil {
			t.Errorf("Compare(% x, % x) = %v, want nil", c[0], c[1], d)
		}
	}
	// A nil *Damage answers like an intact reply.
	var d *Damage
	if _, ok := d.First(); ok || d.Truncated() || d.Extended() || d.String() != "intact" || d.IPutilsLine() != "" {
		t.Errorf("nil Damage: %v", d)
	}
}

func TestCompareAt(t *testing.T) {
	// The pattern part of a StampHead payload starts at ICMP data offset 16:
	// a flip at pattern byte 14 is ICMP data byte 30.
	sent := bytes.Repeat([]byte{0xaa}, 40)
	d := CompareAt(sent, dmgFlip(sent, 14, 0xab), StampLen)
	if s := d.IPutilsLine(); s != "wrong data byte #30 should be 0xaa but was 0xab" {
		t.Errorf("IPutilsLine() = %q", s)
	}
}

func TestCompareEveryPosition(t *testing.T) {
	// The word-at-a-time scan must find a difference at every position of
	// every length around the 8-byte boundaries, alone and in pairs.
	for n := 1; n <= 40; n++ {
		sent := Ramp(n).Bytes
		for i := 0; i < n; i++ {
			d := Compare(sent, dmgFlip(sent, i, sent[i]^0x10))
			if len(d.Bytes) != 1 || d.Bytes[0].Offset != i || d.Bytes[0].Bits() != 0x10 {
				t.Fatalf("n=%d flip at %d: %+v", n, i, d.Bytes)
			}
			for j := i + 1; j < n; j++ {
				d := Compare(sent, dmgFlip(dmgFlip(sent, i, ^sent[i]), j, ^sent[j]))
				if len(d.Bytes) != 2 || d.Bytes[0].Offset != i || d.Bytes[1].Offset != j {
					t.Fatalf("n=%d flips at %d,%d: %+v", n, i, j, d.Bytes)
				}
			}
		}
	}
}

func TestCompareIntactAllocs(t *testing.T) {
	for _, n := range []int{56, 1400} {
		a, b := Ramp(n).Bytes, Ramp(n).Bytes
		if allocs := testing.AllocsPerRun(100, func() { _ = Compare(a, b) }); allocs != 0 {
			t.Errorf("Compare intact %d bytes: %v allocations, want 0", n, allocs)
		}
	}
}

// dmgAddExample fills a map with a small, hand-countable history:
//
//	reply 1: intact
//	reply 2: #30 0xaa→0xab (bit 0 set)
//	reply 3: #30 0xaa→0xab again, #41 0xaa→0x2a (bit 7 cleared)
//	reply 4: #41 0xaa→0xab (bit 0 set), 8 bytes short
//	reply 5: intact length-wise, 1 byte longer, no byte damaged
func dmgAddExample() *DamageMap {
	sent := bytes.Repeat([]byte{0xaa}, 56)
	var m DamageMap
	m.Add(Compare(sent, sent))
	m.Add(Compare(sent, dmgFlip(sent, 30, 0xab)))
	m.Add(Compare(sent, dmgFlip(dmgFlip(sent, 30, 0xab), 41, 0x2a)))
	m.Add(Compare(sent, dmgFlip(sent, 41, 0xab)[:48]))
	m.Add(Compare(sent, append(bytes.Clone(sent), 0)))
	return &m
}

func TestDamageMap(t *testing.T) {
	m := dmgAddExample()
	// 5 replies; 3 with damaged bytes (2, 3, 4); 1 truncated (4); 1 extended (5).
	if m.Replies() != 5 || m.Damaged() != 3 || m.Truncated() != 1 || m.Extended() != 1 || m.Ignored() != 0 {
		t.Errorf("counts %d %d %d %d %d, want 5 3 1 1 0", m.Replies(), m.Damaged(), m.Truncated(), m.Extended(), m.Ignored())
	}
	offs := m.Offsets()
	// #30: twice, bit 0 set both times. #41: twice, bit 7 cleared once, bit 0 set once.
	want := []OffsetDamage{
		{Offset: 30, Count: 2, Set: [8]int{0: 2}},
		{Offset: 41, Count: 2, Set: [8]int{0: 1}, Cleared: [8]int{7: 1}},
	}
	if len(offs) != len(want) || offs[0] != want[0] || offs[1] != want[1] {
		t.Fatalf("Offsets() = %+v\nwant %+v", offs, want)
	}
	if offs[0].Mask() != 0x01 || offs[0].Direction() != "0→1" || offs[1].Mask() != 0x81 || offs[1].Direction() != "both" {
		t.Errorf("mask/direction %#x %s %#x %s", offs[0].Mask(), offs[0].Direction(), offs[1].Mask(), offs[1].Direction())
	}
	if d := (OffsetDamage{Cleared: [8]int{3: 1}}).Direction(); d != "1→0" {
		t.Errorf("Direction() = %q, want 1→0", d)
	}
	// 3 of 5 = 60%; #30 and #41 tie at 2 and the lower offset is named.
	sum := "5 replies, 3 damaged (60%), 1 truncated, 1 extended; 2 offsets hit, most #30 (2×, bits 0x01 0→1)"
	if m.Summary() != sum {
		t.Errorf("Summary() = %q\nwant        %q", m.Summary(), sum)
	}
	// Each offset was damaged in 2 of 5 replies = 40%.
	table := sum + "\n" +
		"offset  times  share   mask  dir   bits 0→1/1→0\n" +
		"    30      2  40%     0x01  0→1   b0:2/0\n" +
		"    41      2  40%     0x81  both  b7:0/1 b0:1/0\n"
	if m.String() != table {
		t.Errorf("String() =\n%s\nwant\n%s", m.String(), table)
	}
}

func TestDamageMapEdges(t *testing.T) {
	var m DamageMap
	if m.Summary() != "no replies" || len(m.Offsets()) != 0 {
		t.Errorf("empty map: %q", m.Summary())
	}
	m.Add(nil)
	m.Add(nil)
	if m.Summary() != "2 replies, all intact" || m.String() != "2 replies, all intact\n" {
		t.Errorf("intact map: %q", m.String())
	}
	// Offsets outside 0..DamageMaxOffset are counted, not mapped.
	m.Add(&Damage{Bytes: []ByteDamage{{Offset: -1, Sent: 1}, {Offset: DamageMaxOffset + 1, Sent: 1}}, SentLen: 1, GotLen: 1})
	if m.Ignored() != 2 || len(m.offs) != 0 {
		t.Errorf("Ignored() = %d, %d offsets allocated", m.Ignored(), len(m.offs))
	}
	if !strings.Contains(m.Summary(), "2 damaged bytes beyond offset 65534 not mapped") {
		t.Errorf("Summary() = %q", m.Summary())
	}
}

func TestDamageMapMemoryFlat(t *testing.T) {
	// Memory depends on the highest damaged offset only: after 100000
	// replies each damaged at offsets 0..55, the per-offset table still
	// has 56 entries in at most 64 (the first allocation), and adding
	// allocates nothing.
	sent := Ramp(56).Bytes
	got := make([]byte, 56)
	for i := range got {
		got[i] = ^sent[i]
	}
	d := Compare(sent, got)
	var m DamageMap
	for range 100000 {
		m.Add(d)
	}
	if len(m.offs) != 56 || cap(m.offs) != 64 {
		t.Errorf("table len %d cap %d, want 56 and 64", len(m.offs), cap(m.offs))
	}
	if allocs := testing.AllocsPerRun(100, func() { m.Add(d) }); allocs != 0 {
		t.Errorf("Add: %v allocations, want 0", allocs)
	}
	// Every bit of every byte flipped once per reply: 100000+101 replies
	// (AllocsPerRun runs the function once more than asked).
	const n = 100000 + 101
	o := m.Offsets()[10] // sent 0x0a = 00001010: bits 1 and 3 cleared, the rest set
	if o.Count != n || o.Cleared[1] != n || o.Cleared[3] != n || o.Set[0] != n || o.Set[7] != n || o.Set[1] != 0 {
		t.Errorf("offset 10: %+v", o)
	}
}

func BenchmarkCompareIntact56(b *testing.B)   { benchCompareIntact(b, 56) }
func BenchmarkCompareIntact1400(b *testing.B) { benchCompareIntact(b, 1400) }

func benchCompareIntact(b *testing.B, n int) {
	sent, got := Ramp(n).Bytes, Ramp(n).Bytes
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if Compare(sent, got) != nil {
			b.Fatal("damage")
		}
	}
}

func BenchmarkDamageMapAdd(b *testing.B) {
	// One reply with two damaged bytes, as in the lab example.
	sent := bytes.Repeat([]byte{0xaa}, 56)
	d := Compare(sent, dmgFlip(dmgFlip(sent, 30, 0xab), 41, 0x2a))
	var m DamageMap
	b.ReportAllocs()
	for b.Loop() {
		m.Add(d)
	}
}

func FuzzCompare(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0xaa, 0xaa}, []byte{0xaa, 0xab})
	f.Add(bytes.Repeat([]byte{0xaa}, 56), bytes.Repeat([]byte{0xaa}, 48))
	f.Add(Ramp(20).Bytes, WalkingOnes(23).Bytes)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		d := Compare(a, b)
		if (d == nil) != bytes.Equal(a, b) {
			t.Fatalf("Compare(% x, % x) = %v; equal = %v", a, b, d, bytes.Equal(a, b))
		}
		if d == nil {
			return
		}
		if d.SentLen != len(a) || d.GotLen != len(b) {
			t.Fatalf("lengths %d/%d, want %d/%d", d.SentLen, d.GotLen, len(a), len(b))
		}
		n := min(len(a), len(b))
		differ := 0
		for i := 0; i < n; i++ {
			if a[i] != b[i] {
				differ++
			}
		}
		if len(d.Bytes) != differ {
			t.Fatalf("%d bytes listed, %d differ", len(d.Bytes), differ)
		}
		prev := -1
		for _, x := range d.Bytes {
			if x.Offset <= prev || x.Offset >= n || a[x.Offset] != x.Sent || b[x.Offset] != x.Got || x.Sent == x.Got {
				t.Fatalf("bad entry %+v (previous offset %d)", x, prev)
			}
			prev = x.Offset
		}
		_ = d.String()
		var m DamageMap
		m.Add(d)
		if m.Damaged() != min(1, differ) || len(m.Offsets()) != differ {
			t.Fatalf("DamageMap: %d damaged, %d offsets, want %d", m.Damaged(), len(m.Offsets()), differ)
		}
	})
}
