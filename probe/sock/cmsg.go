package sock

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Control messages are parsed by hand, in place, as gopacket's pcapgo
// EthernetHandle does: unix.ParseSocketControlMessage would allocate a
// slice per packet.

// IPv6 socket options that golang.org/x/sys does not export.
const (
	ipv6FlowInfo = 11 // IPV6_FLOWINFO: receive the flow label as a control message
)

// cmsgAlign rounds n up to the control-message alignment of this platform.
func cmsgAlign(n int) int { return unix.CmsgSpace(n) - unix.CmsgSpace(0) }

// cmsgHdrLen is the offset of a control message's data.
var cmsgHdrLen = unix.CmsgLen(0)

// parseControl walks the control messages in oob and fills m. It reports
// whether an error-queue entry (IP_RECVERR / IPV6_RECVERR) was present.
func (m *Msg) parseControl(oob []byte) (ee bool) {
	for len(oob) >= cmsgHdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < cmsgHdrLen || l > len(oob) {
			return ee
		}
		data := oob[cmsgHdrLen:l]
		switch h.Level {
		case unix.SOL_SOCKET:
			m.parseSocketCmsg(h.Type, data)
		case unix.IPPROTO_IP:
			ee = m.parseIPCmsg(h.Type, data) || ee
		case unix.IPPROTO_IPV6:
			ee = m.parseIPv6Cmsg(h.Type, data) || ee
		}
		next := cmsgAlign(l)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return ee
}

const sizeofTimespec = int(unsafe.Sizeof(unix.Timespec{}))

func timespecAt(b []byte) (time.Time, bool) {
	if len(b) < sizeofTimespec {
		return time.Time{}, false
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&b[0]))
	if ts.Sec == 0 && ts.Nsec == 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
}

func (m *Msg) parseSocketCmsg(typ int32, data []byte) {
	switch typ {
	case unix.SCM_TIMESTAMPNS:
		if t, ok := timespecAt(data); ok {
			m.Time = t
		}
	case unix.SCM_TIMESTAMPING:
		// struct scm_timestamping: [0] software, [1] deprecated, [2] hardware.
		// SCM_TIMESTAMPNS, when also present, wins for received packets.
		if !m.Time.IsZero() {
			return
		}
		for i := 0; i < 3 && len(data) >= (i+1)*sizeofTimespec; i++ {
			if t, ok := timespecAt(data[i*sizeofTimespec:]); ok {
				m.Time = t
				return
			}
		}
	}
}

func nativeInt(data []byte) (int, bool) {
	switch {
	case len(data) >= 4:
		return int(int32(binary.NativeEndian.Uint32(data))), true
	case len(data) >= 1:
		return int(data[0]), true
	}
	return 0, false
}

func (m *Msg) parseIPCmsg(typ int32, data []byte) bool {
	switch typ {
	case unix.IP_TTL:
		if v, ok := nativeInt(data); ok {
			m.TTL = v
		}
	case unix.IP_TOS:
		if len(data) >= 1 {
			m.TOS = int(data[0])
		}
	case unix.IP_RECVOPTS, unix.IP_RETOPTS, unix.IP_OPTIONS:
		m.optLen = copy(m.opts[:], data)
	case unix.IP_PKTINFO:
		// struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
		if len(data) >= 12 {
			m.IfIndex = int(int32(binary.NativeEndian.Uint32(data)))
			m.Dst = netip.AddrFrom4([4]byte(data[8:12]))
		}
	case unix.IP_RECVERR:
		return m.parseExtErr(data)
	}
	return false
}

func (m *Msg) parseIPv6Cmsg(typ int32, data []byte) bool {
	switch typ {
	case unix.IPV6_HOPLIMIT:
		if v, ok := nativeInt(data); ok {
			m.TTL = v
		}
	case unix.IPV6_TCLASS:
		if v, ok := nativeInt(data); ok {
			m.TOS = v
		}
	case ipv6FlowInfo:
		if len(data) >= 4 {
			m.FlowLabel = int(binary.BigEndian.Uint32(data) & 0xfffff)
		}
	case unix.IPV6_PKTINFO:
		// struct in6_pktinfo { in6_addr ipi6_addr; unsigned ipi6_ifindex; }
		if len(data) >= 20 {
			m.Dst = netip.AddrFrom16([16]byte(data[:16]))
			m.IfIndex = int(binary.NativeEndian.Uint32(data[16:]))
		}
	case unix.IPV6_RECVERR:
		return m.parseExtErr(data)
	}
	return false
}

const sizeofExtErr = int(unsafe.Sizeof(unix.SockExtendedErr{}))

// parseExtErr decodes struct sock_extended_err and the offender sockaddr
// that follows it (SO_EE_OFFENDER).
func (m *Msg) parseExtErr(data []byte) bool {
	if len(data) < sizeofExtErr {
		return false
	}
	e := (*unix.SockExtendedErr)(unsafe.Pointer(&data[0]))
	m.Err = ExtErr{
		Errno:  syscall.Errno(e.Errno),
		Origin: e.Origin,
		Type:   e.Type,
		Code:   e.Code,
		Info:   e.Info,
		Data:   e.Data,
	}
	m.Err.Offender, _, _, _ = parseSockaddr(data[sizeofExtErr:])
	return true
}

// parseSockaddr decodes a sockaddr_in or sockaddr_in6.
func parseSockaddr(b []byte) (a netip.Addr, port uint16, scope uint32, ok bool) {
	if len(b) < 2 {
		return a, 0, 0, false
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) < 8 {
			return a, 0, 0, false
		}
		return netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:]), 0, true
	case unix.AF_INET6:
		if len(b) < 24 {
			return a, 0, 0, false
		}
		if len(b) >= 28 {
			scope = binary.NativeEndian.Uint32(b[24:])
		}
		return netip.AddrFrom16([16]byte(b[8:24])), binary.BigEndian.Uint16(b[2:]), scope, true
	}
	return a, 0, 0, false
}

// putCmsgInt appends one control message carrying a native int to b
// (which must have room: see sendOOBSize) and returns the extended slice.
func putCmsgInt(b []byte, level, typ int32, v int) []byte {
	start := len(b)
	space := unix.CmsgSpace(4)
	b = b[:start+space]
	clear(b[start:])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[start]))
	h.Level = level
	h.Type = typ
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[start+cmsgHdrLen:], uint32(int32(v)))
	return b
}

// sendOOBSize is room for every control message Send may attach.
var sendOOBSize = 4 * unix.CmsgSpace(4)
