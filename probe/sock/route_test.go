package sock

import (
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRouteSource: the client's source towards the server; a subnet
// broadcast refused with the bare EACCES unless Broadcast is set; a
// source this host does not own refused at bind, an unknown device at
// SO_BINDTODEVICE, each naming the step.
func TestRouteSource(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	bcast := netip.MustParseAddr("198.19.1.255")
	err := tp.client.do(func() error {
		if a, err := RouteSource(serverV4, RouteQuery{}); err != nil || a != clientV4 {
			t.Errorf("towards the server: %v %v, want %v", a, err, clientV4)
		}
		if a, err := RouteSource(netip.AddrFrom16(serverV4.As16()), RouteQuery{Device: "c0", Mark: 7}); err != nil || a != clientV4 {
			t.Errorf("mapped, through c0, marked: %v %v, want %v", a, err, clientV4)
		}
		if _, err := RouteSource(bcast, RouteQuery{}); err != unix.EACCES {
			t.Errorf("broadcast without Broadcast: %v, want the bare EACCES", err)
		}
		if a, err := RouteSource(bcast, RouteQuery{Broadcast: true}); err != nil || a != clientV4 {
			t.Errorf("broadcast: %v %v, want %v", a, err, clientV4)
		}
		if _, err := RouteSource(serverV4, RouteQuery{Src: serverV4}); err == nil || !strings.HasPrefix(err.Error(), "bind: ") {
			t.Errorf("bound to the server's address: %v, want a bind error", err)
		}
		if _, err := RouteSource(serverV4, RouteQuery{Device: "nosuch0"}); err == nil || !strings.HasPrefix(err.Error(), "SO_BINDTODEVICE nosuch0: ") {
			t.Errorf("unknown device: %v, want an SO_BINDTODEVICE error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
