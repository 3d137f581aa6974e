// Package script is echolot's Lua runtime: gopher-lua (Lua 5.1) with
// bindings over packet (build, parse, patterns, quote diffs), probe (send,
// sr, sr1) and pcapio (capture, pcap.read), a sandbox, and the evaluation
// primitives the REPL (script/repl) is built on. It holds no protocol
// logic of its own: every field, default and check is packet's, every
// match and timing is probe's.
//
//	in, err := script.New(script.Options{Stdout: os.Stdout, Stderr: os.Stderr, Args: args})
//	if err != nil { ... }
//	defer in.Close()                 // flushes and closes capture files
//	code := in.RunFile(ctx, "rr.lua") // 0, the script's exit(n), or 2 on an error
//
// The Lua API (docs/lua-api.md, generated from the help entries in
// help.go) in short: layer constructors ip, ip6, icmp, icmp6, udp, tcp and
// raw stack with "/" into packets whose fields read and write by name
// (p.ip.ttl = 3); opt.* builds IPv4 options; pattern.* payload fills;
// send, sr1 and sr send and match; answers are plain tables (kind, from,
// rtt, changes, damage, …); capture(path) writes pcapng, pcap.read(path)
// reads it back.
//
// # Sandbox
//
// Scripts get the safe standard library: base (without dofile, loadfile,
// load, require, module, getfenv, setfenv), string, table, math, coroutine
// and os.clock/date/time/difftime/getenv. The removed functions, io,
// debug, package and os.execute/exit/remove/rename/tmpname/setenv are
// present as stubs that raise an error naming the function and --unsafe.
// Files are read and written only by capture, pattern.file and pcap.read,
// and only under the working directory or at paths given on the command
// line. Options.Unsafe opens the whole standard library and every path.
//
// # Cancellation
//
// The context given to RunFile, RunString or Eval cancels the script: the
// Lua VM stops at its next instruction and a running sr, sr1 or send
// returns at once; capture files stay readable (Close flushes them).
package script
