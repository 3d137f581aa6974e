package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe"
	"github.com/echolot/echolot/probe/sock"
)

// pingMode is what echolot ping sends.
type pingMode uint8

const (
	modeEcho pingMode = iota // ICMP or ICMPv6 echo requests
	modeTCP                  // TCP SYNs (--tcp), raw or connect()
	modeUDP                  // UDP datagrams (--udp)
)

func (c *pingConfig) mode() pingMode {
	switch {
	case c.tcpPort > 0:
		return modeTCP
	case c.udpPort > 0:
		return modeUDP
	}
	return modeEcho
}

// checkFor applies the checks that depend on the destination's family
// and on who runs the command, with iputils' wording.
func (c *pingConfig) checkFor(dst netip.Addr) error {
	v6 := dst.Is6()
	maxSize := 65507
	if v6 {
		maxSize = 65527
		if c.rr || c.ts != "" || c.pmtu != "" || c.broadcast {
			return usageErrorf("-R, -T, -M and -b: IPv4 options, not for the IPv6 destination %s", dst)
		}
	} else if c.rr || c.ts != "" || len(c.hops) > 0 {
		maxSize = 65467
	}
	if c.mode() == modeUDP {
		maxSize -= 8 // the UDP header where ICMP's would be
	}
	if c.size > maxSize {
		return usageErrorf("invalid argument: '%d': out of range: 0 <= value <= %d", c.size, maxSize)
	}
	if c.flowOK && !v6 {
		return usageErrorf("-F %d: a flow label is IPv6's; %s is an IPv4 destination", c.flow, dst)
	}
	if c.ident == 0 {
		return usageErrorf("-e 0: echolot's engine reads identifier 0 as \"choose one\" (iputils forces a raw socket for it); give 1–65535")
	}
	if c.nonRoot {
		interval := time.Second
		if c.intervalOK {
			interval = c.interval
		} else if c.flood {
			interval = 0
		}
		if interval < 2*time.Millisecond {
			return usageErrorf("cannot flood; minimal interval allowed for user is 2ms")
		}
		if c.preload > 3 {
			return usageErrorf("cannot set preload to value greater than 3: %d", c.preload)
		}
	}
	return nil
}

// checkBroadcast applies iputils' limits on -b for users other than
// root: an interval of at least a second, and no fragmentation.
func (c *pingConfig) checkBroadcast() error {
	if !c.nonRoot {
		return nil
	}
	if c.intervalOK && c.interval < time.Second {
		return usageErrorf("broadcast ping with too short interval: %d", c.interval.Milliseconds())
	}
	if c.pmtu != "" && c.pmtu != "do" {
		return usageErrorf("broadcast ping does not fragment")
	}
	return nil
}

// needsRaw names the options of c that only raw sockets (CAP_NET_RAW)
// can carry out, "" when datagram sockets will do.
func (c *pingConfig) needsRaw() string {
	var why []string
	if c.mode() == modeTCP && !c.tcpConnect {
		why = append(why, "--tcp (hand-built SYN probes)")
	}
	if len(c.hops) > 0 && c.ts != "tsprespec" {
		why = append(why, "source-route hops (the kernel allows source routes only with CAP_NET_RAW)")
	}
	if c.flowOK {
		why = append(why, "-F (a flow label in a header echolot builds)")
	}
	if c.sport > 0 && c.mode() == modeTCP {
		why = append(why, "--sport (a source port in a SYN echolot builds)")
	}
	// A source address or a --udp source port: datagram sockets are bound
	// to them (the engine refuses an address this host does not own).
	return strings.Join(why, ", ")
}

// template builds the probe every engine probe starts from.
func (c *pingConfig) template(dst, first, src netip.Addr, routeOpts []packet.Option, pat packet.Pattern) packet.Packet {
	t := packet.Packet{}
	if dst.Is6() {
		t.Version = 6
		t.IPv6.Dst, t.IPv6.Src = dst, src
		if c.ttl > 0 {
			t.IPv6.HopLimit = uint8(c.ttl)
		}
		if c.tos >= 0 {
			t.IPv6.TrafficClass = uint8(c.tos)
		}
		t.IPv6.FlowLabel = c.flow
	} else {
		t.Version = 4
		t.IPv4.Dst, t.IPv4.Src = first, src
		t.IPv4.DF = c.pmtu != "dont"
		if c.ttl > 0 {
			t.IPv4.TTL = uint8(c.ttl)
		}
		if c.tos >= 0 {
			t.IPv4.TOS = uint8(c.tos)
		}
		switch {
		case c.rr:
			t.IPv4.Options = []packet.Option{&packet.RecordRoute{PrefillSource: true}}
		// The Linux kernel stamps the timestamp option of a packet it
		// builds as it leaves (ping -T): PrefillSource does it for a raw
		// probe, and a datagram socket leaves it to the kernel.
		case c.ts == "tsonly":
			t.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: packet.TSOnly, PrefillSource: true}}
		case c.ts == "tsandaddr":
			t.IPv4.Options = []packet.Option{&packet.Timestamp{Flag: packet.TSAndAddr, PrefillSource: true}, packet.EOL{}, packet.EOL{}, packet.EOL{}, packet.EOL{}}
		case c.ts == "tsprespec":
			t.IPv4.Options = []packet.Option{prespecOption(nil)}
		case len(routeOpts) > 0:
			t.IPv4.Options = routeOpts
		}
	}
	switch c.mode() {
	case modeTCP:
		t.Transport = packet.TransportTCP
		t.TCP = packet.TCP{DstPort: uint16(c.tcpPort), SrcPort: uint16(c.sport), Flags: packet.TCPSyn}
	case modeUDP:
		t.Transport = packet.TransportUDP
		t.UDP = packet.UDP{DstPort: uint16(c.udpPort), SrcPort: uint16(c.sport)}
	default:
		t.Transport, t.ICMP.Type = packet.TransportICMP, packet.ICMPEchoRequest
		if dst.Is6() {
			t.Transport, t.ICMP.Type = packet.TransportICMPv6, packet.ICMPv6EchoRequest
		}
		if c.ident > 0 {
			t.ICMP.ID = uint16(c.ident)
		}
	}
	return t
}

// engineOptions translates the pacing options.
func (c *pingConfig) engineOptions() probe.Options {
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
		Device:      c.iface,
		Broadcast:   c.broadcast,
		SendBuffer:  c.sndbuf,
	}
	if c.markSet {
		opts.Mark = c.mark
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
	if c.latency {
		// -U: RTTs from send times taken in user space, as ping -U; the
		// receive time stays the kernel's (see README).
		opts.TxStamps = probe.TxUser
	}
	if c.tcpConnect {
		opts.Mode = probe.ModeDgram
	}
	return opts
}

// explainNew turns New's error into what the user can do about it.
func explainNew(err error, rawWhy string, c *pingConfig) error {
	var pe *sock.PrivilegeError
	if !errors.As(err, &pe) || rawWhy == "" {
		return err
	}
	exe, _ := os.Executable()
	hint := ""
	if c.mode() == modeTCP && !c.tcpConnect {
		hint = "; --tcp-connect probes a TCP port without privileges"
	}
	return fmt.Errorf("%s: needs raw sockets and so CAP_NET_RAW: run as root or grant it (sudo setcap cap_net_raw+ep %s)%s", rawWhy, exe, hint)
}

func pingRun(ctx context.Context, c pingConfig, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ping: %v\n", err)
		return exitUsage
	}
	c.nonRoot = os.Geteuid() != 0
	dst, err := c.resolve(ctx)
	if err != nil {
		return fail(err)
	}
	hops, err := c.resolveHops(ctx, dst)
	if err != nil {
		return fail(err)
	}
	if err := c.checkFor(dst); err != nil {
		return fail(err)
	}
	c.checkMark(stderr)
	first := dst
	var routeOpts []packet.Option
	if len(hops) > 0 && c.ts != "tsprespec" {
		first, routeOpts = sourceRoute(hops, dst, c.dontRoute)
	}
	src, err := c.source(ctx, first)
	if err != nil {
		return fail(err)
	}
	if src.warn != "" {
		fmt.Fprintf(stderr, "ping: %s\n", src.warn)
	}
	if c.broadcast && isBroadcast(dst, src) {
		// (source refuses a broadcast destination without -b.)
		fmt.Fprintln(stderr, "WARNING: pinging broadcast address")
	}
	if c.broadcast {
		if err := c.checkBroadcast(); err != nil {
			return fail(err)
		}
		if c.pmtu == "" {
			c.pmtu = "do" // as iputils does for broadcast pings
		}
	}
	rawWhy := c.needsRaw()
	if c.tcpConnect && rawWhy != "" {
		return fail(usageErrorf("--tcp-connect with %s: that needs raw sockets, connect() probes use none", rawWhy))
	}
	var pat packet.Pattern
	place := packet.StampNone
	if c.mode() != modeTCP {
		if pat, place, err = c.pattern(); err != nil {
			return fail(err)
		}
	}
	opts := c.engineOptions()
	if rawWhy != "" {
		opts.Mode = probe.ModeRaw
	}
	p := newPinger(c, dst, src, stdout, stderr, pat.Bytes)
	opts.Results = p.result

	var tap *probe.Tap
	if c.pcap != "" {
		f, err := os.Create(c.pcap)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		w, err := probe.NewPcapngWriter(f, "echolot ping "+c.host)
		if err != nil {
			return fail(err)
		}
		tap = probe.NewTap(w, 0)
		opts.Tap = tap
	}

	tmpl := c.template(dst, first, src.addr, routeOpts, pat)
	pr := probe.Probe{Packet: tmpl, Stamp: place}
	if c.mode() != modeTCP {
		pr.Patterns = []packet.Pattern{pat}
	}
	if c.ts == "tsprespec" {
		tmpl.IPv4.Options = []packet.Option{prespecOption(hops)}
		pr.Packet = tmpl
	}
	pr.Vary = func(n uint64, _ *packet.Packet) { p.sending(n) }
	e, err := probe.New(pr, opts)
	if err != nil {
		if tap != nil {
			tap.Close()
		}
		return fail(explainNew(err, rawWhy, &c))
	}
	defer e.Close()
	p.id = e.ID()
	p.engine = e
	p.header(optionBlockLen(&c), pat.Name)
	stopStatus := p.watchStatus(e)
	stats, runErr := e.Run(ctx)
	stopStatus()
	if tap != nil {
		if err := tap.Close(); err != nil {
			fmt.Fprintf(stderr, "ping: %s: %v\n", c.pcap, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adjust(&stats)
	code := exitOK
	if stats.Received == 0 || (c.deadline > 0 && c.count > 0 && stats.Received < c.count) || stats.Damaged > 0 {
		code = exitFailure
	}
	if runErr != nil {
		code = exitUsage
	}
	p.summary(&stats, code)
	if runErr != nil {
		fmt.Fprintf(stderr, "ping: %v\n", runErr)
	}
	return code
}
