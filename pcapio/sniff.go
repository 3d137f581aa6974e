//go:build linux

package pcapio

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/echolot/echolot/packet"
)

// SniffOptions configure a Sniffer.
type SniffOptions struct {
	// Filter, when set, keeps only frames carrying an IP datagram for
	// which it returns true; frames without one (ARP) are skipped. It runs
	// in the goroutine calling Next.
	Filter func(*packet.Packet) bool
	// SnapLen is the most bytes kept of a frame; zero means 262144.
	SnapLen int
	// Promiscuous also captures frames addressed to other hosts.
	Promiscuous bool
}

// Sniffer captures the frames of one Ethernet-like interface (veth,
// Ethernet, loopback) through an AF_PACKET socket, with gopacket's pure-Go
// pcapgo.EthernetHandle: no libpcap, no cgo. It sees traffic echolot did
// not send, for scripts that need it. It needs CAP_NET_RAW.
//
// The socket belongs to the network namespace of the thread that calls
// Sniff: to sniff inside a lab node, call Sniff from lab.InNode.
//
// VLAN tags the kernel took off are not put back. On loopback the kernel
// shows each packet twice (as sent and as received).
type Sniffer struct {
	h      *pcapgo.EthernetHandle
	iface  string
	mac    net.HardwareAddr
	filter func(*packet.Packet) bool
	snap   int
	n      int
	mu     sync.Mutex // serialises Next
	closed atomic.Bool

	seen, kept atomic.Uint64
}

// Sniff opens a Sniffer on the interface named iface in the calling
// thread's network namespace.
func Sniff(iface string, o SniffOptions) (*Sniffer, error) {
	h, err := pcapgo.NewEthernetHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("pcapio: sniff on %s: %w", iface, err)
	}
	s := &Sniffer{h: h, iface: iface, filter: o.Filter, snap: o.SnapLen}
	if s.snap <= 0 {
		s.snap = maxSnapLen
	}
	if s.snap != maxSnapLen {
		if err := h.SetCaptureLength(s.snap); err != nil {
			h.Close()
			return nil, fmt.Errorf("pcapio: sniff on %s: %w", iface, err)
		}
	}
	if o.Promiscuous {
		if err := h.SetPromiscuous(true); err != nil {
			h.Close()
			return nil, fmt.Errorf("pcapio: sniff on %s: promiscuous mode: %w", iface, err)
		}
	}
	// Read the MAC address now, in the caller's namespace: LocalAddr looks
	// the interface up by index, which later would find another
	// namespace's interface.
	s.mac = append(net.HardwareAddr(nil), h.LocalAddr()...)
	return s, nil
}

// Interface returns the sniffed interface as a writer interface: its name,
// Ethernet link type and snapshot length. Pass it in Options.Interfaces to
// write what the sniffer returns.
func (s *Sniffer) Interface() Interface {
	return Interface{Name: s.iface, Description: "AF_PACKET capture on " + s.iface, LinkType: LinkEthernet, SnapLen: s.snap}
}

// Next blocks until a frame passes the filter and returns it: Iface 0,
// LinkType LinkEthernet, Offset -1, Dir DirOut when the frame's source MAC
// address is the interface's own and DirIn otherwise. After Close it
// returns ErrClosed, also to a call blocked in it.
func (s *Sniffer) Next() (Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed.Load() {
			return Frame{}, ErrClosed
		}
		data, ci, err := s.h.ReadPacketData()
		if err != nil {
			if s.closed.Load() {
				return Frame{}, ErrClosed
			}
			return Frame{}, fmt.Errorf("pcapio: sniff on %s: %w", s.iface, err)
		}
		s.seen.Add(1)
		f := Frame{Offset: -1, Time: ci.Timestamp, LinkType: LinkEthernet, Data: data, Len: max(ci.Length, len(data)), Dir: DirIn}
		if len(data) >= 14 && len(s.mac) == 6 && bytes.Equal(data[6:12], s.mac) {
			f.Dir = DirOut
		}
		decodeLink(&f)
		if s.filter != nil && (f.IP == nil || !s.filter(f.IP)) {
			continue
		}
		s.n++
		f.Number = s.n
		s.kept.Add(1)
		return f, nil
	}
}

// Stats returns how many frames the socket delivered (Seen) and how many
// passed the filter (Kept).
func (s *Sniffer) Stats() (seen, kept uint64) { return s.seen.Load(), s.kept.Load() }

// Close closes the socket; a Next blocked in another goroutine returns
// ErrClosed.
func (s *Sniffer) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.h.Close()
}
