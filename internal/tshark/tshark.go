// Package tshark runs Wireshark's tshark as the independent judge of the
// bytes and capture files that echolot produces (design.md, "Test
// conventions").
//
// Every function first calls testenv.NeedTool(t, "tshark"), so a test using
// it skips where tshark is missing and fails under CI=true. Packets are raw
// IP packets (IPv4 or IPv6, starting with the IP header); they are written to
// a temporary classic pcap file with link type raw IP (LINKTYPE_RAW, 101),
// one packet per frame in the order given, and tshark reads that file.
//
// Every run passes -n (no name resolution), turns on checksum validation for
// IPv4, UDP and TCP (-o ip.check_checksum:TRUE -o udp.check_checksum:TRUE
// -o tcp.check_checksum:TRUE; ICMP and ICMPv6 checksums are always
// validated) and shows TCP sequence numbers as they are in the bytes
// (-o tcp.relative_sequence_numbers:FALSE). tshark runs with an empty personal configuration directory
// (WIRESHARK_CONFIG_DIR), so the user's own Wireshark preferences cannot
// change its output. Its standard error (for example the "Running as user
// root" warning) is shown only when tshark fails.
package tshark

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/echolot/echolot/internal/testenv"
)

// prefs are the preference overrides (-o NAME:VALUE) passed to every run:
// checksum validation for IPv4, UDP and TCP, which Wireshark leaves off by
// default, and absolute TCP sequence numbers (tcp.seq, tcp.ack and the SACK
// edges as they are in the bytes, not relative to the first segment of the
// conversation seen in the file). The names exist in tshark 4.0
// (tshark -G defaultprefs).
var prefs = []string{
	"ip.check_checksum:TRUE",
	"udp.check_checksum:TRUE",
	"tcp.check_checksum:TRUE",
	"tcp.relative_sequence_numbers:FALSE",
}

// timeout bounds one tshark run.
const timeout = 2 * time.Minute

// snaplen is the snapshot length written in the pcap file header.
const snaplen = 262144

// baseTime is the timestamp of the first packet in the files written here;
// packet i is stamped baseTime + i milliseconds.
var baseTime = time.Unix(1700000000, 0).UTC()

// needTshark returns the path of tshark, or "" when t is a fake whose Skipf
// and Fatalf return.
func needTshark(t testing.TB) string {
	t.Helper()
	return testenv.NeedTool(t, "tshark")
}

// writePcap writes packets to a new classic pcap file with link type raw IP
// in a temporary directory and returns its path.
func writePcap(t testing.TB, packets [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "packets.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("tshark: create pcap: %v", err)
		return ""
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(snaplen, layers.LinkTypeRaw); err != nil {
		t.Fatalf("tshark: write pcap header: %v", err)
		return ""
	}
	for i, p := range packets {
		ci := gopacket.CaptureInfo{
			Timestamp:     baseTime.Add(time.Duration(i) * time.Millisecond),
			CaptureLength: len(p),
			Length:        len(p),
		}
		if err := w.WritePacket(ci, p); err != nil {
			t.Fatalf("tshark: write packet %d to pcap: %v", i, err)
			return ""
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("tshark: close pcap: %v", err)
		return ""
	}
	return path
}

// run runs tshark on file with the common options followed by args and
// returns its standard output. It fails the test if tshark fails.
func run(t testing.TB, bin, file string, args ...string) ([]byte, bool) {
	t.Helper()
	full := []string{"-n", "-r", file}
	for _, p := range prefs {
		full = append(full, "-o", p)
	}
	full = append(full, args...)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark: %s %s: %v\nstderr:\n%s", bin, strings.Join(full, " "), err, stderr.String())
		return nil, false
	}
	return stdout.Bytes(), true
}

// Fields dissects packets with tshark and returns, for each packet in order,
// the values of the named display fields (such as "ip.ttl", "icmp.seq" or
// "icmp.checksum.status") as tshark prints them with
//
//	tshark -T fields -E separator=/t -E occurrence=a -E aggregator=, -e F1 -e F2 ...
//
// so row i holds len(fields) strings for packets[i]. A field absent from a
// packet is "". A field that occurs several times in a packet (such as
// ip.rec_rt, one per recorded address) comes back as one string with the
// occurrences joined by commas, for example "198.18.1.1,198.18.2.1". Values
// are tshark's text: numbers in decimal, hex fields as "0x1234", addresses
// without name resolution, and tab, newline and carriage return inside a
// value written as the two characters \t, \n, \r (backslash itself is not
// escaped). An unknown field name fails the test.
func Fields(t testing.TB, packets [][]byte, fields ...string) [][]string {
	t.Helper()
	bin := needTshark(t)
	if bin == "" {
		return nil
	}
	file := writePcap(t, packets)
	if file == "" {
		return nil
	}
	rows := fieldsFile(t, bin, file, fields)
	if rows != nil && len(rows) != len(packets) {
		t.Fatalf("tshark: %d rows of fields for %d packets", len(rows), len(packets))
		return nil
	}
	return rows
}

// FieldsFile is Fields for an existing capture file (pcap or pcapng, any
// link type), such as one written by the code under test. It returns one
// row per frame in the file.
func FieldsFile(t testing.TB, file string, fields ...string) [][]string {
	t.Helper()
	bin := needTshark(t)
	if bin == "" {
		return nil
	}
	return fieldsFile(t, bin, file, fields)
}

func fieldsFile(t testing.TB, bin, file string, fields []string) [][]string {
	t.Helper()
	if len(fields) == 0 {
		t.Fatalf("tshark: Fields needs at least one field name")
		return nil
	}
	args := []string{"-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, ok := run(t, bin, file, args...)
	if !ok {
		return nil
	}
	rows, err := parseFields(string(out), len(fields))
	if err != nil {
		t.Fatalf("tshark: %v", err)
		return nil
	}
	return rows
}

// parseFields splits tshark's -T fields output into rows of n values. Every
// row, even the last, ends with a newline.
func parseFields(out string, n int) ([][]string, error) {
	lines := strings.Split(out, "\n")
	if last := lines[len(lines)-1]; last != "" {
		return nil, fmt.Errorf("fields output does not end with a newline: %q", last)
	}
	lines = lines[:len(lines)-1]
	rows := make([][]string, 0, len(lines))
	for i, line := range lines {
		vals := strings.Split(line, "\t")
		if len(vals) != n {
			return nil, fmt.Errorf("fields output line %d has %d values, want %d: %q", i+1, len(vals), n, line)
		}
		rows = append(rows, vals)
	}
	return rows, nil
}

// Verbose returns tshark's full dissection of packets (tshark -V): one
// "Frame N:" block per packet, with every protocol tree expanded and
// expert info shown as "[Expert Info (Severity/Group): message]" lines.
// Use it for assertions on text that has no display field of its own.
func Verbose(t testing.TB, packets [][]byte) string {
	t.Helper()
	bin := needTshark(t)
	if bin == "" {
		return ""
	}
	file := writePcap(t, packets)
	if file == "" {
		return ""
	}
	out, _ := run(t, bin, file, "-V")
	return string(out)
}

// ExpertInfo is one expert-info item that Wireshark attached to a packet,
// such as a bad checksum or a malformed header.
type ExpertInfo struct {
	// Severity is "Comment", "Chat", "Note", "Warning" or "Error". It is
	// empty when tshark's text could not be parsed; Message then holds
	// that text whole.
	Severity string
	// Group is Wireshark's expert group, such as "Checksum", "Malformed",
	// "Protocol", "Sequence" or "Undecoded".
	Group string
	// Message is the text of the item, such as
	// "Bad checksum [should be 0x6160]".
	Message string
}

// String returns the item as "Severity/Group: Message".
func (e ExpertInfo) String() string {
	if e.Severity == "" {
		return e.Message
	}
	return e.Severity + "/" + e.Group + ": " + e.Message
}

// expertRE parses the text of tshark's _ws.expert field.
var expertRE = regexp.MustCompile(`^Expert Info \(([A-Za-z]+)/([^)]*)\): ?(.*)$`)

// parseExpert parses one _ws.expert value.
func parseExpert(s string) ExpertInfo {
	m := expertRE.FindStringSubmatch(s)
	if m == nil {
		return ExpertInfo{Message: s}
	}
	return ExpertInfo{Severity: m[1], Group: m[2], Message: m[3]}
}

// Expert dissects packets with tshark and returns, for each packet in order,
// the expert-info items Wireshark reported for it (nil for none). tshark runs
// with -T json and the fields _ws.expert and _ws.malformed, so messages that
// contain commas stay whole. A malformed packet always gets an item in
// group "Malformed".
func Expert(t testing.TB, packets [][]byte) [][]ExpertInfo {
	t.Helper()
	bin := needTshark(t)
	if bin == "" {
		return nil
	}
	file := writePcap(t, packets)
	if file == "" {
		return nil
	}
	out, ok := run(t, bin, file, "-T", "json", "-e", "frame.number", "-e", "_ws.expert", "-e", "_ws.malformed")
	if !ok {
		return nil
	}
	infos, err := parseExpertJSON(out, len(packets))
	if err != nil {
		t.Fatalf("tshark: %v", err)
		return nil
	}
	return infos
}

// parseExpertJSON reads tshark -T json output holding frame.number,
// _ws.expert and _ws.malformed for n frames.
func parseExpertJSON(out []byte, n int) ([][]ExpertInfo, error) {
	var frames []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if len(bytes.TrimSpace(out)) == 0 {
		out = []byte("[]") // tshark prints nothing at all for an empty file
	}
	if err := json.Unmarshal(out, &frames); err != nil {
		return nil, fmt.Errorf("parse -T json output: %v", err)
	}
	if len(frames) != n {
		return nil, fmt.Errorf("%d frames in -T json output for %d packets", len(frames), n)
	}
	infos := make([][]ExpertInfo, n)
	for _, fr := range frames {
		l := fr.Source.Layers
		num, err := strconv.Atoi(first(l["frame.number"]))
		if err != nil || num < 1 || num > n {
			return nil, fmt.Errorf("bad frame.number %q in -T json output", l["frame.number"])
		}
		var items []ExpertInfo
		malformed := false
		for _, s := range l["_ws.expert"] {
			e := parseExpert(s)
			malformed = malformed || e.Group == "Malformed"
			items = append(items, e)
		}
		if len(l["_ws.malformed"]) > 0 && !malformed {
			items = append(items, ExpertInfo{Severity: "Error", Group: "Malformed", Message: first(l["_ws.malformed"])})
		}
		infos[num-1] = items
	}
	return infos, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// Problem reports whether an expert-info item means that a packet meant to
// be valid is not: any item of severity Warning or Error, or one whose text
// could not be parsed, except items in group "Sequence". Sequence items
// judge a packet against the others in the file (a TCP ACK for a segment
// not captured, a request without response) rather than the packet itself.
func (e ExpertInfo) Problem() bool {
	switch e.Severity {
	case "":
		return true
	case "Warning", "Error":
		return e.Group != "Sequence"
	}
	return false
}

// CheckNoWarnings fails the test (t.Errorf) if tshark finds any problem in
// packets that should be valid: a malformed packet, a bad IPv4, ICMP,
// ICMPv6, UDP or TCP checksum, or any other expert info for which
// ExpertInfo.Problem reports true. The failure lists every such item with
// the index of its packet.
func CheckNoWarnings(t testing.TB, packets [][]byte) {
	t.Helper()
	infos := Expert(t, packets)
	var problems []string
	for i, items := range infos {
		for _, e := range items {
			if e.Problem() {
				problems = append(problems, fmt.Sprintf("packet %d: %s", i, e))
			}
		}
	}
	if len(problems) > 0 {
		t.Errorf("tshark reports %d problem(s) in packets that should be valid:\n\t%s",
			len(problems), strings.Join(problems, "\n\t"))
	}
}
