package packet

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// IPv4 option types (RFC 791 §3.1, RFC 2113 §2.1): copied flag, class and
// number in one octet.
const (
	OptEOL         = 0   // End of Option List
	OptNOP         = 1   // No Operation
	OptRecordRoute = 7   // Record Route
	OptTimestamp   = 68  // Internet Timestamp
	OptLSRR        = 131 // Loose Source and Record Route
	OptSSRR        = 137 // Strict Source and Record Route
	OptRouterAlert = 148 // Router Alert (RFC 2113)
	maxRouteSlots  = 9   // (40 − 3) / 4 addresses fit in a route option
	maxTSOnly      = 9   // (40 − 4) / 4 timestamps
	maxTSPairs     = 4   // (40 − 4) / 8 address+timestamp pairs
	tsPointerFirst = 5   // first timestamp pointer value (RFC 791)
	rrPointerFirst = 4   // first route pointer value (RFC 791)
	tsNonStandard  = 1 << 31
)

// Option is one IPv4 option. The concrete types are EOL, NOP, *RecordRoute,
// *Timestamp, *SourceRoute, RouterAlert and RawOption. Parsing produces the
// same types, with RawOption for unknown or malformed options so that no
// bytes are lost.
type Option interface {
	// Name is a short lower-case name ("rr", "ts", "lsrr", …) used in
	// errors, summaries and quote diffs.
	Name() string
	// Len is the number of bytes the option takes on the wire.
	Len() int
	// String describes the option's content in one line.
	String() string
	// marshal writes the option into b (at least Len bytes) for header h;
	// index is the option's position, for error messages.
	marshal(b []byte, h *IPv4, index int) (int, error)
}

// EOL is the End of Option List option, one zero byte (RFC 791 §3.1). The
// builder pads with zero bytes anyway, so EOL is only needed where a packet
// must end its option list early.
type EOL struct{}

// Name returns "eol".
func (EOL) Name() string { return "eol" }

// Len returns 1.
func (EOL) Len() int { return 1 }

// String returns "eol".
func (EOL) String() string { return "eol" }

func (EOL) marshal(b []byte, _ *IPv4, _ int) (int, error) { b[0] = OptEOL; return 1, nil }

// NOP is the No Operation option, one byte of value 1 (RFC 791 §3.1), used
// to align the following option.
type NOP struct{}

// Name returns "nop".
func (NOP) Name() string { return "nop" }

// Len returns 1.
func (NOP) Len() int { return 1 }

// String returns "nop".
func (NOP) String() string { return "nop" }

func (NOP) marshal(b []byte, _ *IPv4, _ int) (int, error) { b[0] = OptNOP; return 1, nil }

// RecordRoute is the Record Route option (RFC 791 §3.1, type 7): Slots empty
// address slots that each router fills with its outgoing address while the
// pointer moves on by four.
type RecordRoute struct {
	// Slots is the number of 4-byte address slots, 1–9; zero means 9, what
	// `ping -R` asks for. Nine slots take 39 bytes, so nothing else but a
	// NOP or EOL fits beside them.
	Slots int
	// Pointer is the pointer octet. Zero means computed: 4 plus four for
	// every address already in Route (and for the prefilled source).
	Pointer uint8
	// Route holds the addresses recorded so far. When building, they are
	// written into the first slots; after parsing, they are the slots before
	// the pointer.
	Route []netip.Addr
	// PrefillSource writes the header's source address into the first slot
	// before Route, as the Linux kernel does for packets it builds itself
	// (`ping -R`). A header built by echolot is not stamped by the sending
	// host, so without this the route shows one entry fewer each way.
	PrefillSource bool
}

// Name returns "rr".
func (o *RecordRoute) Name() string { return "rr" }

func (o *RecordRoute) slots() int {
	if o.Slots == 0 {
		return maxRouteSlots
	}
	return o.Slots
}

// Len returns 3 + 4 × slots.
func (o *RecordRoute) Len() int { return 3 + 4*o.slots() }

// Full reports whether every slot has been used (the pointer is past the
// option), so routers further on record nothing.
func (o *RecordRoute) Full() bool { return int(o.Pointer) > o.Len() }

// String describes the option, e.g. "rr slots=9 ptr=12 [198.18.0.1 198.18.1.1]".
func (o *RecordRoute) String() string {
	return "rr slots=" + itoa(o.slots()) + " ptr=" + itoa(int(o.Pointer)) + " " + addrList(o.Route)
}

func (o *RecordRoute) check(i int) error { return checkSlots(i, "rr", o.slots()) }

func (o *RecordRoute) marshal(b []byte, h *IPv4, i int) (int, error) {
	return marshalRoute(b, OptRecordRoute, "rr", o.slots(), o.Pointer, o.Route, o.PrefillSource, h, i)
}

// SourceRoute is the Loose (type 131) or Strict (type 137) Source and Record
// Route option (RFC 791 §3.1). Route lists the hops still to visit followed
// by the final destination; the IP destination is the first hop.
type SourceRoute struct {
	// Strict selects SSRR (each hop must be directly connected) instead of
	// LSRR.
	Strict bool
	// Pointer is the pointer octet; zero means 4, the first address.
	Pointer uint8
	// Route holds 1–9 addresses.
	Route []netip.Addr
}

// Name returns "ssrr" or "lsrr".
func (o *SourceRoute) Name() string {
	if o.Strict {
		return "ssrr"
	}
	return "lsrr"
}

// Len returns 3 + 4 × len(Route).
func (o *SourceRoute) Len() int { return 3 + 4*len(o.Route) }

// String describes the option, e.g. "lsrr ptr=4 [198.18.1.2 198.18.3.2]".
func (o *SourceRoute) String() string {
	return o.Name() + " ptr=" + itoa(int(o.Pointer)) + " " + addrList(o.Route)
}

func (o *SourceRoute) check(i int) error {
	if len(o.Route) == 0 || len(o.Route) > maxRouteSlots {
		return fieldErr(optField(i, "route"), len(o.Route), "a source route needs 1–9 addresses")
	}
	return nil
}

func (o *SourceRoute) marshal(b []byte, h *IPv4, i int) (int, error) {
	t := uint8(OptLSRR)
	if o.Strict {
		t = OptSSRR
	}
	if err := o.check(i); err != nil {
		return 0, err
	}
	ptr := o.Pointer
	if ptr == 0 {
		ptr = rrPointerFirst
	}
	return marshalRoute(b, t, o.Name(), len(o.Route), ptr, o.Route, false, h, i)
}

// checkSlots checks the slot count of a route-type option.
func checkSlots(i int, name string, slots int) error {
	if slots < 1 || slots > maxRouteSlots {
		return fieldErr(optField(i, "slots"), slots, "%s holds 1–9 address slots (3 + 4×9 = 39 of the 40 option bytes)", name)
	}
	return nil
}

// marshalRoute writes a route-type option (RR, LSRR, SSRR): type, length,
// pointer and slots addresses, the given ones first.
func marshalRoute(b []byte, typ uint8, name string, slots int, ptr uint8, route []netip.Addr, prefill bool, h *IPv4, i int) (int, error) {
	if err := checkSlots(i, name, slots); err != nil {
		return 0, err
	}
	used := len(route)
	if prefill {
		used++
	}
	if used > slots {
		return 0, fieldErr(optField(i, "route"), used, "%d addresses do not fit in %d slots", used, slots)
	}
	n := 3 + 4*slots
	b[0], b[1] = typ, uint8(n)
	if ptr == 0 {
		ptr = uint8(rrPointerFirst + 4*used)
	}
	b[2] = ptr
	off := 3
	if prefill {
		if !h.Src.IsValid() {
			return 0, fieldErr(optField(i, "prefill"), "ip.src unset", "prefilling the first slot needs the header's source address")
		}
		a := h.Src.Unmap().As4()
		copy(b[off:], a[:])
		off += 4
	}
	for j, a := range route {
		if !a.Unmap().Is4() {
			return 0, fieldErr(optField(i, "route["+itoa(j+1)+"]"), a, "IPv4 options hold IPv4 addresses")
		}
		v := a.Unmap().As4()
		copy(b[off:], v[:])
		off += 4
	}
	clear(b[off:n])
	return n, nil
}

// TSFlag is the flag nibble of the Timestamp option (RFC 791 §3.1).
type TSFlag uint8

// Timestamp option flags.
const (
	// TSOnly records timestamps only (ping -T tsonly).
	TSOnly TSFlag = 0
	// TSAndAddr records address and timestamp pairs (ping -T tsandaddr).
	TSAndAddr TSFlag = 1
	// TSPrespec timestamps only at prespecified addresses (ping -T tsprespec).
	TSPrespec TSFlag = 3
)

// String returns "tsonly", "tsandaddr", "tsprespec" or "flag-N".
func (f TSFlag) String() string {
	switch f {
	case TSOnly:
		return "tsonly"
	case TSAndAddr:
		return "tsandaddr"
	case TSPrespec:
		return "tsprespec"
	}
	return "flag-" + itoa(int(f))
}

// TSEntry is one Timestamp option slot. Time is milliseconds since midnight
// UT; when the high bit is set the value is in a non-standard unit
// (RFC 791 §3.1). Addr is unset for TSOnly.
type TSEntry struct {
	Addr netip.Addr
	Time uint32
}

// NonStandard reports whether the timestamp has its high-order bit set: the
// router could not give milliseconds since midnight UT.
func (e TSEntry) NonStandard() bool { return e.Time&tsNonStandard != 0 }

// Timestamp is the Internet Timestamp option (RFC 791 §3.1, type 68).
type Timestamp struct {
	// Flag selects what routers record.
	Flag TSFlag
	// Slots is the number of entries: 1–9 for TSOnly, 1–4 for TSAndAddr and
	// TSPrespec. Zero means the most that fit (9 or 4), or len(Entries) for
	// TSPrespec.
	Slots int
	// Pointer is the pointer octet. Zero means computed: 5 plus the size of
	// the entries already recorded.
	Pointer uint8
	// Overflow is the 4-bit count of routers that could not record because
	// the option was full.
	Overflow uint8
	// Entries are the recorded entries (TSOnly, TSAndAddr), or for
	// TSPrespec every prespecified address with its time (zero until
	// recorded). When building they are written into the first slots.
	Entries []TSEntry
	// PrefillSource stamps the sending host into the first slot before
	// Entries, as the Linux kernel does for packets it builds itself
	// (`ping -T`): its time for TSOnly, the header's source address and
	// its time for TSAndAddr, and for TSPrespec the time of the first
	// prespecified address when that is the source. A header built by
	// echolot is not stamped by the sending host, so without this the
	// sender is missing from the list.
	PrefillSource bool
	// PrefillTime is the time PrefillSource stamps, in milliseconds since
	// midnight UT (RFC 791 §3.1); zero means the time of building.
	PrefillTime uint32
}

// TimeOfDayMS returns t as the Timestamp option counts time: milliseconds
// since midnight UT (RFC 791 §3.1).
func TimeOfDayMS(t time.Time) uint32 {
	t = t.UTC()
	y, m, d := t.Date()
	return uint32(t.Sub(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)).Milliseconds())
}

// Name returns "ts".
func (o *Timestamp) Name() string { return "ts" }

func (o *Timestamp) entrySize() int {
	if o.Flag == TSOnly {
		return 4
	}
	return 8
}

func (o *Timestamp) slots() int {
	if o.Slots != 0 {
		return o.Slots
	}
	switch o.Flag {
	case TSOnly:
		return maxTSOnly
	case TSPrespec:
		if len(o.Entries) > 0 {
			return len(o.Entries)
		}
	}
	return maxTSPairs
}

// Len returns 4 + entry size × slots.
func (o *Timestamp) Len() int { return 4 + o.entrySize()*o.slots() }

// Recorded returns the entries routers have filled: those before the
// pointer.
func (o *Timestamp) Recorded() []TSEntry {
	n := (int(o.Pointer) - tsPointerFirst) / o.entrySize()
	n = max(0, min(n, len(o.Entries)))
	return o.Entries[:n]
}

// String describes the option, e.g.
// "ts tsandaddr slots=4 ptr=13 oflw=0 [198.18.1.1@52000123]".
func (o *Timestamp) String() string {
	var s strings.Builder
	s.WriteString("ts " + o.Flag.String() + " slots=" + itoa(o.slots()) + " ptr=" + itoa(int(o.Pointer)) + " oflw=" + itoa(int(o.Overflow)) + " [")
	for i, e := range o.Entries {
		if i > 0 {
			s.WriteByte(' ')
		}
		if e.Addr.IsValid() {
			s.WriteString(e.Addr.String() + "@")
		}
		s.WriteString(strconv.FormatUint(uint64(e.Time), 10))
	}
	s.WriteByte(']')
	return s.String()
}

func (o *Timestamp) check(i int) error {
	slots := o.slots()
	switch o.Flag {
	case TSOnly:
		if slots < 1 || slots > maxTSOnly {
			return fieldErr(optField(i, "slots"), slots, "tsonly holds 1–9 timestamps (4 + 4×9 = 40 option bytes)")
		}
	case TSAndAddr, TSPrespec:
		if slots < 1 || slots > maxTSPairs {
			return fieldErr(optField(i, "slots"), slots, "%s holds 1–4 address+timestamp pairs (4 + 8×4 = 36 option bytes)", o.Flag)
		}
		if o.Flag == TSPrespec && len(o.Entries) == 0 {
			return fieldErr(optField(i, "entries"), 0, "tsprespec needs 1–4 prespecified addresses")
		}
	default:
		return fieldErr(optField(i, "flag"), int(o.Flag), "the timestamp flag is 0 (tsonly), 1 (tsandaddr) or 3 (tsprespec)")
	}
	if o.Overflow > 15 {
		return fieldErr(optField(i, "overflow"), o.Overflow, "the overflow counter is 4 bits: 0–15")
	}
	if n := o.ownEntries(); n > slots {
		return fieldErr(optField(i, "entries"), n, "%d entries do not fit in %d slots", n, slots)
	}
	return nil
}

// prefillsOwn reports whether PrefillSource adds an entry of its own in
// front of Entries (TSOnly and TSAndAddr; TSPrespec stamps in place).
func (o *Timestamp) prefillsOwn() bool { return o.PrefillSource && o.Flag != TSPrespec }

// ownEntries is the number of entries written when building.
func (o *Timestamp) ownEntries() int {
	if o.prefillsOwn() {
		return len(o.Entries) + 1
	}
	return len(o.Entries)
}

// prefillTime is the time PrefillSource stamps.
func (o *Timestamp) prefillTime() uint32 {
	if o.PrefillTime != 0 {
		return o.PrefillTime
	}
	return TimeOfDayMS(time.Now())
}

func (o *Timestamp) marshal(b []byte, h *IPv4, i int) (int, error) {
	if err := o.check(i); err != nil {
		return 0, err
	}
	slots := o.slots()
	es := o.entrySize()
	n := 4 + es*slots
	ptr := o.Pointer
	if o.PrefillSource && es == 8 && !h.Src.Unmap().Is4() {
		return 0, fieldErr(optField(i, "prefill"), "ip.src unset", "prefilling the first slot needs the header's IPv4 source address")
	}
	// For TSPrespec the sender stamps in place when it is the first
	// prespecified address.
	stampFirst := o.Flag == TSPrespec && o.PrefillSource && len(o.Entries) > 0 &&
		o.Entries[0].Time == 0 && o.Entries[0].Addr.Unmap() == h.Src.Unmap()
	if ptr == 0 {
		rec := o.ownEntries()
		if o.Flag == TSPrespec {
			rec = 0
			for j, e := range o.Entries {
				if e.Time == 0 && !(j == 0 && stampFirst) {
					break
				}
				rec++
			}
		}
		ptr = uint8(tsPointerFirst + es*rec)
	}
	b[0], b[1], b[2], b[3] = OptTimestamp, uint8(n), ptr, o.Overflow<<4|uint8(o.Flag)
	off := 4
	if o.prefillsOwn() {
		if es == 8 {
			a := h.Src.Unmap().As4()
			copy(b[off:], a[:])
			off += 4
		}
		binary.BigEndian.PutUint32(b[off:], o.prefillTime())
		off += 4
	}
	for j, e := range o.Entries {
		if j == 0 && stampFirst {
			e.Time = o.prefillTime()
		}
		if es == 8 {
			if !e.Addr.Unmap().Is4() {
				return 0, fieldErr(optField(i, "entries["+itoa(j+1)+"].addr"), e.Addr, "%s entries need an IPv4 address", o.Flag)
			}
			a := e.Addr.Unmap().As4()
			copy(b[off:], a[:])
			off += 4
		}
		binary.BigEndian.PutUint32(b[off:], e.Time)
		off += 4
	}
	clear(b[off:n])
	return n, nil
}

// RouterAlert is the Router Alert option (RFC 2113 §2.1, type 148, length
// 4). Value 0 asks every router on the path to examine the packet.
type RouterAlert struct {
	Value uint16
}

// Name returns "router-alert".
func (RouterAlert) Name() string { return "router-alert" }

// Len returns 4.
func (RouterAlert) Len() int { return 4 }

// String returns "router-alert VALUE".
func (o RouterAlert) String() string { return "router-alert " + itoa(int(o.Value)) }

func (o RouterAlert) marshal(b []byte, _ *IPv4, _ int) (int, error) {
	b[0], b[1] = OptRouterAlert, 4
	binary.BigEndian.PutUint16(b[2:], o.Value)
	return 4, nil
}

// RawOption is an option written byte for byte, type and length octets
// included: any option echolot has no type for, or a deliberately malformed
// one. Parsing yields a RawOption for unknown and malformed options.
type RawOption struct {
	Bytes []byte
}

// Name returns "raw" for an empty option or "opt-N" with N the type octet.
func (o RawOption) Name() string {
	if len(o.Bytes) == 0 {
		return "raw"
	}
	return "opt-" + itoa(int(o.Bytes[0]))
}

// Len returns len(Bytes).
func (o RawOption) Len() int { return len(o.Bytes) }

// String returns the name and the bytes in hex.
func (o RawOption) String() string { return o.Name() + " 0x" + hex.EncodeToString(o.Bytes) }

func (o RawOption) check(i int) error {
	if len(o.Bytes) == 0 {
		return fieldErr(optField(i, "bytes"), 0, "a raw option needs at least its type octet")
	}
	return nil
}

func (o RawOption) marshal(b []byte, _ *IPv4, i int) (int, error) {
	if err := o.check(i); err != nil {
		return 0, err
	}
	return copy(b, o.Bytes), nil
}

// decodeOptions parses the option area of an IPv4 header. It never fails:
// what it cannot decode becomes a RawOption. Zero bytes that pad the header
// after an EOL are not returned as options.
func decodeOptions(b []byte) []Option {
	var opts []Option
	for len(b) > 0 {
		t := b[0]
		switch t {
		case OptEOL:
			if allZero(b) {
				return opts
			}
			opts = append(opts, EOL{})
			b = b[1:]
			continue
		case OptNOP:
			opts = append(opts, NOP{})
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			return append(opts, RawOption{Bytes: b})
		}
		n := int(b[1])
		o := decodeOption(b[:n])
		if o == nil {
			o = RawOption{Bytes: b[:n]}
		}
		opts = append(opts, o)
		b = b[n:]
	}
	return opts
}

// decodeOption decodes one multi-byte option of length len(b), or returns
// nil when its type is unknown or its content malformed. An option is
// decoded only when its decoded form re-encodes to exactly the same bytes:
// a pointer below the legal minimum or non-zero bytes in slots not yet
// recorded leave it a RawOption.
func decodeOption(b []byte) Option {
	n := len(b)
	switch b[0] {
	case OptRecordRoute, OptLSRR, OptSSRR:
		if n < 3 || (n-3)%4 != 0 || n == 3 {
			return nil
		}
		slots := (n - 3) / 4
		ptr := b[2]
		if ptr < rrPointerFirst {
			return nil // below the smallest legal pointer (RFC 791)
		}
		if b[0] == OptRecordRoute {
			used := min(int(ptr-rrPointerFirst)/4, slots)
			if !allZero(b[3+4*used:]) {
				return nil // bytes in unrecorded slots: keep them raw
			}
			return &RecordRoute{Slots: slots, Pointer: ptr, Route: addrs(b[3 : 3+4*used])}
		}
		return &SourceRoute{Strict: b[0] == OptSSRR, Pointer: ptr, Route: addrs(b[3:])}
	case OptTimestamp:
		if n < 4 {
			return nil
		}
		o := &Timestamp{Flag: TSFlag(b[3] & 0x0f), Overflow: b[3] >> 4, Pointer: b[2]}
		switch o.Flag {
		case TSOnly, TSAndAddr, TSPrespec:
		default:
			return nil
		}
		es := o.entrySize()
		if (n-4)%es != 0 || n == 4 {
			return nil
		}
		if o.Pointer < tsPointerFirst {
			return nil // below the smallest legal pointer (RFC 791)
		}
		o.Slots = (n - 4) / es
		used := o.Slots
		if o.Flag != TSPrespec {
			used = min(int(o.Pointer-tsPointerFirst)/es, o.Slots)
			if !allZero(b[4+used*es:]) {
				return nil // bytes in unrecorded slots: keep them raw
			}
		}
		if used > 0 {
			o.Entries = make([]TSEntry, used)
		}
		for j := range used {
			e := b[4+j*es:]
			if es == 8 {
				o.Entries[j].Addr = netip.AddrFrom4([4]byte(e[:4]))
				e = e[4:]
			}
			o.Entries[j].Time = binary.BigEndian.Uint32(e)
		}
		return o
	case OptRouterAlert:
		if n != 4 {
			return nil
		}
		return RouterAlert{Value: binary.BigEndian.Uint16(b[2:])}
	}
	return nil
}

// addrs decodes consecutive IPv4 addresses.
func addrs(b []byte) []netip.Addr {
	if len(b) < 4 {
		return nil
	}
	out := make([]netip.Addr, len(b)/4)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte(b[4*i : 4*i+4]))
	}
	return out
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func addrList(as []netip.Addr) string {
	var s strings.Builder
	s.WriteByte('[')
	for i, a := range as {
		if i > 0 {
			s.WriteByte(' ')
		}
		s.WriteString(a.String())
	}
	s.WriteByte(']')
	return s.String()
}

func optField(i int, sub string) string {
	return "ip.options[" + itoa(i+1) + "]." + sub
}

func itoa(i int) string { return strconv.Itoa(i) }
