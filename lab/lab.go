package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options says how Up builds a lab.
type Options struct {
	// Name is the lab's name: 1–20 characters from a–z, 0–9 and '-'.
	// Empty means DefaultName ("lab").
	Name string
	// Topology replaces the default topology when not nil.
	Topology *Topology
	// FaultInProcess runs the fault node on goroutines of this process,
	// with its sockets opened inside the fault namespace (for tests). It
	// stops when the lab is closed or this process ends. Otherwise Up
	// starts it as a daemon: Exe lab fault-node --name NAME, inside the
	// fault namespace, in a session of its own, logging to fault.log.
	FaultInProcess bool
	// Exe is the echolot binary that runs the fault daemon; empty means
	// os.Executable(). Any binary that implements "lab fault-node --name
	// NAME" by calling RunFaultNode will do.
	Exe string
}

// Lab is a lab that is up: its name and topology. Its methods run commands
// and code inside its nodes.
type Lab struct {
	name  string
	topo  Topology
	owned bool // brought up by this process: Close takes it down

	mu     sync.Mutex
	fault  any // cached fault.Controller of a daemon, see faultnode.go
	closed bool
}

// Up builds the lab described by o: namespaces, veth pairs, sysctls,
// offloads, addresses, routes, and the fault node. It claims the name by
// creating the state directory, and fails if a lab of that name exists
// (remove it with Down). On any failure it removes everything it made and
// returns an error naming the step. ctx bounds the building, not the life of
// the lab.
func Up(ctx context.Context, o Options) (l *Lab, err error) {
	name := o.Name
	if name == "" {
		name = DefaultName
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	topo := DefaultTopology()
	if o.Topology != nil {
		topo = *o.Topology
		if err := topo.Validate(); err != nil {
			return nil, err
		}
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	if _, err := ipPath(); err != nil {
		return nil, err
	}
	if nss, err := labNamespaces(name); err != nil {
		return nil, err
	} else if len(nss) > 0 {
		return nil, fmt.Errorf("lab %q already exists (namespaces %s); remove it first with: echolot lab down --name %s", name, strings.Join(nss, ", "), name)
	}
	if err := os.MkdirAll(StateRoot, 0o755); err != nil {
		return nil, fmt.Errorf("lab up %s: creating %s: %w", name, StateRoot, err)
	}
	dir := StateDir(name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lab %q already exists or was left behind by a crash (%s exists); remove it first with: echolot lab down --name %s", name, dir, name)
		}
		return nil, fmt.Errorf("lab up %s: creating %s: %w", name, dir, err)
	}
	// From here on the name is ours: on failure, remove everything of it.
	l = &Lab{name: name, topo: topo, owned: true}
	step := "writing the state"
	defer func() {
		if err == nil {
			return
		}
		err = fmt.Errorf("lab up %s: %s: %w", name, step, err)
		if derr := Down(name); derr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up after the failure: %w", derr))
		}
		l = nil
	}()
	if err = writeTopology(dir, topo); err != nil {
		return
	}
	// next names the next step, and stops when ctx is done.
	next := func(s string) error {
		step = s
		if testHookStep != nil {
			if err := testHookStep(name, s); err != nil {
				return err
			}
		}
		return ctx.Err()
	}

	// Namespaces.
	if err = next("creating namespaces"); err != nil {
		return
	}
	var b strings.Builder
	for _, n := range topo.Nodes {
		fmt.Fprintf(&b, "netns add %s\n", l.Namespace(n.Name))
	}
	if err = runIP(ctx, b.String(), "-batch", "-"); err != nil {
		return
	}

	// Veth pairs, made directly inside the namespaces: nothing appears in
	// the host namespace, not even for a moment.
	if err = next("creating veth pairs"); err != nil {
		return
	}
	//
	// Every interface of the lab gets its own ifindex (firstIfindex + its
	// position). With the default numbering both ends of a pair are often
	// ifindex 2 in their namespaces; the kernel's linkwatch then treats the
	// carrier change as not urgent and delivers it up to a second later,
	// and until then IPv6 on the first end is not ready (pings fail).
	b.Reset()
	index := map[[2]string]int{}
	for i, v := range topo.Interfaces() {
		index[[2]string{v.Node, v.Name}] = firstIfindex + i
	}
	for _, v := range topo.Interfaces() {
		if v.Node > v.PeerNode || v.Node == v.PeerNode && v.Name > v.PeerName {
			continue // each pair once
		}
		fmt.Fprintf(&b, "link add %s index %d netns %s type veth peer name %s index %d netns %s\n",
			v.Name, index[[2]string{v.Node, v.Name}], l.Namespace(v.Node),
			v.PeerName, index[[2]string{v.PeerNode, v.PeerName}], l.Namespace(v.PeerNode))
	}
	if err = runIP(ctx, b.String(), "-batch", "-"); err != nil {
		return
	}

	// Sysctls and offloads, from Go on a thread inside each namespace.
	ifaces := map[string][]Interface{}
	for _, v := range topo.Interfaces() {
		ifaces[v.Node] = append(ifaces[v.Node], v)
	}
	for _, n := range topo.Nodes {
		if err = next("setting sysctls and offloads in " + n.Name); err != nil {
			return
		}
		if err = l.InNode(n.Name, func() error { return configureNode(n.Kind, ifaces[n.Name]) }); err != nil {
			return
		}
	}

	// Addresses, MTUs, links up.
	for _, n := range topo.Nodes {
		if err = next("addresses and links in " + n.Name); err != nil {
			return
		}
		b.Reset()
		b.WriteString("link set dev lo up\n")
		for _, v := range ifaces[n.Name] {
			fmt.Fprintf(&b, "link set dev %s mtu %d\n", v.Name, v.MTU)
			if n.Kind == KindFault {
				fmt.Fprintf(&b, "link set dev %s promisc on\n", v.Name)
			}
			for _, p := range v.Addrs {
				if p.Addr().Is6() {
					fmt.Fprintf(&b, "addr add %s dev %s nodad\n", p, v.Name)
				} else {
					fmt.Fprintf(&b, "addr add %s dev %s\n", p, v.Name)
				}
			}
			fmt.Fprintf(&b, "link set dev %s up\n", v.Name)
		}
		if err = runIP(ctx, b.String(), "-n", l.Namespace(n.Name), "-batch", "-"); err != nil {
			return
		}
	}

	// Routes, once every link is up.
	routes := map[string][]Route{}
	for _, r := range topo.Routes() {
		routes[r.Node] = append(routes[r.Node], r)
	}
	for _, n := range topo.Nodes {
		if len(routes[n.Name]) == 0 {
			continue
		}
		if err = next("routes in " + n.Name); err != nil {
			return
		}
		b.Reset()
		for _, r := range routes[n.Name] {
			fmt.Fprintf(&b, "route add %s via %s dev %s\n", r.Dst, r.Via, r.Dev)
		}
		if err = runIP(ctx, b.String(), "-n", l.Namespace(n.Name), "-batch", "-"); err != nil {
			return
		}
	}

	if err = next("starting the fault node"); err != nil {
		return
	}
	if err = startFault(ctx, l, o); err != nil {
		return
	}
	return l, nil
}

// firstIfindex is the interface index of the lab's first interface; the
// others follow in the order of Topology.Interfaces.
const firstIfindex = 10

// testHookStep, when set by a test, is called at the start of each step of
// Up; an error from it fails the step.
var testHookStep func(lab, step string) error

// configureNode sets the sysctls of a node of kind k and turns off the
// offloads of its interfaces. It runs inside the node's namespace.
func configureNode(k Kind, ifs []Interface) error {
	type kv struct{ k, v string }
	var set []kv
	confs := []string{"all", "default"}
	for _, v := range ifs {
		confs = append(confs, v.Name)
	}
	// Unprivileged ICMP echo sockets work for everyone inside the lab.
	set = append(set, kv{"net.ipv4.ping_group_range", "0 2147483647"})
	if k == KindFault {
		// A transparent bridge: no IPv6 of its own (no ND, MLD, RS).
		for _, c := range confs {
			set = append(set, kv{"net.ipv6.conf." + c + ".disable_ipv6", "1"})
		}
	} else {
		set = append(set,
			kv{"net.ipv4.icmp_ratelimit", "0"},
			kv{"net.ipv4.icmp_msgs_per_sec", "100000"},
			kv{"net.ipv4.icmp_msgs_burst", "100000"},
			kv{"net.ipv6.icmp.ratelimit", "0"},
		)
		for _, c := range confs {
			set = append(set,
				kv{"net.ipv4.conf." + c + ".rp_filter", "0"},
				kv{"net.ipv4.conf." + c + ".accept_source_route", "1"},
				kv{"net.ipv6.conf." + c + ".accept_dad", "0"},
			)
		}
		if k == KindRouter {
			set = append(set,
				kv{"net.ipv4.ip_forward", "1"},
				kv{"net.ipv6.conf.all.forwarding", "1"},
			)
		}
	}
	for _, s := range set {
		if err := writeSysctl(s.k, s.v); err != nil {
			return err
		}
	}
	var names []string
	for _, v := range ifs {
		names = append(names, v.Name)
	}
	return disableOffloads(names)
}

// Open returns the lab name that is up, from its state directory. Close on
// the result does not take the lab down.
func Open(name string) (*Lab, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	topo, err := readTopology(name)
	if err != nil {
		nss, _ := labNamespaces(name)
		if errors.Is(err, os.ErrNotExist) {
			if len(nss) > 0 {
				return nil, fmt.Errorf("lab %q has namespaces (%s) but no state in %s, probably left by a crash; remove it with: echolot lab down --name %s", name, strings.Join(nss, ", "), StateDir(name), name)
			}
			return nil, fmt.Errorf("no lab named %q is up; start one with: echolot lab up --name %s", name, name)
		}
		return nil, fmt.Errorf("lab %q: %w; remove it with: echolot lab down --name %s", name, err, name)
	}
	l := &Lab{name: name, topo: topo}
	for _, n := range topo.Nodes {
		if _, err := os.Stat(filepath.Join(netnsDir, l.Namespace(n.Name))); err != nil {
			return nil, fmt.Errorf("lab %q is incomplete: namespace %s is missing; remove it with: echolot lab down --name %s and bring it up again", name, l.Namespace(n.Name), name)
		}
	}
	return l, nil
}

// Down removes the lab name: it stops the fault node (in this process, or
// the daemon whose pid is in fault.pid, but only when /proc/PID/cmdline shows
// it is the fault node of this lab), kills any other process still inside
// the lab's namespaces, deletes every namespace named "echolot-NAME-*"
// (which removes their veths) and the state directory. It works after a
// crash or kill -9 of the process that made the lab, and succeeds when
// nothing is left to remove.
func Down(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	var errs []error
	if err := stopInProcess(name); err != nil {
		errs = append(errs, err)
	}
	dir := StateDir(name)
	if pid := readPid(filepath.Join(dir, faultPidFile)); pid > 0 && isFaultNode(pid, name) {
		if !killAndWait(pid, syscall.SIGTERM, 2*time.Second) && !killAndWait(pid, syscall.SIGKILL, 2*time.Second) {
			errs = append(errs, fmt.Errorf("fault node pid %d does not end; kill it by hand: kill -9 %d", pid, pid))
		}
	}
	nss, err := labNamespaces(name)
	if err != nil {
		errs = append(errs, err)
	}
	if len(nss) > 0 {
		if err := CheckPrivileges(); err != nil {
			return err
		}
		inodes := map[uint64]string{}
		for _, ns := range nss {
			if ino, err := nsInode(filepath.Join(netnsDir, ns)); err == nil {
				inodes[ino] = ns
			}
		}
		// A process left inside keeps its namespace (and veths) alive.
		for _, pid := range procsInNamespaces(inodes) {
			killAndWait(pid, syscall.SIGKILL, time.Second)
		}
		var b strings.Builder
		for _, ns := range nss {
			fmt.Fprintf(&b, "netns del %s\n", ns)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := runIP(ctx, b.String(), "-force", "-batch", "-")
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
		if left, _ := labNamespaces(name); len(left) > 0 {
			errs = append(errs, fmt.Errorf("namespaces %s remain; delete them with: ip netns del NAME", strings.Join(left, ", ")))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab down %s: %w", name, errors.Join(errs...))
	}
	return nil
}

// Status describes a lab found on the machine.
type Status struct {
	Name string
	// State is true when the state directory exists.
	State bool
	// Topology is the topology in use, nil when topology.json is missing or
	// unreadable.
	Topology *Topology
	// Namespaces lists the lab's namespaces that exist.
	Namespaces []string
	// FaultPID is the pid of the process running the fault node (the
	// daemon, or the process that holds it in-process), 0 when unknown.
	FaultPID int
	// FaultAlive is true when FaultPID is a running process.
	FaultAlive bool
	// FaultDaemon is true when FaultPID is a running "lab fault-node"
	// daemon of this lab.
	FaultDaemon bool
	// FaultAnswers is true when the fault node's control socket answered.
	FaultAnswers bool
	// Problems lists what is wrong, in words; empty for a healthy lab.
	Problems []string
}

// OK reports whether the lab is complete and its fault node answers.
func (s Status) OK() bool { return len(s.Problems) == 0 }

// List returns every lab found on the machine, from state directories and
// namespace names, sorted by name, with what is missing.
func List() ([]Status, error) {
	names := map[string]bool{}
	if ents, err := os.ReadDir(StateRoot); err == nil {
		for _, e := range ents {
			if e.IsDir() && labNameOK(e.Name()) {
				names[e.Name()] = true
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listing labs: %w", err)
	}
	if ents, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range ents {
			if l, _, ok := parseNS(e.Name()); ok {
				names[l] = true
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var out []Status
	for name := range names {
		out = append(out, status(name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// status examines the lab name.
func status(name string) Status {
	s := Status{Name: name}
	dir := StateDir(name)
	if _, err := os.Stat(dir); err == nil {
		s.State = true
	}
	s.Namespaces, _ = labNamespaces(name)
	if t, err := readTopology(name); err == nil {
		s.Topology = &t
		for _, n := range t.Nodes {
			if !slices.Contains(s.Namespaces, nsName(name, n.Name)) {
				s.Problems = append(s.Problems, "namespace "+nsName(name, n.Name)+" is missing")
			}
		}
	} else if s.State {
		s.Problems = append(s.Problems, fmt.Sprintf("cannot read the topology: %v", err))
	} else {
		s.Problems = append(s.Problems, "namespaces without lab state ("+dir+" is missing): left behind by a crash, or made by another program")
	}
	s.FaultPID = readPid(filepath.Join(dir, faultPidFile))
	s.FaultAlive = s.FaultPID > 0 && processAlive(s.FaultPID)
	s.FaultDaemon = s.FaultAlive && isFaultNode(s.FaultPID, name)
	faultStatus(name, &s)
	return s
}

// Name returns the lab's name.
func (l *Lab) Name() string { return l.name }

// Topology returns the lab's topology.
func (l *Lab) Topology() Topology { return l.topo }

// Namespace returns the network namespace of node: "echolot-NAME-NODE".
func (l *Lab) Namespace(node string) string { return nsName(l.name, node) }

// Addr returns the node's primary address of the family (IPv6 when v6):
// the first such address on its first interface that has one, for example
// 198.18.1.2 for client and 198.18.3.2 for server. It returns the zero Addr
// when the node has none.
func (l *Lab) Addr(node string, v6 bool) netip.Addr {
	for _, v := range l.topo.Interfaces() {
		if v.Node != node {
			continue
		}
		if p, ok := firstOf(v.Addrs, v6); ok {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// Env describes the lab to a program run in it, as environment
// variables: ECHOLOT_LAB (the lab's name), ECHOLOT_LAB_FAULT (the fault
// node's control socket) and, for every node with addresses,
// ECHOLOT_<NODE>_IP4 and _IP6 (its primary addresses, as Addr) and
// ECHOLOT_<NODE>_ADDRS (all its addresses, IPv4 first, space-separated).
// echolot lab run gives them to its script; the Lua global lab is made
// from them.
func (l *Lab) Env() []string {
	env := []string{"ECHOLOT_LAB=" + l.name, "ECHOLOT_LAB_FAULT=" + FaultSocket(l.name)}
	ifs := l.topo.Interfaces()
	for _, n := range l.topo.Nodes {
		key := "ECHOLOT_" + strings.ToUpper(n.Name)
		var all []string
		for _, v6 := range []bool{false, true} {
			if a := l.Addr(n.Name, v6); a.IsValid() {
				env = append(env, key+map[bool]string{false: "_IP4=", true: "_IP6="}[v6]+a.String())
			}
			for _, v := range ifs {
				if v.Node != n.Name {
					continue
				}
				for _, p := range v.Addrs {
					if p.Addr().Is6() == v6 {
						all = append(all, p.Addr().String())
					}
				}
			}
		}
		if len(all) > 0 {
			env = append(env, key+"_ADDRS="+strings.Join(all, " "))
		}
	}
	return env
}

// checkNode returns an error unless the lab has node.
func (l *Lab) checkNode(node string) error {
	if _, ok := l.topo.node(node); ok {
		return nil
	}
	var names []string
	for _, n := range l.topo.Nodes {
		names = append(names, n.Name)
	}
	return fmt.Errorf("lab %s has no node %q; its nodes are %s", l.name, node, strings.Join(names, ", "))
}

// Command returns a command that runs argv inside node, with
// "ip netns exec echolot-NAME-NODE argv...". ip netns exec also gives the
// command a mount namespace of its own with /sys showing the node's
// interfaces. An unknown node or a missing ip is reported by the command's
// Start or Run.
func (l *Lab) Command(ctx context.Context, node string, argv ...string) *exec.Cmd {
	ip, err := ipPath()
	if err == nil {
		err = l.checkNode(node)
	}
	if err == nil && len(argv) == 0 {
		err = errors.New("lab: Command needs a program to run")
	}
	if err != nil {
		cmd := exec.CommandContext(ctx, "ip")
		cmd.Err = err
		return cmd
	}
	return exec.CommandContext(ctx, ip, append([]string{"netns", "exec", l.Namespace(node)}, argv...)...)
}

// InNode runs fn on an OS thread switched into node's network namespace and
// returns its error. Sockets fn opens belong to the node and stay there
// after fn returns; goroutines fn starts run elsewhere. The thread is
// returned to its namespace before it is released, or discarded if that
// fails. A panic in fn is re-raised in the caller.
func (l *Lab) InNode(node string, fn func() error) error {
	if err := l.checkNode(node); err != nil {
		return err
	}
	return inNetns(filepath.Join(netnsDir, l.Namespace(node)), fn)
}

// Close releases the lab. For a lab this process brought up with Up it is
// Down(l.Name()); for one from Open it only forgets the fault controller,
// and the lab stays up.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.fault = nil
	l.mu.Unlock()
	if l.owned {
		return Down(l.name)
	}
	return nil
}
