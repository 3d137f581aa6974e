package sock

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// RouteQuery says how RouteSource sets up its socket: as the sockets that
// will send the probes are (the zero value asks the routing table alone).
type RouteQuery struct {
	// Device binds the socket to a network interface (SO_BINDTODEVICE).
	Device string
	// Mark, when not zero, marks the socket (SO_MARK), so policy routing
	// picks the table marked packets use. Without the privilege to mark,
	// the lookup goes on unmarked: the sockets that send will say so.
	Mark uint32
	// Broadcast lets a broadcast destination connect (SO_BROADCAST);
	// without it the kernel refuses with EACCES.
	Broadcast bool
	// DontRoute bypasses the routing table (SO_DONTROUTE): only a
	// destination on a directly attached network connects.
	DontRoute bool
	// Src, when valid, is bound first: the lookup then checks that the
	// probes may leave from it.
	Src netip.Addr
}

// RouteSource asks the kernel which source address a datagram to dst
// would leave from, as the routing of the calling thread's network
// namespace says: a UDP socket set up as q says and connected to dst
// (port 1025, as iputils' route probe), which sends nothing.
//
// A refused connect is returned as the bare unix.Errno (EACCES for a
// broadcast destination without Broadcast, ENETUNREACH, EHOSTUNREACH …),
// for the caller to word; a failure to set the socket up names the step
// ("SO_BINDTODEVICE eth9: no such device", "bind: …") and wraps the
// errno.
func RouteSource(dst netip.Addr, q RouteQuery) (netip.Addr, error) {
	dst = dst.Unmap()
	af := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: 1025, Addr: dst.As16()}
	if dst.Is4() {
		af = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: 1025, Addr: dst.As4()}
	}
	fd, err := unix.Socket(af, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if q.Device != "" {
		if err := unix.BindToDevice(fd, q.Device); err != nil {
			return netip.Addr{}, fmt.Errorf("SO_BINDTODEVICE %s: %w", q.Device, err)
		}
	}
	if q.DontRoute {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DONTROUTE, 1)
	}
	if q.Broadcast {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	}
	if q.Mark != 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(q.Mark))
	}
	if src := q.Src.Unmap(); src.IsValid() {
		var ba unix.Sockaddr = &unix.SockaddrInet6{Addr: src.As16()}
		if src.Is4() {
			ba = &unix.SockaddrInet4{Addr: src.As4()}
		}
		if err := unix.Bind(fd, ba); err != nil {
			return netip.Addr{}, fmt.Errorf("bind: %w", err)
		}
	}
	if err := unix.Connect(fd, sa); err != nil {
		return netip.Addr{}, err
	}
	la, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("getsockname: %w", err)
	}
	switch a := la.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr), nil
	}
	return netip.Addr{}, fmt.Errorf("getsockname: unexpected address %T", la)
}
