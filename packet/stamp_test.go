package packet

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// stampTest is a stamp whose bytes are easy to read: Sent 01..08, Nonce 11..18.
var stampTest = Stamp{Sent: 0x0102030405060708, Nonce: 0x1112131415161718}

func TestAppendPayloadLayout(t *testing.T) {
	pat := BytesPattern("a5", []byte{0xa5}, 4)
	tests := []struct {
		place StampPlace
		want  string
	}{
		// Pattern alone.
		{StampNone, "a5a5a5a5"},
		// Big-endian Sent at 0..7, Nonce at 8..15, then the pattern at 16.
		{StampHead, "0102030405060708 1112131415161718 a5a5a5a5"},
		// Pattern at 0..3, then the stamp at 4..19.
		{StampTail, "a5a5a5a5 0102030405060708 1112131415161718"},
	}
	for _, tt := range tests {
		// Appends after what dst already holds.
		got := AppendPayload([]byte{0xee}, pat, tt.place, stampTest)
		want := append([]byte{0xee}, patMustHex(t, tt.want)...)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: % x, want % x", tt.place, got, want)
		}
		if n := PayloadLen(pat, tt.place); n != len(want)-1 {
			t.Errorf("PayloadLen(%v) = %d, want %d", tt.place, n, len(want)-1)
		}
	}
	// A negative Sent is two's complement: -1 is eight 0xff bytes.
	got := AppendPayload(nil, Pattern{}, StampHead, Stamp{Sent: -1, Nonce: 2})
	if want := patMustHex(t, "ffffffffffffffff 0000000000000002"); !bytes.Equal(got, want) {
		t.Errorf("Sent -1: % x, want % x", got, want)
	}
	// An unknown place behaves as StampNone.
	if got := AppendPayload(nil, pat, StampPlace(9), stampTest); !bytes.Equal(got, pat.Bytes) || PayloadLen(pat, 9) != 4 {
		t.Errorf("StampPlace(9): % x", got)
	}
}

func TestSplitPayload(t *testing.T) {
	pat := Ramp(8) // 00..07
	head := AppendPayload(nil, pat, StampHead, stampTest)
	tail := AppendPayload(nil, pat, StampTail, stampTest)
	tests := []struct {
		name    string
		b       []byte
		patLen  int
		place   StampPlace
		ok      bool
		pattern string
	}{
		{"none", pat.Bytes, 8, StampNone, false, "0001020304050607"},
		{"head", head, 8, StampHead, true, "0001020304050607"},
		// A longer reply shows as a longer pattern after a head stamp.
		{"head extended", append(head[:24:24], 0x99), 8, StampHead, true, "000102030405060799"},
		// Cut inside the pattern: the stamp is intact, the pattern short.
		{"head truncated in pattern", head[:20], 8, StampHead, true, "00010203"},
		// Cut inside the stamp: no stamp, no pattern.
		{"head truncated in stamp", head[:15], 8, StampHead, false, ""},
		{"tail", tail, 8, StampTail, true, "0001020304050607"},
		// The tail stamp is found at patLen, not at the end of b: bytes
		// after it are not pattern.
		{"tail extended", append(tail[:24:24], 0x99), 8, StampTail, true, "0001020304050607"},
		// Cut inside the stamp: pattern whole, no stamp.
		{"tail truncated in stamp", tail[:23], 8, StampTail, false, "0001020304050607"},
		// Cut inside the pattern.
		{"tail truncated in pattern", tail[:5], 8, StampTail, false, "0001020304"},
		{"tail negative patLen", tail[:16], -3, StampTail, true, ""},
	}
	for _, tt := range tests {
		st, ok, p := SplitPayload(tt.b, tt.patLen, tt.place)
		if ok != tt.ok || !bytes.Equal(p, patMustHex(t, tt.pattern)) {
			t.Errorf("%s: ok=%v pattern % x, want ok=%v %s", tt.name, ok, p, tt.ok, tt.pattern)
		}
		switch {
		case ok && tt.patLen >= 0 && st != stampTest:
			t.Errorf("%s: stamp %+v, want %+v", tt.name, st, stampTest)
		case !ok && st != (Stamp{}):
			t.Errorf("%s: stamp %+v without ok", tt.name, st)
		}
	}
}

func TestStampPlace(t *testing.T) {
	for p, s := range map[StampPlace]string{StampNone: "none", StampHead: "head", StampTail: "tail", 7: "StampPlace(7)"} {
		if p.String() != s {
			t.Errorf("%d.String() = %q, want %q", p, p.String(), s)
		}
	}
	for _, s := range []string{"none", "head", "tail"} {
		if p, err := ParseStampPlace(s); err != nil || p.String() != s {
			t.Errorf("ParseStampPlace(%q) = %v, %v", s, p, err)
		}
	}
	var fe *FieldError
	if _, err := ParseStampPlace("middle"); !errors.As(err, &fe) || fe.Field != "stamp" || fe.Value != "middle" {
		t.Errorf("ParseStampPlace(middle) error = %v", err)
	}
	// Offsets for a 56-byte pattern: head at 0, tail right after the pattern.
	if a, b, c := StampOffset(56, StampHead), StampOffset(56, StampTail), StampOffset(56, StampNone); a != 0 || b != 56 || c != -1 {
		t.Errorf("StampOffset = %d %d %d, want 0 56 -1", a, b, c)
	}
}

func TestStampPutTime(t *testing.T) {
	// Patching the stamp in place gives the same bytes as building it.
	pat := Ramp(56)
	b := AppendPayload(nil, pat, StampTail, Stamp{})
	stampTest.Put(b[StampOffset(56, StampTail):])
	if want := AppendPayload(nil, pat, StampTail, stampTest); !bytes.Equal(b, want) {
		t.Errorf("Put at StampOffset: % x, want % x", b, want)
	}
	// 1.5 s after the epoch.
	if got := (Stamp{Sent: 1_500_000_000}).Time(); !got.Equal(time.Unix(1, 500_000_000)) {
		t.Errorf("Time() = %v", got)
	}
}

func TestAppendPayloadAllocs(t *testing.T) {
	pat := Ramp(56)
	buf := make([]byte, 0, 128)
	for _, place := range []StampPlace{StampNone, StampHead, StampTail} {
		allocs := testing.AllocsPerRun(100, func() {
			buf = AppendPayload(buf[:0], pat, place, stampTest)
		})
		if allocs != 0 {
			t.Errorf("AppendPayload(%v) with capacity: %v allocations, want 0", place, allocs)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	pat := Ramp(56)
	buf := make([]byte, 0, 128)
	st := Stamp{Sent: time.Now().UnixNano(), Nonce: 42}
	b.ReportAllocs()
	b.SetBytes(int64(PayloadLen(pat, StampHead)))
	for b.Loop() {
		st.Nonce++
		buf = AppendPayload(buf[:0], pat, StampHead, st)
	}
}

func FuzzSplitPayload(f *testing.F) {
	f.Add([]byte{0xa5, 0xa5}, uint8(1), int64(1), uint64(2), []byte{}, 0)
	f.Add([]byte{}, uint8(2), int64(-1), uint64(0), []byte{1}, -1)
	f.Add(bytes.Repeat([]byte{0xaa}, 56), uint8(2), int64(1e18), uint64(1<<63), []byte{1, 2, 3}, 56)
	f.Add([]byte{1}, uint8(0), int64(0), uint64(0), []byte{}, 1000)
	f.Add([]byte{1}, uint8(7), int64(0), uint64(0), []byte{}, 3)
	f.Fuzz(func(t *testing.T, pat []byte, place uint8, sent int64, nonce uint64, junk []byte, patLen int) {
		p := Pattern{Name: "fuzz", Bytes: pat}
		pl := StampPlace(place)
		st := Stamp{Sent: sent, Nonce: nonce}
		b := AppendPayload(nil, p, pl, st)
		if len(b) != PayloadLen(p, pl) {
			t.Fatalf("AppendPayload gave %d bytes, PayloadLen %d", len(b), PayloadLen(p, pl))
		}
		got, ok, gp := SplitPayload(b, len(pat), pl)
		stamped := pl == StampHead || pl == StampTail
		if ok != stamped || (ok && got != st) || !bytes.Equal(gp, pat) {
			t.Fatalf("round trip %v: ok=%v stamp %+v pattern % x; sent %+v % x", pl, ok, got, gp, st, pat)
		}
		// Arbitrary bytes and lengths never panic, and what comes back lies
		// inside b.
		_, ok, gp = SplitPayload(junk, patLen, pl)
		if len(gp) > len(junk) || (ok && len(junk) < StampLen) {
			t.Fatalf("SplitPayload(%d bytes, %d, %v): ok=%v, %d pattern bytes", len(junk), patLen, pl, ok, len(gp))
		}
	})
}
