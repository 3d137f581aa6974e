package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/echolot/echolot/probe"
)

// header prints the PATTERN and PING lines.
func (p *pinger) header(optLen int, patName string) {
	if p.jsonOut != nil {
		return
	}
	w, c := p.out, &p.c
	if c.hexPat != "" {
		fmt.Fprintf(w, "PATTERN: %s\n", patName)
	}
	from := ""
	if p.src.show {
		from = fmt.Sprintf("from %s %s: ", p.src.addr, p.src.dev)
	}
	port := ""
	if p.mode == modeUDP {
		port = p.portLabel() + ": "
	}
	switch {
	case p.mode == modeTCP:
		how := fmt.Sprintf("SYN, %d bytes.", 40+optLen)
		if p.dst.Is6() {
			how = "SYN, 60 bytes."
		}
		if c.tcpConnect {
			how = "connect()."
		}
		fmt.Fprintf(w, "PING %s (%s) %s%s: %s\n", c.host, p.dst, from, p.portLabel(), how)
	case p.dst.Is6():
		flow := ""
		if c.flow != 0 {
			flow = fmt.Sprintf(", flow 0x%05x, ", c.flow)
		}
		fmt.Fprintf(w, "PING %s(%s) %s%s%s%d data bytes\n", c.host, p.dst, flow, from, port, c.size)
	default:
		fmt.Fprintf(w, "PING %s (%s) %s%s%d(%d) bytes of data.\n", c.host, p.dst, from, port, c.size, c.size+8+20+optLen)
	}
}

// name renders an address as ping's pr_addr does: with -H, "name
// (address)" when the reverse lookup finds a name.
func (p *pinger) name(a netip.Addr) string {
	if !p.c.reverse || !a.IsValid() {
		return a.String()
	}
	if s, ok := p.names[a]; ok {
		return s
	}
	if p.names == nil {
		p.names = map[netip.Addr]string{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s := a.String()
	if names, err := net.DefaultResolver.LookupAddr(ctx, s); err == nil && len(names) > 0 {
		s = strings.TrimSuffix(names[0], ".") + " (" + s + ")"
	}
	p.names[a] = s
	return s
}

// quote prints, with -v, what the path changed in the probe an ICMP
// error quotes (probe.Result.Changes): one line after the error's.
func (p *pinger) quote(r *probe.Result) {
	if !p.c.verbose {
		return
	}
	fmt.Fprintf(p.out, "\tquote: %s\n", quoteText(r))
}

// quoteText is the quote diff on one line: "ttl 1→0 (expected), tos
// 0x00→0x28", or "as sent".
func quoteText(r *probe.Result) string {
	var parts []string
	for _, ch := range r.Changes {
		s := ch.String()
		if ch.Expected {
			s += " (expected)"
		}
		parts = append(parts, s)
	}
	s := "as sent"
	if len(parts) > 0 {
		s = strings.Join(parts, ", ")
	}
	if r.PartialQuote {
		s += " (transport header only: the kernel's error queue holds no quoted IP header)"
	}
	return s
}
