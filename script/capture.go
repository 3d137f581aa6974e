package script

import (
	"fmt"
	"os"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/echolot/echolot/packet"
	"github.com/echolot/echolot/pcapio"
	"github.com/echolot/echolot/probe"
)

// capture is the pcapng file of capture(path): every packet send, sr and
// sr1 send and every answer they receive, with the probe↔answer comments
// of probe.PcapngWriter. Probes are numbered across the whole script, so
// a comment's "probe N" is unique in the file.
type capture struct {
	mu   sync.Mutex
	path string
	f    *os.File
	w    *probe.PcapngWriter
	next uint64 // probes numbered so far
}

// tapFor reserves numbers for an engine's n probes and returns a tap that
// writes its events with those numbers. When several engines run at once
// (shared says so), each one's receivers see the others' ICMP errors and
// report them as unrelated: such packets are left out of the file, which
// gets them once, as the answer of the engine they belong to.
//
// The tap's queue is sized to the engine's probes (a probe and its answer
// or two in flight each), not the default 8,192 preallocated events: an
// sr1 in a loop would otherwise allocate megabytes per call.
func (c *capture) tapFor(n uint64, shared bool) *probe.Tap {
	c.mu.Lock()
	base := c.next
	c.next += n
	c.mu.Unlock()
	queue := int(min(max(4*n, 64), probe.DefaultTapQueue))
	return probe.NewTap(&offsetWriter{c: c, base: base, skipUnrelated: shared}, queue)
}

// sent records a packet send sent.
func (c *capture) sent(t time.Time, b []byte, q *packet.Packet, pattern string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	ev := probe.TapEvent{Dir: probe.DirSent, Time: t, Data: b, Probe: c.next, Seq: -1, TTL: int(q.TTL()), Pattern: pattern}
	if q.Transport == packet.TransportICMP || q.Transport == packet.TransportICMPv6 {
		ev.Seq = int(q.ICMP.Seq)
	}
	_ = c.w.WriteEvent(&ev) // a failed write shows at Close
}

func (c *capture) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Flush()
}

func (c *capture) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.w.Close()
	if err2 := c.f.Close(); err == nil {
		err = err2
	}
	return err
}

// offsetWriter renumbers one engine's probes into the script's numbering.
type offsetWriter struct {
	c             *capture
	base          uint64
	skipUnrelated bool
}

func (o *offsetWriter) WriteEvent(ev *probe.TapEvent) error {
	if o.skipUnrelated && ev.Dir != probe.DirSent && ev.Kind == probe.KindUnrelated {
		return nil
	}
	if ev.Probe != 0 {
		ev.Probe += o.base
	}
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	return o.c.w.WriteEvent(ev)
}

func (o *offsetWriter) Flush() error {
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	return o.c.w.Flush()
}

// startCapture opens path for capture(path), closing a previous capture.
func (in *Interp) startCapture(path string) error {
	if err := in.stopCapture(); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("capture: %v", err)
	}
	w, err := probe.NewPcapngWriter(f, "written by an echolot Lua script")
	if err != nil {
		f.Close()
		return fmt.Errorf("capture: %v", err)
	}
	in.cap = &capture{path: path, f: f, w: w}
	return nil
}

// stopCapture flushes and closes the capture file, if any.
func (in *Interp) stopCapture() error {
	if in.cap == nil {
		return nil
	}
	err := in.cap.close()
	in.cap = nil
	if err != nil {
		return fmt.Errorf("capture: %v", err)
	}
	return nil
}

func (in *Interp) registerCapture() {
	L := in.L
	L.SetGlobal("capture", L.NewFunction(func(L *lua.LState) int {
		if L.Get(1) == lua.LNil || L.Get(1) == lua.LFalse {
			var n uint64
			if in.cap != nil {
				n = in.cap.w.Packets()
			}
			if err := in.stopCapture(); err != nil {
				L.RaiseError("%v", err)
			}
			L.Push(lua.LNumber(n))
			return 1
		}
		path, err := in.checkPath("capture", L.CheckString(1))
		if err != nil {
			L.RaiseError("%v", err)
		}
		if err := in.startCapture(path); err != nil {
			L.RaiseError("%v", err)
		}
		L.Push(lua.LString(path))
		return 1
	}))
	pcap := L.NewTable()
	L.SetField(pcap, "read", L.NewFunction(func(L *lua.LState) int {
		path, err := in.checkPath("pcap.read", L.CheckString(1))
		if err != nil {
			L.RaiseError("%v", err)
		}
		if in.cap != nil && in.cap.path == path {
			if err := in.cap.flush(); err != nil {
				L.RaiseError("pcap.read: %v", err)
			}
		}
		frames, err := pcapio.ReadFile(path)
		if err != nil && len(frames) == 0 {
			L.RaiseError("pcap.read: %v", err)
		}
		i := 0
		L.Push(L.NewFunction(func(L *lua.LState) int {
			for i < len(frames) {
				fr := &frames[i]
				i++
				if fr.IP == nil {
					continue
				}
				L.Push(lua.LNumber(float64(fr.Time.UnixNano()) / 1e9))
				p := &Pkt{P: *fr.IP, HasIP: true, HasL4: fr.IP.Transport != packet.NoTransport, HasPayload: len(fr.IP.Payload) > 0,
					Parsed: true, Bytes: fr.Data[fr.NetOffset:]}
				L.Push(pushPkt(L, p))
				info := L.NewTable()
				info.RawSetString("number", lua.LNumber(fr.Number))
				switch fr.Dir {
				case pcapio.DirIn:
					info.RawSetString("dir", lua.LString("received"))
				case pcapio.DirOut:
					info.RawSetString("dir", lua.LString("sent"))
				}
				cs := L.NewTable()
				for _, c := range fr.Comments {
					cs.Append(lua.LString(c))
				}
				info.RawSetString("comments", cs)
				L.Push(info)
				return 3
			}
			return 0
		}))
		return 1
	}))
	L.SetGlobal("pcap", pcap)
}
