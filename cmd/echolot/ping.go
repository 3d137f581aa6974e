package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe"
	"github.com/echolot/echolot/probe/sock"
)

// pingConfig is an echolot ping command line, parsed with iputils ping's
// meaning.
type pingConfig struct {
	v4, v6     bool
	count      int64
	interval   time.Duration
	intervalOK bool // -i given
	deadline   time.Duration
	timeout    time.Duration
	timeoutOK  bool // -W given
	size       int
	hexPat     string
	namedPat   string
	ttl        int // -1: default
	tos        int // -1: default
	rr         bool
	ts         string // "", "tsonly", "tsandaddr"
	pmtu       string // "", "do", "want", "dont", "probe"
	flood      bool
	preload    int
	adaptive   bool
	quiet      bool
	verbose    bool
	stamps     bool // -D
	outstand   bool // -O
	precise    bool // -3
	pcap       string
	host       string
}

// pingUsageError is a bad command line: printed as "ping: <msg>", exit 2.
type pingUsageError struct{ msg string }

func (e *pingUsageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &pingUsageError{fmt.Sprintf(format, a...)}
}

// pingNotImplemented lists the options echolot ping knows but cannot do
// yet; they are refused, never ignored.
var pingNotImplemented = map[string]string{
	"-I": "-I (source interface or address)", "-e": "-e (ICMP identifier)",
	"-a": "-a (audible ping)", "-b": "-b (broadcast)", "-F": "-F (IPv6 flow label)",
	"-U": "-U (user-to-user latency)", "-B": "-B", "-C": "-C", "-d": "-d", "-H": "-H",
	"-L": "-L", "-m": "-m (SO_MARK)", "-N": "-N", "-r": "-r", "-S": "-S", "-j": "-j",
	"--tcp": "--tcp PORT", "--udp": "--udp PORT", "--tcp-connect": "--tcp-connect",
	"--json": "--json", "--sport": "--sport",
}

// pingArgOpts are the short options that take an argument (iputils'
// getopt string), and the long ones.
const pingArgOpts = "ceFiIlmMNpQsStTwW"

var pingLongArg = map[string]bool{"--pcap": true, "--pattern": true, "--tcp": true, "--udp": true, "--sport": true}

func parseIntRange(s string, lo, hi int64) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, usageErrorf("invalid argument: '%s': out of range: %d <= value <= %d", s, lo, hi)
		}
		return 0, usageErrorf("invalid argument: '%s'", s)
	}
	if v < lo || v > hi {
		return 0, usageErrorf("invalid argument: '%s': out of range: %d <= value <= %d", s, lo, hi)
	}
	return v, nil
}

func parseSeconds(s, what string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f > float64(math.MaxInt32) {
		return 0, usageErrorf("%s: %s", what, s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// parseTOS follows iputils' parsetos: decimal or 0x hex, 0–255.
func parseTOS(s string) (int, error) {
	base, digits, kind := 10, s, "decimal"
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		base, digits, kind = 16, s[2:], "hexadecimal"
	}
	v, err := strconv.ParseInt(digits, base, 64)
	if err != nil {
		return 0, usageErrorf("bad TOS value: %s", s)
	}
	if v < 0 || v > 255 {
		return 0, usageErrorf("the %s value of TOS bits must be in range 0-255: %d", kind, v)
	}
	return int(v), nil
}

// parsePingArgs parses the command line with getopt's rules (clustered
// short options, arguments attached or separate, options after the
// destination, "--" ends options). help and version report -h and -V.
func parsePingArgs(args []string) (c pingConfig, help, version bool, err error) {
	c = pingConfig{count: 0, size: 56, ttl: -1, tos: -1, preload: 1}
	var hosts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			hosts = append(hosts, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "--") {
			name, val, has := strings.Cut(a, "=")
			if pingLongArg[name] && !has {
				if i+1 >= len(args) {
					return c, false, false, usageErrorf("option '%s' requires an argument", name)
				}
				i++
				val = args[i]
			}
			if what, ok := pingNotImplemented[name]; ok {
				return c, false, false, usageErrorf("%s: not implemented yet", what)
			}
			switch name {
			case "--pcap":
				c.pcap = val
			case "--pattern":
				c.namedPat = val
			case "--help":
				return c, true, false, nil
			case "--version":
				return c, false, true, nil
			default:
				return c, false, false, usageErrorf("unrecognized option '%s'", a)
			}
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			hosts = append(hosts, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			o := a[j]
			var val string
			if strings.IndexByte(pingArgOpts, o) >= 0 {
				if j+1 < len(a) {
					val = a[j+1:]
				} else if i+1 < len(args) {
					i++
					val = args[i]
				} else {
					return c, false, false, usageErrorf("option requires an argument -- '%c'", o)
				}
				j = len(a)
			}
			if what, ok := pingNotImplemented["-"+string(o)]; ok {
				return c, false, false, usageErrorf("%s: not implemented yet", what)
			}
			var v int64
			switch o {
			case 'h', '?':
				return c, true, false, nil
			case 'V':
				return c, false, true, nil
			case '4':
				c.v4 = true
			case '6':
				c.v6 = true
			case '3':
				c.precise = true
			case 'A':
				c.adaptive = true
			case 'D':
				c.stamps = true
			case 'f':
				c.flood = true
			case 'n':
			case 'O':
				c.outstand = true
			case 'q':
				c.quiet = true
			case 'v':
				c.verbose = true
			case 'R':
				c.rr = true
			case 'c':
				if v, err = parseIntRange(val, 1, math.MaxInt64); err != nil {
					return
				}
				c.count = v
			case 's':
				if v, err = parseIntRange(val, 0, math.MaxInt32); err != nil {
					return
				}
				c.size = int(v)
			case 'l':
				if v, err = parseIntRange(val, 1, 65536); err != nil {
					return
				}
				c.preload = int(v)
			case 't':
				if v, err = parseIntRange(val, 0, 255); err != nil {
					return
				}
				if v == 0 {
					return c, false, false, usageErrorf("cannot set unicast time-to-live: Invalid argument")
				}
				c.ttl = int(v)
			case 'w':
				if v, err = parseIntRange(val, 0, math.MaxInt32); err != nil {
					return
				}
				c.deadline = time.Duration(v) * time.Second
			case 'W':
				if c.timeout, err = parseSeconds(val, "bad linger time"); err != nil {
					return
				}
				c.timeoutOK = true
			case 'i':
				if c.interval, err = parseSeconds(val, "bad timing interval"); err != nil {
					return
				}
				c.intervalOK = true
			case 'p':
				c.hexPat = val
			case 'Q':
				if c.tos, err = parseTOS(val); err != nil {
					return
				}
			case 'T':
				switch val {
				case "tsonly", "tsandaddr":
					c.ts = val
				case "tsprespec":
					return c, false, false, usageErrorf("-T tsprespec (with hops): not implemented yet")
				default:
					return c, false, false, usageErrorf("invalid timestamp type: %s", val)
				}
			case 'M':
				switch val {
				case "do", "want", "dont", "probe":
					c.pmtu = val
				default:
					return c, false, false, usageErrorf("invalid -M argument: %s", val)
				}
			default:
				return c, false, false, usageErrorf("invalid option -- '%c'", o)
			}
		}
	}
	switch {
	case len(hosts) == 0:
		return c, false, false, usageErrorf("usage error: Destination address required")
	case len(hosts) > 1:
		return c, false, false, usageErrorf("source-route hops (%s): not implemented yet", strings.Join(hosts[:len(hosts)-1], " "))
	}
	c.host = hosts[0]
	if c.v4 && c.v6 {
		return c, false, false, usageErrorf("only one -4 or -6 option may be specified")
	}
	if c.rr && c.ts != "" {
		return c, false, false, usageErrorf("only one of -T or -R options may be specified")
	}
	if c.hexPat != "" && c.namedPat != "" {
		return c, false, false, usageErrorf("give -p or --pattern, not both")
	}
	return c, false, false, nil
}

// pingUsage is iputils' usage text, cut to what echolot ping does.
const pingUsage = `
Usage
  echolot ping [options] <destination>

Options:
  <destination>      dns name or ip address
  -A                 use adaptive ping
  -c <count>         stop after <count> replies
  -D                 print timestamps
  -f                 flood ping
  -h                 print help and exit
  -i <interval>      seconds between sending each packet
  -l <preload>       send <preload> number of packages while waiting replies
  -n                 no dns name resolution (always the case)
  -O                 report outstanding replies
  -p <pattern>       contents of padding byte (hex, may be longer than 16 bytes)
  -q                 quiet output
  -Q <tclass>        use quality of service <tclass> bits
  -s <size>          use <size> as number of data bytes to be sent
  -t <ttl>           define time to live
  -v                 verbose output (adds rtt percentiles)
  -V                 print version and exit
  -w <deadline>      reply wait <deadline> in seconds
  -W <timeout>       time to wait for response
  -3                 RTT precision (do not round up the result time)

IPv4 options:
  -4                 use IPv4
  -M <pmtud opt>     define mtu discovery, can be one of <do|dont|want|probe>
  -R                 record route
  -T <timestamp>     define timestamp, can be one of <tsonly|tsandaddr>

IPv6 options:
  -6                 use IPv6

echolot options:
  --pattern NAME     a named payload pattern (echolot patterns lists them)
  --pcap FILE        write every packet sent and received to a pcapng file
`

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

func pingRun(ctx context.Context, c pingConfig, stdout, stderr io.Writer) int {
	dst, err := c.resolve(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ping: %v\n", err)
		return exitUsage
	}
	v6 := dst.Is6()
	maxSize := 65507
	if v6 {
		maxSize = 65527
		if c.rr || c.ts != "" || c.pmtu != "" {
			fmt.Fprintf(stderr, "ping: -R, -T and -M: IPv4 options, not for the IPv6 destination %s\n", dst)
			return exitUsage
		}
	} else if c.rr || c.ts != "" {
		maxSize = 65467
	}
	if c.size > maxSize {
		fmt.Fprintf(stderr, "ping: invalid argument: '%d': out of range: 0 <= value <= %d\n", c.size, maxSize)
		return exitUsage
	}
	pat, place, err := c.pattern()
	if err != nil {
		fmt.Fprintf(stderr, "ping: %v\n", err)
		return exitUsage
	}

	tmpl := packet.Packet{Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest}}
	optLen := 0
	if v6 {
		tmpl.Version, tmpl.Transport = 6, packet.TransportICMPv6
		tmpl.IPv6.Dst = dst
		tmpl.ICMP.Type = packet.ICMPv6EchoRequest
		if c.ttl > 0 {
			tmpl.IPv6.HopLimit = uint8(c.ttl)
		}
		if c.tos >= 0 {
			tmpl.IPv6.TrafficClass = uint8(c.tos)
		}
	} else {
		tmpl.Version = 4
		tmpl.IPv4.Dst = dst
		tmpl.IPv4.DF = c.pmtu != "dont"
		if c.ttl > 0 {
			tmpl.IPv4.TTL = uint8(c.ttl)
		}
		if c.tos >= 0 {
			tmpl.IPv4.TOS = uint8(c.tos)
		}
		switch {
		case c.rr:
			tmpl.IPv4.Options = []packet.Option{&packet.RecordRoute{PrefillSource: true}}
		case c.ts == "tsonly":
			tmpl.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: packet.TSOnly}}
		case c.ts == "tsandaddr":
			tmpl.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: packet.TSAndAddr}, packet.EOL{}, packet.EOL{}, packet.EOL{}, packet.EOL{}}
		}
		if c.rr || c.ts != "" {
			optLen = packet.MaxIPv4OptionsLen
		}
	}
	pmtu := sock.PMTUWant
	switch c.pmtu {
	case "do":
		pmtu = sock.PMTUDo
	case "dont":
		pmtu = sock.PMTUDont
	case "probe":
		pmtu = sock.PMTUProbe
	}
	opts := probe.Options{
		Count:       int(min(c.count, math.MaxInt)),
		Interval:    time.Second,
		Preload:     c.preload,
		Flood:       c.flood,
		Adaptive:    c.adaptive,
		Deadline:    c.deadline,
		Timeout:     10 * time.Second,
		PMTU:        pmtu,
		KeepPackets: true,
	}
	if c.intervalOK {
		opts.Interval = c.interval
		if c.interval == 0 {
			opts.Rate = 1e9 // as fast as the engine goes
		}
	}
	if c.timeoutOK {
		opts.Timeout = c.timeout
		if c.timeout == 0 {
			opts.Timeout = 365 * 24 * time.Hour
		}
	} else if c.outstand {
		opts.Timeout = opts.Interval
	}
	p := &pinger{c: c, dst: dst, size: c.size, out: stdout, errw: stderr, sent: pat.Bytes}
	opts.Results = p.result

	var tap *probe.Tap
	if c.pcap != "" {
		f, err := os.Create(c.pcap)
		if err != nil {
			fmt.Fprintf(stderr, "ping: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		w, err := probe.NewPcapngWriter(f, "echolot ping "+c.host)
		if err != nil {
			fmt.Fprintf(stderr, "ping: %v\n", err)
			return exitUsage
		}
		tap = probe.NewTap(w, 0)
		opts.Tap = tap
	}

	pr := probe.Probe{Packet: tmpl, Patterns: []packet.Pattern{pat}, Stamp: place}
	if c.ts != "" {
		// The Linux kernel stamps the timestamp option of a packet it
		// builds as it leaves; a raw probe is not, so do it here.
		flag, pad := packet.TSOnly, 0
		if c.ts == "tsandaddr" {
			flag, pad = packet.TSAndAddr, 4
		}
		pr.Vary = func(_ uint64, q *packet.Packet) {
			now := time.Now().UTC()
			ms := uint32(now.Sub(now.Truncate(24 * time.Hour)).Milliseconds())
			e := packet.TSEntry{Time: ms}
			if flag == packet.TSAndAddr {
				e.Addr = q.IPv4.Src
			}
			q.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: flag, Entries: []packet.TSEntry{e}}}
			for range pad {
				q.IPv4.Options = append(q.IPv4.Options, packet.EOL{})
			}
		}
	}
	e, err := probe.New(pr, opts)
	if err != nil {
		if tap != nil {
			tap.Close()
		}
		fmt.Fprintf(stderr, "ping: %v\n", err)
		return exitUsage
	}
	defer e.Close()
	p.id = e.ID()

	if c.hexPat != "" {
		fmt.Fprintf(stdout, "PATTERN: %s\n", pat.Name)
	}
	if v6 {
		fmt.Fprintf(stdout, "PING %s(%s) %d data bytes\n", c.host, dst, c.size)
	} else {
		fmt.Fprintf(stdout, "PING %s (%s) %d(%d) bytes of data.\n", c.host, dst, c.size, c.size+8+20+optLen)
	}
	stats, runErr := e.Run(ctx)
	if tap != nil {
		if err := tap.Close(); err != nil {
			fmt.Fprintf(stderr, "ping: %s: %v\n", c.pcap, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.summary(&stats)
	if runErr != nil {
		fmt.Fprintf(stderr, "ping: %v\n", runErr)
		return exitUsage
	}
	if stats.Received == 0 || (c.deadline > 0 && c.count > 0 && stats.Received < c.count) || stats.Damaged > 0 {
		return exitFailure
	}
	return exitOK
}

// pinger prints the engine's results as iputils ping does.
type pinger struct {
	mu       sync.Mutex
	c        pingConfig
	dst      netip.Addr
	id       uint16
	size     int
	out      io.Writer
	errw     io.Writer
	sent     []byte
	oldRoute []netip.Addr
	hasOld   bool
	// lastLocal is the probe of the last local error printed.
	lastLocal uint64
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
	w := p.out
	switch r.Kind {
	case probe.KindReply, probe.KindDamaged, probe.KindDuplicate, probe.KindLate, probe.KindCorrupted:
		if p.c.quiet {
			return
		}
		if p.c.flood {
			return // the dot of an answered probe is never printed
		}
		n := p.size + 8
		if r.Packet != nil {
			n = len(r.Packet.Payload) + 8
		}
		fmt.Fprintf(w, "%s%d bytes from %s: icmp_seq=%d", p.stamp(), n, r.From, r.Seq)
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
		if r.Kind == probe.KindDuplicate {
			fmt.Fprint(w, " (DUP!)")
		}
		if r.Kind == probe.KindCorrupted {
			fmt.Fprint(w, " (BAD CHECKSUM!)")
		}
		if r.DifferentAddress {
			fmt.Fprint(w, " (DIFFERENT ADDRESS!)")
		}
		if r.Kind == probe.KindLate && p.c.verbose {
			fmt.Fprint(w, " (late)")
		}
		if r.Damage != nil && r.Packet != nil {
			p.dump(r.Damage, r.Packet.Payload)
		}
		p.options(r.IPOptions)
		fmt.Fprintln(w)
	case probe.KindError:
		if p.c.quiet {
			return
		}
		if p.c.flood {
			fmt.Fprint(w, "E")
			return
		}
		fmt.Fprintf(w, "%sFrom %s icmp_seq=%d %s\n", p.stamp(), r.From, r.Seq, errorText(&r))
	case probe.KindLocal:
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
	case probe.KindTimeout:
		if p.c.flood && !p.c.quiet {
			fmt.Fprint(w, ".")
		} else if p.c.outstand && !p.c.quiet && (p.c.count == 0 || int64(r.Probe) < p.c.count) {
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

// summary prints the statistics as iputils does.
func (p *pinger) summary(s *probe.Stats) {
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
	loss := 0.0
	if s.Transmitted > 0 {
		loss = float64(float32(float64(s.Transmitted-s.Received) * 100.0 / float64(s.Transmitted)))
	}
	fmt.Fprintf(w, ", %s%% packet loss, time %dms\n", strconv.FormatFloat(loss, 'g', 6, 64), s.Elapsed.Milliseconds())
	if s.RTT.N > 0 && p.size >= packet.StampLen {
		r := s.RTT.IPutils()
		line := r.String()
		if s.Received > 0 && (p.c.flood || p.c.adaptive || (p.c.intervalOK && p.c.interval == 0)) {
			ipg := int64(0)
			if s.Transmitted > 1 {
				ipg = s.Elapsed.Microseconds() / (s.Transmitted - 1)
			}
			line += fmt.Sprintf(", ipg/ewma %d.%03d/%d.%03d ms", ipg/1000, ipg%1000, r.EWMA/1000, r.EWMA%1000)
		}
		fmt.Fprintln(w, line)
		if p.c.verbose {
			fmt.Fprintf(w, "rtt p50/p90/p99 = %s/%s/%s ms\n", pingTime(s.RTT.P50, true), pingTime(s.RTT.P90, true), pingTime(s.RTT.P99, true))
		}
	} else {
		fmt.Fprintln(w)
	}
	if p.c.verbose && s.Damaged > 0 {
		fmt.Fprintf(w, "%d damaged replies (payload differs from what was sent)\n", s.Damaged)
	}
}
