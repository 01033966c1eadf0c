package gitserver

import (
	"net"
	"testing"
)

func TestGateCaps(t *testing.T) {
	var g gate
	lim := gateLimits{maxConns: 2, maxPending: 4, maxPerAddr: 2}
	admit := func(addr string) (*ticket, *ticket, string) { return g.admit(addr, nil, lim) }

	a1, _, r := admit("a")
	a2, _, r2 := admit("a")
	if r != "" || r2 != "" {
		t.Fatalf("first two from a refused: %q %q", r, r2)
	}
	if _, _, r := admit("a"); r != refusedAddress {
		t.Fatalf("third from a: %q, want %s", r, refusedAddress)
	}
	b1, _, _ := admit("b")
	admit("b")
	// Full, and every address holds as many as the newcomer's would: refused.
	if _, _, r := admit("b"); r != refusedAddress {
		t.Fatalf("third from b: %q", r)
	}
	g.release(b1)
	admit("b")
	c1, crowded, r := admit("c")
	if r != "" || crowded != a1 {
		t.Fatalf("newcomer c when full: refused %q, crowded out %v; want a's oldest (%p) out", r, crowded, a1)
	}
	// a, b and c hold 1, 2 and 1: d takes a place of b, the address with the most.
	if _, crowded, r := admit("d"); r != "" || crowded == nil || crowded.addr != "b" {
		t.Fatalf("d: refused %q, crowded out %+v; want a place of b", r, crowded)
	}
	// Every address holds one: taking a place would only swap two addresses.
	if _, crowded, r := admit("e"); r != refusedUnauthenticated || crowded != nil {
		t.Fatalf("e: refused %q, crowded out %+v; want %s", r, crowded, refusedUnauthenticated)
	}
	g.release(a1) // the crowded-out connection closing does not free a second place
	if _, p := g.counts(); p != 4 {
		t.Fatalf("%d unauthenticated after a crowded-out connection closed, want 4", p)
	}

	// Authenticated connections leave the unauthenticated places and fill their own.
	if !g.authenticate(a2) || !g.authenticate(c1) {
		t.Fatal("authenticate refused")
	}
	if a, p := g.counts(); a != 2 || p != 2 {
		t.Fatalf("counts: %d authenticated, %d not; want 2 and 2", a, p)
	}
	if _, _, r := admit("f"); r != refusedConnections {
		t.Fatalf("with max connections authenticated: %q, want %s", r, refusedConnections)
	}
	g.release(a2)
	g.release(a2)
	if a, _ := g.counts(); a != 1 {
		t.Fatalf("a double release counted twice: %d authenticated", a)
	}
	if g.authenticate(a1) {
		t.Fatal("a crowded-out connection authenticated")
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:22":               "192.0.2.7",
		"[::ffff:192.0.2.7]:22":      "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:22":  "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:999": "2001:db8:1:2::/64",
	} {
		a, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := sourceKey(a); got != want {
			t.Errorf("sourceKey(%s) = %s, want %s", in, got, want)
		}
	}
}
