package sock

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echolot/echolot/internal/testenv"
)

// The unprivileged checks run this test binary again, inside the client
// namespace, as uid/gid 65534 with no capabilities (setpriv), selecting
// TestUnprivilegedHelper with these environment variables.
const (
	helperEnv     = "ECHOLOT_SOCK_HELPER"      // "full" or "denied"
	helperPortEnv = "ECHOLOT_SOCK_HELPER_PORT" // the server's open TCP port
)

// TestUnprivileged runs the datagram, UDP and TCP checks as nobody with
// ping_group_range set in the namespace, and the permission checks in a
// namespace where ping_group_range is the kernel default "1 0".
func TestUnprivileged(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	setpriv := testenv.NeedTool(t, "setpriv")
	port := listenTCP(t, tp.server)
	bin := testenv.CopyExecutable(t, "sock.test")
	run := func(n *netns, mode string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := n.command(ctx, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
			bin, "-test.run=^TestUnprivilegedHelper$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperPortEnv+"="+strconv.Itoa(int(port)))
		out, err := cmd.CombinedOutput()
		t.Logf("helper %q as uid 65534 in %s:\n%s", mode, n.name, out)
		if err != nil || !strings.Contains(string(out), "--- PASS: TestUnprivilegedHelper") {
			t.Errorf("helper %q failed: %v", mode, err)
		}
	}
	run(tp.client, "full")
	bare := newNetns(t, "b", nsSeq.Add(1))
	bare.sysctl("net/ipv4/ping_group_range", "1 0")
	run(bare, "denied")
}

// TestUnprivilegedHelper is the helper: it does nothing unless started by
// TestUnprivileged.
func TestUnprivilegedHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "CapEff:") || strings.HasPrefix(l, "CapPrm:") {
			t.Log(l)
		}
		if strings.HasPrefix(l, "CapEff:") && strings.TrimSpace(strings.TrimPrefix(l, "CapEff:")) != "0000000000000000" {
			t.Fatalf("helper still has capabilities: %s", l)
		}
	}
	if os.Geteuid() != 65534 {
		t.Fatalf("helper runs as uid %d, want 65534", os.Geteuid())
	}

	// Raw sockets: EPERM, explained.
	_, err := OpenICMP(IPv4, nil)
	var pe *PrivilegeError
	if !errors.As(err, &pe) || pe.Need != "CAP_NET_RAW" || !errors.Is(err, os.ErrPermission) ||
		!strings.Contains(err.Error(), "setcap cap_net_raw+ep") {
		t.Errorf("raw socket as nobody: %v, want a *PrivilegeError naming CAP_NET_RAW and setcap", err)
	}
	t.Logf("raw socket: %v", err)
	if _, err := OpenSender(IPv6, nil); !errors.As(err, &pe) {
		t.Errorf("IPv6 sender as nobody: %v", err)
	}

	switch mode {
	case "denied":
		_, err := OpenPing(IPv4, nil)
		if !errors.As(err, &pe) || pe.Need != "net.ipv4.ping_group_range" || !errors.Is(err, os.ErrPermission) ||
			!strings.Contains(err.Error(), `sysctl -w net.ipv4.ping_group_range="0 2147483647"`) || !strings.Contains(err.Error(), `"1 0"`) {
			t.Errorf("ping socket with ping_group_range 1 0: %v, want a *PrivilegeError naming the sysctl", err)
		}
		t.Logf("ping socket: %v", err)
		_, err = OpenEcho(IPv4, ModeAuto, 0x1234, nil)
		if err == nil || !strings.Contains(err.Error(), "CAP_NET_RAW") || !strings.Contains(err.Error(), "ping_group_range") {
			t.Errorf("OpenEcho with nothing allowed: %v, want both reasons", err)
		}
		t.Logf("OpenEcho: %v", err)
	case "full":
		e, err := OpenEcho(IPv4, ModeAuto, 0x1234, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if e.Mode != ModeDgram || !errors.As(e.RawUnavailable, &pe) || e.ID != 0x1234 {
			t.Errorf("OpenEcho as nobody: mode %v id %#x, raw unavailable because %v; want dgram, 0x1234, a *PrivilegeError", e.Mode, e.ID, e.RawUnavailable)
		}
		if _, err := e.Sender.Send(icmpEcho(false, 0, 99, 56), netip.AddrPortFrom(serverV4, 0), nil); err != nil {
			t.Fatal(err)
		}
		r := newReader(e.Receiver)
		r.until(t, 3*time.Second, "echo reply", isEchoReplyMsg(false, e.ID, 99))
		port, _ := strconv.Atoi(os.Getenv(helperPortEnv))
		t.Run("ping4", func(t *testing.T) { pingChecks(t, here{}) })
		t.Run("ping6", func(t *testing.T) { pingV6Checks(t, here{}) })
		t.Run("udp-tcp", func(t *testing.T) { udpTCPChecks(t, here{}, uint16(port)) })
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}
