package fault

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"
)

// settings lists, per kind, the key=value settings and flags the kind takes
// besides the common ones, in the order errors list them.
var settings = map[Kind][]string{
	Drop:         {"pattern=", "offset="},
	Loss:         {},
	Corrupt:      {"offset=", "flip=", "set=", "clear=", "byte=", "ber=", "len="},
	Duplicate:    {},
	Delay:        {"jitter="},
	TOS:          {},
	DSCP:         {},
	ECN:          {},
	TTL:          {},
	StripOptions: {},
	Truncate:     {"keep-length"},
}

// argument describes the positional argument of each kind that has one:
// its name in errors and whether it may be left out.
var argument = map[Kind]struct {
	what     string
	optional bool
}{
	Loss:      {"a probability, e.g. loss 0.1 or loss 10%", false},
	Duplicate: {"the number of extra copies, e.g. duplicate 2", true},
	Delay:     {"a duration, e.g. delay 20ms", false},
	TOS:       {"the TOS octet, e.g. tos 0x28", false},
	DSCP:      {"the DSCP codepoint 0–63, e.g. dscp 46", false},
	ECN:       {"the ECN codepoint: not-ect, ect1, ect0, ce or 0–3", false},
	TTL:       {"a TTL to set (ttl 5) or a decrement (ttl -1)", false},
	Truncate:  {"the datagram length in bytes, e.g. truncate 60", false},
}

// takes returns the settings kind k accepts, common ones included, for
// error messages.
func takes(k Kind) string {
	s := append([]string(nil), settings[k]...)
	r := Rule{Kind: k, Pattern: []byte{0}}
	if r.usesFrom() {
		s = append(s, "from=")
	}
	s = append(s, "dir=", "proto=")
	if k != Loss {
		s = append(s, "prob=")
	}
	if r.changesBytes() {
		s = append(s, "bad-checksum")
	}
	return k.String() + " takes " + strings.Join(s, ", ")
}

// ParseRule parses one rule in the text syntax described in the package
// documentation, e.g. "corrupt offset=30 flip=0x01 dir=to-client",
// "drop pattern=a5a5 offset=16", "delay 20ms jitter=5ms", "tos 0x28",
// "loss 0.1". Words are separated by spaces; the kind comes first, then
// its argument if it has one, then settings in any order. Numbers are
// decimal or 0x-prefixed hexadecimal. Errors are *RuleError values naming
// the field, the value and the limit.
func ParseRule(s string) (Rule, error) {
	words := strings.Fields(s)
	if len(words) == 0 {
		return Rule{}, ruleErr("rule", s, "empty rule: a rule starts with one of %s", kindList())
	}
	var r Rule
	for k := Drop; k <= Truncate; k++ {
		if words[0] == k.String() {
			r.Kind = k
		}
	}
	if r.Kind == 0 {
		return Rule{}, ruleErr("kind", words[0], "a rule starts with one of %s", kindList())
	}
	words = words[1:]
	if a, ok := argument[r.Kind]; ok {
		if len(words) > 0 && !strings.Contains(words[0], "=") && !isFlag(words[0]) {
			if err := r.parseArg(words[0]); err != nil {
				return Rule{}, err
			}
			words = words[1:]
		} else if !a.optional {
			return Rule{}, ruleErr(r.Kind.String(), "", "missing argument: %s", a.what)
		}
	}
	seen := map[string]bool{}
	for _, w := range words {
		key, val, hasVal := strings.Cut(w, "=")
		if seen[key] {
			return Rule{}, ruleErr(key, val, "%s is given twice; give it once", key)
		}
		seen[key] = true
		if err := r.parseSetting(key, val, hasVal, w); err != nil {
			return Rule{}, err
		}
	}
	if r.Kind == Corrupt {
		if r.Op == 0 {
			return Rule{}, ruleErr("corrupt", s, "say how to corrupt: flip=MASK, set=MASK, clear=MASK or byte=VALUE with offset=N, or ber=P")
		}
		if r.Op != CorruptBER && !seen["offset"] {
			return Rule{}, ruleErr("offset", "", "%s= changes the byte at offset=N: give offset= too", r.Op)
		}
		if r.Op != CorruptBER && seen["len"] {
			return Rule{}, ruleErr("len", "", "len= sizes the ber= region; %s= changes one byte", r.Op)
		}
	}
	if r.Kind == Drop && seen["offset"] && !seen["pattern"] {
		return Rule{}, ruleErr("offset", strconv.Itoa(r.Offset), "offset= places the pattern: give pattern=HEX too")
	}
	if seen["from"] && !r.usesFrom() {
		return Rule{}, ruleErr("from", r.From.String(), "from= says what offsets count from; %s without pattern= has none", r.Kind)
	}
	if r.Dir == 0 {
		r.Dir = Both
	}
	if r.Kind == Duplicate && r.Count == 0 {
		r.Count = 1
	}
	if r.Kind != Loss && r.Prob == 1 {
		r.Prob = 0 // always, the default
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

func isFlag(w string) bool { return w == "bad-checksum" || w == "keep-length" }

// parseArg parses the positional argument of r's kind.
func (r *Rule) parseArg(w string) error {
	k := r.Kind.String()
	switch r.Kind {
	case Loss:
		p, err := parseProb(k, w)
		if err != nil {
			return err
		}
		r.Prob = p
	case Duplicate:
		n, err := parseUint(k, w, MaxDuplicates)
		if err != nil {
			return err
		}
		if n == 0 {
			return ruleErr(k, w, "a frame gets 1–%d extra copies", MaxDuplicates)
		}
		r.Count = int(n)
	case Delay:
		d, err := parseDuration(k, w)
		if err != nil {
			return err
		}
		r.Delay = d
	case TOS:
		n, err := parseUint(k, w, 255)
		if err != nil {
			return err
		}
		r.Value = uint8(n)
	case DSCP:
		n, err := parseUint(k, w, 63)
		if err != nil {
			return err
		}
		r.Value = uint8(n)
	case ECN:
		for i, name := range ecnNames {
			if w == name {
				r.Value = uint8(i)
				return nil
			}
		}
		n, err := parseUint(k, w, 3)
		if err != nil {
			return ruleErr(k, w, "ECN is not-ect, ect1, ect0, ce or 0–3 (RFC 3168 §5)")
		}
		r.Value = uint8(n)
	case TTL:
		if rest, ok := strings.CutPrefix(w, "-"); ok {
			n, err := parseUint(k, rest, 255)
			if err != nil || n == 0 {
				return ruleErr(k, w, "a decrement is -1 to -255: ttl -1 lowers the TTL by one")
			}
			r.Value, r.Decrement = uint8(n), true
			return nil
		}
		n, err := parseUint(k, w, 255)
		if err != nil {
			return err
		}
		r.Value = uint8(n)
	case Truncate:
		n, err := parseUint(k, w, MaxTruncateLen)
		if err != nil {
			return err
		}
		if n < MinTruncateLen {
			return ruleErr(k, w, "a datagram is truncated to %d–%d bytes (at least an IPv4 header)", MinTruncateLen, MaxTruncateLen)
		}
		r.Length = int(n)
	}
	return nil
}

// parseSetting parses one key=value setting or flag word w.
func (r *Rule) parseSetting(key, val string, hasVal bool, w string) error {
	known := false
	for _, s := range settings[r.Kind] {
		if s == key+"=" && hasVal || s == key && !hasVal {
			known = true
		}
	}
	common := map[string]bool{"dir": true, "proto": true, "prob": r.Kind != Loss, "from": r.usesFrom() || r.Kind == Drop}
	if common[key] && hasVal {
		known = true
	}
	if key == "bad-checksum" && !hasVal && r.changesBytes() {
		known = true
	}
	if !known {
		return r.unknownSetting(key, val, hasVal, w)
	}
	var err error
	switch key {
	case "dir":
		switch val {
		case "to-server":
			r.Dir = ToServer
		case "to-client":
			r.Dir = ToClient
		case "both":
			r.Dir = Both
		default:
			return ruleErr("dir", val, "dir is to-server, to-client or both")
		}
	case "proto":
		for p, name := range protoNames {
			if val == name {
				r.Proto = Proto(p)
				return nil
			}
		}
		return ruleErr("proto", val, "proto is %s", strings.Join(protoNames[:], ", "))
	case "prob":
		r.Prob, err = parseProb("prob", val)
	case "from":
		switch val {
		case "payload":
			r.From = FromPayload
		case "ip":
			r.From = FromIP
		default:
			return ruleErr("from", val, "from is payload (the transport payload, the default) or ip (the IP header)")
		}
	case "bad-checksum":
		r.BadChecksum = true
	case "keep-length":
		r.KeepLength = true
	case "pattern":
		r.Pattern, err = parsePattern(val)
	case "offset":
		var n uint64
		n, err = parseUint("offset", val, MaxOffset)
		r.Offset = int(n)
		r.PatternAt = r.Kind == Drop
	case "flip", "set", "clear", "byte":
		if r.Op != 0 {
			return ruleErr(key, val, "give one of flip=, set=, clear=, byte=, ber= (already have %s=)", r.Op)
		}
		var n uint64
		n, err = parseUint(key, val, 255)
		r.Value = uint8(n)
		r.Op = map[string]CorruptOp{"flip": CorruptFlip, "set": CorruptSet, "clear": CorruptClear, "byte": CorruptByte}[key]
		if err == nil && n == 0 && r.Op != CorruptByte {
			return ruleErr(key, val, "a zero mask changes nothing: give the bits to %s, e.g. %s=0x01", key, key)
		}
	case "ber":
		if r.Op != 0 {
			return ruleErr(key, val, "give one of flip=, set=, clear=, byte=, ber= (already have %s=)", r.Op)
		}
		r.Op = CorruptBER
		r.BER, err = parseProb("ber", val)
	case "len":
		var n uint64
		n, err = parseUint("len", val, MaxOffset)
		if err == nil && n == 0 {
			return ruleErr("len", val, "the corrupted region is 1–%d bytes; leave len= out to corrupt to the end", MaxOffset)
		}
		r.Length = int(n)
	case "jitter":
		r.Jitter, err = parseDuration("jitter", val)
	}
	return err
}

func (r *Rule) unknownSetting(key, val string, hasVal bool, w string) error {
	switch {
	case key == "" || hasVal && val == "":
		return ruleErr(w, w, "a setting is key=value with no spaces around '='; %s", takes(r.Kind))
	case key == "prob" && r.Kind == Loss:
		return ruleErr("prob", val, "loss takes its probability as its argument: loss %s", val)
	case key == "from":
		return ruleErr("from", val, "from= says what offsets count from; %s has none", r.Kind)
	case key == "bad-checksum" || key == "keep-length":
		if hasVal {
			return ruleErr(key, val, "%s is a flag: write it without a value", key)
		}
		return ruleErr(key, "", "%s changes no bytes, so it has no %s; %s", r.Kind, key, takes(r.Kind))
	case !hasVal:
		if _, ok := argument[r.Kind]; ok {
			return ruleErr(r.Kind.String(), w, "unexpected word: %s comes right after %s, settings are key=value; %s", argument[r.Kind].what, r.Kind, takes(r.Kind))
		}
		return ruleErr(r.Kind.String(), w, "%s takes no argument; %s", r.Kind, takes(r.Kind))
	}
	for k, list := range settings {
		for _, s := range list {
			if s == key+"=" {
				return ruleErr(key, val, "%s= belongs to %s; %s", key, k, takes(r.Kind))
			}
		}
	}
	return ruleErr(key, val, "unknown setting; %s", takes(r.Kind))
}

// parseUint parses a decimal or 0x-prefixed hexadecimal number in [0, max].
// A leading zero does not mean octal.
func parseUint(field, s string, max uint64) (uint64, error) {
	base := 10
	digits := s
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, rest
	}
	n, err := strconv.ParseUint(digits, base, 64)
	if err != nil || digits == "" || strings.ContainsAny(digits, "+-_") {
		return 0, ruleErr(field, s, "expected a number 0–%d (decimal, or hexadecimal with 0x)", max)
	}
	if n > max {
		return 0, ruleErr(field, s, "%s is at most %d", field, max)
	}
	return n, nil
}

// parseProb parses a probability as a decimal fraction ("0.1") or a
// percentage ("10%") in (0, 1].
func parseProb(field, s string) (float64, error) {
	v, pct := strings.CutSuffix(s, "%")
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
		return 0, ruleErr(field, s, "expected a probability in (0, 1], e.g. 0.1 or 10%%")
	}
	if pct {
		p /= 100
	}
	if !(p > 0 && p <= 1) {
		return 0, ruleErr(field, s, "a probability is in (0, 1] (0%% would never act; 100%% or 1 always does)")
	}
	return p, nil
}

// parseDuration parses a Go duration such as "20ms", "1.5ms" or "500us" in
// [0, MaxDelay].
func parseDuration(field, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, ruleErr(field, s, "expected a duration with a unit, e.g. 20ms, 1.5ms, 500us, 1s")
	}
	if d < 0 || d > MaxDelay {
		return 0, ruleErr(field, s, "%s is 0–%v", field, MaxDelay)
	}
	return d, nil
}

// parsePattern parses a hex byte string, optionally 0x-prefixed.
func parsePattern(s string) ([]byte, error) {
	h := strings.TrimPrefix(strings.ToLower(s), "0x")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) == 0 {
		return nil, ruleErr("pattern", s, "a pattern is 1–%d bytes in hex, an even number of digits, e.g. pattern=a5a5", MaxPatternLen)
	}
	if len(b) > MaxPatternLen {
		return nil, ruleErr("pattern", s, "a pattern is 1–%d bytes; this one has %d", MaxPatternLen, len(b))
	}
	return b, nil
}
