package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe"
)

func runPing(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c, help, ver, err := parsePingArgs(args)
	switch {
	case help:
		fmt.Fprint(stdout, pingUsage)
		return exitUsage
	case ver:
		fmt.Fprintf(stdout, "echolot ping %s (iputils ping compatible)\n", version)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "ping: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return pingRun(ctx, c, stdout, stderr)
}

// resolve finds the destination address.
func (c *pingConfig) resolve(ctx context.Context) (netip.Addr, error) {
	if a, err := netip.ParseAddr(c.host); err == nil {
		a = a.Unmap()
		if (c.v4 && !a.Is4()) || (c.v6 && !a.Is6()) {
			return a, fmt.Errorf("%s: Address family for hostname not supported", c.host)
		}
		return a, nil
	}
	network := "ip"
	if c.v4 {
		network = "ip4"
	} else if c.v6 {
		network = "ip6"
	}
	as, err := net.DefaultResolver.LookupNetIP(ctx, network, c.host)
	if err != nil || len(as) == 0 {
		return netip.Addr{}, fmt.Errorf("%s: Name or service not known", c.host)
	}
	for _, a := range as {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return as[0], nil
}

// pingPattern builds the payload as iputils does: the pattern (or byte i
// = i) repeated from data offset 0, the first 16 bytes then replaced by
// the send stamp when the data has room for it.
func (c *pingConfig) pattern() (pat packet.Pattern, place packet.StampPlace, err error) {
	place = packet.StampNone
	body := c.size
	if c.size >= packet.StampLen {
		place, body = packet.StampHead, c.size-packet.StampLen
	}
	switch {
	case c.namedPat != "":
		pat, err = packet.PatternByName(c.namedPat, body)
		return
	case c.hexPat != "":
		var full packet.Pattern
		full, err = packet.HexPattern(c.hexPat, max(c.size, 64))
		if err != nil {
			return pat, place, usageErrorf("patterns must be specified as hex digits: %s", c.hexPat)
		}
		return packet.BytesPattern(full.Name, full.Bytes[c.size-body:c.size], body), place, nil
	}
	full := make([]byte, c.size)
	for i := range full {
		full[i] = byte(i)
	}
	return packet.BytesPattern("ramp", full[c.size-body:], body), place, nil
}

// pinger prints the engine's results as iputils ping does.
type pinger struct {
	mu       sync.Mutex
	c        pingConfig
	mode     pingMode
	dst      netip.Addr
	src      pingSource
	id       uint16
	size     int
	out      io.Writer
	errw     io.Writer
	sent     []byte
	oldRoute []netip.Addr
	hasOld   bool
	// lastLocal is the probe of the last local error printed.
	lastLocal uint64
	engine    *probe.Engine
	// sentN is the highest probe number handed to the engine's sender
	// (Probe.Vary runs just before each send); pipe is iputils' pipesize,
	// the most probes in flight seen when an answer came.
	sentN atomic.Uint64
	dots  uint64 // flood: the highest probe whose dot is printed
	pipe  int
	// names caches -H reverse lookups.
	names map[netip.Addr]string
	// own counts what --udp treats as answers beyond the engine's replies
	// (port unreachable from the destination: the port is closed).
	own pingOwnStats
	// jsonOut, when set, receives JSON records instead of text (--json).
	jsonOut *jsonWriter
}

func newPinger(c pingConfig, dst netip.Addr, src pingSource, out, errw io.Writer, sent []byte) *pinger {
	p := &pinger{c: c, mode: c.mode(), dst: dst, src: src, size: c.size, out: out, errw: errw, sent: sent}
	if c.json {
		p.jsonOut = newJSONWriter(out)
	}
	return p
}

func (p *pinger) stamp() string {
	if !p.c.stamps {
		return ""
	}
	now := time.Now()
	return fmt.Sprintf("[%d.%06d] ", now.Unix(), now.Nanosecond()/1000)
}

// pingTime renders an RTT with iputils' precision rules.
func pingTime(d time.Duration, precise bool) string {
	t := d.Microseconds()
	switch {
	case precise:
		return fmt.Sprintf("%d.%03d", t/1000, t%1000)
	case t >= 100000-50:
		return fmt.Sprintf("%d", (t+500)/1000)
	case t >= 10000-5:
		return fmt.Sprintf("%d.%01d", (t+50)/1000, ((t+50)%1000)/100)
	case t >= 1000:
		return fmt.Sprintf("%d.%02d", (t+5)/1000, ((t+5)%1000)/10)
	}
	return fmt.Sprintf("%d.%03d", t/1000, t%1000)
}

func (p *pinger) result(r probe.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.track(&r)
	switch {
	case p.jsonOut != nil:
		p.jsonResult(&r)
		return
	case p.c.flood:
		p.floodResult(&r)
		return
	case p.mode != modeEcho:
		p.l4Result(&r)
		return
	}
	w := p.out
	switch r.Kind {
	case probe.KindReply, probe.KindDamaged, probe.KindDuplicate, probe.KindLate, probe.KindCorrupted:
		if p.c.quiet {
			return
		}
		n := p.size + 8
		if r.Packet != nil {
			n = len(r.Packet.Payload) + 8
		}
		fmt.Fprintf(w, "%s%d bytes from %s: icmp_seq=%d", p.stamp(), n, p.name(r.From), r.Seq)
		if p.c.verbose {
			fmt.Fprintf(w, " ident=%d", p.id)
		}
		if r.ReplyTTL >= 0 {
			fmt.Fprintf(w, " ttl=%d", r.ReplyTTL)
		}
		if n < p.size+8 {
			fmt.Fprintf(w, " (truncated)\n")
			return
		}
		if p.size >= packet.StampLen {
			fmt.Fprintf(w, " time=%s ms", pingTime(r.RTT, p.c.precise))
		}
		p.replyTail(&r, !p.c.broadcast || p.c.verbose, p.c.verbose)
	case probe.KindError:
		if p.c.quiet {
			return
		}
		fmt.Fprintf(w, "%sFrom %s icmp_seq=%d %s\n", p.stamp(), p.name(r.From), r.Seq, errorText(&r))
		p.quote(&r)
	case probe.KindLocal:
		p.local(&r)
	case probe.KindTimeout:
		if p.c.outstand && !p.c.quiet && (p.c.count == 0 || int64(r.Probe) < p.c.count) {
			// ping says it before sending the next probe: never for the last.
			fmt.Fprintf(w, "%sno answer yet for icmp_seq=%d\n", p.stamp(), r.Seq)
		}
	}
}

// dump prints iputils' wrong-data-byte line and the received data.
func (p *pinger) dump(d *packet.Damage, got []byte) {
	first, ok := d.First()
	if !ok {
		return
	}
	fmt.Fprintf(p.out, "\n%s", d.IPutilsLine())
	start := packet.StampLen
	if first.Offset < start || len(got) < start {
		start = 0
	}
	for i := start; i < len(got) && i < p.size; i++ {
		if (i-start)%32 == 0 {
			fmt.Fprintf(p.out, "\n#%d\t", i)
		}
		fmt.Fprintf(p.out, "%x ", got[i])
	}
}

// local prints a local error as iputils does, on standard error.
func (p *pinger) local(r *probe.Result) {
	if r.Probe != 0 && r.Probe == p.lastLocal {
		return // one line per probe: EMSGSIZE and the kernel's own frag-needed
	}
	p.lastLocal = r.Probe
	if r.MTU > 0 {
		fmt.Fprintf(p.errw, "ping: local error: message too long, mtu=%d\n", r.MTU)
	} else if r.Err != nil {
		fmt.Fprintf(p.errw, "ping: local error: %v\n", r.Err)
	} else {
		fmt.Fprintf(p.errw, "ping: local error: %s\n", r.Answer)
	}
}

// options prints the RR: and TS: blocks of a reply.
func (p *pinger) options(opts []packet.Option) {
	w := p.out
	for _, o := range opts {
		switch o := o.(type) {
		case *packet.RecordRoute:
			route := o.Route
			if len(route) == 0 {
				continue
			}
			if p.hasOld && !p.c.flood && equalAddrs(route, p.oldRoute) {
				fmt.Fprint(w, "\t(same route)")
				continue
			}
			p.oldRoute, p.hasOld = append([]netip.Addr(nil), route...), true
			fmt.Fprint(w, "\nRR: ")
			for i, a := range route {
				if i > 0 {
					fmt.Fprint(w, "\n")
				}
				fmt.Fprintf(w, "\t%s", addrOrZero(a))
			}
			fmt.Fprint(w, "\n")
		case packet.NOP:
			fmt.Fprint(w, "\nNOP")
		case *packet.SourceRoute:
			fmt.Fprint(w, lsrrBlock(o))
		case *packet.Timestamp:
			es := o.Recorded()
			if len(es) == 0 {
				continue
			}
			fmt.Fprint(w, "\nTS: ")
			var std, nonstd int64
			for i, e := range es {
				if i > 0 {
					fmt.Fprint(w, "\n")
				}
				if o.Flag != packet.TSOnly {
					fmt.Fprintf(w, "\t%s", addrOrZero(e.Addr))
				}
				l := int64(e.Time)
				if l&0x80000000 != 0 {
					l &= 0x7fffffff
					if nonstd == 0 {
						fmt.Fprintf(w, "\t%d absolute not-standard", l)
					} else {
						fmt.Fprintf(w, "\t%d not-standard", l-nonstd)
					}
					nonstd = l
				} else {
					if std == 0 {
						fmt.Fprintf(w, "\t%d absolute", l)
					} else {
						fmt.Fprintf(w, "\t%d", l-std)
					}
					std = l
				}
			}
			fmt.Fprint(w, "\n")
			if o.Overflow > 0 {
				fmt.Fprintf(w, "Unrecorded hops: %d\n", o.Overflow)
			}
		}
	}
}

func addrOrZero(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

func equalAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// errorText is iputils' pr_icmph text for an ICMP error.
func errorText(r *probe.Result) string {
	if r.Packet == nil {
		return r.Answer
	}
	t, code := r.Packet.ICMP.Type, r.Packet.ICMP.Code
	if r.Packet.Transport == packet.TransportICMPv6 {
		return icmp6Text(t, code, r.MTU)
	}
	switch t {
	case packet.ICMPDestUnreach:
		texts := map[uint8]string{
			packet.CodeNetUnreach: "Destination Net Unreachable", packet.CodeHostUnreach: "Destination Host Unreachable",
			packet.CodeProtoUnreach: "Destination Protocol Unreachable", packet.CodePortUnreach: "Destination Port Unreachable",
			packet.CodeSourceRouteFail: "Source Route Failed", packet.CodeNetUnknown: "Destination Net Unknown",
			packet.CodeHostUnknown: "Destination Host Unknown", packet.CodeHostIsolated: "Source Host Isolated",
			packet.CodeNetProhibited: "Destination Net Prohibited", packet.CodeHostProhibited: "Destination Host Prohibited",
			packet.CodeNetTOSUnreach: "Destination Net Unreachable for Type of Service", packet.CodeHostTOSUnreach: "Destination Host Unreachable for Type of Service",
			packet.CodeFiltered: "Packet filtered", packet.CodePrecedenceViol: "Precedence Violation", packet.CodePrecedenceCutoff: "Precedence Cutoff",
		}
		if code == packet.CodeFragNeeded {
			return fmt.Sprintf("Frag needed and DF set (mtu = %d)", r.MTU)
		}
		if s, ok := texts[code]; ok {
			return s
		}
		return fmt.Sprintf("Dest Unreachable, Bad Code: %d", code)
	case packet.ICMPSourceQuench:
		return "Source Quench"
	case packet.ICMPRedirect:
		gw, _ := r.Packet.Gateway()
		names := []string{"Redirect Network", "Redirect Host", "Redirect Type of Service and Network", "Redirect Type of Service and Host"}
		if int(code) < len(names) {
			return fmt.Sprintf("%s(New nexthop: %s)", names[code], gw)
		}
		return fmt.Sprintf("Redirect, Bad Code: %d(New nexthop: %s)", code, gw)
	case packet.ICMPTimeExceeded:
		switch code {
		case 0:
			return "Time to live exceeded"
		case 1:
			return "Frag reassembly time exceeded"
		}
		return fmt.Sprintf("Time exceeded, Bad Code: %d", code)
	case packet.ICMPParamProblem:
		ptr, _ := r.Packet.Pointer()
		return fmt.Sprintf("Parameter problem: pointer = %d", ptr)
	}
	return fmt.Sprintf("Bad ICMP type: %d", t)
}

// icmp6Text is iputils' print_icmp for ICMPv6 errors.
func icmp6Text(t, code uint8, mtu int) string {
	switch t {
	case packet.ICMPv6DestUnreach:
		names := []string{"No route", "Administratively prohibited", "Beyond scope of source address", "Address unreachable", "Port unreachable"}
		if int(code) < len(names) {
			return "Destination unreachable: " + names[code]
		}
		return fmt.Sprintf("Destination unreachable: Unknown code %d", code)
	case packet.ICMPv6PacketTooBig:
		return fmt.Sprintf("Packet too big: mtu=%d", mtu)
	case packet.ICMPv6TimeExceeded:
		if code == 0 {
			return "Time exceeded: Hop limit"
		}
		return "Time exceeded: Defragmentation failure"
	case packet.ICMPv6ParamProblem:
		return fmt.Sprintf("Parameter problem: code %d", code)
	}
	return fmt.Sprintf("Bad ICMP type: %d", t)
}

// summary prints the statistics as iputils does (or the JSON summary).
func (p *pinger) summary(s *probe.Stats, code int) {
	r, n := p.rtt(s)
	if p.jsonOut != nil {
		p.jsonSummary(s, r, n, code)
		return
	}
	w := p.out
	fmt.Fprintf(w, "\n--- %s ping statistics ---\n", p.c.host)
	fmt.Fprintf(w, "%d packets transmitted, %d received", s.Transmitted, s.Received)
	if s.Duplicates > 0 {
		fmt.Fprintf(w, ", +%d duplicates", s.Duplicates)
	}
	if n := s.Corrupted + s.Damaged; n > 0 {
		fmt.Fprintf(w, ", +%d corrupted", n)
	}
	if n := s.Errors + s.Local; n > 0 {
		fmt.Fprintf(w, ", +%d errors", n)
	}
	fmt.Fprintf(w, ", %s%% packet loss, time %dms\n", strconv.FormatFloat(pingLoss(s), 'g', 6, 64), s.Elapsed.Milliseconds())
	comma := ""
	if n > 0 && p.timed() {
		fmt.Fprint(w, r.String())
		comma = ", "
	}
	if p.pipe > 1 {
		fmt.Fprintf(w, "%spipe %d", comma, p.pipe)
		comma = ", "
	}
	if s.Received > 0 && n > 0 && p.timed() && s.Transmitted > 1 && (p.c.flood || p.c.adaptive || (p.c.intervalOK && p.c.interval == 0)) {
		ipg := s.Elapsed.Microseconds() / (s.Transmitted - 1)
		fmt.Fprintf(w, "%sipg/ewma %d.%03d/%d.%03d ms", comma, ipg/1000, ipg%1000, r.EWMA/1000, r.EWMA%1000)
	}
	fmt.Fprintln(w)
	if p.c.verbose && n > 0 && p.timed() {
		p50, p90, p99 := p.percentiles(s)
		fmt.Fprintf(w, "rtt p50/p90/p99 = %s/%s/%s ms\n", pingTime(p50, true), pingTime(p90, true), pingTime(p99, true))
	}
	if p.c.verbose && s.Damaged > 0 {
		fmt.Fprintf(w, "%d damaged replies (payload differs from what was sent)\n", s.Damaged)
	}
}

// pingLoss is ping's loss figure, computed in float as ping does.
func pingLoss(s *probe.Stats) float64 {
	if s.Transmitted == 0 {
		return 0
	}
	return float64(float32(float64(s.Transmitted-s.Received) * 100.0 / float64(s.Transmitted)))
}

// timed says whether RTTs are shown: ping times a probe when its data
// holds the 16-byte stamp; layer-4 probes are always timed.
func (p *pinger) timed() bool {
	return p.mode != modeEcho || p.size >= packet.StampLen
}

// replyTail ends a reply line as iputils does: the marks (DUP! when dup
// allows it, BAD CHECKSUM!, DIFFERENT ADDRESS!, late when late allows
// it), the wrong-data dump, the bell of -a, the IP options, the newline.
func (p *pinger) replyTail(r *probe.Result, dup, late bool) {
	w := p.out
	if r.Kind == probe.KindDuplicate && dup {
		fmt.Fprint(w, " (DUP!)")
	}
	if r.Kind == probe.KindCorrupted {
		fmt.Fprint(w, " (BAD CHECKSUM!)")
	}
	if p.differentAddress(r) {
		fmt.Fprint(w, " (DIFFERENT ADDRESS!)")
	}
	if r.Kind == probe.KindLate && late {
		fmt.Fprint(w, " (late)")
	}
	if r.Damage != nil && r.Packet != nil {
		p.dump(r.Damage, r.Packet.Payload)
	}
	if p.c.audible {
		fmt.Fprint(w, "\a")
	}
	p.options(r.IPOptions)
	fmt.Fprintln(w)
}
