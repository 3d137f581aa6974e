package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestBuildJudgedByGopacket is a second judge of the builder, independent of
// tshark and of echolot's parser: every build case is decoded by
// github.com/gopacket/gopacket, and every field gopacket decodes must hold
// the value that follows from the fields of the Packet that was built (the
// builder's documented defaults applied by gpExpect*, never by parsing the
// bytes with echolot). gopacket's VerifyChecksum must agree with whether the
// case set a deliberately wrong checksum.
//
// What gopacket does not decode is skipped: the datagram an ICMP error
// quotes is only payload bytes to it, and it knows no RFC 4884 extension
// structure. The quoted datagrams of the cases are judged separately, as
// datagrams of their own (gpQuoted), and the extension bytes are compared
// as payload bytes only.
func TestBuildJudgedByGopacket(t *testing.T) {
	quoted := gpQuoted()
	seen := map[string]bool{}
	for _, c := range buildCases() {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			gpJudge(t, b, &c.pkt)
			q, ok := quoted[c.name]
			if !c.pkt.IsICMPError() {
				return
			}
			if !ok {
				t.Fatalf("ICMP error case without an entry in gpQuoted: its quote is not judged")
			}
			seen[c.name] = true
			// The quote is the original datagram, followed by an RFC 4884
			// extension structure when the length attribute is set.
			qb := c.pkt.Payload
			if l := gpExtensionLen(&c.pkt); l > 0 {
				qb = qb[:l]
			}
			want, err := q.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(qb, want) || !allZero(qb[len(want):]) {
				t.Fatalf("gpQuoted entry is stale: the case quotes\n%x\nnot (zero padded)\n%x", qb, want)
			}
			t.Run("quote", func(t *testing.T) { gpJudge(t, qb, &q) })
		})
	}
	for name := range quoted {
		if !seen[name] {
			t.Errorf("gpQuoted names %q, which is no ICMP error case", name)
		}
	}
}

// gpQuoted holds, for every ICMP error case, the Packet whose bytes the case
// quotes, so the quote is judged against built fields too.
func gpQuoted() map[string]Packet {
	return map[string]Packet{
		"frag-needed-quote":            udpProbe(),
		"time-exceeded-mpls-extension": udpProbe(),
		"ipv6-packet-too-big": {Version: 6, IPv6: v6(IPv6{}), Transport: TransportICMPv6,
			ICMP: ICMP{Type: ICMPv6EchoRequest, ID: 1, Seq: 1}, Payload: rep("z", 1300)},
	}
}

// gpExtensionLen is the RFC 4884 length attribute in bytes, read from the
// fields set: ICMPv4 byte 5 (the low byte of ID) in 32-bit words for
// destination unreachable, time exceeded and parameter problem (§4.1);
// ICMPv6 byte 4 (the high byte of ID) in 64-bit words for destination
// unreachable and time exceeded (§4.2).
func gpExtensionLen(p *Packet) int {
	switch {
	case p.Transport == TransportICMP && (p.ICMP.Type == 3 || p.ICMP.Type == 11 || p.ICMP.Type == 12):
		return 4 * int(p.ICMP.ID&0xff)
	case p.Transport == TransportICMPv6 && (p.ICMP.Type == 1 || p.ICMP.Type == 3):
		return 8 * int(p.ICMP.ID>>8)
	}
	return 0
}

// gpOpt is an option as it is on the wire: type (kind), length octet and
// the data after the two.
type gpOpt struct {
	typ, length uint8
	data        []byte
}

func (o gpOpt) String() string { return fmt.Sprintf("{%d %d %x}", o.typ, o.length, o.data) }

func gpAddr4(a netip.Addr) []byte { v := a.Unmap().As4(); return v[:] }

// gpIPv4Options returns the wire form of the options of h as their fields
// and doc comments define it (RFC 791 §3.1, RFC 2113).
func gpIPv4Options(t *testing.T, h *IPv4) []gpOpt {
	var out []gpOpt
	for _, o := range h.Options {
		switch o := o.(type) {
		case EOL:
			out = append(out, gpOpt{typ: 0, length: 1})
		case NOP:
			out = append(out, gpOpt{typ: 1, length: 1})
		case *RecordRoute:
			// Slots 0 means 9; PrefillSource puts the source in slot 1;
			// pointer 0 means 4 plus 4 per address written.
			slots := o.Slots
			if slots == 0 {
				slots = 9
			}
			var route []byte
			if o.PrefillSource {
				route = append(route, gpAddr4(h.Src)...)
			}
			for _, a := range o.Route {
				route = append(route, gpAddr4(a)...)
			}
			ptr := o.Pointer
			if ptr == 0 {
				ptr = uint8(4 + len(route))
			}
			data := append([]byte{ptr}, route...)
			data = append(data, make([]byte, 1+4*slots-len(data))...)
			out = append(out, gpOpt{typ: 7, length: uint8(3 + 4*slots), data: data})
		case *SourceRoute:
			typ := uint8(131)
			if o.Strict {
				typ = 137
			}
			ptr := o.Pointer
			if ptr == 0 {
				ptr = 4
			}
			data := []byte{ptr}
			for _, a := range o.Route {
				data = append(data, gpAddr4(a)...)
			}
			out = append(out, gpOpt{typ: typ, length: uint8(3 + 4*len(o.Route)), data: data})
		case *Timestamp:
			// Entries are 4 bytes (time) for tsonly, 8 (address, time)
			// otherwise. Slots 0 means 9 for tsonly, len(Entries) for
			// tsprespec, 4 otherwise. Pointer 0 means 5 plus the entries
			// recorded: all given entries, or for tsprespec those with a
			// time.
			es := 8
			if o.Flag == TSOnly {
				es = 4
			}
			slots := o.Slots
			if slots == 0 {
				switch {
				case o.Flag == TSOnly:
					slots = 9
				case o.Flag == TSPrespec && len(o.Entries) > 0:
					slots = len(o.Entries)
				default:
					slots = 4
				}
			}
			rec := len(o.Entries)
			if o.Flag == TSPrespec {
				rec = 0
				for _, e := range o.Entries {
					if e.Time == 0 {
						break
					}
					rec++
				}
			}
			ptr := o.Pointer
			if ptr == 0 {
				ptr = uint8(5 + es*rec)
			}
			data := []byte{ptr, o.Overflow<<4 | uint8(o.Flag)}
			for _, e := range o.Entries {
				if es == 8 {
					data = append(data, gpAddr4(e.Addr)...)
				}
				data = binary.BigEndian.AppendUint32(data, e.Time)
			}
			data = append(data, make([]byte, 2+es*slots-len(data))...)
			out = append(out, gpOpt{typ: 68, length: uint8(4 + es*slots), data: data})
		case RouterAlert:
			out = append(out, gpOpt{typ: 148, length: 4, data: binary.BigEndian.AppendUint16(nil, o.Value)})
		case RawOption:
			// Written byte for byte: gopacket reads the length octet.
			out = append(out, gpOpt{typ: o.Bytes[0], length: o.Bytes[1], data: o.Bytes[2:]})
		default:
			t.Fatalf("option type %T unknown to the judge", o)
		}
	}
	return out
}

// gpTCPOptions returns the wire form of TCP options: EOL and NOP are one
// byte, every other option kind, length 2 + len(Data), Data.
func gpTCPOptions(opts []TCPOption) []gpOpt {
	var out []gpOpt
	for _, o := range opts {
		if o.Kind == 0 || o.Kind == 1 {
			out = append(out, gpOpt{typ: o.Kind, length: 1})
			continue
		}
		out = append(out, gpOpt{typ: o.Kind, length: uint8(2 + len(o.Data)), data: o.Data})
	}
	return out
}

// gpAsDecoded turns the options written into an option area of area bytes
// into what gopacket reports: it stops at the first EOL and calls what
// follows padding, so zero padding after the options reads as one more
// EOL. It returns the options and the padding length.
func gpAsDecoded(opts []gpOpt, area int) ([]gpOpt, int) {
	n := 0
	for i, o := range opts {
		n += int(o.length)
		if o.typ == 0 {
			return opts[:i+1], area - n
		}
	}
	if n < area {
		return append(opts, gpOpt{typ: 0, length: 1}), area - n - 1
	}
	return opts, 0
}

func gpOptsLen(opts []gpOpt) int {
	n := 0
	for _, o := range opts {
		n += int(o.length)
	}
	return n
}

func gpPad4(n int) int { return (n + 3) &^ 3 }

// gpTransportHeaderLen is the length of the transport header as the
// fields define it.
func gpTransportHeaderLen(p *Packet) int {
	switch p.Transport {
	case TransportICMP, TransportICMPv6, TransportUDP:
		return 8
	case TransportTCP:
		return 20 + gpPad4(gpOptsLen(gpTCPOptions(p.TCP.Options)))
	}
	return 0
}

// gpProto is the protocol number the network header carries: the one set,
// or the transport's.
func gpProto(p *Packet, set uint8) uint8 {
	if set != 0 {
		return set
	}
	return map[Transport]uint8{TransportICMP: 1, TransportICMPv6: 58, TransportUDP: 17, TransportTCP: 6}[p.Transport]
}

func gpIP(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

// gpCheck reports a field that differs.
func gpCheck[T comparable](t *testing.T, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("gopacket %s = %v, want %v", field, got, want)
	}
}

func gpCheckOpts(t *testing.T, what string, got, want []gpOpt) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("gopacket %s = %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i].typ != want[i].typ || got[i].length != want[i].length || !bytes.Equal(got[i].data, want[i].data) {
			t.Errorf("gopacket %s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// gpValid runs a layer's VerifyChecksum.
func gpValid(t *testing.T, what string, l interface {
	VerifyChecksum() (error, gopacket.ChecksumVerificationResult)
}) bool {
	t.Helper()
	err, r := l.VerifyChecksum()
	if err != nil {
		t.Fatalf("%s VerifyChecksum: %v", what, err)
	}
	return r.Valid
}

// gpJudge decodes b with gopacket and checks it against p, the Packet b
// was built from.
func gpJudge(t *testing.T, b []byte, p *Packet) {
	t.Helper()
	first := layers.LayerTypeIPv4
	if p.Version == 6 {
		first = layers.LayerTypeIPv6
	}
	gp := gopacket.NewPacket(b, first, gopacket.Default)
	if el := gp.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode the packet: %v\n%s", el.Error(), gp.Dump())
	}
	th := gpTransportHeaderLen(p)
	var nl gopacket.NetworkLayer
	switch p.Version {
	case 4:
		ip, ok := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			t.Fatalf("no IPv4 layer:\n%s", gp.Dump())
		}
		nl = ip
		h := &p.IPv4
		opts := gpIPv4Options(t, h)
		area := gpPad4(gpOptsLen(opts))
		gpCheck(t, "ip.Version", ip.Version, 4)
		gpCheck(t, "ip.IHL", int(ip.IHL), (20+area)/4)
		gpCheck(t, "ip.Length", int(ip.Length), 20+area+th+len(p.Payload))
		gpCheck(t, "ip.TOS", ip.TOS, h.TOS)
		gpCheck(t, "ip.Id", ip.Id, h.ID)
		gpCheck(t, "ip.Flags.evil", ip.Flags&layers.IPv4EvilBit != 0, h.Evil)
		gpCheck(t, "ip.Flags.DF", ip.Flags&layers.IPv4DontFragment != 0, h.DF)
		gpCheck(t, "ip.Flags.MF", ip.Flags&layers.IPv4MoreFragments != 0, h.MF)
		gpCheck(t, "ip.FragOffset", ip.FragOffset, h.FragOffset)
		gpCheck(t, "ip.TTL", ip.TTL, h.TTL)
		gpCheck(t, "ip.Protocol", uint8(ip.Protocol), gpProto(p, h.Protocol))
		gpCheck(t, "ip.SrcIP", ip.SrcIP.String(), gpIP(h.Src.Unmap()).String())
		gpCheck(t, "ip.DstIP", ip.DstIP.String(), gpIP(h.Dst.Unmap()).String())
		if h.FixedChecksum {
			gpCheck(t, "ip.Checksum", ip.Checksum, h.Checksum)
		}
		var got []gpOpt
		for _, o := range ip.Options {
			got = append(got, gpOpt{typ: o.OptionType, length: o.OptionLength, data: o.OptionData})
		}
		want, pad := gpAsDecoded(opts, area)
		gpCheckOpts(t, "ip.Options", got, want)
		if len(ip.Padding) != pad || !allZero(ip.Padding) {
			t.Errorf("gopacket ip.Padding = %x, want %d zero bytes", ip.Padding, pad)
		}
		// A deliberately wrong checksum is one written with FixedChecksum.
		gpCheck(t, "ip checksum valid", gpValid(t, "ip", ip), !h.FixedChecksum)
	case 6:
		ip, ok := gp.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if !ok {
			t.Fatalf("no IPv6 layer:\n%s", gp.Dump())
		}
		nl = ip
		h := &p.IPv6
		gpCheck(t, "ip6.Version", ip.Version, 6)
		gpCheck(t, "ip6.TrafficClass", ip.TrafficClass, h.TrafficClass)
		gpCheck(t, "ip6.FlowLabel", ip.FlowLabel, h.FlowLabel)
		gpCheck(t, "ip6.Length", int(ip.Length), th+len(p.Payload))
		gpCheck(t, "ip6.NextHeader", uint8(ip.NextHeader), gpProto(p, h.NextHeader))
		gpCheck(t, "ip6.HopLimit", ip.HopLimit, h.HopLimit)
		gpCheck(t, "ip6.SrcIP", ip.SrcIP.String(), gpIP(h.Src).String())
		gpCheck(t, "ip6.DstIP", ip.DstIP.String(), gpIP(h.Dst).String())
	}

	// payload is where gopacket puts what follows the transport header.
	var payload []byte
	switch p.Transport {
	case TransportICMP:
		ic, ok := gp.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok {
			t.Fatalf("no ICMPv4 layer:\n%s", gp.Dump())
		}
		h := &p.ICMP
		gpCheck(t, "icmp.TypeCode", ic.TypeCode, layers.CreateICMPv4TypeCode(h.Type, h.Code))
		gpCheck(t, "icmp.Id", ic.Id, h.ID)
		gpCheck(t, "icmp.Seq", ic.Seq, h.Seq)
		if h.FixedChecksum {
			gpCheck(t, "icmp.Checksum", ic.Checksum, h.Checksum)
		}
		gpCheck(t, "icmp checksum valid", gpValid(t, "icmp", ic), !h.FixedChecksum)
		// For errors this is the quote and any RFC 4884 extension
		// structure: gopacket decodes neither (see gpQuoted).
		payload = ic.Payload
	case TransportICMPv6:
		ic, ok := gp.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if !ok {
			t.Fatalf("no ICMPv6 layer:\n%s", gp.Dump())
		}
		h := &p.ICMP
		gpCheck(t, "icmp6.TypeCode", ic.TypeCode, layers.CreateICMPv6TypeCode(h.Type, h.Code))
		if h.FixedChecksum {
			gpCheck(t, "icmp6.Checksum", ic.Checksum, h.Checksum)
		}
		if err := ic.SetNetworkLayerForChecksum(nl); err != nil {
			t.Fatal(err)
		}
		gpCheck(t, "icmp6 checksum valid", gpValid(t, "icmp6", ic), !h.FixedChecksum)
		if h.Type == ICMPv6EchoRequest || h.Type == ICMPv6EchoReply {
			e, ok := gp.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
			if !ok {
				t.Fatalf("no ICMPv6Echo layer:\n%s", gp.Dump())
			}
			gpCheck(t, "icmp6echo.Identifier", e.Identifier, h.ID)
			gpCheck(t, "icmp6echo.SeqNumber", e.SeqNumber, h.Seq)
			payload = e.Payload
		} else {
			// gopacket's ICMPv6 header is 4 bytes; for the other types
			// header bytes 4–7 (ID, Seq: the MTU of packet too big, the
			// pointer of parameter problem) lead its payload.
			if len(ic.Payload) < 4 {
				t.Fatalf("ICMPv6 payload %x too short", ic.Payload)
			}
			gpCheck(t, "icmp6 bytes 4-5", binary.BigEndian.Uint16(ic.Payload), h.ID)
			gpCheck(t, "icmp6 bytes 6-7", binary.BigEndian.Uint16(ic.Payload[2:]), h.Seq)
			payload = ic.Payload[4:]
		}
	case TransportUDP:
		u, ok := gp.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatalf("no UDP layer:\n%s", gp.Dump())
		}
		h := &p.UDP
		gpCheck(t, "udp.SrcPort", uint16(u.SrcPort), h.SrcPort)
		gpCheck(t, "udp.DstPort", uint16(u.DstPort), h.DstPort)
		gpCheck(t, "udp.Length", int(u.Length), 8+len(p.Payload))
		if h.FixedChecksum {
			gpCheck(t, "udp.Checksum", u.Checksum, h.Checksum)
		}
		if err := u.SetNetworkLayerForChecksum(nl); err != nil {
			t.Fatal(err)
		}
		// A fixed zero over IPv4 means "no checksum" (RFC 768), which
		// verifies; any other fixed value is deliberately wrong.
		wrong := h.FixedChecksum && !(p.Version == 4 && h.Checksum == 0)
		gpCheck(t, "udp checksum valid", gpValid(t, "udp", u), !wrong)
		payload = u.Payload
	case TransportTCP:
		tc, ok := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			t.Fatalf("no TCP layer:\n%s", gp.Dump())
		}
		h := &p.TCP
		gpCheck(t, "tcp.SrcPort", uint16(tc.SrcPort), h.SrcPort)
		gpCheck(t, "tcp.DstPort", uint16(tc.DstPort), h.DstPort)
		gpCheck(t, "tcp.Seq", tc.Seq, h.Seq)
		gpCheck(t, "tcp.Ack", tc.Ack, h.Ack)
		gpCheck(t, "tcp.DataOffset", int(tc.DataOffset), th/4)
		flags := []struct {
			name string
			got  bool
			bit  TCPFlags
		}{{"FIN", tc.FIN, TCPFin}, {"SYN", tc.SYN, TCPSyn}, {"RST", tc.RST, TCPRst}, {"PSH", tc.PSH, TCPPsh},
			{"ACK", tc.ACK, TCPAck}, {"URG", tc.URG, TCPUrg}, {"ECE", tc.ECE, TCPEce}, {"CWR", tc.CWR, TCPCwr},
			{"NS", tc.NS, TCPAe}}
		for _, f := range flags {
			gpCheck(t, "tcp."+f.name, f.got, h.Flags&f.bit != 0)
		}
		gpCheck(t, "tcp.Window", tc.Window, h.Window)
		gpCheck(t, "tcp.Urgent", tc.Urgent, h.Urgent)
		if h.FixedChecksum {
			gpCheck(t, "tcp.Checksum", tc.Checksum, h.Checksum)
		}
		var got []gpOpt
		for _, o := range tc.Options {
			got = append(got, gpOpt{typ: uint8(o.OptionType), length: o.OptionLength, data: o.OptionData})
		}
		opts := gpTCPOptions(h.Options)
		want, pad := gpAsDecoded(opts, th-20)
		gpCheckOpts(t, "tcp.Options", got, want)
		if len(tc.Padding) != pad || !allZero(tc.Padding) {
			t.Errorf("gopacket tcp.Padding = %x, want %d zero bytes", tc.Padding, pad)
		}
		if err := tc.SetNetworkLayerForChecksum(nl); err != nil {
			t.Fatal(err)
		}
		gpCheck(t, "tcp checksum valid", gpValid(t, "tcp", tc), !h.FixedChecksum)
		payload = tc.Payload
	case NoTransport:
		// No transport header: the payload follows the IP header
		// (gopacket hands a fragment's bytes on as a Fragment layer).
		payload = nl.LayerPayload()
	}
	if !bytes.Equal(payload, p.Payload) {
		t.Errorf("gopacket payload\n%x\nwant\n%x", payload, p.Payload)
	}
}
