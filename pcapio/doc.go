// Package pcapio writes what echolot sends and receives to pcapng (or
// classic pcap) files for Wireshark, with comments that tie every answer to
// its probe; reads pcap and pcapng files back into packet.Packet values;
// matches captures offline; and sniffs interfaces live through AF_PACKET.
// It uses no libpcap and no cgo.
//
// # Writing
//
// Create (or NewWriter) writes the file header at once and returns a
// Writer. The default format is pcapng with one raw-IP interface
// (LINKTYPE_RAW, so IPv4 and IPv6 share the file), nanosecond timestamps
// (if_tsresol 9), and per record: a direction flag (epb_flags), a packet id
// (epb_packetid) and comments (opt_comment). A name ending in ".pcap", or
// Options.Format FormatPcap, gives classic nanosecond pcap, which has no
// room for interfaces' names, directions, ids or comments. Interfaces name
// the socket or lab node the packets come from (if_name, if_description);
// Ethernet interfaces can sit beside raw-IP ones (Interface.LinkType,
// AddInterface).
//
// Comments come from Record.Comments and from Record.Link, the engine's
// linkage, which the writer goroutine formats (Link.Comment):
//
//	probe 17 seq=17 ttl=3 pattern=a5
//	answer to probe 17: time-exceeded from 198.18.2.2 rtt=0.412ms changed: ttl 3→1 tos 0x00→0x28
//	unmatched: echo-reply from 198.18.3.2
//
// # The probe engine's tap
//
// The engine creates one Writer per capture file, with one Interface per
// socket family it captures, and calls WritePacket from its send and
// receive paths; WritePacket copies the record and returns in about
// 30–80 ns without allocating (see the benchmarks), and never waits for
// I/O:
//
//	w, err := pcapio.Create(path, pcapio.Options{Interfaces: []pcapio.Interface{
//		{Name: "echolot:ipv4", Description: "raw IPv4 sockets in lab node client"},
//		{Name: "echolot:ipv6", Description: "raw IPv6 sockets in lab node client"},
//	}})
//	defer w.Close()
//	// After a probe is sent (its bytes as sent, the kernel's TX timestamp):
//	w.WritePacket(pcapio.Record{Time: txTime, Data: wire, Dir: pcapio.DirOut, ID: n, Iface: 0,
//		Link: pcapio.Link{Kind: pcapio.ProbeLink, Probe: n, Seq: seq, TTL: ttl, Pattern: pat.Name}})
//	// After an answer is matched (packet.Answers, packet.QuoteDiff):
//	w.WritePacket(pcapio.Record{Time: rxTime, Data: datagram, Dir: pcapio.DirIn, ID: n, Iface: 0,
//		Link: pcapio.Link{Kind: pcapio.AnswerLink, Probe: n, Answer: m.Kind, From: src, RTT: rtt, Changes: diff}})
//	// A packet that answers nothing:
//	w.WritePacket(pcapio.Record{Time: rxTime, Data: datagram, Dir: pcapio.DirIn, Iface: 0,
//		Link: pcapio.Link{Kind: pcapio.UnmatchedLink, Answer: p.Kind(), From: src}})
//
// Data on a raw-IP interface must be a whole IP datagram, starting at its
// IP header. Sockets that hand over only the ICMP message (raw ICMPv6
// sockets, ICMP datagram sockets) need the header rebuilt from the
// addresses and hop limit of the receive call's ancillary data. WritePacket
// returns ErrDropped when the queue is full: the engine counts it (so does
// Stats) and carries on.
//
// # Flush policy and the end of the program
//
// WritePacket puts the record in a bounded queue (Options.QueueLen,
// DefaultQueueLen records). A goroutine encodes queued records into whole
// blocks in a buffer and writes the buffer with one write call when it
// holds WriteSize (64 KiB), when its oldest record has waited
// FlushInterval (DefaultFlushInterval, 100 ms), and on Flush, AddInterface
// and Close. No write ever ends inside a block, and the file header is
// written before Create returns, so the file is a valid capture at every
// moment:
//
//   - Normal exit, or a script error that unwinds through a deferred Close:
//     Close writes everything queued, then closes the file.
//   - Ctrl-C and SIGTERM: CloseOnSignal(w) closes the writers, then ends the
//     process with the same signal. Without it the process ends at once, as
//     after SIGKILL.
//   - SIGKILL, os.Exit without Close, a crash: every record written before
//     is readable, that is every record queued more than FlushInterval
//     before (Stats.Written counts them). Records still in the queue or
//     buffer are lost. The kernel could cut a write short only if the
//     process were killed inside that write call; readers then stop at the
//     cut block (this reader with ErrTruncated, tshark with "cut short in
//     the middle of a packet") after reading all before it.
//
// Written means handed to the kernel: it survives the process, not a power
// failure (there is no fsync).
//
// # Reading
//
// Read, ReadFile and NewReader read pcap and pcapng: both byte orders,
// microsecond and nanosecond pcap, any pcapng if_tsresol and if_tsoffset,
// several sections and interfaces with different link types, gzip. Each
// record becomes a Frame with its timestamp, interface, direction, packet
// id, comments and the IP datagram found behind the link-layer header
// (Ethernet with VLAN tags or LLC/SNAP, raw IP as LINKTYPE_RAW 101, the
// DLT_RAW values 12 and 14, LINKTYPE_IPV4/IPV6 228/229, Linux cooked
// captures SLL and SLL2, BSD loopback) parsed by packet.Packet.Decode. A
// damaged or truncated file gives a *FormatError naming the offset and what
// is wrong, after the frames before the damage.
//
// # Matching offline
//
// Match ties answers to probes in a list of frames with packet's keys, as
// the engine does live; Annotate adds the engine's comments to the frames,
// so that a capture made by tcpdump can be written back annotated.
// InferDirection fills in directions a capture does not record.
//
// # Sniffing
//
// Sniff opens an AF_PACKET socket on an interface (gopacket's
// pcapgo.EthernetHandle) for scripts that must see traffic echolot did not
// send, with a filter function over parsed packets. Call it from
// lab.InNode to sniff inside a lab node. Its frames can go straight to a
// Writer whose interface is Sniffer.Interface.
package pcapio
