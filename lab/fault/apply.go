package fault

import (
	"bytes"
	"encoding/binary"
	"github.com/echolot/echolot/packet"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Output is one frame to send after Apply: Frame aliases the frame given to
// Apply (duplicates share it), Delay is how long to hold it first.
type Output struct {
	Frame []byte        // the Ethernet frame to send
	Delay time.Duration // how long to hold it; 0: send at once
}

// RuleStatus is a rule with its counters.
type RuleStatus struct {
	// ID is the rule's ID (also in Rule.ID).
	ID int `json:"id"`
	// Rule is the rule; as JSON it is its text.
	Rule Rule `json:"rule"`
	// Seen counts the IP frames in the rule's direction and protocol that
	// reached the rule (an earlier drop or loss rule stops a frame).
	Seen uint64 `json:"seen"`
	// Matched counts the frames the rule acted on: those that met its
	// condition (pattern present, offset inside the frame, …) and passed
	// its probability. For corrupt ber= only frames with at least one
	// flipped bit count.
	Matched uint64 `json:"matched"`
}

// liveRule is a validated rule with its counters. RuleSets share liveRules,
// so counters survive adding and deleting other rules.
type liveRule struct {
	Rule
	lnq           float64 // log(1−BER), for CorruptBER
	seen, matched atomic.Uint64
}

func newLiveRule(r Rule) *liveRule {
	if r.Dir == 0 {
		r.Dir = Both
	}
	r.Pattern = bytes.Clone(r.Pattern) // the caller may reuse its slice
	l := &liveRule{Rule: r}
	if r.Kind == Corrupt && r.Op == CorruptBER && r.BER < 1 {
		l.lnq = math.Log1p(-r.BER)
	}
	return l
}

// RuleSet is an immutable, ordered list of rules with their counters. It is
// safe for concurrent use: Apply may run in several goroutines at once.
type RuleSet struct {
	rules []*liveRule
}

// NewRuleSet validates rules and returns them as a RuleSet, in order. IDs
// are kept as given.
func NewRuleSet(rules ...Rule) (*RuleSet, error) {
	s := &RuleSet{rules: make([]*liveRule, 0, len(rules))}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		s.rules = append(s.rules, newLiveRule(r))
	}
	return s, nil
}

// Len returns the number of rules.
func (s *RuleSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Status returns the rules in order with their counters.
func (s *RuleSet) Status() []RuleStatus {
	if s == nil {
		return []RuleStatus{}
	}
	out := make([]RuleStatus, len(s.rules))
	for i, r := range s.rules {
		out[i] = RuleStatus{ID: r.ID, Rule: r.Rule, Seen: r.seen.Load(), Matched: r.matched.Load()}
	}
	return out
}

// Apply applies every rule (defined in the package documentation)
// to frame, an Ethernet frame travelling in direction dir (ToServer or
// ToClient), in order, and returns out[:0] with the frames to send: none
// when a drop or loss rule took the frame, one normally, more after
// duplicate rules. The frame is changed in place (stripping options and
// truncating shorten it, so use the returned Frame); every output aliases
// it. rng supplies the randomness of probabilities, bit errors and jitter;
// nil uses math/rand/v2's global source. Frames that are not IPv4 or IPv6,
// and NDP and MLD messages, are returned untouched whatever the rules say.
//
// Apply does not allocate when out has room for the outputs (one, or
// 1 + copies with duplicate rules).
func (s *RuleSet) Apply(frame []byte, dir Direction, rng *rand.Rand, out []Output) []Output {
	out = out[:0]
	if s == nil || len(s.rules) == 0 {
		return append(out, Output{Frame: frame})
	}
	v, ok := parseFrame(frame)
	if !ok || v.control {
		return append(out, Output{Frame: frame})
	}
	e := editor{f: frame, v: v}
	copies := 1
	var delay, jitter time.Duration
	for _, r := range s.rules {
		if !r.Dir.has(dir) || !e.v.matches(r.Proto) {
			continue
		}
		r.seen.Add(1)
		if !r.eligible(&e) {
			continue
		}
		if p := r.prob(); p < 1 && randFloat(rng) >= p {
			continue
		}
		e.fix = !r.BadChecksum
		if !r.act(&e, rng) {
			continue
		}
		r.matched.Add(1)
		switch r.Kind {
		case Drop, Loss:
			return out
		case Duplicate:
			copies += r.count()
		case Delay:
			delay += r.Delay
			jitter += r.Jitter
		default:
			// The rule changed bytes: locate the parts again for the
			// rules after it. A frame corrupted beyond recognition
			// gets no further rules.
			if e.v, ok = parseFrame(e.f); !ok {
				return appendCopies(out, e.f, copies, delay, jitter, rng)
			}
		}
	}
	return appendCopies(out, e.f, copies, delay, jitter, rng)
}

func appendCopies(out []Output, f []byte, copies int, delay, jitter time.Duration, rng *rand.Rand) []Output {
	for range copies {
		d := delay
		if jitter > 0 {
			d += time.Duration(randInt64N(rng, int64(jitter)+1))
		}
		out = append(out, Output{Frame: f, Delay: d})
	}
	return out
}

// Apply is RuleSet.Apply for a one-off list of rules, which it validates
// first. It is for tests and experiments; the fault node keeps a RuleSet.
func Apply(frame []byte, dir Direction, rules []Rule, rng *rand.Rand) ([]Output, error) {
	s, err := NewRuleSet(rules...)
	if err != nil {
		return nil, err
	}
	return s.Apply(frame, dir, rng, nil), nil
}

func randFloat(rng *rand.Rand) float64 {
	if rng == nil {
		return rand.Float64()
	}
	return rng.Float64()
}

func randInt64N(rng *rand.Rand, n int64) int64 {
	if rng == nil {
		return rand.Int64N(n)
	}
	return rng.Int64N(n)
}

// eligible reports whether the rule's condition holds for the frame, apart
// from its probability.
func (r *liveRule) eligible(e *editor) bool {
	v := &e.v
	switch r.Kind {
	case Drop:
		if len(r.Pattern) == 0 {
			return true
		}
		start, end := v.region(r.From)
		if r.PatternAt {
			p := start + r.Offset
			return p+len(r.Pattern) <= end && bytes.Equal(e.f[p:p+len(r.Pattern)], r.Pattern)
		}
		return bytes.Contains(e.f[start:end], r.Pattern)
	case Corrupt:
		start, end := v.region(r.From)
		return start+r.Offset < end
	case StripOptions:
		return !v.v6 && v.l4-v.ip > ipv4HeaderLen
	case Truncate:
		hl := ipv6HeaderLen
		if !v.v6 {
			hl = v.l4 - v.ip
		}
		return r.Length >= hl && v.ip+r.Length < v.end
	}
	return true
}

// act applies a rule that changes bytes and reports whether it did; the
// other kinds are handled by Apply.
func (r *liveRule) act(e *editor, rng *rand.Rand) bool {
	f, v := e.f, &e.v
	switch r.Kind {
	case Corrupt:
		start, end := v.region(r.From)
		pos := start + r.Offset
		if r.Op != CorruptBER {
			b := f[pos]
			switch r.Op {
			case CorruptFlip:
				b ^= r.Value
			case CorruptSet:
				b |= r.Value
			case CorruptClear:
				b &^= r.Value
			case CorruptByte:
				b = r.Value
			}
			e.set(pos, b)
			return true
		}
		if r.Length > 0 {
			end = min(end, pos+r.Length)
		}
		return e.flipBits(pos, end, r.BER, r.lnq, rng)
	case TOS, DSCP, ECN:
		tos := f[v.ip+1]
		if v.v6 {
			tos = f[v.ip]<<4 | f[v.ip+1]>>4
		}
		switch r.Kind {
		case TOS:
			tos = r.Value
		case DSCP:
			tos = r.Value<<2 | tos&3
		case ECN:
			tos = tos&^3 | r.Value
		}
		if v.v6 {
			e.set(v.ip, f[v.ip]&0xf0|tos>>4)
			e.set(v.ip+1, f[v.ip+1]&0x0f|tos<<4)
		} else {
			e.set(v.ip+1, tos)
		}
	case TTL:
		pos := v.ip + 8
		if v.v6 {
			pos = v.ip + 7
		}
		ttl := r.Value
		if r.Decrement {
			ttl = f[pos] - min(f[pos], r.Value)
		}
		e.set(pos, ttl)
	case StripOptions:
		e.stripOptions()
	case Truncate:
		e.truncate(r.Length, r.KeepLength)
	}
	return true
}

// editor changes a frame in place and keeps its checksums right while fix
// is set.
type editor struct {
	f   []byte
	v   view
	fix bool
}

// word returns byte b as the 16-bit word it contributes to a checksum,
// at position rel from the start of the covered data.
func word(b byte, rel int) uint16 {
	if rel%2 == 0 {
		return uint16(b) << 8
	}
	return uint16(b)
}

// set changes the byte at pos to b and, when fixing, updates every
// checksum that covers it incrementally (RFC 1624): the IPv4 header
// checksum for header bytes, the transport checksum for the segment and,
// through the pseudo-header, the addresses. Changes to the checksum fields
// themselves are left alone. Updating instead of recomputing keeps a
// checksum right in a first fragment (where the covered data is not all
// here) and keeps a checksum that was wrong wrong by the same amount.
func (e *editor) set(pos int, b byte) {
	f, v := e.f, &e.v
	old := f[pos]
	if old == b {
		return
	}
	f[pos] = b
	if !e.fix {
		return
	}
	if !v.v6 && pos >= v.ip && pos < v.l4 && pos != v.ip+10 && pos != v.ip+11 {
		c := v.ip + 10
		binary.BigEndian.PutUint16(f[c:], packet.ChecksumUpdate(binary.BigEndian.Uint16(f[c:]), word(old, pos-v.ip), word(b, pos-v.ip)))
	}
	if v.csum < 0 {
		return
	}
	rel := -1
	if pos >= v.l4 && pos < v.cend {
		if pos != v.csum && pos != v.csum+1 {
			rel = pos - v.l4
		}
	} else if a, z := v.addrs(); v.pseudo() && pos >= a && pos < z {
		rel = pos - a
	}
	if rel >= 0 {
		cs := packet.ChecksumUpdate(binary.BigEndian.Uint16(f[v.csum:]), word(old, rel), word(b, rel))
		putTransportChecksum(f, v, cs)
	}
}

// flipBits flips each bit of f[start:end] with probability p (lnq is
// log(1−p)), drawing the gaps between flipped bits from the geometric
// distribution so that the cost follows the number of flips, not of bits.
// It reports whether any bit flipped.
func (e *editor) flipBits(start, end int, p, lnq float64, rng *rand.Rand) bool {
	nbits := (end - start) * 8
	if nbits <= 0 {
		return false
	}
	if p >= 1 {
		for pos := start; pos < end; pos++ {
			e.set(pos, ^e.f[pos])
		}
		return true
	}
	flipped := false
	for i := -1; ; {
		gap := math.Log1p(-randFloat(rng)) / lnq // ≥ 0; +Inf when the draw is 1−ε
		if gap >= float64(nbits-i-1) {
			return flipped
		}
		i += int(gap) + 1
		pos := start + i/8
		e.set(pos, e.f[pos]^(0x80>>(i%8)))
		flipped = true
	}
}

// stripOptions removes the IPv4 options, moving what follows up.
func (e *editor) stripOptions() {
	f, v := e.f, &e.v
	opt := f[v.ip+ipv4HeaderLen : v.l4]
	if e.fix && v.csum >= 0 && v.pseudo() {
		// A source route that still has addresses to visit means the
		// sender computed the transport checksum with the final
		// destination, the route's last address (RFC 9293 §3.1). Once the
		// route is gone, the header's destination is the final one.
		if final := sourceRouteFinal(opt); final != nil {
			cs := binary.BigEndian.Uint16(f[v.csum:])
			for i := 0; i < 4; i += 2 {
				cs = packet.ChecksumUpdate(cs, binary.BigEndian.Uint16(final[i:]), binary.BigEndian.Uint16(f[v.ip+16+i:]))
			}
			putTransportChecksum(f, v, cs)
		}
	}
	n := len(opt)
	copy(f[v.ip+ipv4HeaderLen:], f[v.l4:])
	f = f[:len(f)-n]
	f[v.ip] = 0x45
	binary.BigEndian.PutUint16(f[v.ip+2:], binary.BigEndian.Uint16(f[v.ip+2:])-uint16(n))
	if e.fix {
		binary.BigEndian.PutUint16(f[v.ip+10:], ipv4HeaderChecksum(f, v.ip, ipv4HeaderLen))
	}
	e.f = f
}

// sourceRouteFinal returns the last address of a loose or strict source
// route option (RFC 791 §3.1, types 131 and 137) whose pointer has not
// passed its end, or nil.
func sourceRouteFinal(opt []byte) []byte {
	for i := 0; i < len(opt); {
		switch opt[i] {
		case 0: // end of option list
			return nil
		case 1: // no operation
			i++
			continue
		}
		if i+2 > len(opt) {
			return nil
		}
		n := int(opt[i+1])
		if n < 2 || i+n > len(opt) {
			return nil
		}
		if (opt[i] == 131 || opt[i] == 137) && n >= 7 && int(opt[i+2]) <= n {
			return opt[i+n-4 : i+n]
		}
		i += n
	}
	return nil
}

// truncate cuts the datagram to n bytes. Unless keep is set it rewrites
// the IP length field (and the UDP length) and, when fixing, recomputes
// the transport checksum over what is left (not for fragments, whose
// checksum covers the whole datagram).
func (e *editor) truncate(n int, keep bool) {
	v := &e.v
	end := v.ip + n
	if keep {
		e.f = e.f[:end]
		return
	}
	if v.v6 {
		e.set(v.ip+4, byte((n-ipv6HeaderLen)>>8))
		e.set(v.ip+5, byte(n-ipv6HeaderLen))
	} else {
		e.set(v.ip+2, byte(n>>8))
		e.set(v.ip+3, byte(n))
	}
	e.f = e.f[:end]
	if v.transport && v.proto == protoUDP && v.l4+8 <= end {
		binary.BigEndian.PutUint16(e.f[v.l4+4:], uint16(end-v.l4))
	}
	if !e.fix || v.frag {
		return
	}
	if nv, ok := parseFrame(e.f); ok && nv.csum >= 0 {
		putTransportChecksum(e.f, &nv, transportChecksum(e.f, &nv))
	}
}
