package probe

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/probe/sock"
)

// Identifiers keep engines apart. An ICMP echo identifier is unique per
// engine: in ModeDgram the kernel assigns the ping socket's port, unique in
// the network namespace; in ModeRaw the engine reserves one the same way,
// by binding a ping socket to port 0 and keeping it open (with a filter
// that drops everything, so it costs nothing), which keeps the identifier
// away from every other echolot engine and every iputils ping using
// datagram sockets in the namespace. Only when ping sockets are not
// allowed (net.ipv4.ping_group_range) does a raw engine fall back to a
// random identifier not used by another engine of this process. UDP and
// TCP probes take their source ports, one per probe in turn, from a range
// of the engine's own (random, disjoint from the other engines of this
// process) that the raw receivers' BPF filter passes.

var idRegistry struct {
	sync.Mutex
	icmp  map[uint32]bool // family<<16 | id
	ports map[uint16]bool // first port of each range in use
	sizes map[uint16]int
}

// dropAll is a BPF program that accepts nothing.
var dropAll = func() []bpf.RawInstruction {
	r, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		panic(err)
	}
	return r
}()

// reserveICMPID returns an echo identifier for a raw engine and, when it
// could reserve it with a ping socket, that socket (to close when done).
func reserveICMPID(f sock.Family) (uint16, *sock.Conn) {
	idRegistry.Lock()
	defer idRegistry.Unlock()
	if idRegistry.icmp == nil {
		idRegistry.icmp = map[uint32]bool{}
	}
	for range 8 {
		c, err := sock.OpenPing(f, &sock.Options{Filter: dropAll, RecvBuffer: 4096, NoTxTimestamps: true})
		if err != nil {
			break
		}
		id := c.LocalPort()
		k := uint32(f)<<16 | uint32(id)
		if id != 0 && !idRegistry.icmp[k] {
			idRegistry.icmp[k] = true
			return id, c
		}
		c.Close()
	}
	for {
		id := uint16(rand.IntN(0xfff0) + 1)
		k := uint32(f)<<16 | uint32(id)
		if !idRegistry.icmp[k] {
			idRegistry.icmp[k] = true
			return id, nil
		}
	}
}

// registerICMPID records an identifier the kernel assigned (ModeDgram).
func registerICMPID(f sock.Family, id uint16) {
	idRegistry.Lock()
	defer idRegistry.Unlock()
	if idRegistry.icmp == nil {
		idRegistry.icmp = map[uint32]bool{}
	}
	idRegistry.icmp[uint32(f)<<16|uint32(id)] = true
}

// claimICMPID records an identifier chosen by the caller (a template with
// a non-zero ICMP ID); it fails when another engine of this process holds
// it, since the two could not tell their replies apart.
func claimICMPID(f sock.Family, id uint16) error {
	idRegistry.Lock()
	defer idRegistry.Unlock()
	if idRegistry.icmp == nil {
		idRegistry.icmp = map[uint32]bool{}
	}
	k := uint32(f)<<16 | uint32(id)
	if idRegistry.icmp[k] {
		return fmt.Errorf("probe: ICMP identifier %d is in use by another engine of this process: leave the ID zero to get a free one", id)
	}
	idRegistry.icmp[k] = true
	return nil
}

func releaseICMPID(f sock.Family, id uint16) {
	idRegistry.Lock()
	defer idRegistry.Unlock()
	delete(idRegistry.icmp, uint32(f)<<16|uint32(id))
}

// Port ranges come from the upper ephemeral range.
const (
	portMin = 33000
	portMax = 60999
)

// reservePorts returns the first port of a range of n ports not used by
// another engine of this process.
func reservePorts(n int) (uint16, error) {
	idRegistry.Lock()
	defer idRegistry.Unlock()
	if idRegistry.ports == nil {
		idRegistry.ports = map[uint16]bool{}
		idRegistry.sizes = map[uint16]int{}
	}
	overlaps := func(lo int) bool {
		for s := range idRegistry.ports {
			if lo < int(s)+idRegistry.sizes[s] && int(s) < lo+n {
				return true
			}
		}
		return false
	}
	for range 1000 {
		lo := portMin + rand.IntN(portMax-portMin-n+1)
		if !overlaps(lo) {
			idRegistry.ports[uint16(lo)] = true
			idRegistry.sizes[uint16(lo)] = n
			return uint16(lo), nil
		}
	}
	return 0, fmt.Errorf("probe: no free range of %d source ports left among %d–%d: close other engines or use a smaller PortRange", n, portMin, portMax)
}

func releasePorts(lo uint16) {
	idRegistry.Lock()
	defer idRegistry.Unlock()
	delete(idRegistry.ports, lo)
	delete(idRegistry.sizes, lo)
}

// SourceFor returns the source address this host uses towards dst, as
// the routing of the calling thread's network namespace says
// (sock.RouteSource): with a device, the address it uses through that
// interface; with a non-zero mark, the one policy routing picks for
// packets of that mark (skipped when this process may not mark: the
// sockets that send will say so). A broadcast destination is looked up
// too; whether probes may go there is the sending socket's business
// (Options.Broadcast).
func SourceFor(dst netip.Addr, device string, mark uint32) (netip.Addr, error) {
	a, err := sock.RouteSource(dst, sock.RouteQuery{Device: device, Mark: mark, Broadcast: true})
	switch {
	case err == nil:
		return a, nil
	case errors.Is(err, unix.ENODEV) && device != "":
		return netip.Addr{}, fmt.Errorf("probe: %w (this network namespace has no interface %q: ip link lists them)", err, device)
	case device != "":
		return netip.Addr{}, fmt.Errorf("probe: no route to %v through %s from this network namespace: %w", dst, device, err)
	}
	return netip.Addr{}, fmt.Errorf("probe: no route to %v from this network namespace: %w", dst, err)
}
