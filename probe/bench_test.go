package probe

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/labtest"
)

// The benchmarks below compare echolot's flood with iputils ping -f on the
// same lab path (client → r1 → fault node → r2 → server) in the same run,
// and watch memory over a million probes. They take a while, so they run
// only when asked:
//
//	sudo ECHOLOT_BENCH=1 go test -run 'TestFloodVersusPing|TestMemoryFlat' -v -count=1 ./probe/
//
// ECHOLOT_BENCH_N sets the probes per flood (default 100000) and
// ECHOLOT_BENCH_ROUNDS the rounds (default 3; the median is reported).
//
// By default the fault node runs inside the test process (labtest's
// default), sharing the Go runtime with the engine, which may favour the
// engine: Go keeps threads spinning briefly for work, so a wake-up passed
// between the fault node and the engine can avoid a sleeping CPU, which
// ping, a process of its own, cannot. ECHOLOT_BENCH_FAULT_EXE=path/to/echolot
// runs the fault node as a daemon process of that binary instead
// (`go build -o /tmp/echolot ./cmd/echolot`), so that the engine and ping
// are in the same position.

func benchOnly(t *testing.T) {
	if os.Getenv("ECHOLOT_BENCH") == "" {
		t.Skip("benchmark: set ECHOLOT_BENCH=1 to run it (it takes about a minute)")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var pingReceived = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// TestFloodVersusPing prints matched replies per second for ping -f -q,
// echolot's flood, and echolot's flood writing pcapng, and the ratios.
func TestFloodVersusPing(t *testing.T) {
	benchOnly(t)
	ping := testenv.NeedTool(t, "ping")
	var lo lab.Options
	where := "in the test process"
	if exe := os.Getenv("ECHOLOT_BENCH_FAULT_EXE"); exe != "" {
		lo.Exe, where = exe, "as a daemon ("+exe+")"
	}
	l := labtest.New(t, lo)
	n := envInt("ECHOLOT_BENCH_N", 100000)
	rounds := envInt("ECHOLOT_BENCH_ROUNDS", 3)
	dir := t.TempDir()

	runPing := func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		out, err := l.Command(ctx, "client", ping, "-f", "-q", "-n", "-c", strconv.Itoa(n), serverV4.String()).CombinedOutput()
		d := time.Since(start)
		m := pingReceived.FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("ping: %v\n%s", err, out)
		}
		got, _ := strconv.Atoi(string(m[2]))
		t.Logf("ping -f: %d received in %v: %s", got, d.Round(time.Millisecond), strings.TrimSpace(lastLines(string(out), 2)))
		return float64(got) / d.Seconds()
	}
	runEcholot := func(capture bool) float64 {
		o := Options{Count: n, Flood: true, Mode: ModeRaw, Timeout: time.Second}
		var tap *Tap
		var f *os.File
		if capture {
			var err error
			f, err = os.Create(filepath.Join(dir, "flood.pcapng"))
			if err != nil {
				t.Fatal(err)
			}
			pw, err := NewPcapngWriter(f, "echolot flood benchmark")
			if err != nil {
				t.Fatal(err)
			}
			tap = NewTap(pw, 0)
			o.Tap = tap
		}
		var e *Engine
		if err := l.InNode("client", func() (err error) { e, err = New(Probe{Packet: echo4(serverV4, 56)}, o); return }); err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		start := time.Now()
		s, err := e.Run(context.Background())
		d := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		extra := ""
		if capture {
			if err := tap.Close(); err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			f.Close()
			extra = fmt.Sprintf("; capture: %d events written, %d dropped, %d MB", tap.Written(), tap.Dropped(), fi.Size()>>20)
		}
		t.Logf("echolot flood (capture %v): %d received in %v, %s%s", capture, s.Received, d.Round(time.Millisecond), s.RTT.IPutils(), extra)
		return float64(s.Received) / d.Seconds()
	}
	var p, e, c []float64
	for range rounds {
		p = append(p, runPing())
		e = append(e, runEcholot(false))
		c = append(c, runEcholot(true))
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	mp, me, mc := med(p), med(e), med(c)
	report := fmt.Sprintf("flood over the lab path (fault node %s), %d probes, median of %d rounds (GOMAXPROCS %d):\n"+
		"  iputils ping -f -q        %8.0f matched replies/s\n"+
		"  echolot flood             %8.0f matched replies/s  ratio %.2f (target ≥ 1.0)\n"+
		"  echolot flood + pcapng    %8.0f matched replies/s  ratio %.2f (target ≥ 0.8)",
		where, n, rounds, runtime.GOMAXPROCS(0), mp, me, me/mp, mc, mc/mp)
	t.Log(report)
	fmt.Println(report)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// TestMemoryFlat sends a million probes (a flood keeping 16 in flight)
// and samples the heap and the resident set while it runs: both must stay
// flat once the probe ring is full.
func TestMemoryFlat(t *testing.T) {
	benchOnly(t)
	l := labtest.New(t)
	n := envInt("ECHOLOT_BENCH_MEM_N", 1000000)
	var e *Engine
	if err := l.InNode("client", func() (err error) {
		e, err = New(Probe{Packet: echo4(serverV4, 56)}, Options{Count: n, Flood: true, Preload: 16, Mode: ModeRaw, Timeout: time.Second})
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	type sample struct {
		sent          int64
		heap, rss, hw uint64
	}
	var samples []sample
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			rss, hwm := procStatus("VmRSS:"), procStatus("VmHWM:")
			s := e.Stats()
			samples = append(samples, sample{s.Transmitted, ms.HeapInuse, rss, hwm})
			if s.StopReason != "" {
				return
			}
			<-tick.C
		}
	}()
	start := time.Now()
	s, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	<-done
	d := time.Since(start)
	t.Logf("%d probes in %v (%.0f/s): %s", s.Transmitted, d.Round(time.Millisecond), float64(s.Received)/d.Seconds(), statsLine(s))
	var b strings.Builder
	var heapAfter, heapMax uint64
	for _, x := range samples {
		fmt.Fprintf(&b, "\n  sent %8d  heap in use %6.1f MiB  RSS %6.1f MiB  peak RSS %6.1f MiB", x.sent, mib(x.heap), mib(x.rss), mib(x.hw))
		if x.sent >= int64(n/5) {
			heapAfter = max(heapAfter, x.heap)
		}
		heapMax = max(heapMax, x.heap)
	}
	t.Logf("memory while sending %d probes:%s", n, b.String())
	first := samples[0]
	for _, x := range samples {
		if x.sent >= int64(n/5) {
			first = x
			break
		}
	}
	last := samples[len(samples)-1]
	fmt.Printf("memory over %d probes: heap in use %.1f MiB at %d probes, %.1f MiB at the end (max %.1f MiB); peak RSS %.1f MiB\n",
		n, mib(first.heap), first.sent, mib(last.heap), mib(heapMax), mib(last.hw))
	if heapAfter > first.heap+16<<20 {
		t.Errorf("heap grew from %.1f MiB to %.1f MiB after the ring filled", mib(first.heap), mib(heapAfter))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// procStatus reads a "VmXXX:  1234 kB" line of /proc/self/status, in bytes.
func procStatus(key string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			v, _ := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
			return v << 10
		}
	}
	return 0
}
