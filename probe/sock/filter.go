package sock

import (
	"fmt"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// filterAccept is what an accepting filter returns: the number of bytes to
// keep (all of any IP datagram).
const filterAccept = 0x40000

// EchoFilter returns a classic BPF socket filter for a raw ICMP socket of
// family f (OpenICMP) that passes
//
//   - echo replies (and, for IPv4, timestamp replies) whose identifier is
//     id, and
//   - every ICMP error: destination unreachable, source quench, redirect,
//     time exceeded and parameter problem for IPv4; destination
//     unreachable, packet too big, time exceeded and parameter problem for
//     IPv6,
//
// and drops everything else, our own looped-back echo requests and other
// programs' echo replies included. Several echolot processes and an iputils
// ping can then share a host without seeing each other's replies. Errors
// quote someone's packet and all pass: which quote is ours is decided in user
// space, from the quoted identifier or ports.
//
// A raw IPv4 socket's filter sees the IP header at offset 0; a raw ICMPv6
// socket's sees the ICMPv6 header at offset 0 (the kernel has stripped the
// IPv6 header). The program is assembled with golang.org/x/net/bpf.
func EchoFilter(f Family, id uint16) []bpf.RawInstruction {
	var prog []bpf.Instruction
	if f == IPv6 {
		prog = []bpf.Instruction{
			/* 0 */ bpf.LoadAbsolute{Off: 0, Size: 1}, // ICMPv6 type
			/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 129, SkipTrue: 4}, // echo reply → 6
			/* 2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 2}, // → drop
			/* 3 */ bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: 4, SkipTrue: 1}, // → drop
			/* 4 */ bpf.RetConstant{Val: filterAccept}, // errors 1–4
			/* 5 */ bpf.RetConstant{Val: 0},
			/* 6 */ bpf.LoadAbsolute{Off: 4, Size: 2}, // identifier
			/* 7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(id), SkipFalse: 1},
			/* 8 */ bpf.RetConstant{Val: filterAccept},
			/* 9 */ bpf.RetConstant{Val: 0},
		}
	} else {
		prog = []bpf.Instruction{
			/*  0 */ bpf.LoadMemShift{Off: 0}, // X = IP header length
			/*  1 */ bpf.LoadIndirect{Off: 0, Size: 1}, // ICMP type
			/*  2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 8}, // echo reply → 11
			/*  3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 14, SkipTrue: 7}, // timestamp reply → 11
			/*  4 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 3, SkipTrue: 5}, // → accept
			/*  5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4, SkipTrue: 4},
			/*  6 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 5, SkipTrue: 3},
			/*  7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 11, SkipTrue: 2},
			/*  8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 12, SkipTrue: 1},
			/*  9 */ bpf.RetConstant{Val: 0},
			/* 10 */ bpf.RetConstant{Val: filterAccept},
			/* 11 */ bpf.LoadIndirect{Off: 4, Size: 2}, // identifier
			/* 12 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(id), SkipFalse: 1},
			/* 13 */ bpf.RetConstant{Val: filterAccept},
			/* 14 */ bpf.RetConstant{Val: 0},
		}
	}
	return mustAssemble(prog)
}

// PortFilter returns a classic BPF socket filter for a raw TCP or UDP
// socket of family f (OpenRaw) that passes only segments whose destination
// port lies in [lo, hi]: the source ports of our probes, so that answers to
// other programs are not copied to us. On IPv4 the filter skips the IP
// header (options included); on IPv6 the kernel hands the filter the
// transport header. Non-first IPv4 fragments cannot occur: raw sockets
// receive reassembled datagrams.
func PortFilter(f Family, lo, hi uint16) []bpf.RawInstruction {
	var prog []bpf.Instruction
	if f == IPv6 {
		prog = []bpf.Instruction{
			bpf.LoadAbsolute{Off: 2, Size: 2},
		}
	} else {
		prog = []bpf.Instruction{
			bpf.LoadMemShift{Off: 0},
			bpf.LoadIndirect{Off: 2, Size: 2},
		}
	}
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpLessThan, Val: uint32(lo), SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(hi), SkipTrue: 1},
		bpf.RetConstant{Val: filterAccept},
		bpf.RetConstant{Val: 0},
	)
	return mustAssemble(prog)
}

func mustAssemble(prog []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic("sock: built-in filter does not assemble: " + err.Error())
	}
	return raw
}

// attachFilter attaches prog to fd with SO_ATTACH_FILTER.
func attachFilter(fd int, prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return fmt.Errorf("empty filter program")
	}
	if len(prog) > 4096 {
		return fmt.Errorf("filter has %d instructions, the kernel accepts at most 4096", len(prog))
	}
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(ins)), Filter: (*unix.SockFilter)(unsafe.Pointer(&ins[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

// SetFilter attaches a classic BPF program (see EchoFilter, PortFilter, or
// assemble one with golang.org/x/net/bpf) to the socket, replacing any
// earlier one, and drops what the socket queued before, which the filter has
// not seen. Prefer Options.Filter, which attaches the filter before the
// socket has received anything.
func (c *Conn) SetFilter(prog []bpf.RawInstruction) error {
	return c.control(func(fd int) error {
		if err := attachFilter(fd, prog); err != nil {
			return setoptErr(c.what, "SO_ATTACH_FILTER", err)
		}
		drain(fd)
		return nil
	})
}

// drain discards the datagrams the socket has queued. A queued ICMP
// error is reported once as the socket's error (IP_RECVERR) and the next
// read goes on, so errors other than EAGAIN do not end it (eight in a
// row do).
func drain(fd int) {
	var b [1]byte
	for i, errs := 0, 0; i < 1<<16 && errs < 8; i++ {
		_, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch {
		case err == unix.EAGAIN:
			return
		case err != nil:
			errs++
		default:
			errs = 0
		}
	}
}

// Discard drops, without waiting, everything the socket has queued: its
// received datagrams, its error queue (ICMP errors, send timestamps) and
// a pending socket error. A socket kept open from one use to the next
// (a re-armed probe.Engine) then starts the next one as a fresh socket
// would, without what arrived in between.
func (c *Conn) Discard() error {
	return c.control(func(fd int) error {
		drain(fd)
		var b [1]byte
		for range 1 << 16 {
			if _, _, _, _, err := unix.Recvmsg(fd, b[:], nil, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
				break
			}
		}
		_, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR) // clears it
		return nil
	})
}
