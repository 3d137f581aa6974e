package script

// apiIntro opens docs/lua-api.md.
const apiIntro = "Scripts run with `echolot run FILE [ARGS]` (or `echolot lab run FILE` inside a fresh lab), " +
	"interactively in the REPL (`echolot`), and `help(name)` shows any entry below in the REPL. " +
	"gopher-lua is Lua 5.1: there are no bitwise operators and no `\\x` escapes in strings — use `bit.*`, `unhex` and `pattern.bytes`.\n\n" +
	"Every example on this page is run by `go test ./script -run TestHelpExamples` inside the client node of a fresh lab, with the global lab set as `echolot lab run` sets it " +
	"(client 198.18.1.2 → r1 → r2 → server 198.18.3.2, path MTU 1400 at r2; see docs/lab.md).\n"

// helpEntries document every name of the API, in document order; the
// examples are run by TestHelpExamples on the lab.
var helpEntries = []Entry{
	// Packets
	{Name: "ip", Section: "Packets", Usage: "ip{field=value, ...}",
		Doc: "An IPv4 header (RFC 791 §3.1). Defaults: ttl 64, everything else zero; the source address is filled in by the sender " +
			"(the address this host uses towards dst), version, header length, total length and checksum are computed. " +
			"Fields: src, dst (address or host name), ttl, tos, dscp, ecn, id, df, mf, evil, frag, proto, chksum, options. Stack layers with `/`.",
		Example: `local p = ip{dst="198.18.3.2", ttl=3, tos=0x10, df=true} / icmp{seq=1}
print(p)`,
		Output: "IPv4 (auto) > 198.18.3.2 ttl 3 id 0 DF tos 0x10 | ICMP echo-request id 0 seq 1"},
	{Name: "ip6", Section: "Packets", Usage: "ip6{field=value, ...}",
		Doc: "An IPv6 header (RFC 8200 §3). Defaults: hop limit 64. Fields: src, dst, hlim (alias ttl), tc (alias tos), dscp, ecn, flow, nh (alias proto). " +
			"Payload length and next header are computed. Extension headers are not built.",
		Example: `local p = ip6{dst="2001:db8:3::2", hlim=2, flow=0x12345} / icmp6{}
local a = sr1(p)
print(a.kind, a.from)`,
		Output: "time-exceeded\t2001:db8:2::2"},
	{Name: "icmp", Section: "Packets", Usage: "icmp{field=value, ...}",
		Doc: "An ICMP header (RFC 792). Default: echo request (type 8) with a fresh identifier and a sequence number filled in by the sender " +
			"(the engine's own identifier, so replies are matched). Fields: type (a number or a name such as \"timestamp-request\", \"echo-reply\", \"frag-needed\"), " +
			"code, chksum, id, seq, and by meaning mtu (frag-needed), pointer (param-problem), gateway (redirect). Setting id or seq fixes them. " +
			"A timestamp request carries its three 4-byte timestamps as payload: `icmp{type=\"timestamp-request\"} / string.rep(\"\\0\", 12)`.",
		Example: `print(icmp{type="timestamp-request"}.icmp.type, icmp{}.icmp.name)`,
		Output:  "13\techo-request"},
	{Name: "icmp6", Section: "Packets", Usage: "icmp6{field=value, ...}",
		Doc:     "An ICMPv6 header (RFC 4443 §2.1), over ip6{} only. Default: echo request (type 128). Fields as icmp; the checksum covers the IPv6 pseudo-header.",
		Example: `print(ip6{dst="2001:db8:3::2"} / icmp6{seq=5})`,
		Output:  "IPv6 (auto) > 2001:db8:3::2 hlim 64 | ICMPv6 echo-request id 0 seq 5"},
	{Name: "udp", Section: "Packets", Usage: "udp{field=value, ...}",
		Doc: "A UDP header (RFC 768). Defaults: destination port 33434 (traceroute's), source port from the sender's range. " +
			"Fields: sport, dport, chksum; len is computed. A closed port answers with port-unreachable.",
		Example: `local a = sr1(ip{dst="198.18.3.2"} / udp{dport=9})
print(a.kind)`,
		Output: "port-unreachable"},
	{Name: "tcp", Section: "Packets", Usage: "tcp{field=value, ...}",
		Doc: "A TCP header (RFC 9293 §3.1). Defaults: SYN to port 80, window 64240; source port and sequence number from the sender. " +
			"Fields: sport, dport, seq, ack, flags (\"S\", \"SA\", \"FPU\" … or a number), win, urg, reserved, chksum, " +
			"options (a list of \"mss=1460\", \"wscale=7\", \"sackok\", \"ts=VAL,ECR\", \"nop\", \"eol\"). sr1 of a SYN answers tcp-open or tcp-closed.",
		Example: `local p = ip{dst="198.18.3.2"} / tcp{dport=22, options={"mss=1460", "sackok"}}
print(p.tcp.flags, #p, sr1(p).kind)`,
		Output: "S\t48\ttcp-closed"},
	{Name: "raw", Section: "Packets", Usage: "raw(s)",
		Doc: "A payload: a string (binary safe) or a pattern. `p / \"text\"` and `p / pattern(...)` do the same.",
		Example: `local p = ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 56))
print(#p, p.pattern)`,
		Output: "84\t0xa5"},
	{Name: "/", Section: "Packets", Usage: "a / b",
		Doc: "Stacks layers: network / transport / payload, each at most once, in that order; the result is a new packet. " +
			"icmp{} goes over ip{}, icmp6{} over ip6{}. Either side may be a packet already stacked.",
		Example: `local l4 = icmp{seq=3} / "hello"
print(ip{dst="198.18.3.2"} / l4)`,
		Output: "IPv4 (auto) > 198.18.3.2 ttl 64 id 0 | ICMP echo-request id 0 seq 3 | 5 bytes"},
	{Name: "p:show", Section: "Packets", Usage: "p:show()",
		Doc:     "Prints the packet layer by layer, every field with its value, as built (computed lengths and checksums) or as received; an ICMP error's quote is shown below it.",
		Example: `(ip{dst="198.18.3.2", src="198.18.1.2"} / icmp{id=1, seq=1}):show()`},
	{Name: "p:hex", Section: "Packets", Usage: "p:hex()",
		Doc:     "The wire bytes as a hex dump (offset, 16 bytes, ASCII). `hex(p)` gives them as one hex string.",
		Example: `print((ip{dst="198.18.3.2", src="198.18.1.2", id=1} / icmp{id=1, seq=1}):hex())`,
		Output:  "00000000  45 00 00 1c 00 01 00 00  40 01 ea b7 c6 12 01 02  |E.......@.......|\n00000010  c6 12 03 02 08 00 f7 fd  00 01 00 01              |............|"},
	{Name: "p:bytes", Section: "Packets", Usage: "p:bytes()",
		Doc: "The wire bytes as a Lua string. `#p` is their length.",
		Example: `local b = (ip{dst="198.18.3.2"} / icmp{}):bytes()
print(#b, string.byte(b, 1))`,
		Output: "28\t69"},
	{Name: "p:copy", Section: "Packets", Usage: "p:copy()",
		Doc: "A deep copy: options, payload and quote included, so changing one does not change the other.",
		Example: `local a = ip{dst="198.18.3.2", options={opt.rr(3)}} / icmp{}
local b = a:copy()
b.ip.ttl = 1
print(a.ip.ttl, b.ip.ttl)`,
		Output: "64\t1"},
	{Name: "tostring", Section: "Packets", Usage: "tostring(p), #p, p == q",
		Doc: "tostring gives the one-line summary (also what print shows), # the length in bytes, == compares wire bytes.",
		Example: `local p = ip{dst="198.18.3.2"} / icmp{seq=1}
print(#p, p == p:copy())`,
		Output: "28\ttrue"},

	// Fields
	{Name: "p.ip", Section: "Fields", Usage: "p.ip.FIELD, p.ip6.FIELD",
		Doc: "The network layer; every field reads and writes by name (p.ip.ttl = 3). Writing checks the limit and names it. " +
			"Read-only: len, hlen (computed), version; p.ip.rr and p.ip.ts read recorded routes and timestamps (below). " +
			"p.ip works for IPv6 packets too (then it is p.ip6). Setting chksum fixes it (nil computes it again).",
		Example: `local p = ip{dst="198.18.3.2"} / icmp{}
p.ip.ttl = 7
p.ip.dscp = 46
print(p.ip.ttl, p.ip.tos, p.ip.len, pcall(function() p.ip.ttl = 300 end))`,
		Output: "7\t184\t28\tfalse\tdoc:4: ip.ttl: 300 is out of range, the limit is 0–255"},
	{Name: "p.icmp", Section: "Fields", Usage: "p.icmp.FIELD, p.udp.FIELD, p.tcp.FIELD",
		Doc: "The transport layer, nil when the packet has another one (p.tcp of an ICMP packet is nil). icmp.name gives the message's name.",
		Example: `local p = ip{dst="198.18.3.2"} / tcp{dport=443}
print(p.tcp.dport, p.tcp.flags, p.icmp)`,
		Output: "443\tS\tnil"},
	{Name: "p.payload", Section: "Fields", Usage: "p.payload, p.pattern, p.quote, p.kind, p.src, p.dst, p.mpls",
		Doc: "Whole-packet fields: the payload bytes (assignable: a string or a pattern), the payload's pattern name, the quoted datagram of an ICMP error " +
			"(a packet, fields as any packet's), the message kind (\"echo-request\", \"time-exceeded\" …), the addresses, " +
			"and the MPLS label stack of an ICMP error's RFC 4950 extension ({label, tc, s, ttl} each).",
		Example: `local a = sr1(ip{dst="198.18.3.2", ttl=1} / icmp{})
print(a.packet.kind, a.packet.quote.ip.ttl, a.packet.quote.dst)`,
		Output: "time-exceeded\t1\t198.18.3.2"},

	// IPv4 options
	{Name: "opt.rr", Section: "IPv4 options", Usage: "opt.rr([n [, {prefill=true}]])",
		Doc: "Record Route (RFC 791 §3.1, type 7) with n address slots, 1–9 (default 9: 39 bytes). A header built by echolot is not stamped by the sending host, " +
			"so the route shows one entry fewer each way than `ping -R`; prefill=true writes the source address into the first slot as the kernel does.",
		Example: `local a = sr1(ip{dst="198.18.3.2", options={opt.rr(9)}} / icmp{})
print(table.concat(a.packet.ip.rr, " "))`,
		Output: "198.18.2.1 198.18.3.1 198.18.3.2 198.18.3.2 198.18.2.2 198.18.1.1 198.18.1.2"},
	{Name: "opt.ts", Section: "IPv4 options", Usage: `opt.ts("tsonly"|"tsandaddr" [, n] [, {prefill=true}]), opt.ts("prespec", {addr, ...} [, {prefill=true}])`,
		Doc: "Internet Timestamp (RFC 791 §3.1, type 68): times only (up to 9), address and time pairs (up to 4), or times from prespecified addresses (up to 4). " +
			"Times are milliseconds since midnight UT. A received packet lists them as p.ip.ts = {{addr=, ms=}, ...} with .overflow, the count of hops that found the option full. " +
			"A header built by echolot leaves every slot to the path; prefill=true stamps this host first (for prespec: when it is the first address), as the kernel does for `ping -T`.",
		Example: `local function stamps(o)
  local a = sr1(ip{dst="198.18.3.2", options={o}} / icmp{})
  local t = {}
  for _, e in ipairs(a.packet.ip.ts) do t[#t + 1] = e.addr end
  return table.concat(t, " ") .. ", overflow " .. a.packet.ip.ts.overflow
end
print(stamps(opt.ts("tsandaddr", 4)))
print(stamps(opt.ts("tsandaddr", {prefill=true})))`,
		Output: "198.18.1.1 198.18.2.2 198.18.3.2 198.18.3.2, overflow 3\n198.18.1.2 198.18.1.1 198.18.2.2 198.18.3.2, overflow 3"},
	{Name: "opt.lsrr", Section: "IPv4 options", Usage: "opt.lsrr{addr, ...}, opt.ssrr{addr, ...}",
		Doc: "Loose and Strict Source and Record Route (RFC 791 §3.1, types 131 and 137), 1–9 addresses: the hops still to visit followed by the final destination; " +
			"the IP destination is the first hop. Many hosts refuse source-routed packets (Linux's accept_source_route is off by default; the lab's routers allow it).",
		Example: `local o = opt.lsrr{"198.18.3.2"}
print(o, o.len)`,
		Output: "lsrr ptr=0 [198.18.3.2]\t7"},
	{Name: "opt.ra", Section: "IPv4 options", Usage: "opt.ra([value]), opt.nop(), opt.eol(), opt.raw(bytes)",
		Doc: "Router Alert (RFC 2113 §2.1), the one-byte No Operation and End of Option List, and any option byte for byte (type and length included; " +
			"for malformed-option experiments). Options take at most 40 bytes together; the header is padded with zeros to a multiple of four.",
		Example: `local p = ip{dst="198.18.3.2", options={opt.nop(), opt.ra(), opt.raw(unhex("9404 0000"))}} / icmp{}
print(p.ip.hlen, p.ip.options[2].name)`,
		Output: "32\trouter-alert"},
	{Name: "option", Section: "IPv4 options", Usage: "o.name, o.len, o.bytes, o.route, o.entries, o.full, o.overflow, o.pointer",
		Doc: "An option's fields: p.ip.options lists a packet's options, built or received.",
		Example: `local a = sr1(ip{dst="198.18.3.2", options={opt.rr(2)}} / icmp{})
local rr = a.packet.ip.options[1]
print(rr.name, rr.full, #rr.route)`,
		Output: "rr\ttrue\t2"},

	// Patterns
	{Name: "pattern", Section: "Patterns", Usage: `pattern(hex [, n])`,
		Doc: "Hex bytes (\"ff\", \"deadbeef\", \"de:ad:be:ef\") repeated to n bytes, or once without n. Each pattern has a name (p.name), a note saying why it is " +
			"a classic troublemaker (p.note), its bytes (p.bytes) and length (#p).",
		Example: `local p = pattern("deadbeef", 10)
print(p.name, #p, hex(p.bytes))`,
		Output: "0xdeadbeef\t10\tdeadbeefdeadbeefdead"},
	{Name: "pattern.random", Section: "Patterns", Usage: "pattern.random([n [, seed]])",
		Doc:     "n pseudo-random bytes (default 56) from a seed (default 1), the same on every machine (splitmix64), so a failing payload can be sent again.",
		Example: `print(pattern.random(8, 7).name, hex(pattern.random(4, 0).bytes))`,
		Output:  "random(seed=7)\te220a839"},
	{Name: "pattern.ramp", Section: "Patterns", Usage: "pattern.ramp([n]), pattern.walking_ones([n]), pattern.walking_zeros([n]), pattern.prbs([n [, order]])",
		Doc: "Byte ramp 00 01 02 …, a single one (zero) bit walking through the bytes, and ITU-T O.150 pseudo-random bit sequences (orders 7, 9, 11, 15, 20, 23, 31; default 15). " +
			"Sizes default to 56.",
		Example: `print(hex(pattern.ramp(4).bytes), hex(pattern.walking_ones(4).bytes), pattern.prbs(56, 23).name)`,
		Output:  "00010203\t01020408\tprbs23"},
	{Name: "pattern.bytes", Section: "Patterns", Usage: "pattern.bytes({b, ...} [, n]), pattern.text(s [, n])",
		Doc:     "A pattern from byte values (0–255) or from text, repeated to n bytes (default: once).",
		Example: `print(hex(pattern.bytes({0x7e, 0x7d}, 5).bytes), pattern.text("+++ath0").name)`,
		Output:  "7e7d7e7d7e\ttext:+++ath0"},
	{Name: "pattern.file", Section: "Patterns", Usage: "pattern.file(path [, n])",
		Doc:     "A file's bytes (at most 65535) repeated to n bytes (default: once). In the sandbox the file must lie under the working directory or be given on the command line.",
		Example: `print(pcall(pattern.file, "/etc/hostname"))`,
		Output:  "false\tdoc:1: pattern.file: path /etc/hostname is outside the working directory WORKDIR: give it on the command line, work from its directory, or run echolot with --unsafe"},
	{Name: "pattern.catalogue", Section: "Patterns", Usage: "pattern.catalogue([n])",
		Doc: "The classic troublemakers for data-dependent faults, each n bytes (default 56), in a stable order: zeros, ones, 0x55, 0xaa, alternating, 0xa5, " +
			"HDLC flags 0x7e and escapes 0x7d, 0x1113, CR LF, the +++ATH0 modem hang-up, sparse ones, almost-zero, walking ones and zeros, ramp, 0xdeadbeef, PRBS.",
		Example: `for i, p in ipairs(pattern.catalogue(56)) do if i <= 3 then print(p.name, p.note ~= "") end end`,
		Output:  "zeros\ttrue\nones\ttrue\n0x55\ttrue"},
	{Name: "pattern.named", Section: "Patterns", Usage: "pattern.named(name [, n]), pattern.names()",
		Doc:     "A pattern by the name it prints (\"walking-ones\", \"prbs15\", \"random(seed=7)\", \"0x7e\", \"text:hi\"), and the list of names.",
		Example: `print(pattern.named("walking-zeros", 2).name, #pattern.names() > 20)`,
		Output:  "walking-zeros\ttrue"},
	{Name: "pattern.compare", Section: "Patterns", Usage: "pattern.compare(sent, got)",
		Doc:     "Compares two payloads byte by byte: nil when equal, else a damage table (see answer.damage).",
		Example: `print(pattern.compare("abcd", "abzd"))`,
		Output:  "1 byte differs (offset 2), #2 sent 0x63 got 0x7a bits 0x19"},

	// Sending
	{Name: "send", Section: "Sending", Usage: "send(p | {p, ...} [, opts])",
		Doc: "Sends packets without waiting for answers and returns how many left. opts: count (copies of each), interval (seconds) or rate (packets per second), " +
			"pmtu (\"probe\" default: DF packets leave whatever path MTU the kernel cached; \"do\", \"want\", \"dont\"), " +
			"iface (send through this interface, whatever the routing table says: SO_BINDTODEVICE), " +
			"mark (the firewall mark policy routing and netfilter match on, 0–4294967295: SO_MARK), broadcast (true lets packets go to a broadcast address: SO_BROADCAST). " +
			"Raw sockets: needs root or CAP_NET_RAW. Unset source addresses, identifiers, sequence numbers and ports are filled in.",
		Example: `print(send(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 56)), {count=3, rate=1000}))`,
		Output:  "3"},
	{Name: "sr1", Section: "Sending", Usage: "sr1(p [, opts]) → answer or nil",
		Doc: "Sends one packet and returns its first answer (nil on timeout). opts: timeout (seconds, default 2), retries (resend when unanswered), pmtu, " +
			"iface (send and receive through this interface only; the source address is the one this host uses there), " +
			"mark (as send; the source address is the one policy routing picks for that mark), broadcast (as send: every host that answers a broadcast probe is an answer, the first one returned). " +
			"Matching is the probe engine's: echo replies by identifier and sequence, ICMP errors by the quoted header, TCP by ports and sequence numbers. " +
			"Calls reuse their sockets: the ICMP identifier stays and sequence numbers (source ports for UDP and TCP) go on from call to call, as in one ping run, " +
			"so a late answer to an earlier call is never taken for a later one's.",
		Example: `local a = sr1(ip{dst="198.18.3.2"} / icmp{} / raw(pattern("a5", 56)), {timeout=1})
local b = sr1(ip{dst="198.18.3.2"} / icmp{})
print(a.kind, a.from, a.ttl, a.rtt > 0, a.damage, b.seq - a.seq, b.probe.icmp.id == a.probe.icmp.id)`,
		Output: "echo-reply\t198.18.3.2\t62\ttrue\tnil\t1\ttrue"},
	{Name: "sr", Section: "Sending", Usage: "sr({p, ...} [, opts]) → answered, unanswered",
		Doc: "Sends a list and returns the answers (each has .probe, the packet as sent) and the packets that got none. opts as sr1 plus interval or rate " +
			"(default: as fast as the engine sends) and window (probes outstanding at once, default 64, so answers clock a long list instead of it overflowing queues on the path). Packets of different families or transports go through engines of their own, side by side.",
		Example: `local probes = {}
for ttl = 1, 3 do probes[ttl] = ip{dst="198.18.3.2", ttl=ttl} / icmp{} end
local ans, unans = sr(probes, {timeout=1})
for _, a in ipairs(ans) do print(a.probe.ip.ttl, a.kind, a.from) end
print(#unans)`,
		Output: "1\ttime-exceeded\t198.18.1.1\n2\ttime-exceeded\t198.18.2.2\n3\techo-reply\t198.18.3.2\n0"},

	// Answers
	{Name: "answer", Section: "Answers", Usage: "a.kind, a.from, a.rtt, a.ttl, a.seq, a.mtu, a.packet, a.probe, a.quote, a.changes, a.damage, a.local, a.dups",
		Doc: "An answer is a plain table: kind (\"echo-reply\", \"timestamp-reply\", \"time-exceeded\", \"frag-needed\", \"port-unreachable\", \"dest-unreachable\", " +
			"\"param-problem\", \"packet-too-big\", \"tcp-open\", \"tcp-closed\", \"udp-reply\" …), from (the answering address), rtt (milliseconds, from kernel timestamps), " +
			"ttl (the answer's own), mtu (frag-needed, packet-too-big, and local: this host refused the send), packet (what arrived), probe (what was sent), " +
			"quote (the probe as an ICMP error quoted it), changes, damage (nil when the payload came back intact), local (true when this host, not the network, answered), dups. tostring(a) is one line.",
		Example: `local a = sr1(ip{dst="198.18.3.2", df=true} / icmp{} / raw(pattern("00", 1400)))
print(a.kind, a.from, a.mtu)`,
		Output: "frag-needed\t198.18.2.2\t1400"},
	{Name: "a.changes", Section: "Answers", Usage: "a.changes[field] = {sent=, seen=, expected=, note=}",
		Doc: "For ICMP errors: every field the path changed between the probe as sent and the copy quoted back — ttl, tos, dscp, ecn, df, id, options, " +
			"\"icmp.seq\", \"tcp.flags\", \"payload\" … expected is true for changes every path makes (TTL decremented, checksum recomputed, record route filled in).",
		Example: `local a = sr1(ip{dst="198.18.3.2", ttl=2} / icmp{})
print(a.changes.ttl.sent, a.changes.ttl.seen, a.changes.ttl.expected)`,
		Output: "2\t1\ttrue"},
	{Name: "a.damage", Section: "Answers", Usage: "a.damage.offsets, a.damage.bytes, a.damage.text",
		Doc: "How a reply's payload differs from what was sent, every byte compared (ping skips its first 16): offsets (from the start of the ICMP data), " +
			"bytes ({offset, sent, got}), sent_len, got_len, truncated, extended, text. nil when intact.",
		Example: `local d = pattern.compare(pattern("a5", 8).bytes, unhex("a5a5a5a5a5a5a4a5"))
print(d.offsets[1], d.bytes[1].got, d.text)`,
		Output: "6\t164\t1 byte differs (offset 6), #6 sent 0xa5 got 0xa4 bits 0x01"},

	// Captures
	{Name: "capture", Section: "Captures", Usage: "capture(path), capture()",
		Doc: "Writes everything the script sends and receives from now on to a pcapng file, with comments linking each probe and its answer " +
			"(Wireshark: View ▸ Packet Comments; tshark: frame.comment). capture() closes it and returns the number of packets written. The file stays readable if the script is killed.",
		Example: `capture("example.pcapng")
sr1(ip{dst="198.18.3.2"} / icmp{})
print(capture())`,
		Output: "2"},
	{Name: "pcap.read", Section: "Captures", Usage: "for ts, p, info in pcap.read(path) do ... end",
		Doc: "Iterates over the IP packets of a pcap or pcapng file: ts (seconds since the epoch), the packet, info {number, dir (\"sent\", \"received\" or nil), comments}.",
		Example: `capture("read.pcapng")
sr1(ip{dst="198.18.3.2", ttl=1} / icmp{})
capture()
for ts, p, info in pcap.read("read.pcapng") do print(info.number, info.dir, p.kind) end`,
		Output: "1\tsent\techo-request\n2\treceived\ttime-exceeded"},

	// Helpers
	{Name: "printf", Section: "Helpers", Usage: "printf(fmt, ...), print(...), pp(v, ...)",
		Doc: "printf is string.format written out; pp prints tables readably (sorted fields, nested tables, cycles marked); " +
			"for an answer it prints its one-line summary and then every field.",
		Example: `printf("%-6s|%5.1f\n", "rtt", 1.25)
pp({kind="echo-reply", hops={1, 2}})`,
		Output: "rtt   |  1.2\n{hops={1, 2}, kind=\"echo-reply\"}"},
	{Name: "printtable", Section: "Helpers", Usage: "printtable(head, rows)",
		Doc: "Prints a header and rows as aligned columns, each as wide as its widest cell, two spaces apart; nil cells are empty. " +
			"What the shipped experiments print their results with.",
		Example: `printtable({"HOP", "ADDRESS", "RTT"}, {{1, "198.18.1.1", 0.05}, {2, "198.18.2.2"}})`,
		Output:  "  HOP  ADDRESS     RTT\n  1    198.18.1.1  0.05\n  2    198.18.2.2"},
	{Name: "nodename", Section: "Helpers", Usage: "nodename(addr), whois(addr)",
		Doc: "Under `echolot lab run`: the name of the lab node that has the address addr on any of its interfaces (lab.NODE.addrs), or nil; whois gives \"addr (node)\", " +
			"just addr when it is no node's, and \"?\" for nil.",
		Example: `print(nodename("198.18.2.2"), whois("198.18.3.1"), whois("192.0.2.1"), whois(nil))`,
		Output:  "r2\t198.18.3.1 (r2)\t192.0.2.1\t?"},
	{Name: "sleep", Section: "Helpers", Usage: "sleep(seconds), now()",
		Doc:     "sleep waits (Ctrl-C cancels it); now is the time in seconds since the epoch, with nanoseconds.",
		Example: `local t = now(); sleep(0.01); print(now() - t >= 0.01)`,
		Output:  "true"},
	{Name: "resolve", Section: "Helpers", Usage: "resolve(name [, ipv6])",
		Doc:     "The address of a host name (IPv4 unless ipv6 is true), or nil and the error.",
		Example: `print(resolve("198.18.3.2"))`,
		Output:  "198.18.3.2"},
	{Name: "hex", Section: "Helpers", Usage: "hex(s | p | n), unhex(s)",
		Doc:     "hex encodes a string's or a packet's bytes (or a number as 0x…); unhex decodes, ignoring spaces and colons.",
		Example: `print(hex("AB"), unhex("41:42") == "AB", hex(255))`,
		Output:  "4142\ttrue\t0xff"},
	{Name: "bit", Section: "Helpers", Usage: "bit.band, bit.bor, bit.bxor, bit.bnot, bit.lshift, bit.rshift, bit.tohex",
		Doc:     "32-bit operations, as LuaJIT's bit library (Lua 5.1 has no bitwise operators); results are unsigned.",
		Example: `print(bit.band(0xb8, 0xfc), bit.rshift(0xb8, 2), bit.tohex(0xb8, 2))`,
		Output:  "184\t46\tb8"},
	{Name: "stats", Section: "Helpers", Usage: "stats({x, ...})",
		Doc: "n, min, avg, max, mdev (ping's: the population standard deviation) and nearest-rank p50, p90, p99 of a list of numbers, e.g. RTTs.",
		Example: `local s = stats({1, 2, 3, 4})
print(s.n, s.min, s.avg, s.max, s.p50)`,
		Output: "4\t1\t2.5\t4\t2"},
	{Name: "exit", Section: "Helpers", Usage: "exit([n])",
		Doc: "Ends the script with exit code n (0–255, default 0); captures are flushed. In the REPL it leaves the REPL.",
	},
	{Name: "arg", Section: "Helpers", Usage: "arg[0], arg[1], ..., lab",
		Doc: "arg holds the command-line arguments (arg[0] is the script's name). Under `echolot lab run` the global lab holds the lab's addresses: " +
			"lab.name; lab.NODE.ip4 and lab.NODE.ip6, the node's primary addresses (lab.server.ip4, lab.r1.ip6 …); lab.NODE.addrs, all of them; " +
			"and lab.faults (below). lab is nil elsewhere.",
		Example: `print(arg[0] ~= nil, #arg, lab.server.ip4, table.concat(lab.r1.addrs, " "))`,
		Output:  "true\t0\t198.18.3.2\t198.18.1.1 198.18.2.1 2001:db8:1::1 2001:db8:2::1"},
	{Name: "target", Section: "Helpers", Usage: `target([host [, "4"|"6"]]) → addr, v6; usage([msg])`,
		Doc: "Argument handling for scripts. target resolves the HOST argument: a literal address or a name (looked up as IPv4 unless \"6\" is asked for), " +
			"the lab's server when host is nil or empty under `echolot lab run`; it returns the address and whether it is IPv6. " +
			"A host of the other family than the one asked for, or one that does not resolve, ends the script through usage. " +
			"usage prints \"NAME: msg\" and the usage paragraph of the script's header comment (from the line starting with `usage:` to the next empty comment line) " +
			"to stderr and exits 2, the exit code for bad arguments.",
		Example: `local dst, v6 = target(arg[1])
print(dst, v6, target("2001:db8:3::2", "6"))`,
		Output: "198.18.3.2\tfalse\t2001:db8:3::2\ttrue"},
	{Name: "lab.faults", Section: "Helpers", Usage: "lab.faults.add(rule), lab.faults.del(id), lab.faults.clear(), lab.faults.list(), lab.faults.with(rule, fn, ...)",
		Doc: "Under `echolot lab run`: the rules of the fault node between r1 and r2, in the syntax of `echolot lab fault add` (docs/lab.md), e.g. " +
			"\"drop pattern=7e7e7e7e dir=to-server proto=icmp\", \"corrupt offset=30 flip=0x01 dir=to-client\", \"tos 0x28 dir=to-server\". " +
			"add returns the rule's id; list gives {id, rule, seen, matched} per rule, in the order they apply; " +
			"with applies rule only while fn(...) runs, returns what fn returns, and removes the rule also when fn raises an error. " +
			"Rules added with add stay until deleted (a fresh `lab run` starts with none).",
		Example: `local p = ip{dst=lab.server.ip4} / icmp{} / raw(pattern("7e", 56))
local lost = lab.faults.with("drop pattern=7e7e7e7e dir=to-server proto=icmp", function()
  return sr1(p, {timeout=0.5}) == nil
end)
print(lost, sr1(p).kind, #lab.faults.list())`,
		Output: "true\techo-reply\t0"},
	{Name: "help", Section: "Helpers", Usage: "help([name | function])",
		Doc:     "Without an argument, lists the API; with a name (\"sr1\", \"pattern.random\") or a function, shows its documentation and example.",
		Example: `help("bit")`},

	// Sandbox and errors
	{Name: "sandbox", Section: "Sandbox and errors", Usage: "the sandbox",
		Doc: "Scripts get base (without dofile, loadfile, load, require, module, getfenv, setfenv), string, table, math, coroutine and os.clock/date/time/difftime/getenv. " +
			"io, debug, package, os.execute/exit/remove/rename/tmpname/setenv and the removed base functions raise an error naming themselves and --unsafe. " +
			"Files are used only by capture, pattern.file and pcap.read, under the working directory or at paths given on the command line. `echolot run --unsafe` lifts all of this.",
		Example: `print(pcall(os.execute, "true"))`,
		Output:  "false\tdoc:1: os.execute is not available in echolot's sandbox: run echolot with --unsafe to allow it"},
	{Name: "errors", Section: "Sandbox and errors", Usage: "errors and exit codes",
		Doc: "A script error prints file:line, the message and a traceback, and exits 2; bad field values name the field, the value and the limit. " +
			"Ctrl-C (or `echolot run --timeout`) cancels a running script cleanly: a running sr/sr1/send returns, captures are flushed, the exit code is 2. " +
			"In the REPL an error is printed and the REPL goes on.",
		Example: `print(pcall(function() return ip{dst="198.18.3.2", tos=256} end))`,
		Output:  "false\tdoc:1: ip.tos: 256 is out of range, the limit is 0–255"},
}
