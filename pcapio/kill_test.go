package pcapio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echolot/echolot/lab/labtest"
	"github.com/echolot/echolot/packet"
)

// The test binary doubles as the writing process the kill tests kill: with
// helperEnv set, TestMain runs writerHelper instead of the tests.
const (
	helperEnv     = "ECHOLOT_PCAPIO_HELPER"
	helperFileEnv = "ECHOLOT_PCAPIO_HELPER_FILE"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(writerHelper(mode, os.Getenv(helperFileEnv)))
	}
	labtest.Main(m)
}

// helperLast is the record after which the "panic" and "exit" helpers end.
const helperLast = 3000

// writerHelper writes numbered echo requests to path, 5 per millisecond
// (the number n as the ICMP sequence number's low bits, the packet id, and
// the first 8 payload bytes), and prints "queued Q written W" after every
// 10 ms, where W counts records the operating system has accepted. What it
// does at the end depends on mode:
//
//	kill, term-default:  nothing; it is killed (SIGKILL, or SIGTERM with Go's default action)
//	term-handler:        CloseOnSignal(w) is installed; it is sent SIGTERM
//	panic:               defer w.Close(); panics after helperLast records (a script error)
//	exit:                os.Exit(3) after helperLast records, without Close
func writerHelper(mode, path string) int {
	w, err := Create(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if mode == "term-handler" {
		CloseOnSignal(w)
	}
	if mode == "panic" {
		defer w.Close()
	}
	p := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: client, Dst: server, TTL: 64, DF: true},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest, ID: 77}, Payload: make([]byte, 56)}
	var buf []byte
	last := time.Now()
	for n := uint64(1); ; n++ {
		p.ICMP.Seq = uint16(n)
		p.IPv4.ID = uint16(n)
		binary.BigEndian.PutUint64(p.Payload, n)
		buf, _ = p.AppendTo(buf[:0])
		if err := w.WritePacket(Record{Data: buf, Dir: DirOut, ID: n,
			Link: Link{Kind: ProbeLink, Probe: n, Seq: int(n & 0xffff), TTL: 64, Pattern: "kill-test"}}); err != nil {
			if err == ErrClosed && mode == "term-handler" {
				select {} // CloseOnSignal closed it and is about to end the process
			}
			fmt.Fprintln(os.Stderr, "record", n, err)
			return 1
		}
		if n%5 == 0 {
			time.Sleep(time.Millisecond)
		}
		if time.Since(last) >= 10*time.Millisecond {
			st := w.Stats()
			fmt.Printf("queued %d written %d dropped %d\n", st.Queued, st.Written, st.Dropped)
			last = time.Now()
		}
		if n == helperLast {
			switch mode {
			case "panic":
				panic("a script error after 3000 records")
			case "exit":
				os.Exit(3)
			}
		}
	}
}

// TestKilledWriterLeavesValidFile runs writerHelper in a child process,
// kills it mid-capture and checks that the file is readable to its end,
// by this reader (no damaged or cut block) and by tshark, and holds every
// record the child reported written (or, where the writer is closed on the
// way out, queued), in order, without a gap.
func TestKilledWriterLeavesValidFile(t *testing.T) {
	for _, tc := range []struct {
		mode, file string
		sig        syscall.Signal // 0: the child ends by itself
		wantAll    bool           // every queued record must be in the file
		exitCode   int            // for children ending by themselves
	}{
		{"kill", "kill.pcapng", syscall.SIGKILL, false, 0},
		{"kill", "kill.pcap", syscall.SIGKILL, false, 0},
		{"term-default", "term.pcapng", syscall.SIGTERM, false, 0},
		{"term-handler", "term-handler.pcapng", syscall.SIGTERM, true, 0},
		{"term-handler", "term-handler.pcap", syscall.SIGTERM, true, 0},
		{"panic", "panic.pcapng", 0, true, 2},
		{"exit", "exit.pcapng", 0, false, 3},
	} {
		t.Run(tc.mode+"-"+tc.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.mode, helperFileEnv+"="+path)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := make(chan string)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			var queued, written, dropped uint64
			parse := func(l string) {
				var q, w, d uint64
				if _, err := fmt.Sscanf(l, "queued %d written %d dropped %d", &q, &w, &d); err == nil {
					queued, written, dropped = max(queued, q), max(written, w), max(dropped, d)
				}
			}
			start := time.Now()
			deadline := time.After(30 * time.Second)
			sent := false
			for l := range lines {
				parse(l)
				// Kill after several flush intervals, once a good many
				// records are on disk and more are still buffered.
				if tc.sig != 0 && !sent && written >= 1000 && time.Since(start) > 450*time.Millisecond {
					if err := cmd.Process.Signal(tc.sig); err != nil {
						t.Fatal(err)
					}
					sent = true
					t.Logf("%v sent after %v: queued %d, written %d", tc.sig, time.Since(start).Round(time.Millisecond), queued, written)
				}
				select {
				case <-deadline:
					t.Fatalf("the child did not end: queued %d written %d", queued, written)
				default:
				}
			}
			err = cmd.Wait()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch {
			case tc.sig != 0 && (!ws.Signaled() || ws.Signal() != tc.sig):
				t.Errorf("child ended with %v, want killed by %v; stderr:\n%s", err, tc.sig, stderr.String())
			case tc.sig == 0 && ws.ExitStatus() != tc.exitCode:
				t.Errorf("child exit status %d, want %d; stderr:\n%s", ws.ExitStatus(), tc.exitCode, stderr.String())
			}
			if dropped != 0 {
				t.Fatalf("the child dropped %d records; the test needs none", dropped)
			}
			frames, err := ReadFile(path)
			if err != nil {
				t.Fatalf("after %d frames: %v", len(frames), err)
			}
			for i, f := range frames {
				if f.IP == nil || len(f.IP.Payload) < 8 || binary.BigEndian.Uint64(f.IP.Payload) != uint64(i+1) {
					t.Fatalf("frame %d is not record %d", i+1, i+1)
				}
				if strings.HasSuffix(path, ".pcapng") && (f.ID != uint64(i+1) || len(f.Comments) != 1 || !strings.HasPrefix(f.Comments[0], fmt.Sprintf("probe %d ", i+1))) {
					t.Fatalf("frame %d: id %d comments %q", i+1, f.ID, f.Comments)
				}
			}
			want, what := written, "reported written"
			if tc.wantAll {
				want, what = queued, "reported queued"
			}
			if tc.mode == "panic" {
				want = helperLast
			}
			t.Logf("file: %d records, %d bytes; the child last %s %d", len(frames), fileSize(t, path), what, want)
			if uint64(len(frames)) < want {
				t.Errorf("the file holds %d records; the child %s %d", len(frames), what, want)
			}
			checkTshark(t, path, len(frames))
		})
	}
}

func fileSize(t testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
