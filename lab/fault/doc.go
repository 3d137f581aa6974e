// Package fault is the lab's fault-injecting node: a transparent bump in
// the wire between r1 and r2 that forwards Ethernet frames between two
// interfaces with AF_PACKET sockets and applies impairment rules per
// direction. The Linux kernel the lab runs on has no netem, so the lab
// brings its own.
//
// The parts, each usable alone:
//
//   - Rule, ParseRule and Rule.String: the rules and their one text syntax,
//     used by `echolot lab fault add`, the control socket and Lua.
//   - RuleSet.Apply (and Apply): the pure per-frame function. It needs no
//     sockets or namespaces and does not allocate when no rule matches.
//   - OpenBridge, New and Node.Run: the forwarding node; Node is a
//     Controller.
//   - Serve and Dial: the control socket (JSON lines) and its client.
//
// # Rule syntax
//
// A rule is one line of words separated by spaces: the kind, its argument
// if it has one, then settings (key=value, or a flag word) in any order.
// Numbers are decimal or 0x-prefixed hexadecimal; probabilities are
// fractions (0.1) or percentages (10%); durations carry a unit (20ms,
// 1.5ms, 500us).
//
//	drop [pattern=HEX [offset=N]]      drop frames; with pattern= only those whose
//	                                   payload holds the bytes (anywhere, or at offset N)
//	loss P                             drop frames with probability P
//	corrupt offset=N flip=MASK         XOR the byte at N with MASK (flip=0x01: lowest bit)
//	corrupt offset=N set=MASK          set the bits of MASK in the byte at N
//	corrupt offset=N clear=MASK        clear the bits of MASK
//	corrupt offset=N byte=V            replace the byte at N with V
//	corrupt ber=P [offset=N] [len=L]   flip each bit of the region from N (L bytes,
//	                                   default to the end) with probability P
//	duplicate [N]                      forward N extra copies (default 1, at most 16)
//	delay D [jitter=J]                 hold frames D plus a uniform random [0, J]
//	tos V                              set the IPv4 TOS octet / IPv6 traffic class
//	dscp V                             set DSCP (upper 6 bits, 0–63), keep ECN (RFC 2474)
//	ecn not-ect|ect1|ect0|ce|0–3       set ECN (lower 2 bits), keep DSCP (RFC 3168)
//	ttl V | ttl -N                     set the TTL / hop limit, or lower it by N (not below 0)
//	strip-options                      remove all IPv4 options (IPv6: no effect)
//	truncate N [keep-length]           cut the IP datagram to N bytes (20–65535); the IP
//	                                   and UDP length fields are fixed unless keep-length
//
// Settings every kind takes:
//
//	dir=to-server|to-client|both       default both; to-server is client → server
//	proto=icmp|icmp6|udp|tcp|any       default any; icmp is ICMP over IPv4 only
//	prob=P                             act on a frame with probability P (not with loss)
//
// And where they apply:
//
//	from=payload|ip                    what offset= counts from (drop with pattern=,
//	                                   corrupt): the transport payload (default) or the
//	                                   first byte of the IP header
//	bad-checksum                       after a change, leave the checksums as they were,
//	                                   so they no longer verify (kinds that change bytes)
//
// Examples: "corrupt offset=30 flip=0x01 dir=to-client", "drop
// pattern=a5a5 offset=16 proto=icmp", "delay 20ms jitter=5ms", "tos 0x28
// dir=to-server", "loss 0.1", "ttl -1 proto=udp", "truncate 60
// keep-length", "corrupt ber=0.001 proto=icmp6 bad-checksum". Rule.String
// writes the canonical form (defaults left out), and ParseRule reads it
// back.
//
// # What offsets count from
//
// By default an offset counts from the transport payload: the ICMP or
// ICMPv6 data after the 8-byte header, so offset N is the byte iputils ping
// reports as "wrong data byte #N" (its data starts with a 16-byte
// timestamp, then the -p pattern); the UDP payload; the TCP payload after
// the header's data offset. Datagrams of other protocols, and fragments
// other than the first (which carry no transport header), count from the
// first byte after the IP header and its IPv4 options or IPv6 extension
// headers. With from=ip offsets count from the IP header's first byte. A
// frame too short for a rule's offset is left alone by that rule.
//
// # Order, probabilities, counters
//
// Rules apply in the order they were added. Each rule first checks its
// direction and protocol (the frame is then "seen" by it), then its
// condition (the pattern, the offset inside the frame, options present, a
// datagram longer than the truncation), then its probability; if all hold
// it acts and the frame counts as "matched". A drop or loss rule ends the
// frame's way through the rules. Byte changes happen in place, in order,
// so a later rule sees the changes of earlier ones. Duplicate and delay
// rules add up: copies add, fixed delays add, jitters add, and every copy
// draws its own jitter, so with jitter frames can be reordered, as with
// netem.
//
// # Checksums
//
// After every byte change the checksums that cover the byte are updated
// incrementally (RFC 1624): the IPv4 header checksum (RFC 791) for header
// bytes; the ICMP (RFC 792), ICMPv6 (RFC 4443 §2.3), UDP (RFC 768) and
// TCP (RFC 9293 §3.1) checksums for the segment and, through the
// pseudo-header (RFC 8200 §8.1 for IPv6), the addresses. An incremental
// update keeps a right checksum right also in the first fragment of a
// datagram, whose checksum covers bytes that are not in the frame; and it
// keeps a wrong checksum wrong. Fragments other than the first hold no
// transport checksum, so a change there cannot be compensated. A zero UDP
// checksum over IPv4 means "none" and stays zero. Truncation with fixed
// lengths recomputes the transport checksum over what is left (not for
// fragments). Stripping options recomputes the IPv4 header checksum; if a
// loose or strict source route still had addresses to visit, the sender
// computed the transport checksum with the final destination, so it is
// adjusted to the header's destination. Changes to the IPv4 length or
// protocol fields made with corrupt from=ip are fixed in the header
// checksum only. With bad-checksum nothing is updated: the rule's changes
// leave every covering checksum wrong (a header or length change, such
// as IHL and Total Length after strip-options, is still made).
//
// # Frames no rule touches
//
// Frames other than IPv4 and IPv6 (ARP, VLAN-tagged frames, LLDP, …) and
// IP frames whose header is too malformed to locate the payload are
// forwarded untouched by every rule, proto=any included: they are not
// dropped, delayed or counted as seen. The same holds for IPv6 Neighbor
// Discovery (RFC 4861: router solicitation and advertisement, neighbor
// solicitation and advertisement, redirect, ICMPv6 types 133–137) and
// Multicast Listener Discovery (RFC 2710, RFC 3810: types 130–132 and
// 143), although they are ICMPv6: they are the IPv6 counterpart of ARP,
// and a rule meant for echo traffic (proto=icmp6 or proto=any) must not
// cut r1 off from r2. To break neighbour discovery itself, bring the link
// down instead.
//
// # The node
//
// OpenBridge opens one AF_PACKET socket per interface in the fault
// namespace; New and Run forward between them with one goroutine per
// direction. A goroutine waits in Go's netpoller until its socket is
// readable, then reads it dry with non-blocking reads, applies the rules
// and sends each frame at once. After a send it also reads the other
// direction's socket dry: the kernel passes a frame sent on a veth through
// the hosts behind it during the send call, so an echo reply is usually
// already queued when the send returns, and forwarding it straight away
// saves a hand-over to the other goroutine. A mutex per direction keeps
// each direction's frames in order whichever goroutine reads them.
// Delayed frames are copied into a queue per direction (a min-heap by due
// time, bounded by Config.QueueFrames and QueueBytes; frames over the
// bound are dropped and counted as overflow) and sent by a timer-driven
// goroutine. Rules are read through an atomic pointer to an immutable
// RuleSet, so Add, Delete and Clear never stop forwarding. Node.Stats
// returns per-direction counters; List returns the per-rule counters.
//
// What forwarding costs: RuleSet.Apply takes about 3 ns per frame with no
// rules and about 30 ns with four rules that do not match, without
// allocating; through the lab, the fault node adds one thread wake-up to a
// round trip (BenchmarkBridgeLatency compares it with a direct veth).
package fault
