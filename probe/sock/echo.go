package sock

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/echolot/echolot/packet"
	"golang.org/x/sys/unix"
)

// Mode is how ICMP echo probes are sent and received.
type Mode uint8

// Modes.
const (
	// ModeAuto uses raw sockets when the process may open them and falls
	// back to ICMP datagram sockets otherwise.
	ModeAuto Mode = iota
	// ModeRaw: a header-included sender (IPv4) or raw ICMPv6 socket, and
	// a raw ICMP receiver with EchoFilter. Needs CAP_NET_RAW.
	ModeRaw
	// ModeDgram: one ICMP datagram ("ping") socket. Needs the process's
	// group in net.ipv4.ping_group_range. No hand-built IP header (IP ID,
	// arbitrary flags), but TTL, TOS, DF, record route and timestamps work.
	ModeDgram
)

// String returns "auto", "raw" or "dgram".
func (m Mode) String() string {
	switch m {
	case ModeRaw:
		return "raw"
	case ModeDgram:
		return "dgram"
	}
	return "auto"
}

// Echo is a set of sockets for ICMP echo probing, as OpenEcho chose it.
type Echo struct {
	// Mode is ModeRaw or ModeDgram: what was opened.
	Mode Mode
	// Family is IPv4 or IPv6.
	Family Family
	// Sender sends the probes. In ModeRaw over IPv4 it takes whole IP
	// datagrams (HeaderIncluded); in ModeRaw over IPv6 it is the raw
	// ICMPv6 socket and takes ICMPv6 messages; in ModeDgram it is the ping
	// socket and takes ICMP echo messages whose identifier the kernel sets.
	Sender *Conn
	// Receiver receives replies and errors: the raw ICMP socket, or the
	// same socket as Sender (raw ICMPv6, ping).
	Receiver *Conn
	// ID is the echo identifier replies carry and the filter passes: the
	// one asked for in ModeRaw, the socket's port in ModeDgram (the kernel
	// assigns one when the asked-for identifier is taken or zero).
	ID uint16
	// RawUnavailable says, when ModeAuto fell back to ModeDgram, why raw
	// sockets could not be opened (a *PrivilegeError naming CAP_NET_RAW).
	RawUnavailable error
}

// Close closes the sockets.
func (e *Echo) Close() error {
	err := e.Sender.Close()
	if e.Receiver != e.Sender {
		if err2 := e.Receiver.Close(); err == nil {
			err = err2
		}
	}
	return err
}

// OpenEcho opens what echo probing needs, trying what the process may do:
// in ModeAuto raw sockets first, then ICMP datagram sockets. id is the echo
// identifier (raw mode: installed in EchoFilter; datagram mode: the port
// asked for). When nothing can be opened the error explains, for each kind
// of socket, what is missing and how to grant it (setcap cap_net_raw+ep,
// sysctl net.ipv4.ping_group_range).
func OpenEcho(f Family, mode Mode, id uint16, o *Options) (*Echo, error) {
	o = o.orDefault()
	var rawErr error
	if mode != ModeDgram {
		e, err := openRawEcho(f, id, o)
		if err == nil || mode == ModeRaw {
			return e, err
		}
		rawErr = err
	}
	po := *o
	po.Port = id
	po.Filter = nil
	c, err := OpenPing(f, &po)
	if err != nil && id != 0 && errors.Is(err, unix.EADDRINUSE) {
		po.Port = 0
		c, err = OpenPing(f, &po)
	}
	if err != nil {
		if rawErr != nil {
			return nil, fmt.Errorf("sock: no way to send ICMP echo probes: %w; and %w", rawErr, err)
		}
		return nil, err
	}
	return &Echo{Mode: ModeDgram, Family: f, Sender: c, Receiver: c, ID: c.LocalPort(), RawUnavailable: rawErr}, nil
}

func openRawEcho(f Family, id uint16, o *Options) (*Echo, error) {
	ro := *o
	if ro.Filter == nil {
		ro.Filter = EchoFilter(f, id)
	}
	if f == IPv6 {
		c, err := OpenICMP(IPv6, &ro)
		if err != nil {
			return nil, err
		}
		return &Echo{Mode: ModeRaw, Family: f, Sender: c, Receiver: c, ID: id}, nil
	}
	r, err := OpenICMP(IPv4, &ro)
	if err != nil {
		return nil, err
	}
	s, err := OpenSender(IPv4, o)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Echo{Mode: ModeRaw, Family: f, Sender: s, Receiver: r, ID: id}, nil
}

// IPv4OptionBytes encodes IPv4 options as SetIPOptions wants them: wire
// format, lengths and pointers computed, padded with zeros to a multiple of
// four, at most 40 bytes (the packet package's option builder does the
// work).
func IPv4OptionBytes(opts ...packet.Option) ([]byte, error) {
	p := packet.Packet{Version: 4, IPv4: packet.IPv4{Options: opts, Protocol: packet.ProtoICMP,
		Src: netip.IPv4Unspecified(), Dst: netip.IPv4Unspecified()}}
	b, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	hl := int(b[0]&0x0f) * 4
	return b[packet.IPv4HeaderLen:hl], nil
}
