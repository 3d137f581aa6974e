package sock

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
	"github.com/echolot/echolot/packet"
)

// TestFilterIsolation runs two filtered "echolot" receivers and an iputils
// ping at once in the same namespace: an unfiltered raw ICMP socket sees the
// echo replies of all three, while each filtered one sees only its own.
func TestFilterIsolation(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	ping := testenv.NeedTool(t, "ping")
	ids := []uint16{0x7a01, 0x7a02}
	const n = 200
	type inst struct {
		snd, rcv *Conn
		got      map[uint16]int // id → replies seen
		foreign  int
	}
	var insts []*inst
	for _, id := range ids {
		insts = append(insts, &inst{
			snd: open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, &Options{NoTxTimestamps: true}) }),
			rcv: open(t, tp.client, func() (*Conn, error) { return OpenICMP(IPv4, &Options{Filter: EchoFilter(IPv4, id)}) }),
			got: map[uint16]int{},
		})
	}
	all := open(t, tp.client, func() (*Conn, error) { return OpenICMP(IPv4, nil) })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := tp.client.command(ctx, ping, "-n", "-q", "-i", "0.002", "-c", "400", serverV4.String())
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Readers.
	var wg sync.WaitGroup
	allIDs := map[uint16]int{}
	readAll := func(c *Conn, f func(p *packet.Packet)) {
		defer wg.Done()
		r := newReader(c)
		for {
			if err := c.Recv(r.buf, &r.m); err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, os.ErrClosed) {
					t.Error(err)
				}
				return
			}
			if p, err := packet.Parse(r.m.Data); err == nil && p.ICMP.Type == packet.ICMPEchoReply {
				f(p)
			}
		}
	}
	stop := time.Now().Add(3 * time.Second)
	for i, in := range insts {
		in.rcv.SetReadDeadline(stop)
		wg.Add(1)
		go readAll(in.rcv, func(p *packet.Packet) {
			in.got[p.ICMP.ID]++
			if p.ICMP.ID != ids[i] {
				in.foreign++
			}
		})
	}
	all.SetReadDeadline(stop)
	wg.Add(1)
	go readAll(all, func(p *packet.Packet) { allIDs[p.ICMP.ID]++ })

	// Senders, interleaved with ping.
	for seq := 1; seq <= n; seq++ {
		for i, in := range insts {
			if _, err := in.snd.Send(echo4(t, clientV4, serverV4, ids[i], uint16(seq), 64, false, 56), netip.AddrPortFrom(serverV4, 0), nil); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	cmd.Process.Kill()
	cmd.Wait()

	var pingIDs []uint16
	for id, c := range allIDs {
		if id != ids[0] && id != ids[1] && c > 0 {
			pingIDs = append(pingIDs, id)
		}
	}
	t.Logf("unfiltered socket saw echo replies by id: %v; ping: %s", allIDs, strings.TrimSpace(out.String()))
	if len(pingIDs) == 0 {
		t.Fatalf("the unfiltered socket saw no reply of iputils ping: the test proves nothing (%s)", out.String())
	}
	for i, in := range insts {
		if in.foreign != 0 {
			t.Errorf("filtered receiver %#x saw %d foreign echo replies: %v", ids[i], in.foreign, in.got)
		}
		if in.got[ids[i]] != n {
			t.Errorf("filtered receiver %#x saw %d of its %d replies", ids[i], in.got[ids[i]], n)
		}
		t.Logf("filtered receiver %#x: %v", ids[i], in.got)
	}
}

// TestRawTCPUDP: answers to header-included TCP and UDP probes arrive on
// raw TCP and UDP sockets, filtered by destination port; the kernel answers
// them too (RST to the SYN-ACK, port unreachable to the UDP reply), as the
// server's raw sockets show.
func TestRawTCPUDP(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	port := listenTCP(t, tp.server)
	// A UDP echo server.
	var uc net.PacketConn
	if err := tp.server.do(func() (err error) { uc, err = net.ListenPacket("udp4", ":0"); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			n, a, err := uc.ReadFrom(b)
			if err != nil {
				return
			}
			uc.WriteTo(b[:n], a)
		}
	}()
	uport := uint16(uc.LocalAddr().(*net.UDPAddr).Port)

	snd := open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, nil) })
	rtcp := open(t, tp.client, func() (*Conn, error) {
		return OpenRaw(IPv4, packet.ProtoTCP, &Options{Filter: PortFilter(IPv4, 40000, 40009)})
	})
	rudp := open(t, tp.client, func() (*Conn, error) {
		return OpenRaw(IPv4, packet.ProtoUDP, &Options{Filter: PortFilter(IPv4, 40000, 40009)})
	})
	srvTCP := open(t, tp.server, func() (*Conn, error) {
		return OpenRaw(IPv4, packet.ProtoTCP, &Options{Filter: PortFilter(IPv4, port, port)})
	})
	srvICMP := open(t, tp.server, func() (*Conn, error) { return OpenICMP(IPv4, &Options{ICMPTypes: []uint8{3}}) })

	send := func(p packet.Packet) {
		t.Helper()
		p.Version = 4
		p.IPv4 = packet.IPv4{Src: clientV4, Dst: serverV4, TTL: 64, DF: true}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := snd.Send(b, netip.AddrPortFrom(serverV4, 0), nil); err != nil {
			t.Fatal(err)
		}
	}
	// SYN from a filtered-out port first: its SYN-ACK must not reach rtcp.
	send(packet.Packet{Transport: packet.TransportTCP, TCP: packet.TCP{SrcPort: 50001, DstPort: port, Seq: 1000, Flags: packet.TCPSyn, Window: 1024}})
	send(packet.Packet{Transport: packet.TransportTCP, TCP: packet.TCP{SrcPort: 40001, DstPort: port, Seq: 7777, Flags: packet.TCPSyn, Window: 1024}})
	r := newReader(rtcp)
	skipped := r.until(t, 3*time.Second, "SYN-ACK", func(m *Msg) bool {
		p, err := packet.Parse(m.Data)
		return err == nil && p.TCP.DstPort == 40001 && p.TCP.Flags == packet.TCPSyn|packet.TCPAck && p.TCP.Ack == 7778
	})
	if len(skipped) != 0 {
		t.Errorf("raw TCP socket read other segments before the SYN-ACK: %v", skipped)
	}
	if n := r.none(t, 300*time.Millisecond, "segment to a filtered-out port", func(m *Msg) bool {
		p, err := packet.Parse(m.Data)
		return err != nil || p.TCP.DstPort < 40000 || p.TCP.DstPort > 40009
	}); n > 0 {
		t.Logf("%d more segments for our ports (SYN-ACK retransmissions)", n)
	}
	sr := newReader(srvTCP)
	sr.until(t, 3*time.Second, "the client kernel's RST at the server", func(m *Msg) bool {
		p, err := packet.Parse(m.Data)
		return err == nil && p.TCP.SrcPort == 40001 && p.TCP.Flags&packet.TCPRst != 0
	})
	t.Logf("client kernel answered the SYN-ACK itself: %s", parse4(t, sr.m.Data).Summary())

	send(packet.Packet{Transport: packet.TransportUDP, UDP: packet.UDP{SrcPort: 40002, DstPort: uport}, Payload: []byte("echolot")})
	ur := newReader(rudp)
	ur.until(t, 3*time.Second, "UDP reply", func(m *Msg) bool {
		p, err := packet.Parse(m.Data)
		return err == nil && p.UDP.DstPort == 40002 && string(p.Payload) == "echolot"
	})
	ir := newReader(srvICMP)
	ir.until(t, 3*time.Second, "the client kernel's port unreachable at the server", func(m *Msg) bool {
		p, err := packet.Parse(m.Data)
		return err == nil && p.ICMP.Type == 3 && p.ICMP.Code == 3 && p.Quote != nil && p.Quote.UDP.DstPort == 40002
	})
	t.Logf("client kernel answered the UDP reply itself: %s", parse4(t, ir.m.Data).Summary())
}

// TestDeadlineAndClose: a read deadline ends a blocked Recv with
// os.ErrDeadlineExceeded; Close from another goroutine ends it with
// os.ErrClosed.
func TestDeadlineAndClose(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	c := open(t, tp.client, func() (*Conn, error) { return OpenICMP(IPv4, &Options{Filter: EchoFilter(IPv4, 1)}) })
	var m Msg
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	start := time.Now()
	err := c.Recv(buf, &m)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv past the deadline: %v", err)
	}
	t.Logf("deadline: returned after %v", time.Since(start).Round(time.Millisecond))
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { done <- c.Recv(buf, &m) }()
	time.Sleep(100 * time.Millisecond)
	start = time.Now()
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Recv after Close: %v, want os.ErrClosed", err)
		}
		t.Logf("close: Recv returned %v after %v", err, time.Since(start))
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Recv")
	}
	if _, err := c.Send(nil, netip.AddrPortFrom(serverV4, 0), nil); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}
