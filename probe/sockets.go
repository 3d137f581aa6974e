package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/probe/sock"
)

// rxKind says how a receiving socket hands over what it reads.
type rxKind uint8

const (
	rxIPv4  rxKind = iota // raw IPv4: the datagram from its IP header
	rxIPv6                // raw IPv6: the transport header on; IPv6 header from control messages
	rxPing4               // ICMP datagram socket: the ICMP message; IPv4 header rebuilt
	rxPing6               // ICMPv6 datagram socket: the ICMPv6 message
	rxUDP                 // UDP socket: the UDP payload
	rxTCP                 // TCP-connect probe sockets (tcpconnect.go): answers rebuilt
)

// rxConn is one receiving socket.
type rxConn struct {
	c     *sock.Conn
	kind  rxKind
	proto uint8 // transport protocol of what it reads
	tx    bool  // its Recv also returns the engine's send timestamps
}

// backend is the set of sockets an engine uses.
type backend struct {
	family sock.Family
	mode   Mode
	send   *sock.Conn
	// sendHdr: send takes whole IP datagrams; otherwise the IP header
	// (and the UDP header for UDP sockets) is left to the kernel.
	sendHdr bool
	// txPoll: kernel send timestamps are read from send's error queue
	// right after each send (header-included senders).
	txPoll bool
	txOn   bool // kernel send timestamps are expected at all
	rx     []*rxConn
	// reserve holds the ICMP identifier of a raw engine (see ids.go).
	reserve *sock.Conn
	id      uint16 // ICMP identifier (echo, timestamp)
	port    uint16 // source port of a UDP datagram socket
	rawErr  error  // why ModeAuto did not get raw sockets
	// tcp opens a socket per TCP probe (ModeDgram TCP-connect probes);
	// send is nil then.
	tcp *connector
}

func (b *backend) close() {
	if b.tcp != nil {
		b.tcp.close()
	}
	seen := map[*sock.Conn]bool{}
	for _, c := range append([]*sock.Conn{b.send, b.reserve}, b.rxConns()...) {
		if c != nil && !seen[c] {
			seen[c] = true
			c.Close()
		}
	}
}

// abandon undoes a backend whose opening failed: its sockets and the
// ICMP identifier it claimed (an engine's Close releases those of a
// backend that opened).
func (b *backend) abandon() {
	b.close()
	if b.id != 0 {
		releaseICMPID(b.family, b.id)
	}
}

func (b *backend) rxConns() []*sock.Conn {
	var cs []*sock.Conn
	for _, r := range b.rx {
		cs = append(cs, r.c)
	}
	return cs
}

// openBackend opens the sockets for probes like tmpl. It runs in the
// caller's network namespace.
func openBackend(tmpl *packet.Packet, p *Probe, o *Options, ports func() (uint16, error)) (*backend, error) {
	f := sock.IPv4
	if tmpl.Version == 6 {
		f = sock.IPv6
	}
	if o.Mode != ModeDgram {
		b, err := openRaw(f, tmpl, o, ports)
		if err == nil || o.Mode == ModeRaw {
			return b, err
		}
		var pe *sock.PrivilegeError
		if !errors.As(err, &pe) {
			return nil, err
		}
		b, err2 := openDgram(f, tmpl, p, o)
		if err2 != nil {
			return nil, fmt.Errorf("probe: neither raw nor datagram sockets can be used: %w; and %w", err, err2)
		}
		b.rawErr = err
		return b, nil
	}
	return openDgram(f, tmpl, p, o)
}

func sockOpts(o *Options) *sock.Options {
	return &sock.Options{PMTU: o.PMTU, NoTxTimestamps: !o.kernelTx(), RecvBuffer: o.RecvBuffer, Device: o.Device,
		Mark: o.Mark, Broadcast: o.Broadcast, SendBuffer: o.SendBuffer}
}

// openRaw opens a header-included sender, a raw ICMP receiver (answers and
// errors) and, for UDP and TCP probes, a raw receiver of that protocol
// filtered to the engine's ports.
func openRaw(f sock.Family, tmpl *packet.Packet, o *Options, ports func() (uint16, error)) (_ *backend, err error) {
	b := &backend{family: f, mode: ModeRaw, sendHdr: true}
	defer func() {
		if err != nil {
			b.abandon()
		}
	}()
	so := sockOpts(o)
	b.send, err = sock.OpenSender(f, so)
	if err != nil {
		return nil, err
	}
	b.txOn = b.send.TxTimestamps() == sock.TxKernel
	b.txPoll = b.txOn
	var filterID uint16
	switch tmpl.Transport {
	case packet.TransportICMP, packet.TransportICMPv6:
		if tmpl.ICMP.ID != 0 {
			if err := claimICMPID(f, tmpl.ICMP.ID); err != nil {
				return nil, err
			}
			b.id = tmpl.ICMP.ID
		} else {
			b.id, b.reserve = reserveICMPID(f)
		}
		filterID = b.id
	}
	ro := *so
	ro.Filter = sock.EchoFilter(f, filterID)
	ro.NoTxTimestamps = true
	ic, err := sock.OpenICMP(f, &ro)
	if err != nil {
		return nil, err
	}
	kind, icproto := rxIPv4, uint8(packet.ProtoICMP)
	if f == sock.IPv6 {
		kind, icproto = rxIPv6, packet.ProtoICMPv6
	}
	b.rx = append(b.rx, &rxConn{c: ic, kind: kind, proto: icproto})
	switch tmpl.Transport {
	case packet.TransportUDP, packet.TransportTCP:
		lo, err := ports()
		if err != nil {
			return nil, err
		}
		proto := unix.IPPROTO_UDP
		if tmpl.Transport == packet.TransportTCP {
			proto = unix.IPPROTO_TCP
		}
		po := *so
		po.Filter = sock.PortFilter(f, lo, lo+uint16(o.PortRange)-1)
		c, err := sock.OpenRaw(f, proto, &po)
		if err != nil {
			return nil, err
		}
		kind := rxIPv4
		if f == sock.IPv6 {
			kind = rxIPv6
		}
		b.rx = append(b.rx, &rxConn{c: c, kind: kind, proto: uint8(proto)})
	}
	return b, nil
}

// openDgram opens unprivileged sockets: a ping socket for echo requests, a
// UDP socket for UDP probes, and for TCP probes the connector that opens a
// socket per probe (TCP connect, see tcpconnect.go).
func openDgram(f sock.Family, tmpl *packet.Packet, p *Probe, o *Options) (_ *backend, err error) {
	b := &backend{family: f, mode: ModeDgram}
	defer func() {
		if err != nil {
			b.abandon()
		}
	}()
	so := sockOpts(o)
	if f == sock.IPv4 && !tmpl.IPv4.DF && o.PMTU == sock.PMTUProbe {
		so.PMTU = sock.PMTUDont // DF clear, as the template says
	}
	so.TTL = int(tmpl.TTL())
	so.TOS = int(tmpl.TOS())
	// The kernel writes the source address and port of what these sockets
	// send: bind them to the template's (New has filled in the source
	// towards the destination when the template had none).
	if a := tmpl.Src(); a.IsValid() {
		so.Src = a
	}
	if tmpl.Transport == packet.TransportUDP {
		so.Port = tmpl.UDP.SrcPort
	}
	switch {
	case tmpl.Transport == packet.TransportICMP && tmpl.ICMP.Type == packet.ICMPEchoRequest,
		tmpl.Transport == packet.TransportICMPv6 && tmpl.ICMP.Type == packet.ICMPv6EchoRequest:
		if tmpl.ICMP.ID != 0 {
			if err := claimICMPID(f, tmpl.ICMP.ID); err != nil {
				return nil, err
			}
			b.id = tmpl.ICMP.ID // released by the engine even if the open fails
			so.Port = tmpl.ICMP.ID
		}
		c, err := sock.OpenPing(f, so)
		if err != nil {
			return nil, err
		}
		b.send = c
		if b.id == 0 {
			b.id = c.LocalPort()
			registerICMPID(f, b.id)
		}
		kind := rxPing4
		if f == sock.IPv6 {
			kind = rxPing6
		}
		b.rx = []*rxConn{{c: c, kind: kind, proto: tmpl.Protocol(), tx: true}}
	case tmpl.Transport == packet.TransportUDP:
		c, err := sock.OpenUDP(f, so)
		if err != nil {
			return nil, err
		}
		b.send = c
		b.port = c.LocalPort()
		b.rx = []*rxConn{{c: c, kind: rxUDP, proto: packet.ProtoUDP, tx: true}}
	case tmpl.Transport == packet.TransportICMP:
		return nil, fmt.Errorf("probe: ICMP type %d (%s) needs a raw socket: ICMP datagram sockets send only echo requests; grant CAP_NET_RAW (`sudo setcap cap_net_raw+ep %s`) or run as root",
			tmpl.ICMP.Type, packet.ICMPTypeName(false, tmpl.ICMP.Type, 0), exe())
	case tmpl.Transport == packet.TransportTCP:
		if err := connectable(p); err != nil {
			return nil, err
		}
		if f == sock.IPv6 && p.DontFrag6 {
			return nil, fmt.Errorf("probe: DontFrag6 with TCP connect probes: a SYN is never fragmented; leave it unset or use raw sockets")
		}
		b.tcp, err = newConnector(f, tmpl, &p.Packet, o)
		if err != nil {
			return nil, err
		}
		return b, nil
	default:
		return nil, fmt.Errorf("probe: %v probes need raw sockets: grant CAP_NET_RAW (`sudo setcap cap_net_raw+ep %s`) or run as root", tmpl.Transport, exe())
	}
	if !o.kernelTx() {
		b.rx[0].tx = false
	}
	b.txOn = b.send.TxTimestamps() == sock.TxKernel
	if f == sock.IPv4 && len(tmpl.IPv4.Options) > 0 {
		ob, err := sock.IPv4OptionBytes(kernelOptions(tmpl.IPv4.Options)...)
		if err != nil {
			return nil, fmt.Errorf("probe: IPv4 options of the template: %w", err)
		}
		if err := b.send.SetIPOptions(ob); err != nil {
			return nil, err
		}
	}
	if f == sock.IPv6 && p.DontFrag6 {
		if err := b.send.SetDontFrag(true); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func exe() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "/path/to/echolot"
}

// sendOpts returns the per-packet settings for a datagram socket from the
// probe as built (so Vary can change TTL and TOS per probe).
func (b *backend) sendOpts(p *packet.Packet, so *sock.SendOpts) *sock.SendOpts {
	if b.sendHdr {
		return nil
	}
	*so = sock.SendOpts{TTL: int(p.TTL()), HasTTL: true, TOS: int(p.TOS()), HasTOS: true}
	return so
}

// appendIPv4Header appends a 20-byte-plus-options IPv4 header for a message
// read from an IPv4 datagram socket, whose header the kernel stripped.
func appendIPv4Header(b []byte, src, dst netip.Addr, ttl, tos int, opts []byte, proto uint8, payload int) []byte {
	hl := packet.IPv4HeaderLen + len(opts)
	start := len(b)
	b = append(b, make([]byte, packet.IPv4HeaderLen)...)
	h := b[start:]
	h[0] = 0x40 | byte(hl/4)
	h[1] = byte(max(tos, 0))
	binary.BigEndian.PutUint16(h[2:], uint16(hl+payload))
	h[8] = byte(max(ttl, 0))
	h[9] = proto
	s, d := src.Unmap().As4(), dst.Unmap().As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	b = append(b, opts...)
	cs := packet.Checksum(b[start : start+hl])
	binary.BigEndian.PutUint16(b[start+10:], cs)
	return b
}

// kernelOptions are the template's IPv4 options as a datagram socket
// takes them (IP_OPTIONS): the kernel builds the header and records this
// host in a record route itself as the packet leaves, so a slot
// prefilled with the source (RecordRoute.PrefillSource, what a raw probe
// needs to look like ping -R) would be recorded twice, the first time as
// 0.0.0.0 since the option bytes are built without the source. The same
// holds for a prefilled timestamp option (Timestamp.PrefillSource).
func kernelOptions(opts []packet.Option) []packet.Option {
	out := make([]packet.Option, len(opts))
	for i, o := range opts {
		switch v := o.(type) {
		case *packet.RecordRoute:
			if v.PrefillSource {
				c := *v
				c.PrefillSource = false
				o = &c
			}
		case *packet.Timestamp:
			if v.PrefillSource {
				c := *v
				c.PrefillSource = false
				o = &c
			}
		}
		out[i] = o
	}
	return out
}
