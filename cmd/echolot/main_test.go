package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/echolot/echolot/scripts"
)

// runCmd runs the command line and returns exit code, stdout and stderr.
func runCmd(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDecodeReadmeExample(t *testing.T) {
	code, out, errs := runCmd("", "decode", "--probe", "@../../testdata/decode/ping-R-ttl2-probe.hex", "@../../testdata/decode/ping-R-ttl2-time-exceeded.hex")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"ICMP     time-exceeded  type 11 code 0",
		"answers the probe: time-exceeded",
		"changed   tos 0x10→0x28",
		"expected  ttl 2→1",
		"2 addresses recorded on the way",
		"quoted the header without updating the checksum",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDecodeStdinTcpdumpFormat(t *testing.T) {
	// tcpdump -xx style lines, two packets separated by a blank line.
	in := "\t0x0000:  4500 001c 0001 0000 4001 f89b c612 0001\n\t0x0010:  c612 0302 0800 f7fe 0001 0000\n\n" +
		"4500001c00010000400138a0c6120302c61200010000fffe00010000\n"
	code, out, errs := runCmd(in, "decode", "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "echo-request") || !strings.Contains(out, "echo-reply") {
		t.Errorf("output:\n%s", out)
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"decode", "45zz"}, `character 'z' at position 3 is not a hex digit`},
		{[]string{"decode", "450"}, "3 hex digits, an odd number"},
		{[]string{"decode", "4500"}, "ip = 2: an IPv4 header needs 20 bytes"},
		{[]string{"decode"}, "give the packet as hex"},
		{[]string{"decode", "@/nonexistent"}, "no such file"},
		{[]string{"patterns", "-s", "0"}, "-s 0: the size must be 1–65535 bytes"},
		{[]string{"patterns", "prbs8"}, "PRBS order must be one of 7, 9, 11, 15, 20, 23, 31"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	} {
		code, _, errs := runCmd("", c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d stderr %q, want exit 2 and %q", c.args, code, errs, c.want)
		}
	}
}

func TestPatterns(t *testing.T) {
	code, out, _ := runCmd("", "patterns", "-s", "64")
	if code != exitOK || !strings.Contains(out, "walking-ones   01 02 04 08") || !strings.Contains(out, "prbs15") {
		t.Errorf("exit %d output:\n%s", code, out)
	}
	code, out, _ = runCmd("", "patterns", "-s", "8", "deadbeef")
	if code != exitOK || !strings.Contains(out, "de ad be ef de ad be ef") {
		t.Errorf("exit %d output:\n%s", code, out)
	}
}

func TestHelpAndVersion(t *testing.T) {
	if code, out, _ := runCmd("", "help"); code != exitOK || !strings.Contains(out, "echolot decode") {
		t.Errorf("help: %d %s", code, out)
	}
	if code, out, _ := runCmd("", "version"); code != exitOK || !strings.HasPrefix(out, "echolot ") {
		t.Errorf("version: %d %s", code, out)
	}
}

// TestScriptsList: echolot scripts lists every shipped experiment once,
// its name then what it does.
func TestScriptsList(t *testing.T) {
	code, out, errs := runCmd("", "scripts")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, s := range scripts.List() {
		want := "  " + s.Name + " "
		i := strings.Index(out, want)
		if i < 0 {
			t.Errorf("%s is not listed:\n%s", s.Name, out)
			continue
		}
		line, _, _ := strings.Cut(out[i:], "\n")
		if strings.Contains(line, s.Name+": ") || len(strings.Fields(line)) < 3 {
			t.Errorf("line %q: want the name, then what the script does", line)
		}
	}
}
