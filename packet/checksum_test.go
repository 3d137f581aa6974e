package packet

import "testing"

// TestChecksumUpdate checks RFC 1624's incremental update against a full
// recomputation for a TTL decrement in a real header (the captured probe in
// testdata/decode) and for arbitrary word changes.
func TestChecksumUpdate(t *testing.T) {
	h := readHexFile(t, "ping-R-ttl2-probe.hex")[:60]
	cs := uint16(h[10])<<8 | uint16(h[11])
	old := uint16(h[8])<<8 | uint16(h[9])
	h[8]-- // TTL 2 → 1
	nw := uint16(h[8])<<8 | uint16(h[9])
	h[10], h[11] = 0, 0
	want := Checksum(h)
	if got := ChecksumUpdate(cs, old, nw); got != want {
		t.Errorf("TTL decrement: incremental 0x%04x, recomputed 0x%04x", got, want)
	}
	if got := ChecksumFold(ChecksumAdd(ChecksumAdd(0, h[:10]), h[10:])); got != want {
		t.Errorf("running sum in two pieces: 0x%04x, want 0x%04x", got, want)
	}
	b := []byte{0x12, 0x34, 0xff, 0xff, 0x00, 0x01, 0xab, 0xcd}
	for _, w := range []uint16{0, 1, 0xffff, 0x8000, 0x1234} {
		c := Checksum(b)
		o := uint16(b[2])<<8 | uint16(b[3])
		b[2], b[3] = byte(w>>8), byte(w)
		if got, want := ChecksumUpdate(c, o, w), Checksum(b); got != want && !(got == 0xffff && want == 0 || got == 0 && want == 0xffff) {
			t.Errorf("word 0x%04x→0x%04x: incremental 0x%04x, recomputed 0x%04x", o, w, got, want)
		}
	}
}
