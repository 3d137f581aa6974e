package fault

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// socketRcvBuf is the receive buffer asked for on each bridge socket, so
// that bursts (ping -f, duplicates) are not dropped while a leg is busy.
const socketRcvBuf = 4 << 20

// OpenBridge opens the two AF_PACKET sockets a Node forwards between:
// clientIf is the interface towards the client (in the lab "to-r1"),
// serverIf the one towards the server ("to-r2"). It must run on an OS
// thread inside the fault node's network namespace (lab.InNode does that);
// the sockets stay in that namespace wherever they are used afterwards.
//
// Each socket is SOCK_RAW for ETH_P_ALL, non-blocking and close-on-exec,
// bound to its interface only (it is created with protocol 0 and bound
// afterwards, so no frame of another interface is ever queued on it), with
// PACKET_IGNORE_OUTGOING so that it never reads the frames the node itself
// sends, in promiscuous mode through PACKET_ADD_MEMBERSHIP (undone by the
// kernel when the socket closes), with PACKET_QDISC_BYPASS for a shorter
// send path, and wrapped with os.NewFile so that closing it unblocks a
// pending read. Needs CAP_NET_RAW.
func OpenBridge(clientIf, serverIf string) (Config, error) {
	c, err := openPacketSocket(clientIf)
	if err != nil {
		return Config{}, err
	}
	s, err := openPacketSocket(serverIf)
	if err != nil {
		c.Close()
		return Config{}, err
	}
	return Config{Client: c, Server: s, ClientName: clientIf, ServerName: serverIf}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openPacketSocket(name string) (*os.File, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("fault: interface %q: %w (OpenBridge must run on a thread inside the fault node's namespace, e.g. in lab.InNode)", name, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fault: AF_PACKET socket for %s: %w (needs CAP_NET_RAW: run as root)", name, err)
	}
	fail := func(what string, err error) (*os.File, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("fault: %s on the AF_PACKET socket for %s: %w", what, name, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING (Linux 4.20 or later)", err)
	}
	mreq := &unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		return fail("PACKET_ADD_MEMBERSHIP promiscuous", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1) // an optimisation only
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketRcvBuf)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	return os.NewFile(uintptr(fd), "packet:"+name), nil
}

// socketDrops returns and resets the number of frames the kernel dropped
// on an AF_PACKET socket (PACKET_STATISTICS); ok is false for other files.
func socketDrops(f *os.File) (drops uint64, ok bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var st *unix.TpacketStats
	var serr error
	if err := rc.Control(func(fd uintptr) {
		st, serr = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
	}); err != nil || serr != nil {
		return 0, false
	}
	return uint64(st.Drops), true
}
