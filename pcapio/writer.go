package pcapio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echolot/echolot/packet"
)

// Defaults of Options.
const (
	// DefaultQueueLen is the number of records the queue holds when
	// Options.QueueLen is zero.
	DefaultQueueLen = 4096
	// DefaultFlushInterval is how long a record may wait in the writer's
	// buffer before it is written when Options.FlushInterval is zero.
	DefaultFlushInterval = 100 * time.Millisecond
	// WriteSize is the buffer size at which the writer goroutine writes
	// without waiting for the flush interval.
	WriteSize = 64 << 10
)

// Errors returned by Writer.WritePacket.
var (
	// ErrDropped: the queue was full and the record was dropped (and
	// counted in Stats.Dropped). The caller should carry on.
	ErrDropped = errors.New("pcapio: write queue full, record dropped")
	// ErrClosed: the writer (or sniffer) is closed.
	ErrClosed = errors.New("pcapio: closed")
)

// Interface describes one capture interface of a file: a socket of the
// probe engine, or an interface of a lab node.
type Interface struct {
	// Name is written as if_name, for example "client:to-r1" or
	// "echolot:raw4".
	Name string
	// Description is written as if_description, for example
	// "raw IPv4 socket (IPPROTO_RAW) in lab node client".
	Description string
	// LinkType is what the records start with. Zero is taken as LinkRaw
	// (the writer never writes BSD loopback).
	LinkType LinkType
	// SnapLen is the most bytes written of a record; longer records are
	// cut and keep their original length. Zero means no limit.
	SnapLen int
}

func (i Interface) linkType() LinkType {
	if i.LinkType == LinkNull {
		return LinkRaw
	}
	return i.LinkType
}

// Options configure a Writer. The zero value writes pcapng with one raw-IP
// interface named "echolot".
type Options struct {
	// Format is the file format. FormatAuto means pcapng, except that
	// Create writes classic pcap to a name ending in ".pcap".
	Format Format
	// Interfaces are the capture interfaces; Record.Iface indexes them.
	// Empty means one raw-IP interface named "echolot". Classic pcap
	// files hold one link type: every interface must have the same.
	Interfaces []Interface
	// Section describes the capture in the pcapng section header.
	Section SectionInfo
	// QueueLen is the number of records the queue holds (DefaultQueueLen
	// when zero). Each slot keeps a buffer as large as the largest record
	// it has held.
	QueueLen int
	// FlushInterval bounds how long a record may wait in the writer's
	// buffer before it is written to the file (DefaultFlushInterval when
	// zero).
	FlushInterval time.Duration
	// Lossless makes WritePacket wait for room in the queue instead of
	// dropping the record. For offline writing (converting, annotating);
	// never on the probe path.
	Lossless bool
}

// Record is one packet for the writer.
type Record struct {
	// Time is when the packet was sent or received, best the kernel's
	// timestamp. Zero means now.
	Time time.Time
	// Data is the packet, starting with the interface's link-layer header
	// (for LinkRaw: the IP header). WritePacket copies it.
	Data []byte
	// Len is the packet's length on the wire when Data holds only part of
	// it; zero (or anything below len(Data)) means len(Data).
	Len int
	// Dir says whether the packet was sent or received (epb_flags).
	Dir Direction
	// ID is written as epb_packetid unless zero, for example the engine's
	// probe number on a probe and on its answer.
	ID uint64
	// Iface indexes the writer's interfaces (Options.Interfaces, then
	// AddInterface).
	Iface int
	// Comments are written as opt_comment options, in order. WritePacket
	// copies the slice (strings are immutable).
	Comments []string
	// Link, unless its Kind is NoLink, is formatted into one more comment
	// by the writer goroutine.
	Link Link
}

// Stats counts what a Writer did.
type Stats struct {
	// Queued is the number of records WritePacket accepted.
	Queued uint64
	// Dropped is the number of records WritePacket dropped because the
	// queue was full.
	Dropped uint64
	// Written is the number of records the operating system has accepted
	// (write returned): they survive the process being killed.
	Written uint64
	// Lost is the number of accepted records not written because writing
	// failed (see Writer.Err).
	Lost uint64
	// Bytes is the number of bytes written, file header included.
	Bytes uint64
}

// slot is one queue entry. rec.Data, rec.Comments and rec.Link.Changes
// point into the slot's own buffers, reused from record to record.
type slot struct {
	rec      Record
	data     []byte
	comments []string
	changes  []packet.Change
}

// ctl ops.
const (
	opFlush = iota
	opAddInterface
	opClose
)

type ctlReq struct {
	op    int
	ifc   Interface
	reply chan ctlReply
}

type ctlReply struct {
	id  int
	err error
}

// Writer writes a pcapng or pcap file without ever blocking its caller on
// I/O. WritePacket copies the record into a bounded queue and returns; a
// goroutine encodes queued records into whole blocks in a buffer and writes
// the buffer with one write call when it reaches WriteSize, when the oldest
// record in it has waited FlushInterval, and on Flush, AddInterface and
// Close. A full queue drops the record (counted; see Options.Lossless).
//
// Its methods may be called from several goroutines.
type Writer struct {
	enc      encoder
	dst      io.Writer
	closer   io.Closer
	every    time.Duration
	lossless bool

	nIfaces atomic.Int32

	// The queue, guarded by mu.
	mu       sync.Mutex
	cond     sync.Cond
	slots    []slot
	head, n  int
	waiters  int
	closed   bool
	queued   uint64
	dropped  uint64
	dropsPer []uint64 // per interface
	ifLinks  []LinkType

	// Written by the writer goroutine.
	written atomic.Uint64
	lost    atomic.Uint64
	bytes   atomic.Uint64
	failed  atomic.Bool
	errMu   sync.Mutex
	err     error

	// Owned by the writer goroutine.
	out        []byte
	outRecords uint64
	off        int64
	snaps      []int

	wake chan struct{}
	ctl  chan ctlReq
	done chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Create creates (or truncates) the file at path and returns a Writer for
// it, which Close closes. With Options.Format FormatAuto the file is
// classic pcap when path ends in ".pcap" and pcapng otherwise.
func Create(path string, o Options) (*Writer, error) {
	if o.Format == FormatAuto && strings.HasSuffix(path, ".pcap") {
		o.Format = FormatPcap
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pcapio: %w", err)
	}
	w, err := newWriter(f, o, binary.LittleEndian)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	w.closer = f
	return w, nil
}

// NewWriter writes the file header to dst at once (so that even an empty
// capture is a valid file) and returns a Writer for the records. Close
// does not close dst.
func NewWriter(dst io.Writer, o Options) (*Writer, error) {
	return newWriter(dst, o, binary.LittleEndian)
}

func newWriter(dst io.Writer, o Options, order byteOrder) (*Writer, error) {
	if o.Format == FormatAuto {
		o.Format = FormatPcapng
	}
	if o.Format != FormatPcapng && o.Format != FormatPcap {
		return nil, fmt.Errorf("pcapio: unknown format %v", o.Format)
	}
	ifs := o.Interfaces
	if len(ifs) == 0 {
		ifs = []Interface{{Name: "echolot", Description: "packets sent and received by echolot", LinkType: LinkRaw}}
	}
	w := &Writer{
		enc:      encoder{order: order, format: o.Format, tsresol: 9},
		dst:      dst,
		every:    o.FlushInterval,
		lossless: o.Lossless,
		wake:     make(chan struct{}, 1),
		ctl:      make(chan ctlReq),
		done:     make(chan struct{}),
	}
	if testTSResol != 0 {
		w.enc.tsresol = testTSResol
	}
	if w.every <= 0 {
		w.every = DefaultFlushInterval
	}
	qlen := o.QueueLen
	if qlen <= 0 {
		qlen = DefaultQueueLen
	}
	w.slots = make([]slot, qlen)
	w.cond.L = &w.mu
	for i, ifc := range ifs {
		if err := w.checkInterface(i, ifc); err != nil {
			return nil, err
		}
		w.ifLinks = append(w.ifLinks, ifc.linkType())
	}
	hdr := w.enc.appendHeader(nil, o.Section, ifs)
	for _, ifc := range ifs {
		if o.Format == FormatPcapng {
			hdr = w.enc.appendIDB(hdr, ifc)
		}
		w.snaps = append(w.snaps, max(ifc.SnapLen, 0))
		w.dropsPer = append(w.dropsPer, 0)
	}
	n, err := dst.Write(hdr)
	if err == nil && n < len(hdr) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return nil, fmt.Errorf("pcapio: writing the file header: %w", err)
	}
	w.off = int64(n)
	w.bytes.Store(uint64(n))
	w.nIfaces.Store(int32(len(ifs)))
	w.out = make([]byte, 0, WriteSize+4096)
	go w.run()
	return w, nil
}

// checkInterface refuses an interface a classic pcap file cannot hold.
func (w *Writer) checkInterface(i int, ifc Interface) error {
	if w.enc.format == FormatPcap && len(w.ifLinks) > 0 && ifc.linkType() != w.ifLinks[0] {
		return fmt.Errorf("pcapio: interface %d (%q) has link type %v, but a classic pcap file holds one link type, %v; use pcapng", i, ifc.Name, ifc.linkType(), w.ifLinks[0])
	}
	return nil
}

// Format returns the format the writer writes.
func (w *Writer) Format() Format { return w.enc.format }

// WritePacket queues r to be written and returns at once: it never waits
// for I/O. It copies r.Data, r.Comments and r.Link.Changes (not the
// Changes' contents), so the caller may reuse its buffers at once; in steady
// state it allocates nothing. It returns ErrDropped when the queue is full
// (the record is counted in Stats.Dropped; with Options.Lossless it waits
// for room instead), ErrClosed after Close, the writing error once writing
// has failed, and an error for an Iface the writer does not have.
func (w *Writer) WritePacket(r Record) error {
	if uint(r.Iface) >= uint(w.nIfaces.Load()) {
		return fmt.Errorf("pcapio: record for interface %d, but the writer has %d (add interfaces with Options.Interfaces or AddInterface)", r.Iface, w.nIfaces.Load())
	}
	if w.failed.Load() {
		return w.Err()
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	w.mu.Lock()
	for {
		if w.closed {
			w.mu.Unlock()
			return ErrClosed
		}
		if w.n < len(w.slots) {
			break
		}
		if !w.lossless {
			w.dropped++
			w.dropsPer[r.Iface]++
			w.mu.Unlock()
			return ErrDropped
		}
		w.waiters++
		w.cond.Wait()
		w.waiters--
	}
	i := w.head + w.n
	if i >= len(w.slots) {
		i -= len(w.slots)
	}
	s := &w.slots[i]
	s.data = append(s.data[:0], r.Data...)
	s.comments = append(s.comments[:0], r.Comments...)
	s.changes = append(s.changes[:0], r.Link.Changes...)
	s.rec = r
	s.rec.Data, s.rec.Comments, s.rec.Link.Changes = s.data, s.comments, s.changes
	w.n++
	w.queued++
	wake := w.n == 1
	w.mu.Unlock()
	if wake {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	s := Stats{Queued: w.queued, Dropped: w.dropped}
	w.mu.Unlock()
	s.Written = w.written.Load()
	s.Lost = w.lost.Load()
	s.Bytes = w.bytes.Load()
	return s
}

// Err returns the error that stopped writing, if any. Once writing fails,
// later records are counted in Stats.Lost and the file ends after the last
// whole write.
func (w *Writer) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// Flush waits until every record queued before the call is written to the
// file (handed to the operating system; it does not fsync).
func (w *Writer) Flush() error {
	r, err := w.request(ctlReq{op: opFlush})
	if err != nil {
		return err
	}
	return r.err
}

// AddInterface adds a capture interface and returns its index for
// Record.Iface. Records queued before the call are written first. A classic
// pcap writer accepts only interfaces of its one link type; their records
// share the file without telling interfaces apart.
func (w *Writer) AddInterface(ifc Interface) (int, error) {
	w.mu.Lock()
	err := w.checkInterface(len(w.ifLinks), ifc)
	w.mu.Unlock()
	if err != nil {
		return 0, err
	}
	r, err := w.request(ctlReq{op: opAddInterface, ifc: ifc})
	if err != nil {
		return 0, err
	}
	return r.id, r.err
}

// Close writes every queued record, records dropped records (pcapng: an
// interface statistics block per interface that lost any, with isb_ifdrop
// and a comment), flushes, stops the writer goroutine and, for a Writer
// from Create, closes the file. It returns the first writing error. Later
// calls return the same result.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.cond.Broadcast()
		w.mu.Unlock()
		r, err := w.request(ctlReq{op: opClose})
		if err == nil {
			err = r.err
		}
		<-w.done
		if w.closer != nil {
			if cerr := w.closer.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("pcapio: %w", cerr)
			}
		}
		w.closeErr = err
	})
	return w.closeErr
}

func (w *Writer) request(req ctlReq) (ctlReply, error) {
	req.reply = make(chan ctlReply, 1)
	select {
	case w.ctl <- req:
	case <-w.done:
		return ctlReply{}, ErrClosed
	}
	return <-req.reply, nil
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		k := w.drainOnce(len(w.slots))
		switch {
		case len(w.out) == 0 && armed:
			timer.Stop()
			armed = false
		case len(w.out) > 0 && !armed:
			timer.Reset(w.every)
			armed = true
		}
		if k > 0 {
			// More may be queued: look at the other events without
			// waiting, then drain again.
			select {
			case req := <-w.ctl:
				if w.handle(req) {
					return
				}
			case <-timer.C:
				armed = false
				w.writeOut()
			default:
			}
			continue
		}
		select {
		case <-w.wake:
		case <-timer.C:
			armed = false
			w.writeOut()
		case req := <-w.ctl:
			if w.handle(req) {
				return
			}
		}
	}
}

// handle serves a control request; it reports whether the goroutine must
// end.
func (w *Writer) handle(req ctlReq) bool {
	w.mu.Lock()
	pending := w.n
	w.mu.Unlock()
	for pending > 0 {
		k := w.drainOnce(pending)
		if k == 0 {
			break
		}
		pending -= k
	}
	var rep ctlReply
	switch req.op {
	case opAddInterface:
		w.mu.Lock()
		rep.id = len(w.ifLinks)
		w.ifLinks = append(w.ifLinks, req.ifc.linkType())
		w.dropsPer = append(w.dropsPer, 0)
		w.mu.Unlock()
		if w.enc.format == FormatPcapng {
			w.out = w.enc.appendIDB(w.out, req.ifc)
		}
		w.snaps = append(w.snaps, max(req.ifc.SnapLen, 0))
	case opClose:
		if w.enc.format == FormatPcapng {
			w.mu.Lock()
			drops := append([]uint64(nil), w.dropsPer...)
			qlen := len(w.slots)
			w.mu.Unlock()
			for i, d := range drops {
				if d > 0 {
					c := fmt.Sprintf("echolot pcapio: %d record(s) of this interface dropped because the write queue (%d records) was full", d, qlen)
					w.out = w.enc.appendDropStats(w.out, i, d, c, time.Now())
				}
			}
		}
	}
	w.writeOut()
	if req.op == opAddInterface {
		w.nIfaces.Add(1)
	}
	rep.err = w.Err()
	req.reply <- rep
	return req.op == opClose
}

// releaseEvery is how many encoded records the goroutine hands back to
// the queue at a time.
const releaseEvery = 64

// drainOnce encodes up to limit of the records queued now into the buffer,
// writing it whenever it reaches WriteSize, and returns how many it took.
func (w *Writer) drainOnce(limit int) int {
	w.mu.Lock()
	k := min(w.n, limit)
	head := w.head
	w.mu.Unlock()
	done := 0
	for done < k {
		chunk := min(k-done, releaseEvery)
		for j := 0; j < chunk; j++ {
			i := head + done + j
			if i >= len(w.slots) {
				i -= len(w.slots)
			}
			s := &w.slots[i]
			w.out = w.enc.appendRecord(w.out, &s.rec, w.snaps[s.rec.Iface], s.rec.Comments, &s.rec.Link)
			w.outRecords++
			if len(w.out) >= WriteSize {
				w.writeOut()
			}
		}
		done += chunk
		w.mu.Lock()
		w.head += chunk
		if w.head >= len(w.slots) {
			w.head -= len(w.slots)
		}
		w.n -= chunk
		if w.waiters > 0 {
			w.cond.Broadcast()
		}
		w.mu.Unlock()
	}
	return k
}

// writeOut writes the buffer, which holds whole blocks only, with one
// write call.
func (w *Writer) writeOut() {
	if len(w.out) == 0 {
		return
	}
	if !w.failed.Load() {
		n, err := w.dst.Write(w.out)
		if err == nil && n < len(w.out) {
			err = io.ErrShortWrite
		}
		w.off += int64(n)
		w.bytes.Add(uint64(n))
		if err != nil {
			w.errMu.Lock()
			w.err = fmt.Errorf("pcapio: writing %d bytes at file offset %d: %w", len(w.out), w.off-int64(n), err)
			w.errMu.Unlock()
			w.failed.Store(true)
			w.lost.Add(w.outRecords)
		} else {
			w.written.Add(w.outRecords)
		}
	} else {
		w.lost.Add(w.outRecords)
	}
	w.out = w.out[:0]
	w.outRecords = 0
	if cap(w.out) > 4*WriteSize {
		w.out = make([]byte, 0, WriteSize+4096)
	}
}

// testTSResol, when set by a test, replaces if_tsresol 9 in new writers.
var testTSResol uint8
