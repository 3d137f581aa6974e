package pcapio

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/echolot/echolot/packet"
)

// LinkKind says what a Link describes.
type LinkKind uint8

// Link kinds.
const (
	// NoLink: the record carries no linkage comment.
	NoLink LinkKind = iota
	// ProbeLink: the record is a probe the engine sent.
	ProbeLink
	// AnswerLink: the record answers a probe.
	AnswerLink
	// UnmatchedLink: the record looks like an answer but answers no probe.
	UnmatchedLink
)

// Link is the probe↔answer linkage of one packet, which the writer turns
// into a pcapng comment (Wireshark shows it as frame.comment) in the writer
// goroutine, so the probe path does not pay for the formatting. Its texts
// are, for each Kind:
//
//	ProbeLink:     probe 17 seq=17 ttl=3 pattern=a5
//	AnswerLink:    answer to probe 17: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1 tos 0x00→0x28
//	UnmatchedLink: unmatched: echo-reply from 198.18.3.2
//
// each followed by "; " and Note when Note is set. Fields a kind does not
// use are ignored.
type Link struct {
	// Kind says which comment the link makes.
	Kind LinkKind
	// Probe is the probe's number as the engine counts probes (ProbeLink,
	// AnswerLink).
	Probe uint64
	// Seq is the probe's sequence number, written as seq=N; negative
	// leaves it out (ProbeLink).
	Seq int
	// TTL is the TTL or hop limit the probe was sent with (ProbeLink).
	TTL int
	// Pattern names the payload pattern; empty leaves pattern= out
	// (ProbeLink).
	Pattern string
	// Answer is the answer's kind as packet.Match names it: "echo-reply",
	// "time-exceeded", "frag-needed", ... (AnswerLink, UnmatchedLink).
	Answer string
	// From is the answer's source address; invalid leaves "from" out
	// (AnswerLink, UnmatchedLink).
	From netip.Addr
	// RTT is the time from probe to answer (AnswerLink).
	RTT time.Duration
	// Changes are the differences between the probe as sent and as an ICMP
	// error quoted it (packet.QuoteDiff), written after "changed:" by
	// ChangesText (AnswerLink). WritePacket copies the slice; the writer
	// goroutine later reads each element's Field, Sent, Seen, Expected and
	// Note (what Change.String reads), never the bytes a "payload" change
	// points at.
	Changes []packet.Change
	// Note is free text appended after "; ", such as "payload damaged: ..."
	// or "duplicate".
	Note string
}

// ProbeLinkFor returns the link of probe number n, sent as p, with the
// payload pattern named pattern ("" when none): its ICMP sequence number
// (UDP and TCP probes have none) and TTL or hop limit.
func ProbeLinkFor(n uint64, p *packet.Packet, pattern string) Link {
	l := Link{Kind: ProbeLink, Probe: n, Seq: -1, TTL: int(p.TTL()), Pattern: pattern}
	if p.Transport == packet.TransportICMP || p.Transport == packet.TransportICMPv6 {
		l.Seq = int(p.ICMP.Seq)
	}
	return l
}

// AnswerLinkFor returns the link of answer a to probe number n, sent as
// probe (parse the bytes sent, so computed fields are filled in), as
// packet.Answers matched them (m), rtt after the probe: for an ICMP error
// the quote diff (packet.QuoteDiff), for an echo reply whose payload
// differs from the probe's a "payload damaged: ..." note
// (packet.Compare), and a note when a direct answer came from another
// address than the probe's destination.
func AnswerLinkFor(n uint64, probe, a *packet.Packet, m packet.Match, rtt time.Duration) Link {
	l := Link{Kind: AnswerLink, Probe: n, Answer: m.Kind, From: a.Src(), RTT: rtt}
	switch {
	case m.Error && a.Quote != nil:
		l.Changes = packet.QuoteDiff(probe, a.Quote)
	case m.Kind == "echo-reply":
		if d := packet.Compare(probe.Payload, a.Payload); d != nil {
			l.Note = "payload damaged: " + d.String()
		}
	}
	if m.DifferentAddress {
		l.Note = joinNote(l.Note, "from a different address than the probe's destination")
	}
	return l
}

// UnmatchedLinkFor returns the link of a packet that answers no probe.
func UnmatchedLinkFor(p *packet.Packet) Link {
	return Link{Kind: UnmatchedLink, Answer: p.Kind(), From: p.Src()}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Comment returns the comment text for l; "" for NoLink.
func (l Link) Comment() string { return string(l.AppendComment(nil)) }

// AppendComment appends the comment text for l to b (nothing for NoLink).
func (l *Link) AppendComment(b []byte) []byte {
	switch l.Kind {
	case ProbeLink:
		b = append(b, "probe "...)
		b = strconv.AppendUint(b, l.Probe, 10)
		if l.Seq >= 0 {
			b = append(b, " seq="...)
			b = strconv.AppendInt(b, int64(l.Seq), 10)
		}
		b = append(b, " ttl="...)
		b = strconv.AppendInt(b, int64(l.TTL), 10)
		if l.Pattern != "" {
			b = append(b, " pattern="...)
			b = append(b, l.Pattern...)
		}
	case AnswerLink:
		b = append(b, "answer to probe "...)
		b = strconv.AppendUint(b, l.Probe, 10)
		b = append(b, ": "...)
		b = l.appendKindFrom(b)
		b = append(b, " rtt="...)
		b = strconv.AppendFloat(b, float64(l.RTT)/float64(time.Millisecond), 'f', 3, 64)
		b = append(b, "ms"...)
		if s := ChangesText(l.Changes); s != "" {
			b = append(b, " changed: "...)
			b = append(b, s...)
		}
	case UnmatchedLink:
		b = append(b, "unmatched: "...)
		b = l.appendKindFrom(b)
	default:
		return b
	}
	if l.Note != "" {
		b = append(b, "; "...)
		b = append(b, l.Note...)
	}
	return b
}

func (l *Link) appendKindFrom(b []byte) []byte {
	if l.Answer != "" {
		b = append(b, l.Answer...)
	} else {
		b = append(b, "packet"...)
	}
	if l.From.IsValid() {
		b = append(b, " from "...)
		b = l.From.AppendTo(b)
	}
	return b
}

// ChangesText renders quote-diff changes for a comment, separated by
// spaces: "ttl 3→1 tos 0x00→0x28". The TTL or hop limit comes first, then
// the changes packet.QuoteDiff does not mark Expected, in header order.
// Other expected changes (checksums recomputed, record-route and timestamp
// slots filled) are left out as noise, and so are the "dscp" and "ecn"
// entries that merely split a "tos" or "tc" change already listed.
func ChangesText(changes []packet.Change) string {
	if len(changes) == 0 {
		return ""
	}
	hasTOS := false
	for _, c := range changes {
		if c.Field == "tos" || c.Field == "tc" {
			hasTOS = true
		}
	}
	var s strings.Builder
	add := func(c packet.Change) {
		if s.Len() > 0 {
			s.WriteByte(' ')
		}
		s.WriteString(c.String())
	}
	for _, c := range changes {
		if c.Field == "ttl" || c.Field == "hlim" {
			add(c)
		}
	}
	for _, c := range changes {
		switch {
		case c.Field == "ttl" || c.Field == "hlim":
		case c.Expected:
		case hasTOS && (c.Field == "dscp" || c.Field == "ecn"):
		default:
			add(c)
		}
	}
	return s.String()
}
