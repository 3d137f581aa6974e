package packet

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/icmp"
)

// String is Summary.
func (p *Packet) String() string { return p.Summary() }

// Summary describes the packet in one line, layer by layer, e.g.
//
//	IPv4 198.18.0.1 > 198.18.3.2 ttl 64 id 48879 DF tos 0x10 rr(9) | ICMP echo-request id 4660 seq 1 | 56 bytes
//
// An ICMP error is followed by its quote after "quoting". An unset source
// address prints as (auto), an unset destination as (unset).
func (p *Packet) Summary() string {
	var s strings.Builder
	p.summary(&s)
	return s.String()
}

// srcText is a source address as Summary and Show print it: "(auto)"
// when unset, for the sender fills it in (the engine, Lua's send and sr).
func srcText(a netip.Addr) string {
	if !a.IsValid() {
		return "(auto)"
	}
	return a.String()
}

// dstText is a destination address as Summary and Show print it.
func dstText(a netip.Addr) string {
	if !a.IsValid() {
		return "(unset)"
	}
	return a.String()
}

func (p *Packet) summary(s *strings.Builder) {
	switch p.Version {
	case 4:
		h := &p.IPv4
		fmt.Fprintf(s, "IPv4 %s > %s ttl %d id %d", srcText(h.Src), dstText(h.Dst), h.TTL, h.ID)
		if h.DF {
			s.WriteString(" DF")
		}
		if h.MF {
			s.WriteString(" MF")
		}
		if h.Evil {
			s.WriteString(" evil")
		}
		if h.FragOffset != 0 {
			fmt.Fprintf(s, " frag %d", int(h.FragOffset)*8)
		}
		if h.TOS != 0 {
			fmt.Fprintf(s, " tos 0x%02x", h.TOS)
		}
		for _, o := range h.Options {
			s.WriteString(" " + optionBrief(o))
		}
	case 6:
		h := &p.IPv6
		fmt.Fprintf(s, "IPv6 %s > %s hlim %d", srcText(h.Src), dstText(h.Dst), h.HopLimit)
		if h.TrafficClass != 0 {
			fmt.Fprintf(s, " tc 0x%02x", h.TrafficClass)
		}
		if h.FlowLabel != 0 {
			fmt.Fprintf(s, " flow 0x%05x", h.FlowLabel)
		}
	default:
		s.WriteString("(no IP header)")
		return
	}
	switch p.Transport {
	case TransportICMP, TransportICMPv6:
		fmt.Fprintf(s, " | %s %s", p.icmpLayerName(), p.Kind())
		switch {
		case p.isEchoLike():
			fmt.Fprintf(s, " id %d seq %d", p.ICMP.ID, p.ICMP.Seq)
		case p.IsICMPError():
			if mtu, ok := p.NextHopMTU(); ok {
				fmt.Fprintf(s, " mtu %d", mtu)
			}
			if ptr, ok := p.Pointer(); ok {
				fmt.Fprintf(s, " pointer %d", ptr)
			}
			if gw, ok := p.Gateway(); ok {
				fmt.Fprintf(s, " gateway %v", gw)
			}
		default:
			fmt.Fprintf(s, " type %d code %d", p.ICMP.Type, p.ICMP.Code)
		}
	case TransportUDP:
		fmt.Fprintf(s, " | UDP %d > %d len %d", p.UDP.SrcPort, p.UDP.DstPort, UDPHeaderLen+len(p.Payload))
	case TransportTCP:
		fmt.Fprintf(s, " | TCP %d > %d [%v] seq %d", p.TCP.SrcPort, p.TCP.DstPort, p.TCP.Flags, p.TCP.Seq)
		if p.TCP.Flags&TCPAck != 0 {
			fmt.Fprintf(s, " ack %d", p.TCP.Ack)
		}
		fmt.Fprintf(s, " win %d", p.TCP.Window)
		if len(p.TCP.Options) > 0 {
			s.WriteString(" <" + tcpOptionsString(p.TCP.Options) + ">")
		}
	default:
		fmt.Fprintf(s, " | proto %d", p.Protocol())
	}
	if p.BadIPChecksum || p.BadTransportChecksum {
		s.WriteString(" BAD-CHECKSUM")
	}
	if p.IsICMPError() && p.Quote != nil {
		s.WriteString(" | quoting ")
		p.Quote.summary(s)
		if len(p.Extensions) > 0 {
			fmt.Fprintf(s, " | %d extension object%s", len(p.Extensions), plural(len(p.Extensions)))
		}
		return
	}
	if len(p.Payload) > 0 {
		fmt.Fprintf(s, " | %d bytes", len(p.Payload))
	}
	if p.Truncated {
		s.WriteString(" (truncated)")
	}
}

// icmpLayerName is "ICMP" or "ICMPv6".
func (p *Packet) icmpLayerName() string {
	if p.Transport == TransportICMPv6 {
		return "ICMPv6"
	}
	return "ICMP"
}

func (p *Packet) isEchoLike() bool {
	switch p.Transport {
	case TransportICMP:
		switch p.ICMP.Type {
		case ICMPEchoRequest, ICMPEchoReply, ICMPTimestamp, ICMPTimestampReply:
			return true
		}
	case TransportICMPv6:
		return p.ICMP.Type == ICMPv6EchoRequest || p.ICMP.Type == ICMPv6EchoReply
	}
	return false
}

// optionBrief names an option with its fill state: "rr(2/9)", "ts(0/4)",
// "lsrr(2)".
func optionBrief(o Option) string {
	switch o := o.(type) {
	case *RecordRoute:
		return fmt.Sprintf("rr(%d/%d)", len(o.Route), o.slots())
	case *Timestamp:
		return fmt.Sprintf("ts-%s(%d/%d)", o.Flag, len(o.Recorded()), o.slots())
	case *SourceRoute:
		return fmt.Sprintf("%s(%d)", o.Name(), len(o.Route))
	}
	return o.Name()
}

// Show describes the packet layer by layer over several lines, every field
// with its value, as `p:show()` prints it in the Lua API. The quote of an
// ICMP error is shown indented below it.
func (p *Packet) Show() string {
	var s strings.Builder
	p.show(&s, "")
	return s.String()
}

func (p *Packet) show(s *strings.Builder, in string) {
	line := func(format string, a ...any) { fmt.Fprintf(s, in+format+"\n", a...) }
	switch p.Version {
	case 4:
		h := &p.IPv4
		line("IPv4     %s → %s", srcText(h.Src), dstText(h.Dst))
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{h.Evil, "evil"}, {h.DF, "DF"}, {h.MF, "MF"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		fl := strings.Join(flags, ",")
		if fl == "" {
			fl = "none"
		}
		line("  tos 0x%02x (dscp %d, ecn %d)  len %d  id %d (0x%04x)  flags %s  frag %d", h.TOS, h.DSCP(), h.ECN(), h.TotalLen, h.ID, h.ID, fl, int(h.FragOffset)*8)
		mark := badMark(p.BadIPChecksum)
		if p.ChecksumPredatesRecording {
			mark = " (predates the last recorded option entry, as Linux leaves it)"
		}
		line("  ttl %d  proto %d  chksum 0x%04x%s  header %d bytes", h.TTL, h.Protocol, h.Checksum, mark, h.HeaderLen)
		for _, o := range h.Options {
			line("  option %s", o)
			switch o := o.(type) {
			case *RecordRoute:
				if o.Full() {
					line("    full: routers after the last slot recorded nothing")
				}
			case *Timestamp:
				if o.Overflow > 0 {
					line("    %d router%s could not record: the option was full", o.Overflow, plural(int(o.Overflow)))
				}
			}
		}
	case 6:
		h := &p.IPv6
		line("IPv6     %s → %s", srcText(h.Src), dstText(h.Dst))
		line("  tc 0x%02x (dscp %d, ecn %d)  flow 0x%05x  plen %d  next %d  hlim %d", h.TrafficClass, h.DSCP(), h.ECN(), h.FlowLabel, h.PayloadLen, h.NextHeader, h.HopLimit)
		if len(h.Extensions) > 0 {
			line("  extension headers %v", h.Extensions)
		}
	default:
		line("(no IP header)")
		return
	}
	switch p.Transport {
	case TransportICMP, TransportICMPv6:
		line("%-8s %s  type %d code %d  chksum 0x%04x%s", p.icmpLayerName(), p.Kind(), p.ICMP.Type, p.ICMP.Code, p.ICMP.Checksum, badMark(p.BadTransportChecksum))
		switch {
		case p.isEchoLike():
			line("  id %d (0x%04x)  seq %d", p.ICMP.ID, p.ICMP.ID, p.ICMP.Seq)
		case p.IsICMPError():
			var parts []string
			if mtu, ok := p.NextHopMTU(); ok {
				parts = append(parts, fmt.Sprintf("next-hop mtu %d", mtu))
			}
			if ptr, ok := p.Pointer(); ok {
				parts = append(parts, fmt.Sprintf("pointer %d", ptr))
			}
			if gw, ok := p.Gateway(); ok {
				parts = append(parts, fmt.Sprintf("gateway %v", gw))
			}
			if l := p.ExtensionLen(); l > 0 {
				parts = append(parts, fmt.Sprintf("RFC 4884 length %d", l))
			}
			if len(parts) > 0 {
				line("  %s", strings.Join(parts, "  "))
			}
		default:
			line("  rest of header 0x%04x%04x", p.ICMP.ID, p.ICMP.Seq)
		}
	case TransportUDP:
		line("UDP      %d → %d  len %d  chksum 0x%04x%s", p.UDP.SrcPort, p.UDP.DstPort, p.UDP.Length, p.UDP.Checksum, badMark(p.BadTransportChecksum))
	case TransportTCP:
		t := &p.TCP
		line("TCP      %d → %d  [%v]  seq %d  ack %d", t.SrcPort, t.DstPort, t.Flags, t.Seq, t.Ack)
		line("  win %d  urg %d  chksum 0x%04x%s  header %d bytes", t.Window, t.Urgent, t.Checksum, badMark(p.BadTransportChecksum), t.DataOffset)
		if len(t.Options) > 0 {
			line("  options %s", tcpOptionsString(t.Options))
		}
	}
	if p.IsICMPError() {
		if p.Quote != nil {
			line("  quoted datagram%s:", map[bool]string{true: " (truncated)", false: ""}[p.Quote.Truncated])
			p.Quote.show(s, in+"    ")
		}
		for _, e := range p.Extensions {
			line("  extension %s", describeExtension(e))
		}
		if p.ExtensionProblem != "" {
			line("  extensions not decoded: %s", p.ExtensionProblem)
		}
		return
	}
	if len(p.Payload) > 0 {
		n := min(len(p.Payload), 16)
		more := ""
		if len(p.Payload) > n {
			more = " …"
		}
		line("Payload  %d bytes  %s%s", len(p.Payload), spacedHex(p.Payload[:n]), more)
	}
	if p.Truncated {
		line("  (truncated: the headers announce more bytes than were present)")
	}
}

func badMark(bad bool) string {
	if bad {
		return " BAD"
	}
	return ""
}

func spacedHex(b []byte) string {
	h := hex.EncodeToString(b)
	var s strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			s.WriteByte(' ')
		}
		s.WriteString(h[i : i+2])
	}
	return s.String()
}

// describeExtension renders an RFC 4884 extension object in one line.
func describeExtension(e icmp.Extension) string {
	switch e := e.(type) {
	case *icmp.MPLSLabelStack:
		var ls []string
		for _, l := range e.Labels {
			ls = append(ls, fmt.Sprintf("label %d tc %d s %v ttl %d", l.Label, l.TC, b2i(l.S), l.TTL))
		}
		return "MPLS (RFC 4950): " + strings.Join(ls, "; ")
	case *icmp.InterfaceInfo:
		var parts []string
		if e.Interface != nil {
			if e.Interface.Index != 0 {
				parts = append(parts, fmt.Sprintf("ifindex %d", e.Interface.Index))
			}
			if e.Interface.Name != "" {
				parts = append(parts, fmt.Sprintf("name %q", e.Interface.Name))
			}
			if e.Interface.MTU != 0 {
				parts = append(parts, fmt.Sprintf("mtu %d", e.Interface.MTU))
			}
		}
		if e.Addr != nil {
			parts = append(parts, "addr "+e.Addr.IP.String())
		}
		roles := [...]string{"incoming", "sub-ip", "outgoing", "next-hop"}
		return fmt.Sprintf("interface (RFC 5837, %s): %s", roles[e.Type>>6&3], strings.Join(parts, " "))
	case *icmp.InterfaceIdent:
		return fmt.Sprintf("interface identification (RFC 8335) class %d type %d", e.Class, e.Type)
	case *icmp.RawExtension:
		return "raw object " + hex.EncodeToString(e.Data)
	}
	return fmt.Sprintf("%T", e)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
