package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Controller adds, lists and removes the rules of a fault node. *Node
// implements it in the process that forwards; Dial returns one that talks
// to a node through its control socket. All methods are safe for
// concurrent use, also while the node forwards.
type Controller interface {
	// Add validates the rule, appends it after the existing rules and
	// returns its ID. Rules apply in the order they were added.
	Add(Rule) (int, error)
	// List returns the rules in order with their counters.
	List() ([]RuleStatus, error)
	// Delete removes the rule with the given ID.
	Delete(id int) error
	// Clear removes every rule.
	Clear() error
}

// MaxRules bounds the rules of one node, and so the work per frame.
const MaxRules = 64

// Defaults of Config.
const (
	DefaultQueueFrames = 10000    // delayed frames held per direction
	DefaultQueueBytes  = 32 << 20 // bytes of delayed frames held per direction
)

// maxFrame is the largest frame read: a 64 KiB IP datagram, Ethernet
// header and a VLAN tag.
const maxFrame = 65535 + ethHeaderLen + 4

// Config is what a Node forwards between.
type Config struct {
	// Client and Server are the two bridged sockets: Client the one on the
	// interface towards the client (frames read from it travel ToServer),
	// Server the one towards the server. They are normally AF_PACKET
	// sockets from OpenBridge; any datagram-preserving, pollable file works
	// (the tests use socket pairs). Run closes them when it returns.
	Client, Server *os.File
	// ClientName and ServerName name the interfaces in log messages.
	ClientName, ServerName string
	// Logger receives rule changes and forwarding errors; nil discards.
	Logger *slog.Logger
	// QueueFrames and QueueBytes bound the delayed frames held per
	// direction; a frame that does not fit is dropped and counted as
	// overflow. Zero means DefaultQueueFrames and DefaultQueueBytes.
	QueueFrames, QueueBytes int
	// Seed seeds the random numbers of probabilities, bit errors and
	// jitter (a direction's generator is seeded with Seed and its
	// direction), so that a run can be repeated; 0 picks a random seed.
	Seed uint64
}

// DirStats counts what happened to the frames of one direction.
type DirStats struct {
	// Received counts frames read from the incoming interface.
	Received uint64 `json:"received"`
	// Sent counts frames written to the outgoing interface, copies and
	// delayed frames included.
	Sent uint64 `json:"sent"`
	// Dropped counts frames taken by drop and loss rules.
	Dropped uint64 `json:"dropped"`
	// Duplicated counts extra copies made by duplicate rules.
	Duplicated uint64 `json:"duplicated"`
	// Delayed counts frames (copies included) put in the delay queue.
	Delayed uint64 `json:"delayed"`
	// Overflow counts delayed frames dropped because the queue was full.
	Overflow uint64 `json:"overflow"`
	// SendErrors counts frames the outgoing socket refused (e.g. larger
	// than the interface MTU).
	SendErrors uint64 `json:"send_errors"`
	// SocketDrops counts frames the kernel dropped because the incoming
	// socket's buffer was full (PACKET_STATISTICS), when known.
	SocketDrops uint64 `json:"socket_drops"`
}

// Stats holds the counters of both directions.
type Stats struct {
	ToServer DirStats `json:"to_server"` // frames from the client side
	ToClient DirStats `json:"to_client"` // frames from the server side
}

type dirCounters struct {
	received, sent, dropped, duplicated, delayed, overflow, sendErrors atomic.Uint64
	socketDrops                                                        atomic.Uint64
}

func (c *dirCounters) load() DirStats {
	return DirStats{
		Received: c.received.Load(), Sent: c.sent.Load(), Dropped: c.dropped.Load(),
		Duplicated: c.duplicated.Load(), Delayed: c.delayed.Load(), Overflow: c.overflow.Load(),
		SendErrors: c.sendErrors.Load(), SocketDrops: c.socketDrops.Load(),
	}
}

// Node is the fault-injecting bump in the wire: it forwards Ethernet
// frames between two interfaces in both directions, applying its rules
// (see RuleSet.Apply). Its rule set is an immutable RuleSet behind an
// atomic pointer, so rules change without stopping or slowing forwarding.
// A Node is a Controller.
type Node struct {
	cfg     Config
	log     *slog.Logger
	rules   atomic.Pointer[RuleSet]
	mu      sync.Mutex // serialises rule changes
	nextID  int
	dirs    [2]dirCounters // ToServer, ToClient
	running atomic.Bool
	statsMu sync.Mutex // PACKET_STATISTICS reads reset the kernel's counters
}

// New returns a node for cfg with no rules. It is a working Controller at
// once; Run starts forwarding.
func New(cfg Config) *Node {
	if cfg.QueueFrames <= 0 {
		cfg.QueueFrames = DefaultQueueFrames
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.ClientName == "" {
		cfg.ClientName = "client side"
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "server side"
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.rules.Store(&RuleSet{})
	return n
}

// Add implements Controller.
func (n *Node) Add(r Rule) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.rules.Load()
	if len(old.rules) >= MaxRules {
		return 0, ruleErr("rules", strconv.Itoa(len(old.rules)), "a fault node holds at most %d rules: delete some first", MaxRules)
	}
	n.nextID++
	r.ID = n.nextID
	list := make([]*liveRule, len(old.rules), len(old.rules)+1)
	copy(list, old.rules)
	n.rules.Store(&RuleSet{rules: append(list, newLiveRule(r))})
	n.log.Info("fault rule added", "id", r.ID, "rule", r.String())
	return r.ID, nil
}

// List implements Controller.
func (n *Node) List() ([]RuleStatus, error) {
	return n.rules.Load().Status(), nil
}

// Delete implements Controller.
func (n *Node) Delete(id int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.rules.Load()
	for i, r := range old.rules {
		if r.ID == id {
			list := make([]*liveRule, 0, len(old.rules)-1)
			list = append(append(list, old.rules[:i]...), old.rules[i+1:]...)
			n.rules.Store(&RuleSet{rules: list})
			n.log.Info("fault rule deleted", "id", id, "rule", r.String())
			return nil
		}
	}
	return ruleErr("id", strconv.Itoa(id), "no rule has this id; list the rules to see the ids in use")
}

// Clear implements Controller.
func (n *Node) Clear() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rules.Store(&RuleSet{})
	n.log.Info("fault rules cleared")
	return nil
}

// Rules returns the current rule set.
func (n *Node) Rules() *RuleSet { return n.rules.Load() }

// Stats returns the counters of both directions.
func (n *Node) Stats() Stats {
	n.statsMu.Lock()
	defer n.statsMu.Unlock()
	for i, f := range []*os.File{n.cfg.Client, n.cfg.Server} {
		if f == nil {
			continue
		}
		if d, ok := socketDrops(f); ok {
			n.dirs[i].socketDrops.Add(d)
		}
	}
	return Stats{ToServer: n.dirs[0].load(), ToClient: n.dirs[1].load()}
}

// Run forwards frames in both directions until ctx is done or a socket
// fails, then closes both sockets and returns: nil after ctx is done, the
// error otherwise. Frames still held by delay rules are discarded. Run may
// be called once.
func (n *Node) Run(ctx context.Context) error {
	if n.cfg.Client == nil || n.cfg.Server == nil {
		return errors.New("fault: Config.Client or Config.Server is nil: open the sockets with OpenBridge on a thread inside the fault node's namespace (lab.InNode)")
	}
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("fault: Run called twice: a node forwards once; make a new node with New")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Close both sockets at once: closing one waits for the operations
	// in flight on it, which may wait for the other to be closed.
	stop := context.AfterFunc(ctx, func() {
		go n.cfg.Client.Close()
		n.cfg.Server.Close()
	})
	defer stop()

	legs := [2]*leg{}
	for i, l := range []struct {
		in, out         *os.File
		inName, outName string
		dir             Direction
	}{
		{n.cfg.Client, n.cfg.Server, n.cfg.ClientName, n.cfg.ServerName, ToServer},
		{n.cfg.Server, n.cfg.Client, n.cfg.ServerName, n.cfg.ClientName, ToClient},
	} {
		rc, err := l.in.SyscallConn()
		if err != nil {
			return fmt.Errorf("fault: socket of %s: %w", l.inName, err)
		}
		legs[i] = &leg{
			node: n, in: rc, out: l.out, inName: l.inName, outName: l.outName, dir: l.dir, c: &n.dirs[i],
			sched: newScheduler(l.out, &n.dirs[i], n.cfg.QueueFrames, n.cfg.QueueBytes),
			rng:   rand.New(rand.NewPCG(n.cfg.Seed, uint64(i+1))),
			buf:   make([]byte, maxFrame),
			outs:  make([]Output, 0, 1+MaxDuplicates),
		}
	}
	legs[0].other, legs[1].other = legs[1], legs[0]
	for _, l := range legs {
		l.pumpFn = func(fd uintptr) { l.pump(int(fd)) }
	}

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, l := range legs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			l.sched.run(ctx)
		}()
		go func() {
			defer wg.Done()
			if err := l.run(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	n.log.Info("fault node forwarding", "client", n.cfg.ClientName, "server", n.cfg.ServerName)
	wg.Wait()
	// Make sure the sockets are closed also when a leg failed first.
	cancel()
	n.cfg.Client.Close()
	n.cfg.Server.Close()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// leg moves the frames of one direction: it reads them from its incoming
// socket, applies the rules and writes them to the outgoing one.
//
// Its goroutine waits in the netpoller until the socket is readable, then
// reads it dry with non-blocking reads. After every frame it sends, it
// also reads the other leg dry (if no one else is doing so): the kernel
// handles a frame sent on a veth during the send call, so the answer of a
// host behind the fault node (an echo reply, through r2 and back) is
// usually queued on the other socket by the time the send returns, and
// forwarding it at once saves a hand-over to the other goroutine (about
// 10–15% more ping -f replies per second in BenchmarkBridgeLatency). A
// mutex per leg keeps its frames in order whoever reads them.
type leg struct {
	node            *Node
	in              syscall.RawConn
	out             *os.File
	inName, outName string
	dir             Direction
	c               *dirCounters
	sched           *scheduler
	other           *leg

	pumpFn func(fd uintptr) // pump, for RawConn.Control, made once

	mu       sync.Mutex // held while reading and forwarding; guards the fields below
	buf      []byte
	outs     []Output
	rng      *rand.Rand
	sendErrs int
}

// pumpBatch bounds the frames one call of pump forwards, so that the two
// directions take turns under load.
const pumpBatch = 64

func (l *leg) run(ctx context.Context) error {
	// The callbacks are made once: a closure passed to RawConn.Read
	// escapes, and making one per wait would allocate on every frame.
	var ferr error
	readFn := func(fd uintptr) bool {
		l.mu.Lock()
		n, err := l.pump(int(fd))
		l.mu.Unlock()
		if err != nil {
			ferr = err
			return true
		}
		return n > 0 // nothing there: wait until the socket is readable
	}
	for {
		err := l.in.Read(readFn)
		if ctx.Err() != nil || errors.Is(err, fs.ErrClosed) {
			return nil
		}
		if err == nil {
			err = ferr
		}
		if err != nil {
			if err == io.EOF {
				return fmt.Errorf("fault: reading %s: the socket was closed by its peer", l.inName)
			}
			return fmt.Errorf("fault: reading %s: %w", l.inName, err)
		}
	}
}

// pump reads and forwards up to pumpBatch frames from fd with non-blocking
// reads, stopping when the socket is empty. l.mu must be held.
func (l *leg) pump(fd int) (int, error) {
	for n := 0; n < pumpBatch; n++ {
		nr, err := syscall.Read(fd, l.buf)
		switch {
		case err == syscall.EAGAIN:
			return n, nil
		case err == syscall.EINTR:
			n--
			continue
		case err != nil:
			if transient(err) {
				return n, nil
			}
			return n, err
		case nr == 0:
			return n, io.EOF
		}
		l.forward(l.buf[:nr])
	}
	return pumpBatch, nil
}

// tryPump forwards what waits on the leg's socket, unless another
// goroutine is already doing so.
func (l *leg) tryPump() {
	if !l.mu.TryLock() {
		return
	}
	defer l.mu.Unlock()
	l.in.Control(l.pumpFn) // errors reach the leg's own goroutine
}

// forward applies the rules to one frame and sends or queues the results.
// l.mu must be held.
func (l *leg) forward(frame []byte) {
	l.c.received.Add(1)
	l.outs = l.node.rules.Load().Apply(frame, l.dir, l.rng, l.outs)
	if len(l.outs) == 0 {
		l.c.dropped.Add(1)
		return
	}
	if len(l.outs) > 1 {
		l.c.duplicated.Add(uint64(len(l.outs) - 1))
	}
	sent := false
	for _, o := range l.outs {
		if o.Delay > 0 {
			l.c.delayed.Add(1)
			l.sched.push(o.Frame, o.Delay)
			continue
		}
		if _, err := l.out.Write(o.Frame); err != nil {
			if errors.Is(err, fs.ErrClosed) {
				return
			}
			l.c.sendErrors.Add(1)
			if l.sendErrs++; l.sendErrs <= 10 {
				l.node.log.Warn("fault: send failed", "iface", l.outName, "len", len(o.Frame), "err", err)
			}
			continue
		}
		l.c.sent.Add(1)
		sent = true
	}
	if sent {
		l.other.tryPump()
	}
}

// transient reports read errors after which reading goes on: an interface
// that went down, or a full buffer.
func transient(err error) bool {
	return errors.Is(err, syscall.ENETDOWN) || errors.Is(err, syscall.ENOBUFS)
}

// scheduler holds delayed frames of one direction in a min-heap by due
// time and sends each when its time has come. Memory is bounded by the
// queue limits; frames over them are dropped and counted as overflow.
type scheduler struct {
	out                 *os.File
	c                   *dirCounters
	maxFrames, maxBytes int

	mu    sync.Mutex
	heap  []delayed
	bytes int
	seq   uint64
	wake  chan struct{}
}

type delayed struct {
	due   time.Time
	seq   uint64 // keeps frames with the same due time in order
	frame *[]byte
}

// framePool recycles the buffers of delayed frames up to a common MTU.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func newScheduler(out *os.File, c *dirCounters, maxFrames, maxBytes int) *scheduler {
	return &scheduler{out: out, c: c, maxFrames: maxFrames, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

func (s *scheduler) push(frame []byte, d time.Duration) {
	due := time.Now().Add(d)
	s.mu.Lock()
	if len(s.heap) >= s.maxFrames || s.bytes+len(frame) > s.maxBytes {
		s.mu.Unlock()
		s.c.overflow.Add(1)
		return
	}
	var bp *[]byte
	if len(frame) <= 2048 {
		bp = framePool.Get().(*[]byte)
		*bp = append((*bp)[:0], frame...)
	} else {
		b := append([]byte(nil), frame...)
		bp = &b
	}
	s.seq++
	s.heap = append(s.heap, delayed{due: due, seq: s.seq, frame: bp})
	s.bytes += len(frame)
	s.up(len(s.heap) - 1)
	first := s.heap[0].seq == s.seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *scheduler) less(i, j int) bool {
	a, b := &s.heap[i], &s.heap[j]
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	return a.seq < b.seq
}

func (s *scheduler) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			return
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
}

func (s *scheduler) down(i int) {
	n := len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			return
		}
		s.heap[i], s.heap[m] = s.heap[m], s.heap[i]
		i = m
	}
}

// popDue removes the frames due at now into batch and returns it with the
// due time of the next frame (zero when none is left).
func (s *scheduler) popDue(now time.Time, batch []*[]byte) ([]*[]byte, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.heap) > 0 && !s.heap[0].due.After(now) {
		batch = append(batch, s.heap[0].frame)
		s.bytes -= len(*s.heap[0].frame)
		last := len(s.heap) - 1
		s.heap[0] = s.heap[last]
		s.heap[last] = delayed{}
		s.heap = s.heap[:last]
		s.down(0)
	}
	if len(s.heap) == 0 {
		return batch, time.Time{}
	}
	return batch, s.heap[0].due
}

func (s *scheduler) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch []*[]byte
	for {
		var next time.Time
		batch, next = s.popDue(time.Now(), batch[:0])
		for _, bp := range batch {
			if _, err := s.out.Write(*bp); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.c.sendErrors.Add(1)
			} else {
				s.c.sent.Add(1)
			}
			if cap(*bp) == 2048 {
				framePool.Put(bp)
			}
		}
		if next.IsZero() {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}
