package fault

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Direction says which way a frame crosses the fault node, or which ways a
// rule applies to. Directions are bits: Both is ToServer|ToClient, and the
// zero Direction in a Rule means Both.
type Direction uint8

// Directions.
const (
	// ToServer is the way from the client towards the server: frames that
	// enter the fault node on its interface towards r1 and leave on the one
	// towards r2 (echo requests).
	ToServer Direction = 1 << iota
	// ToClient is the way back: frames entering on the interface towards r2
	// (echo replies, ICMP errors generated beyond the fault node).
	ToClient
	// Both matches frames in either direction.
	Both = ToServer | ToClient
)

// String returns "to-server", "to-client" or "both" (also for zero).
func (d Direction) String() string {
	switch d {
	case ToServer:
		return "to-server"
	case ToClient:
		return "to-client"
	case Both, 0:
		return "both"
	}
	return "dir-" + strconv.Itoa(int(d))
}

// has reports whether rule direction d applies to a frame travelling in
// direction f.
func (d Direction) has(f Direction) bool { return d == 0 || d&f != 0 }

// Proto is the protocol filter of a rule.
type Proto uint8

// Protocol filters. A filter looks at the protocol the IP header carries
// (for IPv6 after the extension headers), so a non-first fragment of a UDP
// datagram matches ProtoUDP although it holds no UDP header.
const (
	// ProtoAny matches every IPv4 and IPv6 datagram (never ARP or other
	// non-IP frames, and never NDP or MLD: see the package documentation).
	ProtoAny Proto = iota
	// ProtoICMP matches ICMP over IPv4 (RFC 792, protocol 1).
	ProtoICMP
	// ProtoICMPv6 matches ICMPv6 over IPv6 (RFC 4443, next header 58).
	ProtoICMPv6
	// ProtoUDP matches UDP over IPv4 or IPv6 (RFC 768, protocol 17).
	ProtoUDP
	// ProtoTCP matches TCP over IPv4 or IPv6 (RFC 9293, protocol 6).
	ProtoTCP
)

var protoNames = [...]string{ProtoAny: "any", ProtoICMP: "icmp", ProtoICMPv6: "icmp6", ProtoUDP: "udp", ProtoTCP: "tcp"}

// String returns "any", "icmp", "icmp6", "udp" or "tcp".
func (p Proto) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return "proto-" + strconv.Itoa(int(p))
}

// Base says what the offsets of a rule count from.
type Base uint8

// Offset bases.
const (
	// FromPayload counts from the start of the transport payload: the ICMP
	// or ICMPv6 data after the 8-byte header (RFC 792, RFC 4443 §2.1), the
	// UDP payload after its 8-byte header, the TCP payload after the data
	// offset (RFC 9293 §3.1). For other protocols and non-first fragments
	// it is the first byte after the IP header (IPv4 options and IPv6
	// extension headers included). iputils ping reports corrupted echo data
	// by this offset ("wrong data byte #N").
	FromPayload Base = iota
	// FromIP counts from the first byte of the IP header.
	FromIP
)

// String returns "payload" or "ip".
func (b Base) String() string {
	if b == FromIP {
		return "ip"
	}
	return "payload"
}

// Kind is what a rule does to the frames it matches.
type Kind uint8

// Rule kinds. The text syntax of each is given in the package
// documentation.
const (
	// Drop drops frames, optionally only those whose payload contains
	// Pattern (anywhere, or at Offset when PatternAt is set).
	Drop Kind = iota + 1
	// Loss drops frames with probability Prob.
	Loss
	// Corrupt changes bytes: one byte at Offset (Op CorruptFlip,
	// CorruptSet, CorruptClear with the mask Value, or CorruptByte with the
	// byte Value), or random bits (Op CorruptBER).
	Corrupt
	// Duplicate forwards Count extra copies of the frame.
	Duplicate
	// Delay holds frames for Delay plus a uniformly distributed jitter in
	// [0, Jitter].
	Delay
	// TOS sets the whole IPv4 TOS octet or IPv6 traffic class to Value
	// (RFC 791 §3.1, RFC 8200 §7).
	TOS
	// DSCP sets the upper six bits of the TOS octet or traffic class to
	// Value, keeping ECN (RFC 2474 §3).
	DSCP
	// ECN sets the lower two bits of the TOS octet or traffic class to
	// Value, keeping DSCP (RFC 3168 §5): 0 Not-ECT, 1 ECT(1), 2 ECT(0),
	// 3 CE.
	ECN
	// TTL sets the IPv4 TTL or IPv6 hop limit to Value, or with Decrement
	// lowers it by Value (stopping at 0).
	TTL
	// StripOptions removes all IPv4 options (RFC 791 §3.1), moving the
	// payload up and fixing IHL, Total Length and the header checksum.
	// IPv6 datagrams are left alone.
	StripOptions
	// Truncate cuts the IP datagram to Length bytes, fixing the IP (and
	// UDP) length fields unless KeepLength is set.
	Truncate
)

var kindNames = [...]string{
	Drop: "drop", Loss: "loss", Corrupt: "corrupt", Duplicate: "duplicate", Delay: "delay",
	TOS: "tos", DSCP: "dscp", ECN: "ecn", TTL: "ttl", StripOptions: "strip-options", Truncate: "truncate",
}

// String returns the kind's keyword in the rule syntax ("drop", "corrupt",
// "strip-options", …).
func (k Kind) String() string {
	if k != 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind-" + strconv.Itoa(int(k))
}

// CorruptOp is how a Corrupt rule changes bytes.
type CorruptOp uint8

// Corrupt operations.
const (
	// CorruptFlip XORs the byte at Offset with the mask Value (flip=0x01
	// flips the lowest bit).
	CorruptFlip CorruptOp = iota + 1
	// CorruptSet ORs the mask Value into the byte (sets those bits).
	CorruptSet
	// CorruptClear clears the bits of the mask Value in the byte.
	CorruptClear
	// CorruptByte replaces the byte with Value.
	CorruptByte
	// CorruptBER flips every bit of the region that starts at Offset and
	// is Length bytes long (0: to the end) independently with probability
	// BER, the bit error rate of a noisy line.
	CorruptBER
)

var opKeys = [...]string{CorruptFlip: "flip", CorruptSet: "set", CorruptClear: "clear", CorruptByte: "byte", CorruptBER: "ber"}

// String returns the keyword of the operation in the rule syntax: "flip",
// "set", "clear", "byte" or "ber".
func (o CorruptOp) String() string {
	if o != 0 && int(o) < len(opKeys) {
		return opKeys[o]
	}
	return "op-" + strconv.Itoa(int(o))
}

// Limits of rule values, checked by Validate and named in its errors.
const (
	MaxOffset      = 65535            // offsets are byte positions within an IP datagram
	MaxPatternLen  = 256              // bytes in a drop pattern
	MaxDuplicates  = 16               // extra copies of one frame
	MaxDelay       = 10 * time.Second // fixed delay, and separately jitter
	MinTruncateLen = 20               // the smallest IP header (RFC 791 §3.1)
	MaxTruncateLen = 65535            // the largest IP datagram
)

// Rule is one impairment. The zero values of the common fields mean: both
// directions, any protocol, always (probability 1), offsets from the
// transport payload, checksums fixed. Only the fields of the rule's Kind
// are used; the others are ignored (and not kept by String).
//
// A rule whose condition needs bytes that a frame lacks (an offset beyond
// its end, options on an IPv6 datagram, a truncation longer than the
// datagram) leaves that frame alone.
type Rule struct {
	// ID identifies the rule in a Controller; Add assigns it. ParseRule
	// leaves it 0, and String does not print it.
	ID int
	// Kind is what the rule does.
	Kind Kind

	// Dir limits the rule to one direction; 0 means Both.
	Dir Direction
	// Proto limits the rule to one protocol.
	Proto Proto
	// Prob is the probability (0 < Prob ≤ 1) that the rule acts on a frame
	// it matches; 0 means 1. For Loss it is the loss probability, written
	// as the rule's argument ("loss 0.1").
	Prob float64
	// From says what Offset counts from (Drop with a pattern, Corrupt).
	From Base
	// BadChecksum leaves the IPv4 header checksum and the ICMP, ICMPv6,
	// UDP and TCP checksums as they were instead of fixing them after a
	// change, so that they no longer verify.
	BadChecksum bool

	// Pattern (Drop) is the byte string whose presence in the payload
	// drops the frame; empty drops every matching frame.
	Pattern []byte
	// PatternAt (Drop) requires Pattern to start exactly at Offset
	// instead of anywhere.
	PatternAt bool
	// Offset is, for Drop with PatternAt, where Pattern must start; for
	// Corrupt, the byte to change, or where the CorruptBER region starts.
	Offset int

	// Op (Corrupt) is how bytes are changed.
	Op CorruptOp
	// Value is the mask or byte (Corrupt), the TOS octet (TOS), the
	// codepoint (DSCP, ECN), the TTL or the amount to decrement it by
	// (TTL).
	Value uint8
	// BER (Corrupt with CorruptBER) is the probability that each bit of
	// the region flips.
	BER float64
	// Decrement (TTL) lowers the TTL by Value instead of setting it.
	Decrement bool

	// Count (Duplicate) is the number of extra copies; 0 means 1.
	Count int
	// Delay and Jitter (Delay): each frame is held for Delay plus a
	// uniform random duration in [0, Jitter].
	Delay, Jitter time.Duration

	// Length is the datagram length in bytes to truncate to (Truncate), or
	// the length of the CorruptBER region (0: to the end of the payload or
	// datagram).
	Length int
	// KeepLength (Truncate) leaves the IP and UDP length fields as they
	// were, so the datagram claims more bytes than it has.
	KeepLength bool
}

// usesFrom reports whether the rule has offsets, so that From applies.
func (r *Rule) usesFrom() bool {
	return r.Kind == Corrupt || r.Kind == Drop && len(r.Pattern) > 0
}

// changesBytes reports whether the rule rewrites frames, so that
// BadChecksum applies.
func (r *Rule) changesBytes() bool {
	switch r.Kind {
	case Corrupt, TOS, DSCP, ECN, TTL, StripOptions, Truncate:
		return true
	}
	return false
}

// count returns the number of extra copies of a Duplicate rule.
func (r *Rule) count() int {
	if r.Count == 0 {
		return 1
	}
	return r.Count
}

// prob returns the rule's probability, 1 for 0.
func (r *Rule) prob() float64 {
	if r.Prob == 0 {
		return 1
	}
	return r.Prob
}

// ecnNames are the ECN codepoints as the rule syntax writes them
// (RFC 3168 §5).
var ecnNames = [...]string{"not-ect", "ect1", "ect0", "ce"}

// String returns the rule in the text syntax that ParseRule reads, in
// canonical form: the kind, its argument, its own settings, then from=,
// dir=, proto=, prob= and bad-checksum, each only when it differs from the
// default. ParseRule(r.String()) returns r (without its ID) for every rule
// ParseRule accepts.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Kind.String())
	arg := func(s string) { b.WriteByte(' '); b.WriteString(s) }
	kv := func(k, v string) { b.WriteByte(' '); b.WriteString(k); b.WriteByte('='); b.WriteString(v) }
	switch r.Kind {
	case Drop:
		if len(r.Pattern) > 0 {
			kv("pattern", hex.EncodeToString(r.Pattern))
			if r.PatternAt {
				kv("offset", strconv.Itoa(r.Offset))
			}
		}
	case Loss:
		arg(formatProb(r.prob()))
	case Corrupt:
		if r.Op == CorruptBER {
			kv("ber", formatProb(r.BER))
			if r.Offset != 0 {
				kv("offset", strconv.Itoa(r.Offset))
			}
			if r.Length != 0 {
				kv("len", strconv.Itoa(r.Length))
			}
		} else {
			kv("offset", strconv.Itoa(r.Offset))
			kv(r.Op.String(), hex8(r.Value))
		}
	case Duplicate:
		if r.count() != 1 {
			arg(strconv.Itoa(r.count()))
		}
	case Delay:
		arg(r.Delay.String())
		if r.Jitter != 0 {
			kv("jitter", r.Jitter.String())
		}
	case TOS:
		arg(hex8(r.Value))
	case DSCP:
		arg(strconv.Itoa(int(r.Value)))
	case ECN:
		if int(r.Value) < len(ecnNames) {
			arg(ecnNames[r.Value])
		} else {
			arg(strconv.Itoa(int(r.Value)))
		}
	case TTL:
		if r.Decrement {
			arg("-" + strconv.Itoa(int(r.Value)))
		} else {
			arg(strconv.Itoa(int(r.Value)))
		}
	case Truncate:
		arg(strconv.Itoa(r.Length))
		if r.KeepLength {
			arg("keep-length")
		}
	}
	if r.usesFrom() && r.From != FromPayload {
		kv("from", r.From.String())
	}
	if r.Dir != 0 && r.Dir != Both {
		kv("dir", r.Dir.String())
	}
	if r.Proto != ProtoAny {
		kv("proto", r.Proto.String())
	}
	if r.Kind != Loss && r.Prob != 0 && r.Prob != 1 {
		kv("prob", formatProb(r.Prob))
	}
	if r.BadChecksum && r.changesBytes() {
		arg("bad-checksum")
	}
	return b.String()
}

// MarshalText returns String's text, so that a Rule is a JSON string.
func (r Rule) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses text with ParseRule. The ID is kept.
func (r *Rule) UnmarshalText(text []byte) error {
	nr, err := ParseRule(string(text))
	if err != nil {
		return err
	}
	nr.ID = r.ID
	*r = nr
	return nil
}

func hex8(v uint8) string { return fmt.Sprintf("0x%02x", v) }

func formatProb(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }

// Validate checks the fields the rule's kind uses and returns a *RuleError
// naming the first one out of range. Controller.Add validates every rule,
// so rules built in Go get the same checks as parsed ones.
func (r *Rule) Validate() error {
	if r.Kind == 0 || int(r.Kind) >= len(kindNames) {
		return ruleErr("kind", strconv.Itoa(int(r.Kind)), "a rule is one of %s", kindList())
	}
	if r.Dir > Both {
		return ruleErr("dir", strconv.Itoa(int(r.Dir)), "dir is to-server, to-client or both")
	}
	if int(r.Proto) >= len(protoNames) {
		return ruleErr("proto", strconv.Itoa(int(r.Proto)), "proto is %s", strings.Join(protoNames[:], ", "))
	}
	if r.From > FromIP {
		return ruleErr("from", strconv.Itoa(int(r.From)), "from is payload or ip")
	}
	if r.Kind == Loss {
		if !(r.Prob > 0 && r.Prob <= 1) {
			return ruleErr("loss", formatProb(r.Prob), "the loss probability is in (0, 1]: loss 0.1 drops one frame in ten")
		}
	} else if !(r.Prob >= 0 && r.Prob <= 1) {
		return ruleErr("prob", formatProb(r.Prob), "a probability is in (0, 1]: prob=0.5 acts on half the frames")
	}
	switch r.Kind {
	case Drop:
		if len(r.Pattern) > MaxPatternLen {
			return ruleErr("pattern", strconv.Itoa(len(r.Pattern))+" bytes", "a pattern is 1–%d bytes", MaxPatternLen)
		}
		if r.PatternAt && len(r.Pattern) == 0 {
			return ruleErr("offset", strconv.Itoa(r.Offset), "offset= places the pattern: give pattern=HEX too")
		}
		if r.PatternAt {
			if err := checkOffset(r.Offset); err != nil {
				return err
			}
		}
	case Corrupt:
		if err := checkOffset(r.Offset); err != nil {
			return err
		}
		switch r.Op {
		case CorruptFlip, CorruptSet, CorruptClear, CorruptByte:
		case CorruptBER:
			if !(r.BER > 0 && r.BER <= 1) {
				return ruleErr("ber", formatProb(r.BER), "the bit error rate is in (0, 1]: ber=0.001 flips one bit in a thousand")
			}
			if r.Length < 0 || r.Length > MaxOffset {
				return ruleErr("len", strconv.Itoa(r.Length), "the corrupted region is 1–%d bytes (0 or no len=: to the end)", MaxOffset)
			}
		default:
			return ruleErr("corrupt", strconv.Itoa(int(r.Op)), "say how to corrupt: flip=MASK, set=MASK, clear=MASK, byte=VALUE (with offset=N) or ber=P")
		}
	case Duplicate:
		if r.Count < 0 || r.Count > MaxDuplicates {
			return ruleErr("duplicate", strconv.Itoa(r.Count), "a frame gets 1–%d extra copies", MaxDuplicates)
		}
	case Delay:
		if r.Delay < 0 || r.Delay > MaxDelay {
			return ruleErr("delay", r.Delay.String(), "the delay is 0–%v", MaxDelay)
		}
		if r.Jitter < 0 || r.Jitter > MaxDelay {
			return ruleErr("jitter", r.Jitter.String(), "the jitter is 0–%v", MaxDelay)
		}
		if r.Delay == 0 && r.Jitter == 0 {
			return ruleErr("delay", "0s", "a delay rule needs a delay or a jitter above zero, e.g. delay 20ms jitter=5ms")
		}
	case DSCP:
		if r.Value > 63 {
			return ruleErr("dscp", strconv.Itoa(int(r.Value)), "DSCP is 6 bits: 0–63 (RFC 2474)")
		}
	case ECN:
		if r.Value > 3 {
			return ruleErr("ecn", strconv.Itoa(int(r.Value)), "ECN is 2 bits: 0–3, or not-ect, ect1, ect0, ce (RFC 3168)")
		}
	case TTL:
		if r.Decrement && r.Value == 0 {
			return ruleErr("ttl", "-0", "a decrement is 1–255: ttl -1 lowers the TTL by one")
		}
	case Truncate:
		if r.Length < MinTruncateLen || r.Length > MaxTruncateLen {
			return ruleErr("truncate", strconv.Itoa(r.Length), "a datagram is truncated to %d–%d bytes (at least an IPv4 header)", MinTruncateLen, MaxTruncateLen)
		}
	}
	return nil
}

func checkOffset(off int) error {
	if off < 0 || off > MaxOffset {
		return ruleErr("offset", strconv.Itoa(off), "an offset is 0–%d bytes", MaxOffset)
	}
	return nil
}

func kindList() string {
	return strings.Join(kindNames[1:], ", ")
}

// RuleError reports a rule that cannot be accepted. It names the field (a
// keyword of the rule syntax such as "offset", "prob" or "kind"), the value
// given and the limit it broke, so the rule can be fixed without reading
// the source.
type RuleError struct {
	Field string // keyword of the rule syntax
	Value string // the value as given
	Limit string // what would have been accepted
}

// Error returns "fault: FIELD = VALUE: LIMIT".
func (e *RuleError) Error() string {
	return "fault: " + e.Field + " = " + strconv.Quote(e.Value) + ": " + e.Limit
}

func ruleErr(field, value, format string, args ...any) error {
	return &RuleError{Field: field, Value: value, Limit: fmt.Sprintf(format, args...)}
}
