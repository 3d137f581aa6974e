package pcapio

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"slices"
	"time"

	"github.com/echolot/echolot/packet"
)

// Exchange is a probe found in a list of frames and one answer to it.
type Exchange struct {
	// Probe indexes the probe's frame; Number is the probe's 1-based
	// number in the order probes appear.
	Probe, Number int
	// Answer indexes the answer's frame; -1 when no answer was found.
	Answer int
	// Match says how the answer relates to the probe (packet.Answers).
	Match packet.Match
	// RTT is the answer's timestamp minus the probe's.
	RTT time.Duration
	// Duplicate marks a further answer to a probe already answered; the
	// first answer has its own Exchange.
	Duplicate bool
}

// Match ties answers among frames to the probes they answer, with
// packet's keys and packet.Answers, never by address alone — the offline
// twin of the probe engine's matching, for captures made without it.
//
// A frame is taken as a probe when it carries an IP datagram that
// packet.ProbeKey accepts, is not itself an answer (echo or timestamp reply,
// ICMP error) and was not received (Dir is not DirIn). A frame is taken as
// an answer when packet.AnswerKey accepts it, it was not sent (Dir is not
// DirOut) and packet.Answers confirms it against the latest earlier probe
// with the same key. With directions unknown (tcpdump captures; see
// InferDirection) a frame that answers nothing may still be a probe.
//
// Frames are taken in timestamp order (a capture of several interfaces,
// such as dumpcap's, need not be in time order), ties in file order.
//
// Match returns one Exchange per probe, in that order (Answer -1 when none
// was found), followed for each duplicate answer by another Exchange with
// Duplicate set, in the order the duplicates appear.
func Match(frames []Frame) []Exchange {
	order := make([]int, len(frames))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return frames[a].Time.Compare(frames[b].Time) })
	byKey := map[packet.Key]int{} // key → index into out of the probe's first exchange
	var out, dups []Exchange
	for _, i := range order {
		f := &frames[i]
		if f.IP == nil {
			continue
		}
		if f.Dir != DirOut {
			if k, ok := packet.AnswerKey(f.IP); ok {
				if j, ok := byKey[k]; ok {
					e := &out[j]
					if m, ok := packet.Answers(frames[e.Probe].IP, f.IP); ok {
						rtt := f.Time.Sub(frames[e.Probe].Time)
						if e.Answer < 0 {
							e.Answer, e.Match, e.RTT = i, m, rtt
						} else {
							dups = append(dups, Exchange{Probe: e.Probe, Number: e.Number, Answer: i, Match: m, RTT: rtt, Duplicate: true})
						}
						continue
					}
				}
			}
		}
		if f.Dir != DirIn && !isAnswerType(f.IP) {
			if k, ok := packet.ProbeKey(f.IP); ok {
				byKey[k] = len(out)
				out = append(out, Exchange{Probe: i, Number: len(out) + 1, Answer: -1})
			}
		}
	}
	return append(out, dups...)
}

// isAnswerType reports packets that are answers by their type (echo and
// timestamp replies, ICMP errors), which are never taken for probes.
func isAnswerType(p *packet.Packet) bool {
	switch p.Transport {
	case packet.TransportICMP:
		return p.ICMP.Type == packet.ICMPEchoReply || p.ICMP.Type == packet.ICMPTimestampReply || p.IsICMPError()
	case packet.TransportICMPv6:
		return p.ICMP.Type == packet.ICMPv6EchoReply || p.IsICMPError()
	}
	return false
}

// Annotate runs Match over frames and appends linkage comments to the
// frames' Comments, in the style the engine writes (see Link):
//
//	probe 3 seq=1 ttl=1 pattern=ramp
//	answer to probe 3: time-exceeded from 198.18.1.1 rtt=0.071ms changed: ttl 1→1 ...
//	unmatched: echo-reply from 198.18.3.2
//
// A probe without an answer also gets "no answer in this capture". The
// pattern is named when the payload (after the 16-byte timestamp iputils
// ping puts first, if that does not fit) is ping's ramp or repeats a unit
// of 1 to 16 bytes (named as packet.HexPattern names it, "0xa5"). An answer
// to an echo request whose payload differs gets a "payload damaged: ..."
// note; a duplicate answer "duplicate". Frames that look like answers
// (packet.AnswerKey accepts them, or they are ICMP errors) but were not
// sent and answer nothing are marked unmatched. It returns Match's result.
func Annotate(frames []Frame) []Exchange {
	ex := Match(frames)
	answered := make([]bool, len(frames))
	isProbe := make([]bool, len(frames))
	for _, e := range ex {
		isProbe[e.Probe] = true
		if e.Answer >= 0 {
			answered[e.Answer] = true
		}
		if e.Duplicate {
			continue
		}
		p := &frames[e.Probe]
		l := ProbeLinkFor(uint64(e.Number), p.IP, guessPattern(p.IP))
		p.Comments = append(p.Comments, l.Comment())
		if e.Answer < 0 {
			p.Comments = append(p.Comments, "no answer in this capture")
		}
	}
	for _, e := range ex {
		if e.Answer < 0 {
			continue
		}
		l := AnswerLinkFor(uint64(e.Number), frames[e.Probe].IP, frames[e.Answer].IP, e.Match, e.RTT)
		if e.Duplicate {
			l.Note = joinNote(l.Note, "duplicate")
		}
		frames[e.Answer].Comments = append(frames[e.Answer].Comments, l.Comment())
	}
	for i := range frames {
		f := &frames[i]
		if answered[i] || f.IP == nil || f.Dir == DirOut {
			continue
		}
		if _, ok := packet.AnswerKey(f.IP); !ok && !f.IP.IsICMPError() {
			continue
		}
		if isProbe[i] {
			continue
		}
		f.Comments = append(f.Comments, UnmatchedLinkFor(f.IP).Comment())
	}
	return ex
}

// iputilsStamp is the size of the struct timeval iputils ping puts at the
// start of the payload (64-bit Linux).
const iputilsStamp = 16

// guessPattern names the payload pattern of an echo probe: "ramp" for
// iputils' default fill (byte i is i mod 256), "0x…" for a repeated unit of
// 1–16 bytes, each from payload offset 0 or, for ping's layout, after its
// 16-byte timestamp. "" when neither fits.
func guessPattern(p *packet.Packet) string {
	pl := p.Payload
	if len(pl) == 0 || (p.Transport != packet.TransportICMP && p.Transport != packet.TransportICMPv6) {
		return ""
	}
	for _, start := range []int{0, iputilsStamp} {
		if len(pl)-start < 2 {
			continue
		}
		b := pl[start:]
		ramp := true
		for i, c := range b {
			if c != byte(start+i) {
				ramp = false
				break
			}
		}
		if ramp {
			return "ramp"
		}
		for u := 1; u <= packet.IPutilsMaxPattern && u < len(b); u++ {
			if repeats(b, u) {
				// iputils repeats the pattern from the payload's start, so
				// the unit after the stamp may be a rotation of it.
				unit := b[:u]
				if start > 0 {
					r := start % u
					unit = append(append([]byte{}, b[u-r:u]...), b[:u-r]...)
				}
				return "0x" + hex.EncodeToString(unit)
			}
		}
	}
	return ""
}

// repeats reports whether b is its first u bytes repeated.
func repeats(b []byte, u int) bool {
	for i := u; i < len(b); i += u {
		if !bytes.Equal(b[i:min(i+u, len(b))], b[:min(u, len(b)-i)]) {
			return false
		}
	}
	return true
}

// InferDirection sets the direction of frames whose direction is unknown
// from their IP source: DirOut when it is one of local, DirIn otherwise.
// Use it on captures that do not record directions (tcpdump's) before
// Match, giving the addresses of the host that sent the probes.
func InferDirection(frames []Frame, local ...netip.Addr) {
	for i := range frames {
		f := &frames[i]
		if f.Dir != DirUnknown || f.IP == nil {
			continue
		}
		f.Dir = DirIn
		if slices.Contains(local, f.IP.Src()) {
			f.Dir = DirOut
		}
	}
}
