package pcapio

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/echolot/echolot/packet"
)

// benchRecord is what the engine's tap hands over for an echo probe: an
// 84-byte IPv4 echo request with a probe link.
func benchRecord(b testing.TB) Record {
	p := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: client, Dst: server, TTL: 64, ID: 1},
		Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: packet.ICMPEchoRequest, ID: 7, Seq: 1},
		Payload: pattern(b, "a5", 56)}
	data, _ := mustMarshal(b, p)
	return Record{Time: t0, Data: data, Dir: DirOut, ID: 1,
		Link: Link{Kind: ProbeLink, Probe: 1, Seq: 1, TTL: 64, Pattern: "0xa5"}}
}

// BenchmarkWritePacket measures what the probe path pays per record:
// WritePacket copying into the queue, with the writer goroutine encoding
// and writing to io.Discard at the same time. The queue is drained (outside
// the timer) every half queue, so no record is dropped.
func BenchmarkWritePacket(b *testing.B) {
	rec := benchRecord(b)
	w, err := NewWriter(io.Discard, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%(DefaultQueueLen/2) == 0 && i > 0 {
			b.StopTimer()
			w.Flush()
			b.StartTimer()
		}
		rec.ID = uint64(i)
		if err := w.WritePacket(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if st := w.Stats(); st.Dropped != 0 {
		b.Fatalf("%d dropped", st.Dropped)
	}
}

// benchAnswer is an answer record with a quote diff to format (two
// changes) and a free-text comment.
func benchAnswer(b testing.TB) Record {
	rec := benchRecord(b)
	rec.Dir = DirIn
	rec.Comments = []string{"extra"}
	rec.Link = Link{Kind: AnswerLink, Probe: 1, Answer: "time-exceeded", From: r2, RTT: 412 * time.Microsecond,
		Changes: []packet.Change{{Field: "ttl", Sent: 3, Seen: 1, Expected: true}, {Field: "tos", Sent: 0, Seen: 0x28}}}
	return rec
}

// BenchmarkWritePacketAnswer is BenchmarkWritePacket for an answer. Its
// allocations are the writer goroutine's, formatting the changes (the
// benchmark counts every goroutine's); WritePacket itself allocates nothing
// (BenchmarkWritePacketUncontended/answer).
func BenchmarkWritePacketAnswer(b *testing.B) {
	rec := benchAnswer(b)
	w, err := NewWriter(io.Discard, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%(DefaultQueueLen/2) == 0 && i > 0 {
			b.StopTimer()
			w.Flush()
			b.StartTimer()
		}
		if err := w.WritePacket(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWritePacketFull measures the drop path: the queue is full
// because the file is stuck.
func BenchmarkWritePacketFull(b *testing.B) {
	rec := benchRecord(b)
	bw := &blockingWriter{release: make(chan struct{})}
	close(bw.release)
	w, err := NewWriter(bw, Options{QueueLen: 16, FlushInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	bw.release = make(chan struct{})
	w.WritePacket(rec)
	time.Sleep(20 * time.Millisecond) // the goroutine is stuck in Write
	for i := 0; i < 16; i++ {         // fill the queue
		w.WritePacket(rec)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.WritePacket(rec); !errors.Is(err, ErrDropped) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(bw.release)
	w.Close()
}

// gateWriter passes writes to io.Discard while open and holds them
// while shut.
type gateWriter struct {
	mu   sync.Mutex
	cond sync.Cond
	open bool
}

func newGateWriter() *gateWriter {
	g := &gateWriter{open: true}
	g.cond.L = &g.mu
	return g
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	for !g.open {
		g.cond.Wait()
	}
	g.mu.Unlock()
	return len(p), nil
}

func (g *gateWriter) set(open bool) {
	g.mu.Lock()
	g.open = open
	g.cond.Broadcast()
	g.mu.Unlock()
}

// stallWriter empties w's queue, then leaves its goroutine stuck in a
// write (shut gate), so that it neither takes records nor competes for the
// lock.
func stallWriter(w *Writer, g *gateWriter, rec Record) {
	g.set(true)
	w.Flush()
	g.set(false)
	w.WritePacket(rec)
	time.Sleep(3 * time.Millisecond) // FlushInterval is 1ms: the goroutine writes and blocks
}

// BenchmarkWritePacketUncontended measures WritePacket alone, in steady
// state (every queue slot has held a record before), while the writer
// goroutine is stuck in a write. Between batches of a queue's worth, the
// timer stops and the queue is emptied.
func BenchmarkWritePacketUncontended(b *testing.B) {
	for _, tc := range []struct {
		name string
		rec  func(testing.TB) Record
	}{{"probe", benchRecord}, {"answer", benchAnswer}} {
		b.Run(tc.name, func(b *testing.B) {
			const qlen = 16384
			rec := tc.rec(b)
			g := newGateWriter()
			w, err := NewWriter(g, Options{QueueLen: qlen, FlushInterval: time.Millisecond, Lossless: true})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			for i := 0; i < 2*qlen; i++ { // give every slot its buffers
				w.WritePacket(rec)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%(qlen-2) == 0 {
					b.StopTimer()
					stallWriter(w, g, rec)
					b.StartTimer()
				}
				if err := w.WritePacket(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			g.set(true)
		})
	}
}

// BenchmarkWritePacketParallel: several goroutines (the engine's sender
// and receiver) feeding one writer.
func BenchmarkWritePacketParallel(b *testing.B) {
	rec := benchRecord(b)
	w, err := NewWriter(io.Discard, Options{QueueLen: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.WritePacket(rec); err != nil && !errors.Is(err, ErrDropped) {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	st := w.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
	w.Close()
}

// BenchmarkWriterThroughput measures the writer goroutine: records
// encoded and written per second, to a file, with WritePacket waiting for
// room (Options.Lossless) so every record is written.
func BenchmarkWriterThroughput(b *testing.B) {
	for _, tc := range []struct {
		name string
		dst  func(b *testing.B) io.Writer
	}{
		{"discard", func(*testing.B) io.Writer { return io.Discard }},
		{"file", func(b *testing.B) io.Writer {
			f, err := os.Create(filepath.Join(b.TempDir(), "bench.pcapng"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { f.Close() })
			return f
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rec := benchRecord(b)
			w, err := NewWriter(tc.dst(b), Options{Lossless: true})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				w.WritePacket(rec)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			st := w.Stats()
			b.SetBytes(int64(st.Bytes) / int64(max(b.N, 1)))
			b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
		})
	}
}

// BenchmarkRead measures the reader on a pcapng file of echo probes.
func BenchmarkRead(b *testing.B) {
	rec := benchRecord(b)
	path := filepath.Join(b.TempDir(), "read.pcapng")
	w, _ := Create(path, Options{Lossless: true})
	for i := 0; i < 10000; i++ {
		w.WritePacket(rec)
	}
	w.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		frames, err := ReadFile(path)
		if err != nil || len(frames) != 10000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "frames/s")
}
