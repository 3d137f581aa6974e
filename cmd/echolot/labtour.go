package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/echolot/echolot/lab"
)

func init() {
	labExtra["tour"] = labCommand{
		usage: "tour [--name LAB] [--pcap FILE] [--keep]",
		brief: "the guided tour: build a lab, show what ICMP can tell, write the capture, tear down",
		run:   labTour,
	}
}

// tourLabName is the lab the tour builds unless --name says otherwise.
const tourLabName = "tour"

// labTour is "echolot lab tour": a fresh lab, the shipped script
// tour.lua run in its client (as `echolot lab run tour PCAP` would), and
// the lab removed afterwards, also on Ctrl-C and when the output is cut
// short.
func labTour(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, name := labFlags("tour", stderr)
	fs.Lookup("name").DefValue = tourLabName
	*name = tourLabName
	pcap := fs.String("pcap", "tour.pcapng", "write everything the tour sends and receives to this pcapng `file` (\"\" for none)")
	keep := fs.Bool("keep", false, "leave the lab up afterwards, to explore it with echolot lab exec")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr(stderr, "tour", "unexpected argument %q; options are --name, --pcap and --keep", fs.Arg(0))
	}
	if err := lab.CheckName(*name); err != nil {
		return usageErr(stderr, "tour", "%v", err)
	}
	if *pcap != "" {
		abs, err := filepath.Abs(*pcap)
		if err != nil {
			return usageErr(stderr, "tour", "--pcap %s: %v", *pcap, err)
		}
		*pcap = abs
	}
	self, err := os.Executable()
	if err != nil {
		return usageErr(stderr, "tour", "cannot find the echolot executable to run the tour with: %v", err)
	}
	if !needPrivileges(stderr, "tour") {
		return exitUsage
	}
	// SIGPIPE too: with its output cut (| head) the tour stops and still
	// removes the lab, instead of dying with the lab left behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer stop()

	if _, err := lab.Open(*name); err == nil {
		fmt.Fprintf(stdout, "Removing the lab %q left from an earlier run.\n", *name)
		if err := lab.Down(*name); err != nil {
			fmt.Fprintf(stderr, "echolot lab tour: %v\n", err)
			return exitFailure
		}
	}
	start := time.Now()
	fmt.Fprintf(stdout, "Building the lab %q: client — r1 — fault — r2 — server (MTU 1400 between r2 and server), addresses in 198.18.0.0/15 and 2001:db8::/32.\n", *name)
	l, err := lab.Up(ctx, lab.Options{Name: *name, FaultInProcess: !*keep})
	if err != nil {
		fmt.Fprintf(stderr, "echolot lab tour: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Up in %v. Running the shipped script tour.lua in the client (echolot scripts shows it; echolot lab run tour does the same).\n",
		time.Since(start).Round(time.Millisecond))
	code := runInClient(ctx, l, "tour", []string{self, "run", "tour", *pcap}, stdin, stdout, stderr)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "\necholot lab tour: interrupted; the lab is being removed.")
		code = exitFailure
	}
	if *keep {
		fmt.Fprintf(stdout, "\nThe lab %q stays up: try  sudo echolot lab exec --name %s client -- ping -c 3 -R %v  and remove it with  sudo echolot lab down --name %s\n",
			l.Name(), l.Name(), l.Addr("server", false), l.Name())
		return code
	}
	if err := l.Close(); err != nil {
		fmt.Fprintf(stderr, "echolot lab tour: tearing down: %v\n", err)
		return exitFailure
	}
	if code == exitOK {
		fmt.Fprintf(stdout, "\nTour done in %v; the lab has been removed.\n", time.Since(start).Round(time.Millisecond))
	}
	return code
}
