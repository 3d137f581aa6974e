package packet

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// Change is one field that differs between a probe as sent and the copy of
// it quoted back in an ICMP error: what the path did to the probe before
// the reporting node saw it.
type Change struct {
	// Field names the field as the Lua API does: "ttl", "tos", "dscp",
	// "ecn", "df", "mf", "evil", "id", "frag", "len", "proto", "src",
	// "dst", "chksum", "options", "options.rr", "options[2]", "tc", "flow",
	// "hlim", "icmp.type", "icmp.code", "icmp.id", "icmp.seq",
	// "icmp.chksum", "udp.sport", "udp.dport", "udp.len", "udp.chksum",
	// "tcp.sport", "tcp.dport", "tcp.seq", "tcp.ack", "tcp.flags",
	// "tcp.win", "tcp.chksum", "tcp.urg", "tcp.options", "payload".
	Field string
	// Sent and Seen are the values before and after: int for numbers, bool
	// for flags, netip.Addr for addresses, string for options (their one-line
	// description) and []byte for the compared payload bytes.
	Sent, Seen any
	// Expected is set for changes every path makes and that say nothing
	// is wrong: the TTL or hop limit decremented by routers, a header
	// checksum recomputed (the quoted one verifies), record-route and
	// timestamp options filled in, ECN marked CE.
	Expected bool
	// Note explains the change in a few words.
	Note string
	// Damage holds the byte-level differences for Field "payload".
	Damage *Damage
}

// hexFields are shown in hexadecimal by Change.String.
var hexFields = map[string]bool{"tos": true, "tc": true, "chksum": true, "flow": true,
	"icmp.chksum": true, "udp.chksum": true, "tcp.chksum": true}

// String renders the change as "ttl 3→1", "tos 0x00→0x28", "df 1→0",
// "src 198.18.0.1→198.19.0.1" or, for options and payload, "options.rr: …"
// with the note.
func (c Change) String() string {
	switch c.Field {
	case "payload":
		return "payload: " + c.Note
	}
	f := func(v any) string {
		switch v := v.(type) {
		case int:
			if hexFields[c.Field] {
				w := 2
				if strings.HasSuffix(c.Field, "chksum") {
					w = 4
				} else if c.Field == "flow" {
					w = 5
				}
				return fmt.Sprintf("0x%0*x", w, v)
			}
			return fmt.Sprint(v)
		case bool:
			if v {
				return "1"
			}
			return "0"
		}
		return fmt.Sprint(v)
	}
	if _, ok := c.Sent.(string); ok {
		return fmt.Sprintf("%s: %s → %s", c.Field, f(c.Sent), f(c.Seen))
	}
	return c.Field + " " + f(c.Sent) + "→" + f(c.Seen)
}

// QuoteDiff lists every field that differs between sent, the probe as it
// left (parse the bytes that were sent, so computed lengths and checksums are
// filled in), and quoted, the datagram an ICMP error quoted back. Only
// fields the quote really holds are compared: an 8-byte quote says nothing
// about TCP flags, so no change is reported for them. The order is that of
// the headers.
func QuoteDiff(sent, quoted *Packet) []Change {
	d := differ{}
	if sent.Version != quoted.Version {
		d.add("version", sent.Version, quoted.Version, false, "the quote is of another IP version: a translator on the path")
		return d.out
	}
	if sent.Version == 4 {
		d.ipv4(sent, quoted)
	} else {
		d.ipv6(sent, quoted)
	}
	d.transport(sent, quoted)
	d.payload(sent, quoted)
	return d.out
}

type differ struct {
	out []Change
}

func (d *differ) add(field string, sent, seen any, expected bool, note string) {
	d.out = append(d.out, Change{Field: field, Sent: sent, Seen: seen, Expected: expected, Note: note})
}

func (d *differ) num(field string, sent, seen int, note string) {
	if sent != seen {
		d.add(field, sent, seen, false, note)
	}
}

func (d *differ) flag(field string, sent, seen bool, note string) {
	if sent != seen {
		d.add(field, sent, seen, false, note)
	}
}

func (d *differ) addr(field string, sent, seen netip.Addr) {
	if sent != seen {
		d.add(field, sent, seen, false, "rewritten on the way (NAT or a translator)")
	}
}

// hops compares TTL or hop limit: a decrease is what routers do.
func (d *differ) hops(field string, sent, seen uint8) {
	switch {
	case seen < sent:
		n := int(sent - seen)
		d.add(field, int(sent), int(seen), true, fmt.Sprintf("decremented %d time%s on the way", n, plural(n)))
	case seen > sent:
		d.add(field, int(sent), int(seen), false, "raised on the way: a middlebox rewrites it")
	}
}

// tos compares a TOS or traffic-class octet and, when it differs, its DSCP
// and ECN parts.
func (d *differ) tos(field string, sent, seen uint8) {
	if sent == seen {
		return
	}
	d.add(field, int(sent), int(seen), false, "rewritten on the way")
	if sent>>2 != seen>>2 {
		d.add("dscp", int(sent>>2), int(seen>>2), false, "DSCP rewritten (re-marking or bleaching)")
	}
	if sent&3 != seen&3 {
		ce := sent&3 != 0 && seen&3 == 3
		note := "ECN field rewritten"
		if ce {
			note = "marked Congestion Experienced (RFC 3168)"
		}
		d.add("ecn", int(sent&3), int(seen&3), ce, note)
	}
}

// ipv4 compares IPv4 headers. A changed header checksum is expected when
// other header fields changed and the quoted checksum verifies.
func (d *differ) ipv4(sent, q *Packet) {
	s, g := &sent.IPv4, &q.IPv4
	n0 := len(d.out)
	d.tos("tos", s.TOS, g.TOS)
	sentLen := s.TotalLen
	if sentLen == 0 {
		sentLen, _ = sent.Len()
	}
	d.num("len", sentLen, g.TotalLen, "total length changed on the way")
	d.num("id", int(s.ID), int(g.ID), "identification rewritten on the way")
	d.flag("evil", s.Evil, g.Evil, "reserved flag changed")
	d.flag("df", s.DF, g.DF, "don't-fragment flag changed on the way")
	d.flag("mf", s.MF, g.MF, "more-fragments flag changed: fragmented on the way")
	d.num("frag", int(s.FragOffset), int(g.FragOffset), "fragment offset changed: fragmented on the way")
	d.hops("ttl", s.TTL, g.TTL)
	d.num("proto", int(sent.Protocol()), int(g.Protocol), "protocol rewritten")
	d.addr("src", s.Src, g.Src)
	d.addr("dst", s.Dst, g.Dst)
	d.options(s.Options, g.Options)
	changed := len(d.out) > n0
	if s.Checksum != g.Checksum && (s.Checksum != 0 || s.FixedChecksum) {
		switch {
		case q.ChecksumPredatesRecording:
			d.add("chksum", int(s.Checksum), int(g.Checksum), true,
				"does not verify, but did before the reporting router recorded itself in the options: it quoted the header without updating the checksum (Linux does this)")
		case !q.BadIPChecksum:
			d.add("chksum", int(s.Checksum), int(g.Checksum), changed, "recomputed for the changed header; the quoted checksum verifies")
		default:
			d.add("chksum", int(s.Checksum), int(g.Checksum), false, "the quoted header checksum does not verify: corrupted on the way, or sent wrong on purpose")
		}
	}
}

// checksumBeforeRecording reports whether the quoted header's checksum
// verifies once the last record-route and timestamp entries are taken back
// out. Linux records its own address (and timestamp) in those options as a
// packet arrives and recomputes the checksum only when forwarding it, so the
// header it quotes in a time-exceeded error carries its own entry and the
// previous hop's checksum.
func checksumBeforeRecording(g *IPv4) bool {
	for _, undo := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		h := *g
		h.Options = make([]Option, len(g.Options))
		undone := false
		for i, o := range g.Options {
			h.Options[i] = o
			switch o := o.(type) {
			case *RecordRoute:
				if undo[0] && len(o.Route) > 0 && int(o.Pointer) == rrPointerFirst+4*len(o.Route) {
					c := *o
					c.Route, c.Pointer = c.Route[:len(c.Route)-1], c.Pointer-4
					h.Options[i], undone = &c, true
				}
			case *Timestamp:
				if undo[1] && o.Flag != TSPrespec && len(o.Entries) > 0 && int(o.Pointer) == tsPointerFirst+o.entrySize()*len(o.Entries) {
					c := *o
					c.Entries, c.Pointer = c.Entries[:len(c.Entries)-1], c.Pointer-uint8(o.entrySize())
					h.Options[i], undone = &c, true
				}
			}
		}
		if !undone {
			continue
		}
		h.FixedChecksum = false
		hl, err := h.headerLen()
		if err != nil || hl != g.HeaderLen {
			continue
		}
		var buf [IPv4HeaderLen + MaxIPv4OptionsLen]byte
		if h.marshal(buf[:hl], g.TotalLen, g.Protocol) != nil {
			continue
		}
		if buf[10] == byte(g.Checksum>>8) && buf[11] == byte(g.Checksum) {
			return true
		}
	}
	return false
}

func (d *differ) ipv6(sent, q *Packet) {
	s, g := &sent.IPv6, &q.IPv6
	d.tos("tc", s.TrafficClass, g.TrafficClass)
	d.num("flow", int(s.FlowLabel), int(g.FlowLabel), "flow label rewritten on the way")
	if s.PayloadLen != 0 {
		d.num("plen", s.PayloadLen, g.PayloadLen, "payload length changed on the way")
	}
	d.hops("hlim", s.HopLimit, g.HopLimit)
	d.addr("src", s.Src, g.Src)
	d.addr("dst", s.Dst, g.Dst)
}

// options compares IPv4 option lists. Filled record-route and timestamp
// slots are expected; anything else is not.
func (d *differ) options(sent, seen []Option) {
	if len(sent) != len(seen) {
		d.add("options", optionNames(sent), optionNames(seen), false, "options added or stripped on the way")
		return
	}
	names := map[string]int{}
	for _, o := range sent {
		names[o.Name()]++
	}
	for i := range sent {
		a, b := sent[i], seen[i]
		as, bs := a.String(), b.String()
		if as == bs {
			continue
		}
		field := "options." + a.Name()
		if names[a.Name()] > 1 || a.Name() != b.Name() {
			field = fmt.Sprintf("options[%d]", i+1)
		}
		exp, note := optionChange(a, b)
		d.add(field, as, bs, exp, note)
	}
}

// optionChange says whether an option changed the way routers are meant
// to change it.
func optionChange(a, b Option) (bool, string) {
	switch a := a.(type) {
	case *RecordRoute:
		if b, ok := b.(*RecordRoute); ok && a.slots() == b.slots() && len(b.Route) >= len(a.Route) && b.Pointer >= a.Pointer {
			n := len(b.Route) - len(a.Route)
			return true, fmt.Sprintf("%d address%s recorded on the way", n, pluralES(n))
		}
	case *Timestamp:
		if b, ok := b.(*Timestamp); ok && a.Flag == b.Flag && a.slots() == b.slots() && b.Pointer >= a.Pointer && b.Overflow >= a.Overflow {
			n := len(b.Recorded()) - len(a.Recorded())
			note := fmt.Sprintf("%d timestamp%s recorded on the way", n, plural(n))
			if b.Overflow > a.Overflow {
				note += fmt.Sprintf(", %d router%s found it full", b.Overflow-a.Overflow, plural(int(b.Overflow-a.Overflow)))
			}
			return true, note
		}
	case *SourceRoute:
		if b, ok := b.(*SourceRoute); ok && a.Strict == b.Strict && len(a.Route) == len(b.Route) && b.Pointer > a.Pointer {
			return true, "source route followed: hops replaced by recorded addresses"
		}
	}
	return false, "option content rewritten on the way"
}

func optionNames(opts []Option) string {
	if len(opts) == 0 {
		return "none"
	}
	s := make([]string, len(opts))
	for i, o := range opts {
		s[i] = o.Name()
	}
	return strings.Join(s, ",")
}

// transport compares the transport headers as far as the quote holds them.
func (d *differ) transport(sent, q *Packet) {
	if sent.Transport != q.Transport {
		return // the protocol change, if any, is reported by "proto"
	}
	n := q.TransportBytes
	n0 := len(d.out)
	addrsChanged := sent.Src() != q.Src() || sent.Dst() != q.Dst()
	switch sent.Transport {
	case TransportICMP, TransportICMPv6:
		s, g := &sent.ICMP, &q.ICMP
		if n >= 1 {
			d.num("icmp.type", int(s.Type), int(g.Type), "ICMP type rewritten")
		}
		if n >= 2 {
			d.num("icmp.code", int(s.Code), int(g.Code), "ICMP code rewritten")
		}
		if n >= 6 {
			d.num("icmp.id", int(s.ID), int(g.ID), "identifier rewritten (NAT)")
		}
		if n >= 8 {
			d.num("icmp.seq", int(s.Seq), int(g.Seq), "sequence number rewritten")
		}
		if n >= 4 {
			d.checksum("icmp.chksum", s.Checksum, g.Checksum, len(d.out) > n0 || payloadChanged(sent, q) || sent.Transport == TransportICMPv6 && addrsChanged)
		}
	case TransportUDP:
		s, g := &sent.UDP, &q.UDP
		if n >= 2 {
			d.num("udp.sport", int(s.SrcPort), int(g.SrcPort), "source port rewritten (NAT)")
		}
		if n >= 4 {
			d.num("udp.dport", int(s.DstPort), int(g.DstPort), "destination port rewritten")
		}
		if n >= 6 && s.Length != 0 {
			d.num("udp.len", s.Length, g.Length, "UDP length changed")
		}
		if n >= 8 {
			d.checksum("udp.chksum", s.Checksum, g.Checksum, len(d.out) > n0 || addrsChanged || payloadChanged(sent, q))
		}
	case TransportTCP:
		s, g := &sent.TCP, &q.TCP
		if n >= 2 {
			d.num("tcp.sport", int(s.SrcPort), int(g.SrcPort), "source port rewritten (NAT)")
		}
		if n >= 4 {
			d.num("tcp.dport", int(s.DstPort), int(g.DstPort), "destination port rewritten")
		}
		if n >= 8 {
			d.num("tcp.seq", int(s.Seq), int(g.Seq), "sequence number rewritten (a middlebox randomises it)")
		}
		if n >= 12 {
			d.num("tcp.ack", int(s.Ack), int(g.Ack), "acknowledgement number rewritten")
		}
		if n >= 14 && s.Flags != g.Flags {
			d.add("tcp.flags", s.Flags.String(), g.Flags.String(), false, "flags rewritten (ECN bits cleared?)")
		}
		if n >= 16 {
			d.num("tcp.win", int(s.Window), int(g.Window), "window rewritten")
		}
		if n >= 20 {
			d.num("tcp.urg", int(s.Urgent), int(g.Urgent), "urgent pointer rewritten")
		}
		if n >= g.DataOffset && g.DataOffset >= TCPHeaderLen {
			so, go_ := tcpOptionsString(s.Options), tcpOptionsString(g.Options)
			if so != go_ {
				note := "options rewritten on the way"
				if strings.Contains(so, "mss") && strings.Contains(go_, "mss") {
					note = "options rewritten on the way (MSS clamping?)"
				}
				d.add("tcp.options", so, go_, false, note)
			}
		}
		if n >= 18 {
			d.checksum("tcp.chksum", s.Checksum, g.Checksum, len(d.out) > n0 || addrsChanged || payloadChanged(sent, q))
		}
	}
}

// checksum reports a changed transport checksum; it is expected when
// something it covers changed.
func (d *differ) checksum(field string, sent, seen uint16, covered bool) {
	if sent == seen {
		return
	}
	note := "changed although nothing it covers did: corrupted on the way"
	if covered {
		note = "recomputed for the rewritten fields"
	}
	d.add(field, int(sent), int(seen), covered, note)
}

func tcpOptionsString(opts []TCPOption) string {
	s := make([]string, len(opts))
	for i, o := range opts {
		s[i] = o.String()
	}
	return strings.Join(s, ",")
}

// payloadChanged reports whether the quoted payload bytes differ from the
// same prefix of what was sent.
func payloadChanged(sent, q *Packet) bool {
	n := min(len(sent.Payload), len(q.Payload))
	return !bytes.Equal(sent.Payload[:n], q.Payload[:n])
}

// payload compares the quoted payload with the same prefix of what was sent.
func (d *differ) payload(sent, q *Packet) {
	if sent.Transport != q.Transport || q.IsICMPError() {
		return
	}
	n := min(len(sent.Payload), len(q.Payload))
	dmg := Compare(sent.Payload[:n], q.Payload[:n])
	if dmg == nil {
		return
	}
	first, _ := dmg.First()
	note := fmt.Sprintf("%d of the %d quoted payload byte%s differ, first at #%d (0x%02x→0x%02x)", len(dmg.Bytes), n, plural(n), first.Offset, first.Sent, first.Got)
	d.out = append(d.out, Change{Field: "payload", Sent: sent.Payload[:n], Seen: q.Payload[:n], Note: note, Damage: dmg})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func pluralES(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}
