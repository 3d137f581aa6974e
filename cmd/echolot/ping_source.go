package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// routeSock is how routeProbe sets up its socket, as the probes' sockets
// will be: dev binds it to that interface first (SO_BINDTODEVICE);
// dontRoute sets SO_DONTROUTE, so only a destination on a directly
// attached network connects; broadcast sets SO_BROADCAST; mark, when
// markSet, sets SO_MARK, so policy routing picks the table the probes
// will use.
type routeSock struct {
	dev                  string
	dontRoute, broadcast bool
	mark                 uint32
	markSet              bool
}

// routeSock is the route probe of c's sockets.
func (c *pingConfig) routeSock() routeSock {
	return routeSock{dev: c.iface, dontRoute: c.dontRoute, broadcast: c.broadcast, mark: c.mark, markSet: c.markSet}
}

// routeProbe connects a UDP socket set up as rs says towards dst (port
// 1025, as iputils' probe_fd does) and returns the source address the
// kernel chose; src, when valid, binds that address.
func routeProbe(dst, src netip.Addr, rs routeSock) (netip.Addr, error) {
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
	if rs.dev != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, rs.dev); err != nil {
			return netip.Addr{}, fmt.Errorf("SO_BINDTODEVICE %s: %w", rs.dev, errnoText(err))
		}
	}
	if rs.dontRoute {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DONTROUTE, 1)
	}
	if rs.broadcast {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	}
	if rs.markSet {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(rs.mark)) // checkMark has said whether it works
	}
	if src.IsValid() {
		var ba unix.Sockaddr = &unix.SockaddrInet6{Addr: src.As16()}
		if src.Is4() {
			ba = &unix.SockaddrInet4{Addr: src.As4()}
		}
		if err := unix.Bind(fd, ba); err != nil {
			return netip.Addr{}, fmt.Errorf("bind: %w", errnoText(err))
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

// errnoText turns a system error into the words C's strerror uses
// ("No such device"), as iputils prints them.
func errnoText(err error) error {
	var en unix.Errno
	if errors.As(err, &en) {
		s := en.Error()
		if s != "" {
			return errors.New(string(s[0]-('a'-'A')) + s[1:])
		}
	}
	return err
}

// pingSource is where the probes leave from: the source address, and
// the interface named by -I (for the PING line).
type pingSource struct {
	addr netip.Addr
	dev  string
	show bool // print "from ADDR DEV: " in the PING line (-I, -B)
	// warn is iputils' warning when the interface does not hold the
	// source address the kernel chose.
	warn string
}

// source works out the probes' source address as iputils does, with the
// checks iputils makes: -I interface or address, broadcast destinations
// (-b) and -r (no routing). first is where the probes are sent: the
// destination, or the first source-route hop.
// With -I INTERFACE the engine's sockets are bound to it
// (SO_BINDTODEVICE, probe.Options.Device), as iputils binds its own.
func (c *pingConfig) source(_ context.Context, first netip.Addr) (pingSource, error) {
	s := pingSource{addr: c.src, dev: c.iface, show: c.sticky || c.iface != ""}
	if c.iface != "" {
		if _, err := net.InterfaceByName(c.iface); err != nil {
			return s, usageErrorf("SO_BINDTODEVICE %s: No such device", c.iface)
		}
	}
	// The kernel's own choice, through the interface when one is named.
	chosen, err := routeProbe(first, netip.Addr{}, c.routeSock())
	if err != nil {
		switch {
		case errors.Is(err, unix.EACCES) && !c.broadcast:
			return s, usageErrorf("Do you want to ping broadcast? Then -b. If not, check your local firewall rules")
		case errors.Is(err, unix.ENETUNREACH) && c.dontRoute:
			return s, usageErrorf("-r: %s is not on a directly attached network (SO_DONTROUTE bypasses the routing table, so no probe could reach it)", first)
		case errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.EHOSTUNREACH):
			return s, usageErrorf("connect: %v", errnoText(err))
		}
		var en unix.Errno
		if errors.As(err, &en) {
			return s, usageErrorf("connect: %v", errnoText(err))
		}
		return s, usageErrorf("%v", err)
	}
	if c.src.IsValid() {
		if c.src.Is4() != first.Is4() {
			return s, usageErrorf("-I %s: not an address of the destination's family", c.src)
		}
		if _, err := routeProbe(first, c.src, c.routeSock()); err != nil {
			return s, usageErrorf("%v", errnoText(err))
		}
		return s, nil
	}
	s.addr = chosen
	if c.iface != "" && !ifaceHasAddr(c.iface, chosen) {
		s.warn = "Warning: source address might be selected on device other than: " + c.iface
	}
	return s, nil
}

// isBroadcast reports whether the kernel treats dst as a broadcast
// address: a UDP connect to it without SO_BROADCAST is refused.
func isBroadcast(dst netip.Addr, src pingSource) bool {
	if !dst.Is4() {
		return false
	}
	if dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	_, err := routeProbe(dst, netip.Addr{}, routeSock{dev: src.dev})
	return errors.Is(err, unix.EACCES)
}

// ifaceHasAddr reports whether the interface dev holds a.
func ifaceHasAddr(dev string, a netip.Addr) bool {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return false
	}
	addrs, _ := ifi.Addrs()
	return slices.ContainsFunc(addrs, func(x net.Addr) bool {
		n, ok := x.(*net.IPNet)
		if !ok {
			return false
		}
		b, ok := netip.AddrFromSlice(n.IP)
		return ok && b.Unmap() == a
	})
}

// checkMark tries -m's mark on a socket, as iputils does before it
// starts: when this user may not mark (CAP_NET_ADMIN, or CAP_NET_RAW
// since Linux 5.17), it warns, and the probes go out unmarked.
func (c *pingConfig) checkMark(stderr io.Writer) {
	if !c.markSet {
		return
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return // the engine's own sockets will say what is wrong
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(c.mark)); err != nil {
		fmt.Fprintf(stderr, "ping: WARNING: failed to set mark: %d: %v\n", c.mark, errnoText(err))
		if errors.Is(err, unix.EPERM) {
			fmt.Fprintln(stderr, "ping: => missing cap_net_admin+p or cap_net_raw+p (since Linux 5.17) capability?")
		}
		c.markSet = false
	}
}
