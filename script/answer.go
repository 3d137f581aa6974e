package script

import (
	"fmt"
	"net/netip"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe"
)

// answerTable turns what the engine reported about a probe into the
// plain Lua table scripts read:
//
//	kind     "echo-reply", "time-exceeded", "frag-needed", "tcp-open", …
//	from     the answering address
//	rtt      milliseconds (float)
//	ttl      the answer's own TTL or hop limit
//	packet   the answer as a packet; probe the probe as sent
//	quote    the quoted probe of an ICMP error
//	changes  field → {sent=, seen=, expected=, note=} from the quote
//	mtu      of frag-needed, packet-too-big or a local EMSGSIZE
//	damage   payload differences of a reply, nil when intact
//	local    true when this host, not the network, answered (EMSGSIZE)
//	dups     further copies of the answer
func (in *Interp) answerTable(L *lua.LState, a *answer) *lua.LTable {
	r := &a.r
	t := L.NewTable()
	t.RawSetString("kind", lua.LString(r.Answer))
	if r.From.IsValid() {
		t.RawSetString("from", lua.LString(r.From.String()))
	}
	t.RawSetString("rtt", lua.LNumber(float64(r.RTT.Nanoseconds())/1e6))
	if r.ReplyTTL >= 0 {
		t.RawSetString("ttl", lua.LNumber(r.ReplyTTL))
	}
	if r.Seq >= 0 {
		t.RawSetString("seq", lua.LNumber(r.Seq))
	}
	if r.MTU > 0 {
		t.RawSetString("mtu", lua.LNumber(r.MTU))
	}
	// The probe as sent: the user's packet with what the sender filled in.
	sent := &Pkt{P: a.sent, HasIP: true, HasL4: a.probe.HasL4, HasPayload: a.probe.HasPayload, Pattern: a.probe.Pattern}
	sent.P.IPv4.Options = cloneOptions(a.sent.IPv4.Options)
	t.RawSetString("probe", pushPkt(L, sent))
	if r.Packet != nil {
		pk := &Pkt{P: *r.Packet, HasIP: true, HasL4: r.Packet.Transport != packet.NoTransport,
			HasPayload: len(r.Packet.Payload) > 0, Parsed: true, Bytes: r.Bytes}
		t.RawSetString("packet", pushPkt(L, pk))
		if q := r.Packet.Quote; q != nil {
			t.RawSetString("quote", pushPkt(L, &Pkt{P: *q, HasIP: true, HasL4: q.Transport != packet.NoTransport, HasPayload: len(q.Payload) > 0, Parsed: true}))
		}
	}
	if r.Kind == probe.KindError || len(r.Changes) > 0 {
		t.RawSetString("changes", changesTable(L, r.Changes))
	}
	if r.PartialQuote {
		t.RawSetString("partial_quote", lua.LTrue)
	}
	if r.Damage != nil {
		t.RawSetString("damage", damageTable(L, r.Damage))
	}
	if r.Kind == probe.KindLocal {
		t.RawSetString("local", lua.LTrue)
		if r.Err != nil {
			t.RawSetString("error", lua.LString(r.Err.Error()))
		}
	}
	if r.DifferentAddress {
		t.RawSetString("different_address", lua.LTrue)
	}
	if a.dups > 0 {
		t.RawSetString("dups", lua.LNumber(a.dups))
	}
	return withString(L, t, answerLine(r))
}

// answerLine is tostring(answer): the engine's one-line result without
// its probe number (meaningless to a script).
func answerLine(r *probe.Result) string {
	s := r.String()
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "probe ") {
		s = s[i+2:]
		if r.Seq >= 0 {
			s = fmt.Sprintf("seq=%d %s", r.Seq, s)
		}
	}
	return s
}

// changesTable maps each changed field to {sent=, seen=, expected=,
// note=}.
func changesTable(L *lua.LState, cs []packet.Change) *lua.LTable {
	t := L.NewTable()
	for _, c := range cs {
		e := L.NewTable()
		e.RawSetString("sent", changeValue(L, c.Sent))
		e.RawSetString("seen", changeValue(L, c.Seen))
		e.RawSetString("expected", lua.LBool(c.Expected))
		if c.Note != "" {
			e.RawSetString("note", lua.LString(c.Note))
		}
		if c.Damage != nil {
			e.RawSetString("damage", damageTable(L, c.Damage))
		}
		withString(L, e, c.String())
		t.RawSetString(c.Field, e)
	}
	return t
}

func changeValue(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case int:
		return lua.LNumber(x)
	case bool:
		return lua.LBool(x)
	case string:
		return lua.LString(x)
	case netip.Addr:
		if !x.IsValid() {
			return lua.LNil
		}
		return lua.LString(x.String())
	case []byte:
		return lua.LString(x)
	case nil:
		return lua.LNil
	}
	return lua.LString(fmt.Sprint(v))
}

// damageTable describes a damaged payload: every differing byte as
// {offset=, sent=, got=}, both lengths, and text (packet.Damage.String).
func damageTable(L *lua.LState, d *packet.Damage) lua.LValue {
	if d == nil {
		return lua.LNil
	}
	t := L.NewTable()
	bytes := L.NewTable()
	offsets := L.NewTable()
	for _, b := range d.Bytes {
		e := L.NewTable()
		e.RawSetString("offset", lua.LNumber(b.Offset))
		e.RawSetString("sent", lua.LNumber(b.Sent))
		e.RawSetString("got", lua.LNumber(b.Got))
		bytes.Append(e)
		offsets.Append(lua.LNumber(b.Offset))
	}
	t.RawSetString("bytes", bytes)
	t.RawSetString("offsets", offsets)
	t.RawSetString("sent_len", lua.LNumber(d.SentLen))
	t.RawSetString("got_len", lua.LNumber(d.GotLen))
	t.RawSetString("truncated", lua.LBool(d.Truncated()))
	t.RawSetString("extended", lua.LBool(d.Extended()))
	text := d.String()
	t.RawSetString("text", lua.LString(text))
	return withString(L, t, text)
}

// withString gives t a __tostring that returns text (what print shows
// for answers, changes and damage) and returns t.
func withString(L *lua.LState, t *lua.LTable, text string) *lua.LTable {
	mt := L.NewTable()
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(text))
		return 1
	}))
	L.SetMetatable(t, mt)
	return t
}
