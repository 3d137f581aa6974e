package sock

import (
	"net/netip"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// echoLoop is one send + receive of an echo over loopback in a namespace
// of its own, with the sockets the engine uses.
type echoLoop struct {
	snd, rcv *Conn
	pkt      []byte
	dst      netip.AddrPort
	buf, eb  []byte
	m, em    Msg
	tx       bool // also collect the kernel send timestamp
}

func newEchoLoop(tb testing.TB, mode Mode, tx bool) *echoLoop {
	testenv.NeedNetns(tb)
	n := newNetns(tb, "l", nsSeq.Add(1))
	const id = 0x6b01
	e := open(tb, n, func() (*Echo, error) { return OpenEcho(IPv4, mode, id, &Options{NoTxTimestamps: !tx}) })
	l := &echoLoop{snd: e.Sender, rcv: e.Receiver, dst: netip.AddrPortFrom(loopback, 0),
		buf: make([]byte, 2048), eb: make([]byte, 64), tx: tx}
	if e.Mode == ModeRaw {
		l.pkt = echo4(tb, loopback, loopback, id, 1, 64, false, 56)
	} else {
		l.pkt = icmpEcho(false, 0, 1, 56)
	}
	return l
}

// once sends one echo and reads until its reply (and, with tx, its send
// timestamp) has been read.
func (l *echoLoop) once(tb testing.TB) {
	if _, err := l.snd.Send(l.pkt, l.dst, nil); err != nil {
		tb.Fatal(err)
	}
	gotReply, gotTx := false, !l.tx
	for !gotReply || !gotTx {
		if l.tx && l.snd != l.rcv && !gotTx {
			if err := l.snd.RecvErrQueue(l.eb, &l.em); err != nil {
				tb.Fatal(err)
			}
			gotTx = l.em.Kind == KindTxTimestamp
			continue
		}
		if err := l.rcv.Recv(l.buf, &l.m); err != nil {
			tb.Fatal(err)
		}
		switch l.m.Kind {
		case KindPacket:
			gotReply = true
		case KindTxTimestamp:
			gotTx = true
		}
	}
}

// TestSteadyStateAllocs: a send and a receive allocate nothing once the
// buffers exist, for raw and ping sockets, with and without send
// timestamps.
func TestSteadyStateAllocs(t *testing.T) {
	for _, mode := range []Mode{ModeRaw, ModeDgram} {
		for _, tx := range []bool{false, true} {
			name := mode.String()
			if tx {
				name += "+tx"
			}
			t.Run(name, func(t *testing.T) {
				l := newEchoLoop(t, mode, tx)
				l.rcv.SetReadDeadline(time.Now().Add(10 * time.Second))
				l.snd.SetReadDeadline(time.Now().Add(10 * time.Second))
				for range 10 {
					l.once(t)
				}
				if a := testing.AllocsPerRun(200, func() { l.once(t) }); a != 0 {
					t.Errorf("%v allocations per send+receive, want 0", a)
				}
			})
		}
	}
}

// BenchmarkEcho measures one echo round trip over loopback (send, the
// kernel's reply, receive with timestamp and control messages), per mode.
func BenchmarkEcho(b *testing.B) {
	for _, mode := range []Mode{ModeRaw, ModeDgram} {
		for _, tx := range []bool{false, true} {
			name := mode.String()
			if tx {
				name += "+tx"
			}
			b.Run(name, func(b *testing.B) {
				l := newEchoLoop(b, mode, tx)
				for range 100 {
					l.once(b)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					l.once(b)
				}
			})
		}
	}
}
