package main

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
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
	sizeOK     bool // -s given
	hexPat     string
	namedPat   string
	ttl        int // -1: default
	tos        int // -1: default
	rr         bool
	ts         string // "", "tsonly", "tsandaddr", "tsprespec"
	pmtu       string // "", "do", "want", "dont", "probe"
	flood      bool
	preload    int
	preloadOK  bool // -l given
	adaptive   bool
	quiet      bool
	verbose    bool
	stamps     bool // -D
	outstand   bool // -O
	precise    bool // -3
	audible    bool // -a
	broadcast  bool // -b
	mark       uint32
	markSet    bool // -m given (and, after checkMark, permitted)
	sndbuf     int  // -S, 0: the engine's default
	sticky     bool // -B
	latency    bool // -U
	reverse    bool // -H
	dontRoute  bool // -r
	ident      int  // -e, -1: the engine's own
	flow       uint32
	flowOK     bool   // -F given
	iface      string // -I naming an interface
	src        netip.Addr
	json       bool // --json, -j
	tcpPort    int  // --tcp, 0: none
	udpPort    int  // --udp, 0: none
	tcpConnect bool // --tcp-connect
	sport      int  // --sport, 0: any
	pcap       string
	hops       []string // source-route hops (or tsprespec addresses)
	host       string
	// nonRoot applies iputils' limits for users other than root.
	nonRoot bool
}

// pingUsageError is a bad command line: printed as "ping: <msg>", exit 2.
type pingUsageError struct{ msg string }

func (e *pingUsageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &pingUsageError{fmt.Sprintf(format, a...)}
}

// pingRefused lists the iputils options echolot ping knows but refuses,
// with the reason; they are never silently ignored.
var pingRefused = map[byte]string{
	'N': "-N (IPv6 node information queries, RFC 4620): the engine sends echo requests and cannot match node information replies; echolot does not implement them",
	'C': "-C (connect the socket): echolot's engine keeps unconnected sockets and reads the path MTU from every probe's ICMP error instead",
	'd': "-d (SO_DEBUG): Linux ignores SO_DEBUG on ICMP, UDP and raw sockets, and echolot's engine does not set it",
	'L': "-L (no multicast loopback): echolot's engine does not send multicast probes with IP_MULTICAST_LOOP control",
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

// parseUintAnyBase is iputils' strtoul_or_err with base 0: decimal, 0x
// hex or 0 octal.
func parseUintAnyBase(s string, hi uint64) (uint64, error) {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, usageErrorf("invalid argument: '%s': out of range: 0 <= value <= %d", s, hi)
		}
		return 0, usageErrorf("invalid argument: '%s'", s)
	}
	if v > hi {
		return 0, usageErrorf("invalid argument: '%s': out of range: 0 <= value <= %d", s, hi)
	}
	return v, nil
}

// parsePort reads the PORT of --tcp, --udp and --sport: 1–65535.
func parsePort(opt, s string) (int, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 || v > 65535 {
		return 0, usageErrorf("%s: invalid port '%s': out of range: 1 <= value <= 65535", opt, s)
	}
	return int(v), nil
}

func parseSeconds(s, what string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f > float64(math.MaxInt32)/1000 {
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

// parseFlow follows iputils' parseflow: decimal or 0x hex, 20 bits.
func parseFlow(s string) (uint32, error) {
	base, digits := 10, s
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base, digits = 16, s[2:]
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		return 0, usageErrorf("bad value for flowinfo: %s", s)
	}
	if v&^0xfffff != 0 {
		return 0, usageErrorf("flow value is greater than 20 bits: %s", s)
	}
	return uint32(v), nil
}

// parseSource reads -I: an IPv4 or IPv6 address (IPv6 with an optional
// %interface), else an interface name.
func (c *pingConfig) parseSource(s string) error {
	if strings.Contains(s, ":") {
		addr, dev, _ := strings.Cut(s, "%")
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is6() {
			return usageErrorf("invalid source address: %s", s)
		}
		c.src, c.iface, c.sticky = a, dev, true
		return nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		c.src, c.sticky = a, true
		return nil
	}
	if s == "" {
		return usageErrorf("invalid source address: %s", s)
	}
	c.iface = s
	return nil
}

// parsePingArgs parses the command line with getopt's rules (clustered
// short options, arguments attached or separate, options after the
// destination, "--" ends options). help and version report -h and -V.
func parsePingArgs(args []string) (c pingConfig, help, version bool, err error) {
	c = pingConfig{count: 0, size: 56, ttl: -1, tos: -1, preload: 1, ident: -1}
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
			switch name {
			case "--pcap":
				c.pcap = val
			case "--pattern":
				c.namedPat = val
			case "--json":
				c.json = true
			case "--tcp":
				if c.tcpPort, err = parsePort(name, val); err != nil {
					return
				}
			case "--udp":
				if c.udpPort, err = parsePort(name, val); err != nil {
					return
				}
			case "--sport":
				if c.sport, err = parsePort(name, val); err != nil {
					return
				}
			case "--tcp-connect":
				c.tcpConnect = true
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
			if why, ok := pingRefused[o]; ok {
				return c, false, false, usageErrorf("%s", why)
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
			case 'a':
				c.audible = true
			case 'A':
				c.adaptive = true
			case 'b':
				c.broadcast = true
			case 'B':
				c.sticky = true
			case 'D':
				c.stamps = true
			case 'f':
				c.flood = true
			case 'H':
				c.reverse = true
			case 'j':
				c.json = true
			case 'n':
				c.reverse = false
			case 'O':
				c.outstand = true
			case 'q':
				c.quiet = true
			case 'r':
				c.dontRoute = true
			case 'U':
				c.latency = true
			case 'v':
				c.verbose = true
			case 'R':
				if c.ts != "" {
					return c, false, false, usageErrorf("only one of -T or -R may be used")
				}
				c.rr = true
			case 'c':
				if v, err = parseIntRange(val, 1, math.MaxInt64); err != nil {
					return
				}
				c.count = v
			case 'e':
				var u uint64
				if u, err = parseUintAnyBase(val, 0xffff); err != nil {
					return
				}
				c.ident = int(u)
			case 'F':
				if c.flow, err = parseFlow(val); err != nil {
					return
				}
				c.flowOK = true
			case 'I':
				if err = c.parseSource(val); err != nil {
					return
				}
			case 's':
				if v, err = parseIntRange(val, 0, math.MaxInt32); err != nil {
					return
				}
				c.size, c.sizeOK = int(v), true
			case 'm':
				if v, err = parseIntRange(val, 0, math.MaxUint32); err != nil {
					return
				}
				c.mark, c.markSet = uint32(v), true
			case 'S':
				if v, err = parseIntRange(val, 1, math.MaxInt32); err != nil {
					return
				}
				c.sndbuf = int(v)
			case 'l':
				if v, err = parseIntRange(val, 1, 65536); err != nil {
					return
				}
				c.preload, c.preloadOK = int(v), true
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
				if c.rr {
					return c, false, false, usageErrorf("only one of -T or -R may be used")
				}
				switch val {
				case "tsonly", "tsandaddr", "tsprespec":
					c.ts = val
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
	if len(hosts) == 0 {
		return c, false, false, usageErrorf("usage error: Destination address required")
	}
	c.host, c.hops = hosts[len(hosts)-1], hosts[:len(hosts)-1]
	return c, false, false, c.check()
}

// check applies the rules that tie options together, in iputils' words
// where iputils has them.
func (c *pingConfig) check() error {
	switch {
	case c.v4 && c.v6:
		return usageErrorf("only one -4 or -6 option may be specified")
	case c.hexPat != "" && c.namedPat != "":
		return usageErrorf("give -p or --pattern, not both")
	case c.rr && len(c.hops) > 0:
		return usageErrorf("-R with source-route hops (%s): the two options do not fit in 40 option bytes together", strings.Join(c.hops, " "))
	case c.ts != "" && c.ts != "tsprespec" && len(c.hops) > 0:
		return usageErrorf("-T %s with source-route hops (%s): only -T tsprespec takes addresses", c.ts, strings.Join(c.hops, " "))
	case c.ts == "tsprespec" && len(c.hops) > 4:
		return usageErrorf("-T tsprespec: %d addresses: at most 4 fit in the timestamp option", len(c.hops))
	case len(c.hops) > 9:
		return usageErrorf("source route: %d hops: at most 9 fit in the option", len(c.hops))
	case c.tcpPort > 0 && c.udpPort > 0:
		return usageErrorf("give --tcp PORT or --udp PORT, not both")
	case c.tcpConnect && c.tcpPort == 0:
		return usageErrorf("--tcp-connect needs --tcp PORT: it says how the TCP probes are sent")
	case c.sport > 0 && c.tcpPort == 0 && c.udpPort == 0:
		return usageErrorf("--sport needs --tcp PORT or --udp PORT: ICMP echo has no ports")
	case c.sport > 0 && c.tcpConnect:
		return usageErrorf("--sport %d with --tcp-connect: the kernel chooses the source port of a connect() probe; drop --tcp-connect (needs CAP_NET_RAW) or --sport", c.sport)
	}
	if c.tcpPort > 0 || c.udpPort > 0 {
		what := "--udp"
		if c.tcpPort > 0 {
			what = "--tcp"
		}
		switch {
		case c.ident >= 0:
			return usageErrorf("-e with %s: the identifier is ICMP echo's; a %s probe is told apart by its source port (--sport)", what, what)
		case c.tcpConnect && (c.rr || c.ts != "" || len(c.hops) > 0):
			return usageErrorf("-R, -T and source routes with --tcp-connect: the kernel builds a connect() SYN without IP options")
		case c.tcpPort > 0 && (c.hexPat != "" || c.namedPat != ""):
			return usageErrorf("-p and --pattern with --tcp: a SYN probe carries no data")
		case c.tcpPort > 0 && c.sizeOK:
			return usageErrorf("-s with --tcp: a SYN probe carries no data")
		}
	}
	return nil
}

// pingUsage is iputils' usage text, cut to what echolot ping does.
const pingUsage = `
Usage
  echolot ping [options] <destination>
  echolot ping [options] <hop> [<hop>...] <destination>   (IPv4 loose source route)

Options:
  <destination>      dns name or ip address
  -a                 use audible ping
  -A                 use adaptive ping
  -B                 sticky source address (echolot's source never changes)
  -c <count>         stop after <count> replies
  -D                 print timestamps
  -e <identifier>    define identifier for ping session, default is random
  -f                 flood ping
  -h                 print help and exit
  -H                 force reverse DNS name resolution
  -I <interface>     either interface name or address
  -i <interval>      seconds between sending each packet
  -j                 JSON output (as --json)
  -l <preload>       send <preload> number of packages while waiting replies
  -m <mark>          tag the packets going out
  -n                 no dns name resolution (the default)
  -O                 report outstanding replies
  -p <pattern>       contents of padding byte (hex, may be longer than 16 bytes)
  -q                 quiet output
  -Q <tclass>        use quality of service <tclass> bits
  -r                 bypass routing: direct neighbours only; with hops: strict source route
  -s <size>          use <size> as number of data bytes to be sent
  -S <size>          use <size> as SO_SNDBUF socket option value
  -t <ttl>           define time to live
  -U                 print user-to-user latency (send times taken in user space)
  -v                 verbose output (adds the quote diff of ICMP errors, rtt percentiles)
  -V                 print version and exit
  -w <deadline>      reply wait <deadline> in seconds
  -W <timeout>       time to wait for response
  -3                 RTT precision (do not round up the result time)

IPv4 options:
  -4                 use IPv4
  -b                 allow pinging broadcast
  -M <pmtud opt>     define mtu discovery, can be one of <do|dont|want|probe>
  -R                 record route
  -T <timestamp>     define timestamp, can be one of <tsonly|tsandaddr|tsprespec>

IPv6 options:
  -6                 use IPv6
  -F <flowlabel>     define flow label, default is random

echolot options:
  --pattern NAME     a named payload pattern (echolot patterns lists them)
  --pcap FILE        write every packet sent and received to a pcapng file
  --json             one JSON object per probe result and one for the summary
  --tcp PORT         TCP SYN ping: open on SYN-ACK, closed on RST (CAP_NET_RAW)
  --tcp-connect      with --tcp: connect() probes, no privileges needed
  --udp PORT         UDP ping: closed on port unreachable
  --sport PORT       fixed source port for --tcp and --udp (default: a new one per probe)
`
