package testenv

import (
	"net"
	"testing"
)

// AcceptTCP listens on addr ("tcp" network: ":0" for any port, both
// families) and accepts and closes connections until the test ends, so
// that SYN probes to its port find it open. in runs the listen where the
// test needs it, e.g. inside a lab node (lab.Lab.InNode) or a network
// namespace; nil listens here. It returns the port.
func AcceptTCP(t testing.TB, in func(func() error) error, addr string) uint16 {
	t.Helper()
	var ln net.Listener
	listen := func() (err error) { ln, err = net.Listen("tcp", addr); return }
	if in == nil {
		in = func(f func() error) error { return f() }
	}
	if err := in(listen); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}
