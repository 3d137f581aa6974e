package probe

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestIPutilsFormulas checks the RTT summary against iputils ping's
// arithmetic (ping_common.c gather_statistics, ping_output.c
// ping_print_statistics), worked out by hand for a small set: RTTs of 100,
// 200 and 400 µs, the last one twice (a duplicate, which ping includes).
func TestIPutilsFormulas(t *testing.T) {
	var a RTTAccumulator
	for _, us := range []int64{100, 200, 400, 400} {
		a.Add(time.Duration(us) * time.Microsecond)
	}
	s := a.Stats()
	// tsum = 1100, n = 4, tsum2 = 10000+40000+160000+160000 = 370000.
	// avg = 1100/4 = 275; tmvar = (370000 − 1100²/4)/4 = (370000 − 302500)/4 = 16875;
	// mdev = llsqrt(16875) = 129 (129² = 16641, 130² = 16900).
	ip := s.IPutils()
	want := IPutilsRTT{Min: 100, Avg: 275, Max: 400, Mdev: 129}
	// ewma (×8): 800, then 800 + 200 − 100 = 900, 900 + 400 − 112 = 1188, 1188 + 400 − 148 = 1440; /8 = 180.
	want.EWMA = 180
	if ip != want {
		t.Errorf("IPutils() = %+v, want %+v", ip, want)
	}
	if got := ip.String(); got != "rtt min/avg/max/mdev = 0.100/0.275/0.400/0.129 ms" {
		t.Errorf("line %q", got)
	}
	// Nanosecond figures: avg 275 µs, mdev sqrt(370000/4 − 275²) µs = sqrt(16875) ≈ 129.904 µs.
	if s.Avg != 275*time.Microsecond || s.Min != 100*time.Microsecond || s.Max != 400*time.Microsecond {
		t.Errorf("min/avg/max %v/%v/%v", s.Min, s.Avg, s.Max)
	}
	if d := math.Abs(float64(s.Mdev) - math.Sqrt(16875)*1000); d > 1 {
		t.Errorf("mdev %v, want ≈129.904µs", s.Mdev)
	}
	// In nanoseconds: 800000, 900000, 1187500, 1439063; /8 = 179882.
	if s.EWMA != 179882 {
		t.Errorf("ewma %v, want 179.882µs", s.EWMA)
	}
}

// TestLlsqrt: ping's Newton iteration ends one above the integer square
// root for some values; llsqrt must do the same.
func TestLlsqrt(t *testing.T) {
	for v, want := range map[int64]int64{0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 15: 4, 16: 4, 17: 4, 16875: 129, 1 << 40: 1 << 20, 999999999999: 1000000} {
		if got := llsqrt(v); got != want {
			t.Errorf("llsqrt(%d) = %d, want %d", v, got, want)
		}
	}
}

// TestPercentiles compares the histogram's quantiles with exact ones over
// a million skewed samples: within 1/128 relative, as documented.
func TestPercentiles(t *testing.T) {
	var a RTTAccumulator
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]int64, 0, 1000000)
	for range 1000000 {
		v := int64(20000 + r.ExpFloat64()*50000) // 20 µs + exp(50 µs)
		vals = append(vals, v)
		a.Add(time.Duration(v))
	}
	slices.Sort(vals)
	s := a.Stats()
	for _, c := range []struct {
		q   float64
		got time.Duration
	}{{0.5, s.P50}, {0.9, s.P90}, {0.99, s.P99}} {
		exact := vals[int(math.Ceil(c.q*float64(len(vals))))-1]
		if rel := math.Abs(float64(c.got)-float64(exact)) / float64(exact); rel > 1.0/128 {
			t.Errorf("p%g = %v, exact %v (off by %.2f%%)", c.q*100, c.got, time.Duration(exact), rel*100)
		}
	}
	if histBucket(math.MaxUint64) != histBuckets-1 {
		t.Errorf("largest value in bucket %d of %d", histBucket(math.MaxUint64), histBuckets)
	}
	for v := uint64(0); v < 1<<20; v += 37 {
		if m := histMid(histBucket(v)); math.Abs(float64(m)-float64(v)) > float64(v)/128+1 {
			t.Fatalf("value %d in bucket with midpoint %d", v, m)
		}
	}
}

func TestLossAndSummary(t *testing.T) {
	s := Stats{Transmitted: 3, Received: 2, Duplicates: 1, Errors: 1, Elapsed: 2004 * time.Millisecond}
	var a RTTAccumulator
	a.Add(41 * time.Microsecond)
	a.Add(61 * time.Microsecond)
	a.Add(31 * time.Microsecond)
	s.RTT = a.Stats()
	if l := s.Loss(); math.Abs(l-100.0/3) > 1e-9 {
		t.Errorf("loss %v", l)
	}
	want := "3 packets transmitted, 2 received, +1 duplicates, +1 errors, 33.3333% packet loss, time 2004ms\n" +
		"rtt min/avg/max/mdev = 0.031/0.044/0.061/0.012 ms\n"
	if got := s.Summary(); got[:len(want)] != want {
		t.Errorf("summary\n%s\nwant prefix\n%s", got, want)
	}
}
