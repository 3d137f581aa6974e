package sock

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestTxIDsAcrossFailedSends: the send counter of kernel timestamps (OPT_ID)
// must stay in step with Sent.ID when sends fail locally (EMSGSIZE), on a
// header-included sender and on a ping socket.
func TestTxIDsAcrossFailedSends(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	dst := netip.AddrPortFrom(serverV4, 0)
	check := func(t *testing.T, c *Conn, good, bad func(seq uint16) []byte, o *SendOpts) {
		var ids []uint32
		for seq := uint16(1); seq <= 6; seq++ {
			b := good(seq)
			if seq%2 == 0 {
				b = bad(seq)
			}
			s, err := c.Send(b, dst, o)
			if seq%2 == 0 {
				if err == nil {
					t.Fatalf("oversized send %d succeeded", seq)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s.ID)
		}
		r := newReader(c)
		var got []uint32
		for len(got) < len(ids) {
			c.SetReadDeadline(time.Now().Add(time.Second))
			if err := c.RecvErrQueue(r.buf, &r.m); err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			if r.m.Kind == KindTxTimestamp {
				got = append(got, r.m.TxID)
			}
		}
		t.Logf("Sent.IDs %v, timestamp ids %v", ids, got)
		for i := range ids {
			if ids[i] != got[i] {
				t.Errorf("Sent.IDs %v but timestamps came with ids %v", ids, got)
				break
			}
		}
	}
	t.Run("header-included", func(t *testing.T) {
		c := open(t, tp.client, func() (*Conn, error) { return OpenSender(IPv4, nil) })
		check(t, c,
			func(seq uint16) []byte { return echo4(t, clientV4, serverV4, 0x7701, seq, 64, false, 56) },
			func(seq uint16) []byte { return echo4(t, clientV4, serverV4, 0x7701, seq, 64, false, 1600) }, nil)
	})
	t.Run("ping", func(t *testing.T) {
		c := open(t, tp.client, func() (*Conn, error) { return OpenPing(IPv4, &Options{PMTU: PMTUDo}) })
		check(t, c,
			func(seq uint16) []byte { return icmpEcho(false, 0, seq, 56) },
			func(seq uint16) []byte { return icmpEcho(false, 0, seq, 1600) }, nil)
	})
	// A send that first fails only because it consumed a pending ICMP
	// error, and is retried by Send.
	t.Run("ping-soft-error", func(t *testing.T) {
		c := open(t, tp.client, func() (*Conn, error) { return OpenPing(IPv4, nil) })
		var ids []uint32
		for seq := uint16(1); seq <= 4; seq++ {
			s, err := c.Send(icmpEcho(false, 0, seq, 56), dst, &SendOpts{TTL: 1, HasTTL: true})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s.ID)
			if seq > 1 && s.SoftErr == 0 {
				t.Errorf("send %d did not meet the pending error", seq)
			}
			time.Sleep(50 * time.Millisecond)
		}
		r := newReader(c)
		var got []uint32
		for len(got) < len(ids) {
			c.SetReadDeadline(time.Now().Add(time.Second))
			if err := c.RecvErrQueue(r.buf, &r.m); err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			if r.m.Kind == KindTxTimestamp {
				got = append(got, r.m.TxID)
			}
		}
		t.Logf("Sent.IDs %v, timestamp ids %v", ids, got)
		if !slices.Equal(ids, got) {
			t.Errorf("Sent.IDs %v but timestamps came with ids %v", ids, got)
		}
	})
}
