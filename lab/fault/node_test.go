//go:build linux

package fault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// seqpacketPair returns two connected SOCK_SEQPACKET Unix sockets, which
// keep datagram boundaries like AF_PACKET sockets, wrapped as pollable
// files. The node gets one end, the test the other.
func seqpacketPair(t testing.TB) (node, peer *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	node, peer = os.NewFile(uintptr(fds[0]), "node"), os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { node.Close(); peer.Close() })
	return node, peer
}

// testNode runs a node between two socket pairs until the test ends.
type testNode struct {
	*Node
	client, server *os.File // the test's ends
	done           chan error
	cancel         context.CancelFunc
}

func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	var tn testNode
	cfg.Client, tn.client = seqpacketPair(t)
	cfg.Server, tn.server = seqpacketPair(t)
	tn.Node = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	tn.done = make(chan error, 1)
	go func() { tn.done <- tn.Run(ctx) }()
	for !tn.running.Load() {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-tn.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return &tn
}

// recv reads one frame from f, or returns nil after d.
func recv(t *testing.T, f *os.File, d time.Duration) []byte {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, maxFrame)
	n, err := f.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return buf[:n]
}

func send(t *testing.T, f *os.File, frame []byte) {
	t.Helper()
	if _, err := f.Write(frame); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// eventually polls n's stats until ok holds (the counters of a sent frame
// are updated just after it is sent) and returns the last stats.
func eventually(n *Node, ok func(Stats) bool) Stats {
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := n.Stats()
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}

func mustAdd(t *testing.T, c Controller, text string) int {
	t.Helper()
	r, err := ParseRule(text)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Add(r)
	if err != nil {
		t.Fatalf("Add(%q): %v", text, err)
	}
	return id
}

func TestNodeForwards(t *testing.T) {
	n := startNode(t, Config{Seed: 1})
	f := frameOf(t, echo4(payload(56)))
	arp := append(ethHeader(0x0806), make([]byte, 28)...)
	for _, tc := range []struct {
		from, to *os.File
		frame    []byte
	}{
		{n.client, n.server, f}, {n.server, n.client, f}, {n.client, n.server, arp},
	} {
		send(t, tc.from, tc.frame)
		if got := recv(t, tc.to, 2*time.Second); !bytes.Equal(got, tc.frame) {
			t.Fatalf("forwarded %x, want %x", got, tc.frame)
		}
	}
	// Rules per direction.
	mustAdd(t, n, "corrupt offset=0 byte=0xee dir=to-client")
	mustAdd(t, n, "duplicate 2 dir=to-server")
	send(t, n.client, f)
	for i := range 3 {
		if got := recv(t, n.server, 2*time.Second); !bytes.Equal(got, f) {
			t.Fatalf("copy %d: %x", i, got)
		}
	}
	send(t, n.server, f)
	got := recv(t, n.client, 2*time.Second)
	if got == nil || got[14+28] != 0xee {
		t.Fatalf("to-client frame not corrupted: %x", got)
	}
	checkGood(t, got, "forwarded corrupt")
	if extra := recv(t, n.client, 50*time.Millisecond); extra != nil {
		t.Fatal("duplicate applied to-client")
	}
	id := mustAdd(t, n, "drop proto=icmp")
	send(t, n.client, f)
	if got := recv(t, n.server, 100*time.Millisecond); got != nil {
		t.Fatal("drop let a frame through")
	}
	if err := n.Delete(id); err != nil {
		t.Fatal(err)
	}
	want := Stats{
		ToServer: DirStats{Received: 4, Sent: 5, Dropped: 1, Duplicated: 2},
		ToClient: DirStats{Received: 2, Sent: 2},
	}
	if st := eventually(n.Node, func(s Stats) bool { return s == want }); st != want {
		t.Errorf("stats %+v\nwant  %+v", st, want)
	}
	list, _ := n.List()
	// The dropped frame was duplicated first: duplicate comes earlier.
	if len(list) != 2 || list[0].Matched != 1 || list[1].Matched != 2 || list[1].Seen != 2 {
		t.Errorf("list %+v", list)
	}
}

func TestNodeForwardNoAlloc(t *testing.T) {
	// Forwarding a frame that no rule matches allocates nothing: not in
	// Apply, not in the loop around it. The round trip below includes the
	// test's own writes and reads.
	n := startNode(t, Config{Seed: 1})
	mustAdd(t, n, "drop proto=udp")
	mustAdd(t, n, "delay 1ms dir=to-client proto=tcp")
	f := frameOf(t, echo4(payload(56)))
	buf := make([]byte, 2048)
	roundTrip := func() {
		n.client.Write(f)
		if _, err := n.server.Read(buf); err != nil {
			t.Fatal(err)
		}
		n.server.Write(f)
		if _, err := n.client.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	n.client.SetReadDeadline(time.Time{})
	n.server.SetReadDeadline(time.Time{})
	roundTrip()
	if a := testing.AllocsPerRun(500, roundTrip); a > 0.05 {
		t.Errorf("%v allocations per round trip", a)
	}
}

func TestNodeDelay(t *testing.T) {
	n := startNode(t, Config{Seed: 1})
	mustAdd(t, n, "delay 30ms jitter=10ms")
	f := frameOf(t, echo4(payload(56)))
	start := time.Now()
	for i := range 20 {
		g := bytes.Clone(f)
		g[14+28] = byte(i)
		send(t, n.client, g)
	}
	seen := map[byte]bool{}
	for range 20 {
		got := recv(t, n.server, 2*time.Second)
		if got == nil {
			t.Fatal("delayed frame lost")
		}
		if el := time.Since(start); el < 30*time.Millisecond {
			t.Errorf("frame after %v, before the delay", el)
		}
		seen[got[14+28]] = true
	}
	if el := time.Since(start); el > 40*time.Millisecond+500*time.Millisecond {
		t.Errorf("last frame after %v", el)
	}
	if len(seen) != 20 {
		t.Errorf("got %d distinct frames", len(seen))
	}
	// The send path reuses the receive buffer: delayed frames were copied.
	if st := eventually(n.Node, func(s Stats) bool { return s.ToServer.Sent == 20 }).ToServer; st.Delayed != 20 || st.Sent != 20 {
		t.Errorf("stats %+v", st)
	}
}

func TestNodeQueueBound(t *testing.T) {
	n := startNode(t, Config{QueueFrames: 5, QueueBytes: 1 << 20})
	mustAdd(t, n, "delay 200ms")
	f := frameOf(t, echo4(payload(56)))
	for range 20 {
		send(t, n.client, f)
	}
	got := 0
	for recv(t, n.server, 400*time.Millisecond) != nil {
		got++
	}
	st := eventually(n.Node, func(s Stats) bool { return s.ToServer.Sent == 5 }).ToServer
	if got != 5 || st.Overflow != 15 || st.Delayed != 20 || st.Sent != 5 {
		t.Errorf("received %d, stats %+v; want 5 through, 15 overflow", got, st)
	}
	// The byte bound works too.
	n = startNode(t, Config{QueueBytes: 3 * len(f)})
	mustAdd(t, n, "delay 100ms")
	for range 5 {
		send(t, n.client, f)
	}
	if st := eventually(n.Node, func(s Stats) bool { return s.ToServer.Sent == 3 }).ToServer; st.Overflow != 2 || st.Sent != 3 {
		t.Errorf("byte bound: %+v", st)
	}
}

func TestNodeRulesWhileForwarding(t *testing.T) {
	// Rules change while frames flow both ways (run with -race).
	n := startNode(t, Config{Seed: 9})
	f := frameOf(t, echo4(payload(56)))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for _, ends := range [][2]*os.File{{n.client, n.server}, {n.server, n.client}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ends[0].Write(f)
				time.Sleep(50 * time.Microsecond)
			}
		}()
		go func() {
			defer wg.Done()
			buf := make([]byte, maxFrame)
			for ctx.Err() == nil {
				ends[1].SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				ends[1].Read(buf)
			}
		}()
	}
	for i := 0; ctx.Err() == nil; i++ {
		id := mustAdd(t, n, []string{"tos 0x28", "corrupt ber=0.01", "duplicate", "loss 0.5", "delay 1ms"}[i%5])
		if i%3 == 0 {
			n.Delete(id)
		}
		if i%17 == 0 {
			n.Clear()
		}
		n.List()
		n.Stats()
	}
	wg.Wait()
	if st := n.Stats(); st.ToServer.Received == 0 || st.ToClient.Received == 0 {
		t.Errorf("nothing forwarded: %+v", st)
	}
}

func TestNodeController(t *testing.T) {
	n := New(Config{})
	if l, _ := n.List(); len(l) != 0 || l == nil {
		t.Errorf("new node lists %v", l)
	}
	a := mustAdd(t, n, "tos 1")
	b := mustAdd(t, n, "tos 2")
	if a != 1 || b != 2 {
		t.Errorf("ids %d %d", a, b)
	}
	if err := n.Delete(a); err != nil {
		t.Fatal(err)
	}
	c := mustAdd(t, n, "tos 3")
	if c != 3 {
		t.Errorf("id reused: %d", c)
	}
	l, _ := n.List()
	if len(l) != 2 || l[0].ID != 2 || l[0].Rule.ID != 2 || l[1].Rule.String() != "tos 0x03" {
		t.Errorf("list %+v", l)
	}
	err := n.Delete(7)
	if err == nil || !strings.Contains(err.Error(), `id = "7"`) {
		t.Errorf("Delete(7) = %v", err)
	}
	if _, err := n.Add(Rule{Kind: Truncate}); err == nil {
		t.Error("Add accepted an invalid rule")
	}
	n.Clear()
	for range MaxRules {
		mustAdd(t, n, "tos 1")
	}
	if _, err := n.Add(Rule{Kind: TOS}); err == nil || !strings.Contains(err.Error(), "at most 64 rules") {
		t.Errorf("rule 65: %v", err)
	}
	// Run needs sockets.
	if err := n.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "OpenBridge") {
		t.Errorf("Run without sockets: %v", err)
	}
}

func TestNodeRunErrors(t *testing.T) {
	n := startNode(t, Config{})
	if err := n.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run: %v", err)
	}
	// The peer going away ends Run with an error naming the side.
	n.client.Close()
	select {
	case err := <-n.done:
		if err == nil || !strings.Contains(err.Error(), "client side") {
			t.Errorf("Run = %v", err)
		}
		n.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end when the client peer closed")
	}
	// Run closed both of its sockets.
	if _, err := n.server.Write([]byte{1}); err == nil {
		t.Error("node's server socket still open")
	}
}

func TestControlSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fault.sock")
	n := New(Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, n, sock) }()
	var c Controller
	var err error
	for range 100 {
		if c, err = Dial(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v", fi.Mode(), err)
	}
	id := mustAdd(t, c, "corrupt offset=30 flip=0x01 dir=to-client")
	mustAdd(t, c, "delay 20ms jitter=5ms")
	n.Rules().Apply(frameOf(t, echo4(payload(56))), ToClient, nil, nil)
	l, err := c.List()
	if err != nil || len(l) != 2 || l[0].ID != id || l[0].Rule.ID != id || l[0].Matched != 1 || l[1].Seen != 1 ||
		l[0].Rule.String() != "corrupt offset=30 flip=0x01 dir=to-client" {
		t.Fatalf("List = %+v, %v", l, err)
	}
	// Errors from the node come back with the same text.
	_, nodeErr := n.Add(Rule{Kind: TOS, Dir: 9})
	_, clientErr := c.Add(Rule{Kind: TOS, Dir: 9})
	if clientErr == nil || clientErr.Error() != nodeErr.Error() {
		t.Errorf("client error %v, node error %v", clientErr, nodeErr)
	}
	if err, nerr := c.Delete(99), n.Delete(99); err == nil || err.Error() != nerr.Error() {
		t.Errorf("Delete(99) = %v, node says %v", err, nerr)
	}
	if err := c.Delete(id); err != nil {
		t.Fatal(err)
	}
	if st, err := c.(*Client).Stats(); err != nil || st != n.Stats() {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	if l, err := c.List(); err != nil || len(l) != 0 || l == nil {
		t.Errorf("after Clear: %v, %v", l, err)
	}
	// Raw protocol: bad JSON and unknown ops are answered with errors,
	// and one connection carries several requests.
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("nonsense\n{\"op\":\"frob\"}\n{\"op\":\"add\",\"rule\":\"loss 2\"}\n{\"op\":\"list\"}\n"))
	sc := bufio.NewScanner(conn)
	for _, want := range []string{`{"error":"fault: control request is not JSON`, `{"error":"fault: control op \"frob\" unknown`, `{"error":"fault: loss = \"2\"`, `{"rules":[]}`} {
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), want) {
			t.Errorf("answer %q, want %s…", sc.Text(), want)
		}
	}
	conn.Close()
	// A second node cannot take the socket over.
	if err := Serve(ctx, New(Config{}), sock); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Serve: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left: %v", err)
	}
	if _, err := c.List(); err == nil || !strings.Contains(err.Error(), "is the lab up") {
		t.Errorf("List after stop: %v", err)
	}
	if _, err := Dial(sock); err == nil {
		t.Error("Dial succeeded with no node")
	}
	// A stale socket file (a node killed with -9) is replaced.
	l2, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l2.SetUnlinkOnClose(false)
	l2.Close()
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- Serve(ctx, n, sock) }()
	for range 100 {
		if c, err = Dial(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after a stale socket: %v", err)
	}
	cancel()
	<-done
	// A file that is not a socket is not removed.
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("keep"), 0o644)
	if err := Serve(context.Background(), n, plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Serve on a regular file: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep" {
		t.Error("Serve removed a regular file")
	}
	// A missing directory is reported.
	if err := Serve(context.Background(), n, filepath.Join(dir, "no", "such", "dir", "s")); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Serve in a missing directory: %v", err)
	}
}
