package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/lab/fault"
	"github.com/echolot/echolot/lab/labtest"
)

// pingNorm replaces what differs from run to run: times, timestamps.
var pingNorm = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`time=[0-9.]+ ms`), "time=T ms"},
	{regexp.MustCompile(`time [0-9]+ms`), "time Tms"},
	{regexp.MustCompile(`= [0-9./]+ ms`), "= R ms"},
	{regexp.MustCompile(`\t[0-9]+( absolute)?`), "\tN$1"},
	{regexp.MustCompile(`^\[[0-9.]+\] `), "[TS] "},
	{regexp.MustCompile(`, ipg/ewma [0-9./]+ ms`), ", ipg/ewma R ms"},
}

// backspace applies the backspaces of ping -f's output.
func backspace(line string) string {
	var b []byte
	for i := 0; i < len(line); i++ {
		if line[i] == '\b' {
			if len(b) > 0 {
				b = b[:len(b)-1]
			}
			continue
		}
		b = append(b, line[i])
	}
	return strings.TrimRight(string(b), " ")
}

func normPing(s string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		line = backspace(line)
		for _, n := range pingNorm {
			line = n.re.ReplaceAllString(line, n.with)
		}
		out = append(out, line)
	}
	return out
}

// TestPingVersusIputils runs iputils ping and echolot ping side by side
// in one lab and compares their normalised output and exit codes.
func TestPingVersusIputils(t *testing.T) {
	l := labtest.New(t)
	server := l.Addr("server", false).String()
	labtest.Sysctl(t, l, "r1", "net.ipv4.icmp_echo_ignore_broadcasts", "0")
	labtest.Commands(t, l, "client",
		[]string{"ip", "route", "add", "unreachable", "198.18.3.0/24", "table", "7"},
		[]string{"ip", "rule", "add", "fwmark", "7", "table", "7"})
	for _, c := range []struct {
		args []string
		// rc is echolot's exit code where it differs deliberately from
		// iputils 20221126 (-1: the same).
		rc int
		// rule is a fault-node rule in force during the case.
		rule string
		// differs names a deliberate difference in the output: the
		// case then checks that only the lines named differ.
		differs []string
		// extra are lines only echolot prints (deliberately).
		extra []string
	}{
		{[]string{"-c", "3", "-i", "0.2"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-s", "100"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-p", "a5"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-p", "0123456789abcdef"}, -1, "", nil, nil},
		{[]string{"-c", "3", "-i", "0.2", "-t", "1"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-t", "2"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-R"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-T", "tsonly"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-T", "tsandaddr"}, -1, "", nil, nil},
		{[]string{"-c", "3", "-i", "0.2", "-M", "do", "-s", "1400"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-Q", "0x28"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-q"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-s", "8"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2"}, -1, "duplicate dir=to-client",
			// ping stops reading once the count is answered; echolot
			// reports the duplicate already in its socket buffer.
			[]string{"2 packets transmitted, 2 received, +2 duplicates, 0% packet loss, time Tms"},
			[]string{"64 bytes from 198.18.3.2: icmp_seq=2 ttl=62 time=T ms (DUP!)"}},
		{[]string{"-c", "2", "-i", "0.2", "-p", "aa"}, exitFailure, "corrupt offset=30 flip=0x01 dir=to-client",
			[]string{"2 packets transmitted, 2 received, +2 corrupted, 0% packet loss, time Tms"}, nil},
		{[]string{"-c", "2", "-i", "0.3", "-O", "-W", "0.3"}, -1, "drop dir=to-server", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-D"}, -1, "", nil, nil},
		{[]string{"-c", "50", "-f"}, -1, "", nil, nil},
		{[]string{"-c", "3", "-i", "0.2", "-A"}, -1, "", nil, nil},
		{[]string{"-c", "0"}, exitUsage, "", nil, nil},
		{[]string{"-c", "abc"}, exitUsage, "", nil, nil},
		{[]string{"-s", "-1"}, exitUsage, "", nil, nil},
		{[]string{"-Q", "300"}, -1, "", nil, nil},
		{[]string{"-Q", "abc"}, -1, "", nil, nil},
		{[]string{"-T", "bogus"}, -1, "", nil, nil},
		{[]string{"-M", "bogus"}, -1, "", nil, nil},
		{[]string{"-t", "256"}, exitUsage, "", nil, nil},
		{[]string{"-W", "-1"}, -1, "", nil, nil},
		{[]string{"-p", "zz"}, -1, "", nil, nil},
		{[]string{"-l", "0"}, exitUsage, "", nil, nil},
		// Options that were refused until the rest of issue 8.
		{[]string{"-c", "2", "-i", "0.2", "-T", "tsprespec", "198.18.1.2", "198.18.1.1", "198.18.3.2"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-T", "tsprespec", "198.18.3.2"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-I", "to-r1"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-I", "198.18.1.2", "198.18.3.2"}, -1, "", nil, nil},
		{[]string{"-c", "1", "-I", "eth9"}, -1, "", nil, nil},
		// Bound to the loopback, the probe cannot leave: no reply, as iputils.
		{[]string{"-c", "1", "-W", "1", "-I", "lo", "198.18.3.2"}, -1, "", nil, nil},
		{[]string{"-c", "1", "-I", "198.18.9.9", "198.18.3.2"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-B"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-e", "4242"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-a"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-b"}, -1, "", nil, nil},
		{[]string{"-c", "1", "198.18.1.255"}, -1, "", nil, nil},
		// r1 answers broadcast echoes (set up above): iputils prints no
		// DIFFERENT ADDRESS for them.
		{[]string{"-c", "2", "-i", "0.2", "-b", "198.18.1.255"}, -1, "", nil, nil},
		// The client routes fwmark 7 into a table where the server is
		// unreachable (set up above); marks 0 and 8 use the main table.
		{[]string{"-c", "1", "-m", "7"}, -1, "", nil, nil},
		{[]string{"-c", "1", "-m", "8"}, -1, "", nil, nil},
		{[]string{"-c", "1", "-S", "1000"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-U"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-r", "198.18.1.1"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-F", "0x12345", "2001:db8:3::2"}, -1, "", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-D", "-O", "-W", "0.2"}, -1, "drop dir=to-server", nil, nil},
		{[]string{"-c", "2", "-i", "0.2", "-q", "-t", "1"}, -1, "", nil, nil},
		{[]string{"-c", "6", "-i", "0.2", "-l", "3"}, -1, "", nil, nil},
		{[]string{"-c", "20", "-f", "-t", "1"}, -1, "", nil, nil},
		{[]string{"-c", "20", "-f", "-p", "aa"}, exitFailure, "corrupt offset=30 flip=0x01 dir=to-client",
			// ping -f does not look at the data; echolot prints C for a
			// damaged reply as for a bad checksum.
			[]string{"CCCCCCCCCCCCCCCCCCCC", "20 packets transmitted, 20 received, +20 corrupted, 0% packet loss, time Tms"}, nil},
	} {
		name := strings.Join(c.args, " ")
		if c.rule != "" {
			name += " [" + c.rule + "]"
			r, err := fault.ParseRule(c.rule)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Fault().Add(r); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = l.Command(ctx, "client", "ip", "route", "flush", "cache").Run()
		args := append([]string{"ping"}, c.args...)
		if _, err := netip.ParseAddr(c.args[len(c.args)-1]); err != nil {
			args = append(args, server) // else the case names its destination
		}
		cmd := l.Command(ctx, "client", args...)
		var iout, ierr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &iout, &ierr
		irc := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s: iputils ping: %v", name, err)
			}
			irc = ee.ExitCode()
		}
		cancel()
		_ = l.Command(context.Background(), "client", "ip", "route", "flush", "cache").Run()
		var erc int
		var eout, eerr string
		if err := l.InNode("client", func() error {
			erc, eout, eerr = runCmd("", args...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want, got := normPing(iout.String()+"\x00"+ierr.String()), normPing(eout+"\x00"+eerr)
		if err := l.Fault().Clear(); err != nil {
			t.Fatal(err)
		}
		got = slices.DeleteFunc(got, func(s string) bool { return slices.Contains(c.extra, s) })
		same := strings.Join(want, "\n") == strings.Join(got, "\n")
		if !same && len(c.differs) > 0 && len(want) == len(got) {
			// Only the lines named may differ.
			same = true
			for i := range want {
				if want[i] != got[i] && !slices.Contains(c.differs, got[i]) {
					same = false
				}
			}
		}
		wantRC := irc
		if c.rc >= 0 {
			wantRC = c.rc
		}
		t.Logf("%-40s iputils rc=%d echolot rc=%d output same=%v", name, irc, erc, same)
		if !same {
			t.Errorf("%s: output differs\n--- iputils:\n%s\n--- echolot:\n%s", name, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
		if erc != wantRC {
			t.Errorf("%s: echolot exit %d, want %d (iputils %d)", name, erc, wantRC, irc)
		}
	}
}

// TestPingBadInput: bad values and options echolot ping cannot do yet
// exit 2 with a message, before anything is sent.
func TestPingBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ping"}, "Destination address required"},
		{[]string{"ping", "-c", "0", "x"}, "invalid argument: '0': out of range: 1 <= value <= 9223372036854775807"},
		{[]string{"ping", "-s", "70000", "198.18.3.2"}, "invalid argument: '70000': out of range: 0 <= value <= 65507"},
		{[]string{"ping", "-R", "-s", "65500", "198.18.3.2"}, "0 <= value <= 65467"},
		{[]string{"ping", "-Q", "300", "x"}, "the decimal value of TOS bits must be in range 0-255: 300"},
		{[]string{"ping", "-T", "bogus", "x"}, "invalid timestamp type: bogus"},
		{[]string{"ping", "-M", "x", "x"}, "invalid -M argument: x"},
		{[]string{"ping", "-N", "name", "x"}, "-N (IPv6 node information queries, RFC 4620)"},
		{[]string{"ping", "-m", "x", "x"}, "invalid argument: 'x'"},
		{[]string{"ping", "-m", "4294967296", "x"}, "invalid argument: '4294967296': out of range: 0 <= value <= 4294967295"},
		{[]string{"ping", "-S", "0", "x"}, "invalid argument: '0': out of range: 1 <= value <= 2147483647"},
		{[]string{"ping", "--tcp", "0", "x"}, "--tcp: invalid port '0': out of range: 1 <= value <= 65535"},
		{[]string{"ping", "--udp=70000", "x"}, "--udp: invalid port '70000': out of range: 1 <= value <= 65535"},
		{[]string{"ping", "--tcp-connect", "x"}, "--tcp-connect needs --tcp PORT"},
		{[]string{"ping", "--sport", "5", "x"}, "--sport needs --tcp PORT or --udp PORT"},
		{[]string{"ping", "--tcp", "80", "-s", "10", "x"}, "-s with --tcp: a SYN probe carries no data"},
		{[]string{"ping", "--tcp", "80", "--tcp-connect", "--sport", "9", "x"}, "--sport 9 with --tcp-connect"},
		{[]string{"ping", "-e", "70000", "x"}, "invalid argument: '70000': out of range: 0 <= value <= 65535"},
		{[]string{"ping", "-e", "0", "198.18.3.2"}, "-e 0: echolot's engine reads identifier 0"},
		{[]string{"ping", "-F", "0x123456", "x"}, "flow value is greater than 20 bits: 0x123456"},
		{[]string{"ping", "-F", "zz", "x"}, "bad value for flowinfo: zz"},
		{[]string{"ping", "-F", "5", "198.18.3.2"}, "-F 5: a flow label is IPv6's"},
		{[]string{"ping", "-T", "tsprespec", "a", "b", "c", "d", "e", "x"}, "-T tsprespec: 5 addresses: at most 4"},
		{[]string{"ping", "-R", "198.18.1.1", "198.18.3.2"}, "-R with source-route hops (198.18.1.1)"},
		{[]string{"ping", "-T", "tsonly", "198.18.1.1", "198.18.3.2"}, "-T tsonly with source-route hops"},
		{[]string{"ping", "-R", "-T", "tsonly", "x"}, "only one of -T or -R may be used"},
		{[]string{"ping", "-6", "198.18.1.1", "2001:db8:3::2"}, "IPv4 options, not for the IPv6 destination"},
		{[]string{"ping", "-c"}, "option requires an argument -- 'c'"},
		{[]string{"ping", "-Z", "x"}, "invalid option -- 'Z'"},
	} {
		code, _, errs := runCmd("", c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d stderr %q, want exit 2 and %q", c.args, code, errs, c.want)
		}
	}
	if got := pingTime(123456*time.Microsecond, false) + " " + pingTime(12345*time.Microsecond, false) + " " +
		pingTime(1234*time.Microsecond, false) + " " + pingTime(123*time.Microsecond, false) + " " + pingTime(1234*time.Microsecond, true); got != "123 12.3 1.23 0.123 1.234" {
		t.Errorf("time precision: %s", got)
	}
}

// TestPingPcapAndIPv6: --pcap writes the probes and replies to a pcapng
// file, and IPv6 destinations print ping6's header.
func TestPingPcapAndIPv6(t *testing.T) {
	l := labtest.New(t)
	file := t.TempDir() + "/ping.pcapng"
	var code int
	var out, errs string
	if err := l.InNode("client", func() error {
		code, out, errs = runCmd("", "ping", "-c", "2", "-i", "0.1", "--pcap", file, l.Addr("server", false).String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code != exitOK || !strings.Contains(out, "2 received") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	f, err := os.ReadFile(file)
	if err != nil || len(f) < 4 || !bytes.Equal(f[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) || !bytes.Contains(f, []byte("answer to probe 2")) {
		t.Errorf("pcapng %d bytes, %v: want a section header and linkage comments", len(f), err)
	}
	v6 := l.Addr("server", true).String()
	if err := l.InNode("client", func() error {
		code, out, errs = runCmd("", "ping", "-c", "2", "-i", "0.1", v6)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code != exitOK || !strings.HasPrefix(out, "PING "+v6+"("+v6+") 56 data bytes\n") || !strings.Contains(out, "64 bytes from "+v6+": icmp_seq=2 ttl=62 time=") {
		t.Errorf("ipv6: exit %d\n%s%s", code, out, errs)
	}
	ictx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iout, _ := l.Command(ictx, "client", "ping", "-c", "1", v6).Output()
	t.Logf("iputils:\n%s\necholot:\n%s", iout, out)
}
