package tour

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/fault"
	"github.com/echolot/echolot/packet"
)

// Findings are what the tour found, for tests and for the summary.
type Findings struct {
	EchoReplies   int  // echo replies matched to their requests
	EchoIntact    bool // every byte of every reply equals what was sent
	CorruptedAt   []int
	Dropped       []string // single-byte fills the fault node dropped
	MinimalRun    int      // fewest 0x7e bytes in a row that get dropped
	PMTU          int
	PMTUFrom      netip.Addr
	Route         []netip.Addr
	Timestamps    int
	Unrecorded    int // hops that found the timestamp option full
	TTLFrom       netip.Addr
	TTLChanges    []packet.Change
	CapturedFiles string
}

// Tour runs the guided tour on a lab that is up.
type Tour struct {
	Lab *lab.Lab
	Out io.Writer
	// Pcapng is the file to write the capture to; empty writes none.
	Pcapng string

	cap    *Capture
	server netip.Addr
	client netip.Addr
	step   int
}

// The interface the tour captures on, and the node it runs ping in.
const (
	clientNode  = "client"
	clientIface = "to-r1"
	serverNode  = "server"
)

// The rules the tour has the fault node apply, in the fault node's syntax.
const (
	ruleCorrupt = "corrupt offset=30 flip=0x01 dir=to-client proto=icmp"
	ruleDrop    = "drop pattern=7e7e7e7e dir=to-server proto=icmp"
	ruleTOS     = "tos 0x28 dir=to-server proto=icmp"
)

// Run runs every step and returns what they found.
func (t *Tour) Run(ctx context.Context) (*Findings, error) {
	if _, err := exec.LookPath("ping"); err != nil {
		return nil, errors.New("the tour sends its probes with iputils ping until echolot's own engine lands: install it (apt-get install iputils-ping)")
	}
	t.client = t.Lab.Addr(clientNode, false)
	t.server = t.Lab.Addr(serverNode, false)
	c, err := StartCapture(func(fn func() error) error { return t.Lab.InNode(clientNode, fn) }, clientNode, clientIface)
	if err != nil {
		return nil, err
	}
	t.cap = c
	f := &Findings{}
	steps := []func(context.Context, *Findings) error{t.echo, t.corrupt, t.sweep, t.pmtu, t.recordRoute, t.timestamps, t.ttlQuote}
	var runErr error
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		if err := s(ctx, f); err != nil {
			runErr = err
			break
		}
	}
	ifc := c.Interface()
	frames := c.Stop()
	if t.Pcapng != "" {
		if err := writeCapture(t.Pcapng, ifc, frames); err != nil && runErr == nil {
			runErr = err
		} else if err == nil {
			f.CapturedFiles = t.Pcapng
			t.printf("\nWrote %d frames seen on %s:%s to %s; every answer's comment names its probe (Wireshark: View ▸ Packet Comments).\n", len(frames), clientNode, clientIface, t.Pcapng)
		}
	}
	return f, runErr
}

func (t *Tour) printf(format string, a ...any) { fmt.Fprintf(t.Out, format, a...) }

// header starts a step.
func (t *Tour) header(title string) {
	t.step++
	t.printf("\n== %d. %s ==\n", t.step, title)
}

// explain ends a step with its one-sentence explanation.
func (t *Tour) explain(format string, a ...any) {
	t.printf("→ "+format+"\n", a...)
}

// ping runs iputils ping in the client with args and the server address
// last, shows the command and, unless quiet, its output indented. It returns
// the output; ping's exit status 1 (no reply) is not an error.
func (t *Tour) ping(ctx context.Context, quiet bool, args ...string) (string, error) {
	argv := append([]string{"ping", "-n"}, args...)
	argv = append(argv, t.server.String())
	if !quiet {
		t.printf("$ %s        (in %s)\n", strings.Join(argv, " "), clientNode)
	}
	cmd := t.Lab.Command(ctx, clientNode, argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out.String())
	}
	if !quiet {
		for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
			if strings.TrimSpace(l) != "" {
				t.printf("  %s\n", l)
			}
		}
	}
	return out.String(), nil
}

// withRule runs fn while the fault node applies rule.
func (t *Tour) withRule(rule string, fn func() error) error {
	r, err := fault.ParseRule(rule)
	if err != nil {
		return err
	}
	ctl := t.Lab.Fault()
	id, err := ctl.Add(r)
	if err != nil {
		return fmt.Errorf("adding fault rule %q: %w", rule, err)
	}
	t.printf("# fault node (between r1 and r2): %s\n", rule)
	ferr := fn()
	if err := ctl.Delete(id); err != nil && ferr == nil {
		ferr = fmt.Errorf("removing fault rule %q: %w", rule, err)
	}
	return ferr
}

func (t *Tour) echo(ctx context.Context, f *Findings) error {
	t.header("Echo with a pattern, every byte verified")
	mark := t.cap.Mark()
	if _, err := t.ping(ctx, false, "-c", "3", "-i", "0.2", "-p", "a5", "-s", "56"); err != nil {
		return err
	}
	ex := Match(t.cap.Since(mark))
	intact := true
	for _, e := range ex {
		if e.Answer == nil || e.Match.Kind != "echo-reply" {
			continue
		}
		f.EchoReplies++
		if packet.Compare(e.Probe.IP.Payload, e.Answer.IP.Payload) != nil {
			intact = false
		}
	}
	f.EchoIntact = intact && f.EchoReplies > 0
	t.printf("echolot: matched %d echo replies to their requests by ICMP id and sequence; compared all %d payload bytes of each with what was sent: %s.\n",
		f.EchoReplies, 56, map[bool]string{true: "intact", false: "DAMAGED"}[f.EchoIntact])
	t.explain("The server echoed the 0xa5 pattern back unchanged. ping checks only bytes 16 onward (it keeps its send time in the first 16); echolot checks them all.")
	return nil
}

func (t *Tour) corrupt(ctx context.Context, f *Findings) error {
	t.header("A link that flips a bit")
	return t.withRule(ruleCorrupt, func() error {
		mark := t.cap.Mark()
		if _, err := t.ping(ctx, false, "-c", "3", "-i", "0.2", "-p", "aa"); err != nil {
			return err
		}
		var m packet.DamageMap
		for _, e := range Match(t.cap.Since(mark)) {
			if e.Answer != nil && e.Match.Kind == "echo-reply" {
				m.Add(packet.Compare(e.Probe.IP.Payload, e.Answer.IP.Payload))
			}
		}
		for _, o := range m.Offsets() {
			f.CorruptedAt = append(f.CorruptedAt, o.Offset)
		}
		t.printf("echolot damage map: %s\n", m.Summary())
		t.explain("The fault node flips bit 0 of data byte 30 in every reply: ping reports it as a wrong data byte but still counts the reply as received, and its exit code stays 0; echolot counts it as damaged.")
		return nil
	})
}

func (t *Tour) sweep(ctx context.Context, f *Findings) error {
	t.header("Hunting a data-dependent fault")
	t.printf("The fault node now drops some packets because of what they carry. echolot sweeps all 256 one-byte fills (ping -p XX, one probe each):\n")
	return t.withRule(ruleDrop, func() error {
		for b := 0; b < 256; b++ {
			out, err := t.ping(ctx, true, "-c", "1", "-W", "0.5", "-p", fmt.Sprintf("%02x", b))
			if err != nil {
				return err
			}
			if !strings.Contains(out, " 1 received") {
				f.Dropped = append(f.Dropped, fmt.Sprintf("0x%02x", b))
			}
		}
		t.printf("dropped: %s; the other %d fills passed.\n", strings.Join(f.Dropped, ", "), 256-len(f.Dropped))
		if len(f.Dropped) != 1 {
			return nil
		}
		var b byte
		fmt.Sscanf(f.Dropped[0], "0x%02x", &b)
		// Narrow down: runs of the byte separated by a zero.
		for run := 1; run <= 15; run++ {
			pat := strings.Repeat(fmt.Sprintf("%02x", b), run) + "00"
			out, err := t.ping(ctx, true, "-c", "1", "-W", "0.5", "-p", pat)
			if err != nil {
				return err
			}
			if !strings.Contains(out, " 1 received") {
				f.MinimalRun = run
				break
			}
		}
		t.printf("narrowing down with runs of %s followed by 0x00: the first run that is dropped has %d bytes.\n", f.Dropped[0], f.MinimalRun)
		t.explain("Payloads carrying %d bytes of %s in a row vanish on the way — exactly the kind of fault `ping -p` exists for, found without guessing.", f.MinimalRun, f.Dropped[0])
		return nil
	})
}

var (
	reMTU      = regexp.MustCompile(`From (\S+) icmp_seq=\d+ Frag needed and DF set \(mtu = (\d+)\)`)
	reLocalMTU = regexp.MustCompile(`local error: message too long, mtu=(\d+)`)
)

func (t *Tour) pmtu(ctx context.Context, f *Findings) error {
	t.header("Path MTU discovery")
	flush := t.Lab.Command(ctx, clientNode, "ip", "route", "flush", "cache")
	_ = flush.Run()
	mark := t.cap.Mark()
	out, err := t.ping(ctx, false, "-c", "1", "-W", "1", "-M", "do", "-s", "1472")
	if err != nil {
		return err
	}
	for _, e := range Match(t.cap.Since(mark)) {
		if e.Answer != nil && e.Match.Kind == "frag-needed" {
			mtu, _ := e.Answer.IP.NextHopMTU()
			f.PMTU, f.PMTUFrom = mtu, e.Answer.IP.Src()
		}
	}
	if f.PMTU == 0 {
		if m := reMTU.FindStringSubmatch(out); m != nil {
			f.PMTU, _ = strconv.Atoi(m[2])
			f.PMTUFrom, _ = netip.ParseAddr(m[1])
		}
	}
	t.printf("echolot: the frag-needed error from %v quotes our 1500-byte probe and names next-hop MTU %d.\n", f.PMTUFrom, f.PMTU)
	// Confirm the size on both sides of the limit; the kernel now knows
	// the path MTU and refuses larger DF sends locally.
	payload := f.PMTU - 28
	if _, err := t.ping(ctx, false, "-c", "1", "-W", "1", "-M", "do", "-s", strconv.Itoa(payload)); err != nil {
		return err
	}
	out, err = t.ping(ctx, false, "-c", "1", "-W", "1", "-M", "do", "-s", strconv.Itoa(payload+1))
	if err != nil {
		return err
	}
	if reLocalMTU.MatchString(out) {
		t.printf("echolot: that last error is local — no packet left the client (nothing was captured): the kernel cached MTU %d for this destination after the first error.\n", f.PMTU)
	}
	cached := t.Lab.Command(ctx, clientNode, "ip", "route", "get", t.server.String())
	if b, err := cached.Output(); err == nil {
		t.printf("$ ip route get %v        (in client)\n  %s\n", t.server, strings.Join(strings.Fields(string(b)), " "))
	}
	_ = t.Lab.Command(ctx, clientNode, "ip", "route", "flush", "cache").Run()
	t.explain("r2 (%v) cannot forward more than %d bytes onto its link to the server: a %d-byte payload plus 8 ICMP and 20 IP header bytes fits, one byte more does not.", f.PMTUFrom, f.PMTU, payload)
	return nil
}

var reRR = regexp.MustCompile(`(?m)^(?:RR:)?\s+(\d+\.\d+\.\d+\.\d+)\s*$`)

func (t *Tour) recordRoute(ctx context.Context, f *Findings) error {
	t.header("Record route")
	out, err := t.ping(ctx, false, "-c", "1", "-R")
	if err != nil {
		return err
	}
	for _, m := range reRR.FindAllStringSubmatch(out, -1) {
		if a, err := netip.ParseAddr(m[1]); err == nil {
			f.Route = append(f.Route, a)
		}
	}
	t.explain("Each router recorded its outgoing address, both ways (%d entries): the client's kernel added its own, as it builds the option itself; the fault node is a bridge and records nothing.", len(f.Route))
	return nil
}

var (
	reTS         = regexp.MustCompile(`(?m)^(?:TS:)?\s+(\d+\.\d+\.\d+\.\d+)\s+(-?\d+)`)
	reUnrecorded = regexp.MustCompile(`Unrecorded hops: (\d+)`)
)

func (t *Tour) timestamps(ctx context.Context, f *Findings) error {
	t.header("Timestamps")
	out, err := t.ping(ctx, false, "-c", "1", "-T", "tsandaddr")
	if err != nil {
		return err
	}
	f.Timestamps = len(reTS.FindAllString(out, -1))
	if m := reUnrecorded.FindStringSubmatch(out); m != nil {
		f.Unrecorded, _ = strconv.Atoi(m[1])
	}
	t.explain("The timestamp option holds only 4 address+time pairs in its 40 bytes: %d hops stamped it (the first in milliseconds since midnight UT, the others as differences), and %d more found it full — ping's \"Unrecorded hops\".", f.Timestamps, f.Unrecorded)
	return nil
}

func (t *Tour) ttlQuote(ctx context.Context, f *Findings) error {
	t.header("TTL exceeded, and what the quote reveals")
	return t.withRule(ruleTOS, func() error {
		mark := t.cap.Mark()
		if _, err := t.ping(ctx, false, "-c", "1", "-W", "1", "-t", "2", "-Q", "0x10"); err != nil {
			return err
		}
		for _, e := range Match(t.cap.Since(mark)) {
			if e.Answer == nil || e.Match.Kind != "time-exceeded" {
				continue
			}
			f.TTLFrom = e.Answer.IP.Src()
			f.TTLChanges = packet.QuoteDiff(e.Probe.IP, e.Answer.IP.Quote)
			t.printf("echolot: the time-exceeded error from %v quotes our probe; compared with what we sent:\n", f.TTLFrom)
			for _, c := range f.TTLChanges {
				mark := "changed "
				if c.Expected {
					mark = "expected"
				}
				t.printf("  %s  %-22s %s\n", mark, c.String(), c.Note)
			}
		}
		t.explain("r2 quoted the probe as it arrived: with TOS 0x28, not the 0x10 the client sent, so something between r1 and r2 rewrote it — here the fault node; on a real path, a re-marking hop.")
		return nil
	})
}
