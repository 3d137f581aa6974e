// Package lab builds echolot's network lab: a chain of Linux network
// namespaces joined by veth pairs, with a transparent fault-injecting node
// (package lab/fault) in the middle.
//
// The default topology is
//
//	client —a— r1 —b (through the fault node)— r2 —c (MTU 1400)— server
//
// with addresses only from 198.18.0.0/15 and 2001:db8::/32. r1 and r2 are
// Linux routers (forwarding on, ICMP rate limits off; only the host-wide
// net.ipv4.route.error_burst/error_cost limit on net-unreachable stays,
// since a namespace cannot change it), so TTL expiry,
// fragmentation-needed, record route and timestamps are the kernel's own
// behaviour. A user file may replace the topology; its format is described
// in docs/lab.md and read by ParseTopology.
//
// Node N of lab L lives in the namespace "echolot-L-N". Everything the lab
// makes is inside those namespaces; the host's own interfaces, routes,
// firewall and sysctls are never touched. The lab keeps its state in
// /run/echolot/labs/L/ (topology.json, fault.pid, fault.sock, fault.log), so
// Down can remove a lab even after the process that made it was killed.
//
// Namespaces, links, addresses and routes are made with ip(8) from iproute2:
// it is present wherever the lab can run, it adds no Go dependency, and each
// step is a command a student can rerun by hand. Sysctls and NIC offloads are
// set from Go on an OS thread switched into the node's namespace (see
// Lab.InNode), so neither sysctl(8) nor ethtool(8) is needed.
//
// Tests get a lab of their own from package lab/labtest.
package lab
