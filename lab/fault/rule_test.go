package fault

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRuleCanonical(t *testing.T) {
	// Each input parses to want, and String writes canon (the input itself
	// when canon is empty), which parses back to the same rule.
	for _, tc := range []struct {
		in    string
		want  Rule
		canon string
	}{
		{"drop", Rule{Kind: Drop, Dir: Both}, ""},
		{"drop pattern=a5a5", Rule{Kind: Drop, Dir: Both, Pattern: []byte{0xa5, 0xa5}}, ""},
		{"drop pattern=0xA5A5 offset=16", Rule{Kind: Drop, Dir: Both, Pattern: []byte{0xa5, 0xa5}, PatternAt: true, Offset: 16}, "drop pattern=a5a5 offset=16"},
		{"drop offset=0x10 pattern=ff from=ip proto=icmp", Rule{Kind: Drop, Dir: Both, Proto: ProtoICMP, From: FromIP, Pattern: []byte{0xff}, PatternAt: true, Offset: 16}, "drop pattern=ff offset=16 from=ip proto=icmp"},
		{"drop pattern=00 from=payload", Rule{Kind: Drop, Dir: Both, Pattern: []byte{0}}, "drop pattern=00"},
		{"loss 0.1", Rule{Kind: Loss, Dir: Both, Prob: 0.1}, ""},
		{"loss 25%", Rule{Kind: Loss, Dir: Both, Prob: 0.25}, "loss 0.25"},
		{"loss 1 dir=to-client proto=udp", Rule{Kind: Loss, Dir: ToClient, Proto: ProtoUDP, Prob: 1}, ""},
		{"corrupt offset=30 flip=0x01 dir=to-client", Rule{Kind: Corrupt, Dir: ToClient, Offset: 30, Op: CorruptFlip, Value: 1}, ""},
		{"corrupt flip=128 offset=0", Rule{Kind: Corrupt, Dir: Both, Op: CorruptFlip, Value: 0x80}, "corrupt offset=0 flip=0x80"},
		{"corrupt offset=2 set=0x0f from=ip bad-checksum", Rule{Kind: Corrupt, Dir: Both, Offset: 2, Op: CorruptSet, Value: 0x0f, From: FromIP, BadChecksum: true}, ""},
		{"corrupt offset=65535 clear=0xff", Rule{Kind: Corrupt, Dir: Both, Offset: 65535, Op: CorruptClear, Value: 0xff}, ""},
		{"corrupt offset=4 byte=0", Rule{Kind: Corrupt, Dir: Both, Offset: 4, Op: CorruptByte}, "corrupt offset=4 byte=0x00"},
		{"corrupt ber=0.001", Rule{Kind: Corrupt, Dir: Both, Op: CorruptBER, BER: 0.001}, ""},
		{"corrupt ber=1% offset=16 len=8 prob=0.5", Rule{Kind: Corrupt, Dir: Both, Op: CorruptBER, BER: 0.01, Offset: 16, Length: 8, Prob: 0.5}, "corrupt ber=0.01 offset=16 len=8 prob=0.5"},
		{"duplicate", Rule{Kind: Duplicate, Dir: Both, Count: 1}, ""},
		{"duplicate 1", Rule{Kind: Duplicate, Dir: Both, Count: 1}, "duplicate"},
		{"duplicate 16 prob=1", Rule{Kind: Duplicate, Dir: Both, Count: 16}, "duplicate 16"},
		{"delay 20ms jitter=5ms", Rule{Kind: Delay, Dir: Both, Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}, ""},
		{"delay 1.5ms", Rule{Kind: Delay, Dir: Both, Delay: 1500 * time.Microsecond}, ""},
		{"delay 500us", Rule{Kind: Delay, Dir: Both, Delay: 500 * time.Microsecond}, "delay 500µs"},
		{"delay 0s jitter=10s", Rule{Kind: Delay, Dir: Both, Jitter: 10 * time.Second}, ""},
		{"tos 0x28", Rule{Kind: TOS, Dir: Both, Value: 0x28}, ""},
		{"tos 255 dir=to-server", Rule{Kind: TOS, Dir: ToServer, Value: 255}, "tos 0xff dir=to-server"},
		{"dscp 46", Rule{Kind: DSCP, Dir: Both, Value: 46}, ""},
		{"dscp 0x3f", Rule{Kind: DSCP, Dir: Both, Value: 63}, "dscp 63"},
		{"ecn ce", Rule{Kind: ECN, Dir: Both, Value: 3}, ""},
		{"ecn 2", Rule{Kind: ECN, Dir: Both, Value: 2}, "ecn ect0"},
		{"ecn not-ect", Rule{Kind: ECN, Dir: Both}, ""},
		{"ttl 5", Rule{Kind: TTL, Dir: Both, Value: 5}, ""},
		{"ttl 0", Rule{Kind: TTL, Dir: Both}, ""},
		{"ttl -1 proto=icmp6", Rule{Kind: TTL, Dir: Both, Value: 1, Decrement: true, Proto: ProtoICMPv6}, ""},
		{"ttl -255", Rule{Kind: TTL, Dir: Both, Value: 255, Decrement: true}, ""},
		{"strip-options", Rule{Kind: StripOptions, Dir: Both}, ""},
		{"strip-options bad-checksum dir=both", Rule{Kind: StripOptions, Dir: Both, BadChecksum: true}, "strip-options bad-checksum"},
		{"truncate 60", Rule{Kind: Truncate, Dir: Both, Length: 60}, ""},
		{"truncate 20 keep-length proto=tcp", Rule{Kind: Truncate, Dir: Both, Length: 20, KeepLength: true, Proto: ProtoTCP}, ""},
		{"  truncate\t65535  ", Rule{Kind: Truncate, Dir: Both, Length: 65535}, "truncate 65535"},
		{"tos 0x10 proto=any", Rule{Kind: TOS, Dir: Both, Value: 0x10}, "tos 0x10"},
	} {
		got, err := ParseRule(tc.in)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRule(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
		canon := tc.canon
		if canon == "" {
			canon = tc.in
		}
		if s := got.String(); s != canon {
			t.Errorf("ParseRule(%q).String() = %q, want %q", tc.in, s, canon)
		}
		again, err := ParseRule(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("round trip of %q: %#v, %v; want %#v", got.String(), again, err, got)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	// Every error ParseRule can return: the field it names, and words the
	// message must contain (the value and the limit).
	for _, tc := range []struct {
		in, field string
		says      []string
	}{
		{"", "rule", []string{"empty rule", "drop, loss"}},
		{"frob", "kind", []string{`"frob"`, "drop, loss, corrupt"}},
		{"Drop", "kind", []string{`"Drop"`}},
		{"loss", "loss", []string{"missing argument", "loss 0.1"}},
		{"loss 0", "loss", []string{`"0"`, "(0, 1]"}},
		{"loss 1.5", "loss", []string{`"1.5"`, "(0, 1]"}},
		{"loss 200%", "loss", []string{`"200%"`}},
		{"loss NaN", "loss", []string{"expected a probability"}},
		{"loss inf", "loss", []string{"expected a probability"}},
		{"loss half", "loss", []string{`"half"`, "expected a probability"}},
		{"loss 0.1 prob=0.5", "prob", []string{"loss takes its probability as its argument"}},
		{"loss 0.1 0.2", "loss", []string{"unexpected word", "key=value"}},
		{"delay", "delay", []string{"missing argument", "20ms"}},
		{"delay 20", "delay", []string{`"20"`, "unit"}},
		{"delay -1ms", "delay", []string{`"-1ms"`, "0–10s"}},
		{"delay 11s", "delay", []string{`"11s"`, "0–10s"}},
		{"delay 0s", "delay", []string{"needs a delay or a jitter"}},
		{"delay 1ms jitter=1h", "jitter", []string{`"1h"`, "0–10s"}},
		{"delay 1ms jitter=", "jitter", []string{`""`, "expected a duration"}},
		{"delay jitter=5ms", "delay", []string{"missing argument"}},
		{"tos", "tos", []string{"missing argument", "tos 0x28"}},
		{"tos 256", "tos", []string{`"256"`, "at most 255"}},
		{"tos 0x100", "tos", []string{"at most 255"}},
		{"tos -1", "tos", []string{"expected a number"}},
		{"tos 0x", "tos", []string{"expected a number"}},
		{"tos 1_0", "tos", []string{"expected a number"}},
		{"tos +5", "tos", []string{"expected a number"}},
		{"dscp 64", "dscp", []string{`"64"`, "at most 63"}},
		{"ecn 4", "ecn", []string{`"4"`, "not-ect, ect1, ect0, ce"}},
		{"ecn cee", "ecn", []string{`"cee"`}},
		{"ttl", "ttl", []string{"missing argument"}},
		{"ttl 256", "ttl", []string{"at most 255"}},
		{"ttl -0", "ttl", []string{"-1 to -255"}},
		{"ttl -256", "ttl", []string{"-1 to -255"}},
		{"ttl --1", "ttl", []string{"-1 to -255"}},
		{"truncate", "truncate", []string{"missing argument"}},
		{"truncate 19", "truncate", []string{`"19"`, "20–65535"}},
		{"truncate 65536", "truncate", []string{"at most 65535"}},
		{"truncate 60 keep-length=1", "keep-length", []string{"a flag"}},
		{"truncate 60 from=ip", "from", []string{"truncate has none"}},
		{"duplicate 0", "duplicate", []string{`"0"`, "1–16"}},
		{"duplicate 17", "duplicate", []string{"at most 16"}},
		{"duplicate many", "duplicate", []string{"expected a number"}},
		{"duplicate bad-checksum", "bad-checksum", []string{"changes no bytes"}},
		{"strip-options 5", "strip-options", []string{"takes no argument"}},
		{"drop offset=16", "offset", []string{"give pattern=HEX too"}},
		{"drop pattern=", "pattern", []string{`""`, "in hex"}},
		{"drop foo=", "foo=", []string{"key=value"}},
		{"drop pattern=a5a", "pattern", []string{`"a5a"`, "even number of digits"}},
		{"drop pattern=zz", "pattern", []string{"hex"}},
		{"drop pattern=0x", "pattern", []string{"1–256 bytes"}},
		{"drop pattern=" + strings.Repeat("ab", 257), "pattern", []string{"this one has 257"}},
		{"drop pattern=ab offset=65536", "offset", []string{"at most 65535"}},
		{"drop from=ip", "from", []string{"drop without pattern= has none"}},
		{"drop from=tcp pattern=aa", "from", []string{`"tcp"`, "payload", "ip"}},
		{"drop bad-checksum", "bad-checksum", []string{"changes no bytes"}},
		{"drop pattern=aa pattern=bb", "pattern", []string{"given twice"}},
		{"drop jitter=5ms", "jitter", []string{"belongs to delay", "drop takes pattern=, offset="}},
		{"drop colour=red", "colour", []string{"unknown setting", "drop takes"}},
		{"drop = ", "=", []string{"key=value"}},
		{"corrupt", "corrupt", []string{"say how to corrupt"}},
		{"corrupt offset=3", "corrupt", []string{"say how to corrupt"}},
		{"corrupt flip=1", "offset", []string{"flip= changes the byte at offset=N"}},
		{"corrupt offset=1 flip=0", "flip", []string{"a zero mask changes nothing"}},
		{"corrupt offset=1 set=0x0", "set", []string{"zero mask"}},
		{"corrupt offset=1 flip=256", "flip", []string{"at most 255"}},
		{"corrupt offset=1 flip=1 byte=2", "byte", []string{"give one of", "already have flip="}},
		{"corrupt ber=0.1 flip=1 offset=0", "flip", []string{"already have ber="}},
		{"corrupt offset=1 flip=1 ber=0.1", "ber", []string{"already have flip="}},
		{"corrupt ber=0", "ber", []string{"(0, 1]"}},
		{"corrupt ber=2", "ber", []string{"(0, 1]"}},
		{"corrupt ber=0.1 len=0", "len", []string{"leave len= out"}},
		{"corrupt ber=0.1 len=70000", "len", []string{"at most 65535"}},
		{"corrupt offset=1 flip=1 len=4", "len", []string{"len= sizes the ber= region"}},
		{"corrupt offset=-1 flip=1", "offset", []string{"expected a number"}},
		{"corrupt offset=1 flip=1 dir=up", "dir", []string{`"up"`, "to-server, to-client or both"}},
		{"corrupt offset=1 flip=1 proto=sctp", "proto", []string{`"sctp"`, "any, icmp, icmp6, udp, tcp"}},
		{"corrupt offset=1 flip=1 prob=0", "prob", []string{"(0, 1]"}},
		{"corrupt offset=1 flip=1 prob=-0.5", "prob", []string{"(0, 1]"}},
		{"corrupt offset=1 flip=1 bad-checksum=yes", "bad-checksum", []string{"a flag"}},
		{"corrupt offset=1 flip=1 keep-length", "keep-length", []string{"changes no bytes"}},
		{"tos 1 jitter=1ms", "jitter", []string{"belongs to delay", "tos takes dir=, proto=, prob=, bad-checksum"}},
		{"tos 1 offset=3", "offset", []string{"belongs to"}},
		{"tos 1 from=ip", "from", []string{"tos has none"}},
		{"tos 1 dir=to-server dir=to-client", "dir", []string{"given twice"}},
	} {
		_, err := ParseRule(tc.in)
		var re *RuleError
		if !errors.As(err, &re) {
			t.Errorf("ParseRule(%q) error = %v, want a *RuleError", tc.in, err)
			continue
		}
		if re.Field != tc.field {
			t.Errorf("ParseRule(%q): field %q, want %q (%v)", tc.in, re.Field, tc.field, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "fault: ") {
			t.Errorf("ParseRule(%q): %q does not start with fault:", tc.in, msg)
		}
		for _, s := range tc.says {
			if !strings.Contains(msg, s) {
				t.Errorf("ParseRule(%q) = %q, want it to say %q", tc.in, msg, s)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	// Rules built in Go get the checks ParseRule makes.
	for _, tc := range []struct {
		r     Rule
		field string
	}{
		{Rule{}, "kind"},
		{Rule{Kind: 99}, "kind"},
		{Rule{Kind: Drop, Dir: 4}, "dir"},
		{Rule{Kind: Drop, Proto: 9}, "proto"},
		{Rule{Kind: Drop, From: 2}, "from"},
		{Rule{Kind: Loss}, "loss"},
		{Rule{Kind: Drop, Prob: 2}, "prob"},
		{Rule{Kind: Drop, Pattern: make([]byte, 257)}, "pattern"},
		{Rule{Kind: Drop, PatternAt: true}, "offset"},
		{Rule{Kind: Drop, PatternAt: true, Pattern: []byte{1}, Offset: -1}, "offset"},
		{Rule{Kind: Corrupt, Op: CorruptFlip, Offset: 70000}, "offset"},
		{Rule{Kind: Corrupt}, "corrupt"},
		{Rule{Kind: Corrupt, Op: 9}, "corrupt"},
		{Rule{Kind: Corrupt, Op: CorruptBER}, "ber"},
		{Rule{Kind: Corrupt, Op: CorruptBER, BER: 0.1, Length: -1}, "len"},
		{Rule{Kind: Duplicate, Count: 17}, "duplicate"},
		{Rule{Kind: Duplicate, Count: -1}, "duplicate"},
		{Rule{Kind: Delay}, "delay"},
		{Rule{Kind: Delay, Delay: -time.Second}, "delay"},
		{Rule{Kind: Delay, Delay: time.Second, Jitter: time.Minute}, "jitter"},
		{Rule{Kind: DSCP, Value: 64}, "dscp"},
		{Rule{Kind: ECN, Value: 4}, "ecn"},
		{Rule{Kind: TTL, Decrement: true}, "ttl"},
		{Rule{Kind: Truncate, Length: 19}, "truncate"},
		{Rule{Kind: Truncate, Length: 65536}, "truncate"},
	} {
		err := tc.r.Validate()
		var re *RuleError
		if !errors.As(err, &re) || re.Field != tc.field {
			t.Errorf("%#v.Validate() = %v, want a RuleError for %q", tc.r, err, tc.field)
		}
	}
	// Fields of other kinds are ignored; the zero Dir means both.
	r := Rule{Kind: TOS, Value: 0x28, Offset: 5, Pattern: []byte{1}, Count: 3, From: FromIP}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := r.String(); s != "tos 0x28" {
		t.Errorf("String = %q, want %q", s, "tos 0x28")
	}
}

func TestRuleText(t *testing.T) {
	r, err := ParseRule("corrupt offset=30 flip=0x01 dir=to-client")
	if err != nil {
		t.Fatal(err)
	}
	r.ID = 7
	b, err := r.MarshalText()
	if err != nil || string(b) != "corrupt offset=30 flip=0x01 dir=to-client" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	var back Rule
	back.ID = 7
	if err := back.UnmarshalText(b); err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("UnmarshalText = %#v, %v; want %#v", back, err, r)
	}
	if err := back.UnmarshalText([]byte("nonsense")); err == nil {
		t.Fatal("UnmarshalText(nonsense) succeeded")
	}
	if _, err := (Rule{}).MarshalText(); err == nil {
		t.Fatal("MarshalText of an invalid rule succeeded")
	}
	for d, s := range map[Direction]string{ToServer: "to-server", ToClient: "to-client", Both: "both", 0: "both", 8: "dir-8"} {
		if d.String() != s {
			t.Errorf("Direction(%d) = %q, want %q", d, d.String(), s)
		}
	}
	if Proto(9).String() != "proto-9" || Kind(0).String() != "kind-0" || CorruptOp(0).String() != "op-0" || FromIP.String() != "ip" {
		t.Error("String of out-of-range values")
	}
}
