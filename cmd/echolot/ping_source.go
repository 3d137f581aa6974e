package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/probe/sock"
)

// routeQuery is the route probe of c's sockets (iputils' probe_fd): set
// up as the probes' sockets will be, -I INTERFACE, -r, -b and -m (once
// checkMark has said the mark can be set).
func (c *pingConfig) routeQuery(src netip.Addr) sock.RouteQuery {
	q := sock.RouteQuery{Device: c.iface, DontRoute: c.dontRoute, Broadcast: c.broadcast, Src: src}
	if c.markSet {
		q.Mark = c.mark
	}
	return q
}

// errnoText words the system error in err as C's strerror does ("No
// such device"), as iputils prints it; what err says around it stays.
func errnoText(err error) error {
	var en unix.Errno
	if errors.As(err, &en) {
		if s := en.Error(); s != "" {
			return errors.New(strings.Replace(err.Error(), s, strings.ToUpper(s[:1])+s[1:], 1))
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
	chosen, err := sock.RouteSource(first, c.routeQuery(netip.Addr{}))
	if err != nil {
		en, refused := err.(unix.Errno) // connect said no; other errors name their step
		switch {
		case errors.Is(err, unix.EACCES) && !c.broadcast:
			return s, usageErrorf("Do you want to ping broadcast? Then -b. If not, check your local firewall rules")
		case errors.Is(err, unix.ENETUNREACH) && c.dontRoute:
			return s, usageErrorf("-r: %s is not on a directly attached network (SO_DONTROUTE bypasses the routing table, so no probe could reach it)", first)
		case refused:
			return s, usageErrorf("connect: %v", errnoText(en))
		}
		return s, usageErrorf("%v", errnoText(err))
	}
	if c.src.IsValid() {
		if c.src.Is4() != first.Is4() {
			return s, usageErrorf("-I %s: not an address of the destination's family", c.src)
		}
		if _, err := sock.RouteSource(first, c.routeQuery(c.src)); err != nil {
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
	_, err := sock.RouteSource(dst, sock.RouteQuery{Device: src.dev})
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
