package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/echolot/echolot/lab"
	"github.com/echolot/echolot/lab/fault"
)

// labCommand is one subcommand of "echolot lab".
type labCommand struct {
	usage  string // after "echolot lab "
	brief  string
	hidden bool
	run    func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// labExtra holds lab subcommands defined in other files of this package
// (lab run, lab tour): they register themselves from an init function, so
// this file need not know them.
var labExtra = map[string]labCommand{}

// labCommands returns the lab subcommands by name.
func labCommands() map[string]labCommand {
	m := map[string]labCommand{
		"up":         {"up [--name LAB] [--topology FILE]", "build the lab and print its nodes, interfaces and addresses", false, labUp},
		"down":       {"down [--name LAB]", "remove the lab and everything it made (works after a crash too)", false, labDown},
		"status":     {"status [--name LAB]", "show the labs that exist and anything wrong with them", false, labStatus},
		"exec":       {"exec [--name LAB] NODE -- CMD...", "run CMD inside NODE (client, r1, fault, r2, server)", false, labExec},
		"fault":      {"fault [--name LAB] add RULE[; RULE...] | list | stats | del ID|all", "change or show the fault node's rules (syntax: docs/lab.md)", false, labFault},
		"fault-node": {"fault-node --name LAB", "run the fault node (started by lab up inside the fault namespace)", true, labFaultNode},
	}
	for k, v := range labExtra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return m
}

// checkPrivileges is lab.CheckPrivileges; tests replace it.
var checkPrivileges = lab.CheckPrivileges

// runLab is "echolot lab".
func runLab(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		labUsage(w)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := labCommands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "echolot lab: unknown subcommand %q; run 'echolot lab help' for the list\n", args[0])
		return exitUsage
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func labUsage(w io.Writer) {
	fmt.Fprintln(w, "echolot lab — a network of namespaces with a fault-injecting node, for experiments and teaching")
	fmt.Fprintln(w, "\n  client —a— r1 —b (through the fault node)— r2 —c (MTU 1400)— server")
	fmt.Fprintln(w, "\nUsage (needs root, or CAP_NET_ADMIN and CAP_SYS_ADMIN; the default lab name is \"lab\"):")
	cmds := labCommands()
	var names []string
	for k, c := range cmds {
		if !c.hidden {
			names = append(names, k)
		}
	}
	order := map[string]int{"up": 1, "down": 2, "status": 3, "exec": 4, "fault": 5}
	sort.Slice(names, func(i, j int) bool {
		oi, oj := order[names[i]], order[names[j]]
		if oi == 0 {
			oi = 100
		}
		if oj == 0 {
			oj = 100
		}
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		fmt.Fprintf(w, "  echolot lab %s\n      %s\n", cmds[k].usage, cmds[k].brief)
	}
	fmt.Fprintln(w, "\nExamples:")
	fmt.Fprintln(w, "  sudo echolot lab up")
	fmt.Fprintln(w, "  sudo echolot lab exec client -- ping -c 3 198.18.3.2")
	fmt.Fprintln(w, "  sudo echolot lab fault add drop pattern=a5a5 dir=to-server")
	fmt.Fprintln(w, "  sudo echolot lab down")
	fmt.Fprintln(w, "\nThe topology file format, the fault rules and what the lab sets up: docs/lab.md")
}

// labFlags returns a flag set with --name for "echolot lab SUB".
func labFlags(sub string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("echolot lab "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", lab.DefaultName, "lab `name`: 1–20 characters from a-z, 0-9 and '-'")
	return fs, name
}

// usageErr prints an input error of "echolot lab SUB" and returns exitUsage.
func usageErr(stderr io.Writer, sub, format string, args ...any) int {
	fmt.Fprintf(stderr, "echolot lab %s: %s\n", sub, fmt.Sprintf(format, args...))
	return exitUsage
}

// needPrivileges reports a missing privilege and returns false.
func needPrivileges(stderr io.Writer, sub string) bool {
	if err := checkPrivileges(); err != nil {
		fmt.Fprintf(stderr, "echolot lab %s: %v\n", sub, err)
		return false
	}
	return true
}

func labUp(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, name := labFlags("up", stderr)
	topoFile := fs.String("topology", "", "topology `file` (format: docs/lab.md); default: the built-in topology")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr(stderr, "up", "unexpected argument %q; options are --name and --topology", fs.Arg(0))
	}
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "up", "%v", err)
	}
	var topo *lab.Topology
	if *topoFile != "" {
		f, err := os.Open(*topoFile)
		if err != nil {
			return usageErr(stderr, "up", "%v", err)
		}
		t, err := lab.ParseTopology(f)
		f.Close()
		if err != nil {
			return usageErr(stderr, "up", "%s: %v", *topoFile, err)
		}
		topo = &t
	}
	if !needPrivileges(stderr, "up") {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	l, err := lab.Up(ctx, lab.Options{Name: *name, Topology: topo})
	if err != nil {
		fmt.Fprintf(stderr, "echolot lab up: %v\n", err)
		return exitFailure
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "lab %q is up (%d nodes in %v); the fault node runs as pid %s.\n\n",
		l.Name(), len(l.Topology().Nodes), took.Round(time.Millisecond), faultPid(l.Name()))
	printLab(stdout, l.Topology())
	nameOpt := ""
	if l.Name() != lab.DefaultName {
		nameOpt = " --name " + l.Name()
	}
	fmt.Fprintf(stdout, "\nNode N lives in namespace %s; for example:\n", l.Namespace("N"))
	if client, server := "client", "server"; l.Addr(client, false).IsValid() && l.Addr(server, false).IsValid() {
		fmt.Fprintf(stdout, "  sudo echolot lab exec%s %s -- ping -c 3 %s\n", nameOpt, client, l.Addr(server, false))
		fmt.Fprintf(stdout, "  sudo ip netns exec %s ping -M do -s 1400 -c 1 %s\n", l.Namespace(client), l.Addr(server, false))
	}
	fmt.Fprintf(stdout, "  sudo echolot lab fault%s add drop pattern=a5a5\n", nameOpt)
	fmt.Fprintf(stdout, "  sudo echolot lab down%s\n", nameOpt)
	return exitOK
}

// faultPid returns the content of the lab's fault.pid, or "?".
func faultPid(name string) string {
	b, err := os.ReadFile(lab.StateDir(name) + "/fault.pid")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// printLab prints the nodes, interfaces and addresses of a topology as a
// table.
func printLab(w io.Writer, t lab.Topology) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tKIND\tINTERFACE\tPEER\tMTU\tADDRESSES")
	ifs := t.Interfaces()
	for _, n := range t.Nodes {
		first := true
		for _, v := range ifs {
			if v.Node != n.Name {
				continue
			}
			node, kind := n.Name, string(n.Kind)
			if !first {
				node, kind = "", ""
			}
			first = false
			peer := strings.TrimPrefix(v.Name, "to-")
			if peer != v.PeerNode {
				peer += " via " + v.PeerNode
			}
			var addrs []string
			for _, p := range v.Addrs {
				addrs = append(addrs, p.String())
			}
			a := strings.Join(addrs, " ")
			if n.Kind == lab.KindFault {
				a = "(bridge: no addresses)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", node, kind, v.Name, peer, v.MTU, a)
		}
	}
	tw.Flush()
}

func labDown(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, name := labFlags("down", stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr(stderr, "down", "unexpected argument %q; the only option is --name", fs.Arg(0))
	}
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "down", "%v", err)
	}
	if !needPrivileges(stderr, "down") {
		return exitUsage
	}
	existed := false
	if labs, err := lab.List(); err == nil {
		for _, s := range labs {
			existed = existed || s.Name == *name
		}
	}
	start := time.Now()
	if err := lab.Down(*name); err != nil {
		fmt.Fprintf(stderr, "echolot lab down: %v\n", err)
		return exitFailure
	}
	if existed {
		fmt.Fprintf(stdout, "lab %q removed in %v\n", *name, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(stdout, "no lab named %q; nothing to remove\n", *name)
	}
	return exitOK
}

func labStatus(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, name := labFlags("status", stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr(stderr, "status", "unexpected argument %q; the only option is --name", fs.Arg(0))
	}
	one := false
	fs.Visit(func(f *flag.Flag) { one = one || f.Name == "name" })
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "status", "%v", err)
	}
	if !needPrivileges(stderr, "status") {
		return exitUsage
	}
	labs, err := lab.List()
	if err != nil {
		fmt.Fprintf(stderr, "echolot lab status: %v\n", err)
		return exitFailure
	}
	if one {
		for _, s := range labs {
			if s.Name == *name {
				return printStatus(stdout, s)
			}
		}
		fmt.Fprintf(stdout, "no lab named %q; start it with: echolot lab up --name %s\n", *name, *name)
		return exitFailure
	}
	if len(labs) == 0 {
		fmt.Fprintln(stdout, "no labs; start one with: echolot lab up")
		return exitOK
	}
	code := exitOK
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tSTATE\tNAMESPACES\tFAULT NODE")
	for _, s := range labs {
		state := "ok"
		if !s.OK() {
			state = "broken"
			code = exitFailure
		}
		want := "?"
		if s.Topology != nil {
			want = strconv.Itoa(len(s.Topology.Nodes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%s\t%s\n", s.Name, state, len(s.Namespaces), want, faultSummary(s))
	}
	tw.Flush()
	for _, s := range labs {
		for _, p := range s.Problems {
			fmt.Fprintf(stdout, "%s: %s\n", s.Name, p)
		}
	}
	if code != exitOK {
		fmt.Fprintln(stdout, "Remove a broken lab with: echolot lab down --name LAB")
	}
	return code
}

// faultSummary describes the fault node of a lab in a few words.
func faultSummary(s lab.Status) string {
	var parts []string
	switch {
	case s.FaultDaemon:
		parts = append(parts, fmt.Sprintf("daemon pid %d", s.FaultPID))
	case s.FaultAlive:
		parts = append(parts, fmt.Sprintf("in process %d", s.FaultPID))
	case s.FaultPID > 0:
		parts = append(parts, fmt.Sprintf("pid %d gone", s.FaultPID))
	default:
		parts = append(parts, "no pid")
	}
	if s.FaultAnswers {
		parts = append(parts, "answers")
		if c, err := fault.Dial(lab.FaultSocket(s.Name)); err == nil {
			if rules, err := c.List(); err == nil {
				parts = append(parts, fmt.Sprintf("%d rule(s)", len(rules)))
			}
		}
	} else {
		parts = append(parts, "does not answer")
	}
	return strings.Join(parts, ", ")
}

// printStatus prints one lab in detail and returns the exit code.
func printStatus(w io.Writer, s lab.Status) int {
	state := "ok"
	if !s.OK() {
		state = "broken"
	}
	fmt.Fprintf(w, "lab %q: %s; %d namespace(s); fault node: %s\n", s.Name, state, len(s.Namespaces), faultSummary(s))
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	if s.Topology != nil {
		fmt.Fprintln(w)
		printLab(w, *s.Topology)
	}
	if !s.OK() {
		fmt.Fprintf(w, "\nRemove it with: echolot lab down --name %s\n", s.Name)
		return exitFailure
	}
	return exitOK
}

func labExec(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, name := labFlags("exec", stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageErr(stderr, "exec", "give the node and the command: echolot lab exec NODE -- CMD...")
	}
	node := rest[0]
	rest = rest[1:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return usageErr(stderr, "exec", "give the command to run in %s after --: echolot lab exec %s -- CMD...", node, node)
	}
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "exec", "%v", err)
	}
	if !needPrivileges(stderr, "exec") {
		return exitUsage
	}
	l, err := lab.Open(*name)
	if err != nil {
		fmt.Fprintf(stderr, "echolot lab exec: %v\n", err)
		return exitFailure
	}
	defer l.Close()
	found := false
	var names []string
	for _, n := range l.Topology().Nodes {
		found = found || n.Name == node
		names = append(names, n.Name)
	}
	if !found {
		return usageErr(stderr, "exec", "lab %s has no node %q; its nodes are %s", *name, node, strings.Join(names, ", "))
	}
	cmd := l.Command(context.Background(), node, rest...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	// As under lab run: echolot's REPL and scripts started here find the
	// lab's addresses and fault rules in the global lab.
	cmd.Env = append(os.Environ(), l.Env()...)
	// Ctrl-C reaches the command (same process group); we keep running to
	// pass on its exit status. Notify, not Ignore: an ignored signal would
	// stay ignored in the command.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGQUIT)
	defer signal.Stop(sig)
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(stderr, "echolot lab exec: %v\n", err)
		return exitFailure
	}
}

func labFault(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, name := labFlags("fault", stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageErr(stderr, "fault", "give add RULE, list, stats or del ID|all")
	}
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "fault", "%v", err)
	}
	var rules []fault.Rule
	delID := 0
	switch rest[0] {
	case "add":
		text := strings.Join(rest[1:], " ")
		for _, part := range strings.Split(text, ";") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			r, err := fault.ParseRule(strings.TrimSpace(part))
			if err != nil {
				return usageErr(stderr, "fault add", "%v", err)
			}
			rules = append(rules, r)
		}
		if len(rules) == 0 {
			return usageErr(stderr, "fault add", "give a rule, for example: echolot lab fault add drop pattern=a5a5 dir=to-server")
		}
	case "list", "stats":
		if len(rest) > 1 {
			return usageErr(stderr, "fault "+rest[0], "unexpected argument %q", rest[1])
		}
	case "del":
		if len(rest) != 2 {
			return usageErr(stderr, "fault del", "give one rule ID (see echolot lab fault list) or all")
		}
		if rest[1] != "all" {
			id, err := strconv.Atoi(rest[1])
			if err != nil || id < 1 {
				return usageErr(stderr, "fault del", "rule ID %q: give a positive number from echolot lab fault list, or all", rest[1])
			}
			delID = id
		}
	default:
		return usageErr(stderr, "fault", "unknown action %q: use add, list, stats or del", rest[0])
	}
	if !needPrivileges(stderr, "fault") {
		return exitUsage
	}
	l, err := lab.Open(*name)
	if err != nil {
		fmt.Fprintf(stderr, "echolot lab fault: %v\n", err)
		return exitFailure
	}
	defer l.Close()
	ctl := l.Fault()
	switch rest[0] {
	case "add":
		for _, r := range rules {
			id, err := ctl.Add(r)
			if err != nil {
				fmt.Fprintf(stderr, "echolot lab fault add: %v\n", err)
				return exitFailure
			}
			r.ID = id
			fmt.Fprintf(stdout, "rule %d: %s\n", id, r)
		}
	case "list":
		list, err := ctl.List()
		if err != nil {
			fmt.Fprintf(stderr, "echolot lab fault list: %v\n", err)
			return exitFailure
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "no rules: the fault node forwards everything unchanged")
			return exitOK
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEEN\tMATCHED\tRULE")
		for _, s := range list {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\n", s.ID, s.Seen, s.Matched, s.Rule)
		}
		tw.Flush()
	case "stats":
		st, err := l.FaultStats()
		if err != nil {
			fmt.Fprintf(stderr, "echolot lab fault stats: %v\n", err)
			return exitFailure
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "DIRECTION\tRECEIVED\tSENT\tDROPPED\tDUPLICATED\tDELAYED\tOVERFLOW\tSEND ERRORS\tSOCKET DROPS\t")
		for _, d := range []struct {
			name string
			s    fault.DirStats
		}{{"to-server", st.ToServer}, {"to-client", st.ToClient}} {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.name, d.s.Received, d.s.Sent, d.s.Dropped,
				d.s.Duplicated, d.s.Delayed, d.s.Overflow, d.s.SendErrors, d.s.SocketDrops)
		}
		tw.Flush()
	case "del":
		if delID == 0 {
			err = ctl.Clear()
		} else {
			err = ctl.Delete(delID)
		}
		if err != nil {
			fmt.Fprintf(stderr, "echolot lab fault del: %v\n", err)
			return exitFailure
		}
		if delID == 0 {
			fmt.Fprintln(stdout, "all rules removed")
		} else {
			fmt.Fprintf(stdout, "rule %d removed\n", delID)
		}
	}
	return exitOK
}

func labFaultNode(args []string, _ io.Reader, _, stderr io.Writer) int {
	fs, name := labFlags("fault-node", stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr(stderr, "fault-node", "unexpected argument %q", fs.Arg(0))
	}
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "fault-node", "%v", err)
	}
	if !needPrivileges(stderr, "fault-node") {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := lab.RunFaultNode(ctx, *name); err != nil {
		fmt.Fprintf(stderr, "echolot lab fault-node: %v\n", err)
		return exitFailure
	}
	return exitOK
}
