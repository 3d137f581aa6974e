// Package packet is echolot's pure packet model: it builds probe packets
// byte-exactly, parses whatever comes back, decides which probe an answer
// belongs to, lists what the path changed in a quoted header, and compares
// payloads. It does no I/O and keeps no global state, so every function here
// can be tested with bytes alone and fuzzed.
//
// A Packet is one network header (IPv4 or IPv6), at most one transport header
// (ICMP, ICMPv6, UDP or TCP) and a payload. The same value is used to build a
// probe and to hold a parsed answer, so build → parse → compare round trips
// are exact.
//
// Field names follow the RFCs: RFC 791 (IPv4), RFC 8200 (IPv6), RFC 792 and
// RFC 4443 (ICMP, ICMPv6), RFC 768 (UDP), RFC 9293 (TCP), RFC 4884 (ICMP
// extensions), RFC 4950 (MPLS label stack objects) and RFC 5837 (interface
// information objects).
package packet
