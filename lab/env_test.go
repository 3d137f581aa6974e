package lab

import (
	"slices"
	"testing"
)

// TestEnv: the variables a script in the default lab gets. Derived from
// DefaultTopologyText by hand: r1's primary IPv4 address is the first on
// its first interface (to-client), and ADDRS lists both interfaces.
func TestEnv(t *testing.T) {
	l := &Lab{name: "envtest", topo: DefaultTopology()}
	got := l.Env()
	want := []string{
		"ECHOLOT_LAB=envtest",
		"ECHOLOT_LAB_FAULT=" + FaultSocket("envtest"),
		"ECHOLOT_CLIENT_IP4=198.18.1.2",
		"ECHOLOT_CLIENT_IP6=2001:db8:1::2",
		"ECHOLOT_CLIENT_ADDRS=198.18.1.2 2001:db8:1::2",
		"ECHOLOT_R1_IP4=198.18.1.1",
		"ECHOLOT_R1_IP6=2001:db8:1::1",
		"ECHOLOT_R1_ADDRS=198.18.1.1 198.18.2.1 2001:db8:1::1 2001:db8:2::1",
		"ECHOLOT_R2_IP4=198.18.2.2",
		"ECHOLOT_R2_IP6=2001:db8:2::2",
		"ECHOLOT_R2_ADDRS=198.18.2.2 198.18.3.1 2001:db8:2::2 2001:db8:3::1",
		"ECHOLOT_SERVER_IP4=198.18.3.2",
		"ECHOLOT_SERVER_IP6=2001:db8:3::2",
		"ECHOLOT_SERVER_ADDRS=198.18.3.2 2001:db8:3::2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Env() =\n%q\nwant\n%q", got, want)
	}
}
