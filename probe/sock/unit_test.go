package sock

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/packet"
)

// These tests need no privileges: filters run in x/net/bpf's VM, control
// messages are built by hand.

func runFilter(t *testing.T, prog []bpf.RawInstruction, pkt []byte) bool {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("filter does not disassemble: %v", ins)
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vm.Run(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestEchoFilterVM(t *testing.T) {
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	v4 := func(typ uint8, id uint16, opts ...packet.Option) []byte {
		p := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: src, Dst: dst, TTL: 64, Options: opts},
			Transport: packet.TransportICMP, ICMP: packet.ICMP{Type: typ, ID: id, Seq: 1}, Payload: payload(8)}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f := EchoFilter(IPv4, 0x1234)
	for _, c := range []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"our echo reply", v4(packet.ICMPEchoReply, 0x1234), true},
		{"our echo reply with RR (60-byte header)", v4(packet.ICMPEchoReply, 0x1234, &packet.RecordRoute{}), true},
		{"another program's echo reply", v4(packet.ICMPEchoReply, 0x1235), false},
		{"our looped echo request", v4(packet.ICMPEchoRequest, 0x1234), false},
		{"our timestamp reply", v4(packet.ICMPTimestampReply, 0x1234), true},
		{"someone's timestamp reply", v4(packet.ICMPTimestampReply, 7), false},
		{"time exceeded", v4(packet.ICMPTimeExceeded, 0), true},
		{"destination unreachable", v4(packet.ICMPDestUnreach, 0), true},
		{"source quench", v4(packet.ICMPSourceQuench, 0), true},
		{"redirect", v4(packet.ICMPRedirect, 0), true},
		{"parameter problem", v4(packet.ICMPParamProblem, 0), true},
		{"router advertisement", v4(9, 0), false},
	} {
		if got := runFilter(t, f, c.pkt); got != c.want {
			t.Errorf("IPv4 %s: accepted %v, want %v", c.name, got, c.want)
		}
	}
	f6 := EchoFilter(IPv6, 0x1234)
	icmp6 := func(typ uint8, id uint16) []byte {
		b := make([]byte, 16)
		b[0] = typ
		binary.BigEndian.PutUint16(b[4:], id)
		return b
	}
	for _, c := range []struct {
		typ  uint8
		id   uint16
		want bool
	}{
		{129, 0x1234, true}, {129, 0x4321, false}, {128, 0x1234, false},
		{1, 0, true}, {2, 0, true}, {3, 0, true}, {4, 0, true}, {0, 0, false}, {5, 0, false}, {135, 0, false},
	} {
		if got := runFilter(t, f6, icmp6(c.typ, c.id)); got != c.want {
			t.Errorf("ICMPv6 type %d id %#x: accepted %v, want %v", c.typ, c.id, got, c.want)
		}
	}
}

func TestPortFilterVM(t *testing.T) {
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	seg := func(dport uint16, opts ...packet.Option) []byte {
		p := packet.Packet{Version: 4, IPv4: packet.IPv4{Src: src, Dst: dst, TTL: 64, Options: opts},
			Transport: packet.TransportUDP, UDP: packet.UDP{SrcPort: 53, DstPort: dport}}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f := PortFilter(IPv4, 40000, 40009)
	for port, want := range map[uint16]bool{39999: false, 40000: true, 40005: true, 40009: true, 40010: false} {
		if got := runFilter(t, f, seg(port)); got != want {
			t.Errorf("IPv4 port %d: %v, want %v", port, got, want)
		}
		if got := runFilter(t, f, seg(port, &packet.RecordRoute{Slots: 2})); got != want {
			t.Errorf("IPv4 port %d behind options: %v, want %v", port, got, want)
		}
		b := make([]byte, 8)
		binary.BigEndian.PutUint16(b[2:], port)
		if got := runFilter(t, PortFilter(IPv6, 40000, 40009), b); got != want {
			t.Errorf("IPv6 port %d: %v, want %v", port, got, want)
		}
	}
}

// cmsgBuilder appends control messages as the kernel lays them out.
type cmsgBuilder struct{ b []byte }

func (c *cmsgBuilder) add(level, typ int32, data []byte) {
	start := len(c.b)
	c.b = append(c.b, make([]byte, unix.CmsgSpace(len(data)))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c.b[start]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(c.b[start+unix.CmsgLen(0):], data)
}

func native32(v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b
}

func TestParseControl(t *testing.T) {
	ts := unix.NsecToTimespec(time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC).UnixNano())
	tsb := unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts))
	var c cmsgBuilder
	c.add(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, tsb)
	c.add(unix.IPPROTO_IP, unix.IP_TTL, native32(63))
	c.add(unix.IPPROTO_IP, unix.IP_TOS, []byte{0x28})
	c.add(unix.IPPROTO_IP, unix.IP_RECVOPTS, []byte{7, 7, 8, 198, 18, 0, 1, 0})
	pk := append(native32(3), 198, 18, 0, 2, 198, 18, 0, 2)
	c.add(unix.IPPROTO_IP, unix.IP_PKTINFO, pk)
	ee := unix.SockExtendedErr{Errno: uint32(unix.EHOSTUNREACH), Origin: OriginICMP, Type: 11, Code: 0, Info: 0}
	eeb := append([]byte{}, unsafe.Slice((*byte)(unsafe.Pointer(&ee)), unsafe.Sizeof(ee))...)
	off := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(off, unix.AF_INET)
	copy(off[4:], []byte{198, 18, 1, 1})
	c.add(unix.IPPROTO_IP, unix.IP_RECVERR, append(eeb, off...))

	var m Msg
	m.reset()
	if !m.parseControl(c.b) {
		t.Error("IP_RECVERR not reported")
	}
	want := time.Unix(0, ts.Nano())
	if !m.Time.Equal(want) || m.TTL != 63 || m.TOS != 0x28 || m.IfIndex != 3 ||
		m.Dst != netip.MustParseAddr("198.18.0.2") || string(m.Options()) != string([]byte{7, 7, 8, 198, 18, 0, 1, 0}) {
		t.Errorf("parsed %+v", m)
	}
	if m.Err.Errno != unix.EHOSTUNREACH || m.Err.Type != 11 || m.Err.Offender != netip.MustParseAddr("198.18.1.1") {
		t.Errorf("extended error %+v", m.Err)
	}

	var c6 cmsgBuilder
	c6.add(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, native32(62))
	c6.add(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, native32(0xb8))
	fl := make([]byte, 4)
	binary.BigEndian.PutUint32(fl, 0x0b812345)
	c6.add(unix.IPPROTO_IPV6, ipv6FlowInfo, fl)
	a := netip.MustParseAddr("2001:db8::2").As16()
	c6.add(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(a[:], native32(5)...))
	m.reset()
	m.parseControl(c6.b)
	if m.TTL != 62 || m.TOS != 0xb8 || m.FlowLabel != 0x12345 || m.IfIndex != 5 || m.Dst != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("IPv6 parsed %+v", m)
	}
}

// FuzzParseControl: malformed control data never panics.
func FuzzParseControl(f *testing.F) {
	var c cmsgBuilder
	c.add(unix.IPPROTO_IP, unix.IP_TTL, native32(63))
	c.add(unix.IPPROTO_IP, unix.IP_RECVERR, make([]byte, 32))
	f.Add(c.b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// The kernel hands over aligned buffers: copy into one.
		buf := make([]uint64, (len(b)+7)/8)
		ab := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf)*8)[:len(b)]
		copy(ab, b)
		var m Msg
		m.reset()
		m.parseControl(ab)
	})
}

func TestAppendIPv6Header(t *testing.T) {
	m := Msg{TTL: 63, TOS: 0xb8, FlowLabel: 0x12345,
		From: netip.MustParseAddr("2001:db8:1::2"), Dst: netip.MustParseAddr("2001:db8:3::2")}
	m.Data = icmpEcho(true, 7, 9, 16)
	p, err := packet.Parse(append(m.AppendIPv6Header(nil, packet.ProtoICMPv6), m.Data...))
	if err != nil {
		t.Fatal(err)
	}
	if p.IPv6.HopLimit != 63 || p.IPv6.TrafficClass != 0xb8 || p.IPv6.FlowLabel != 0x12345 ||
		p.IPv6.Src != m.From || p.IPv6.Dst != m.Dst || p.ICMP.ID != 7 || p.ICMP.Seq != 9 || len(p.Payload) != 16 {
		t.Errorf("rebuilt: %s", p.Summary())
	}
}

func TestIPv4OptionBytes(t *testing.T) {
	b, err := IPv4OptionBytes(&packet.RecordRoute{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 40 || b[0] != packet.OptRecordRoute || b[1] != 39 || b[2] != 4 {
		t.Errorf("RR(9): % x", b)
	}
	if _, err := IPv4OptionBytes(&packet.RecordRoute{}, &packet.RecordRoute{}); err == nil {
		t.Error("80 bytes of options accepted")
	}
}

func TestErrorTexts(t *testing.T) {
	me := &MTUError{What: "raw IPv4 sender", Dst: netip.MustParseAddr("198.18.3.2"), Size: 1400, HeaderIncluded: true, MTU: 1280}
	if !errors.Is(me, syscall.EMSGSIZE) || !me.Local() || !strings.Contains(me.Error(), "local EMSGSIZE") ||
		!strings.Contains(me.Error(), "1280") || !strings.Contains(me.Error(), "never left") {
		t.Errorf("MTUError: %v", me)
	}
	pe := openErr("raw IPv4 ICMP socket", unix.EPERM, false)
	if !errors.Is(pe, os.ErrPermission) || !strings.Contains(pe.Error(), "setcap cap_net_raw+ep") {
		t.Errorf("EPERM: %v", pe)
	}
	pe = openErr("IPv4 ICMP datagram (ping) socket", unix.EACCES, true)
	if !errors.Is(pe, os.ErrPermission) || !strings.Contains(pe.Error(), "ping_group_range") || !strings.HasPrefix(pe.Error(), "sock: cannot open an IPv4") {
		t.Errorf("EACCES: %v", pe)
	}
	for _, e := range []syscall.Errno{unix.EHOSTUNREACH, unix.ECONNREFUSED, unix.EMSGSIZE} {
		if !IsSoftErrno(e) {
			t.Errorf("%v is not soft", e)
		}
	}
	if IsSoftErrno(unix.EBADF) {
		t.Error("EBADF is soft")
	}
}
