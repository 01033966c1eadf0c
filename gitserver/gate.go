package gitserver

import (
	"net"
	"net/netip"
	"sync"

	"github.com/gitopsd/gitopsd/config"
)

// Reasons a connection is closed before login, as metrics label them.
const (
	refusedConnections     = "connection_limit"
	refusedUnauthenticated = "unauthenticated_limit"
	refusedAddress         = "address_limit"
	refusedCrowdedOut      = "crowded_out"
	refusedHandshake       = "handshake_timeout"
)

// refusalText is what the log says for each reason.
var refusalText = map[string]string{
	refusedConnections:     "too many connections",
	refusedUnauthenticated: "too many unauthenticated connections",
	refusedAddress:         "too many unauthenticated connections from this address",
	refusedCrowdedOut:      "unauthenticated, and its address held more than its share while the server was full",
	refusedHandshake:       "handshake deadline",
}

// gate admits connections before login. Connections that have not authenticated yet are
// counted apart from those that have, in all and per source address, so that clients
// without a key cannot take the places of those with one: an address gets at most
// maxPerAddr places, and when every place is taken, a newcomer from an address holding
// fewer takes the oldest place of the address holding the most. Locking everyone out then
// takes as many addresses as there are places, each finishing its handshake in time.
type gate struct {
	mu      sync.Mutex
	authed  int
	pending int
	byAddr  map[string][]*ticket // unauthenticated connections per source, oldest first
	seq     uint64               // numbers tickets in arrival order
}

// gateLimits are the numbers the gate enforces, from server.limits.
type gateLimits struct {
	maxConns, maxPending, maxPerAddr int // 0: no limit
}

func gateLimitsOf(l config.Limits) gateLimits {
	return gateLimits{maxConns: 2 * l.MaxSessions, maxPending: l.MaxUnauthenticated, maxPerAddr: l.MaxUnauthenticatedPerAddress}
}

type ticketState int

const (
	ticketPending ticketState = iota
	ticketAuthenticated
	ticketReleased
)

// ticket is one admitted connection's place.
type ticket struct {
	addr  string
	conn  net.Conn // closed when crowded out
	state ticketState
	seq   uint64 // arrival order, for a choice that does not depend on map order
}

// admit decides on a new connection from source addr. It returns the connection's ticket,
// or the reason it is refused; crowded, when not nil, is a connection that lost its place to
// this one and that the caller closes.
func (g *gate) admit(addr string, conn net.Conn, lim gateLimits) (t, crowded *ticket, refused string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byAddr == nil {
		g.byAddr = map[string][]*ticket{}
	}
	mine := len(g.byAddr[addr])
	switch {
	case lim.maxConns > 0 && g.authed >= lim.maxConns:
		return nil, nil, refusedConnections
	case lim.maxPerAddr > 0 && mine >= lim.maxPerAddr:
		return nil, nil, refusedAddress
	case lim.maxPending > 0 && g.pending >= lim.maxPending:
		victim := g.crowdedOut(mine)
		if victim == nil {
			return nil, nil, refusedUnauthenticated
		}
		g.drop(victim)
		crowded = victim
	}
	g.seq++
	t = &ticket{addr: addr, conn: conn, seq: g.seq}
	g.byAddr[addr] = append(g.byAddr[addr], t)
	g.pending++
	return t, crowded, ""
}

// crowdedOut picks the oldest connection of the address with the most unauthenticated
// connections, if it holds at least two more than the newcomer's address (with one more,
// taking its place would only swap the two).
func (g *gate) crowdedOut(newcomer int) *ticket {
	var victim *ticket
	most := newcomer + 1
	for _, ts := range g.byAddr {
		// Between addresses holding as many, the one with the oldest place loses it.
		if len(ts) > most || (victim != nil && len(ts) == most && ts[0].seq < victim.seq) {
			most, victim = len(ts), ts[0]
		}
	}
	return victim
}

// drop forgets a pending ticket. Callers hold mu.
func (g *gate) drop(t *ticket) {
	ts := g.byAddr[t.addr]
	for i, x := range ts {
		if x == t {
			ts = append(ts[:i:i], ts[i+1:]...)
			break
		}
	}
	if len(ts) == 0 {
		delete(g.byAddr, t.addr)
	} else {
		g.byAddr[t.addr] = ts
	}
	g.pending--
	t.state = ticketReleased
}

// authenticate moves t from the unauthenticated places to the authenticated ones. It
// reports false if t lost its place meanwhile.
func (g *gate) authenticate(t *ticket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.state != ticketPending {
		return t.state == ticketAuthenticated
	}
	g.drop(t)
	t.state = ticketAuthenticated
	g.authed++
	return true
}

// release gives t's place back when its connection closes; a second call does nothing.
func (g *gate) release(t *ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch t.state {
	case ticketPending:
		g.drop(t)
	case ticketAuthenticated:
		g.authed--
		t.state = ticketReleased
	}
}

// counts returns the authenticated and unauthenticated connections, for logs.
func (g *gate) counts() (authed, pending int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.authed, g.pending
}

// sourceKey is what the per-address cap counts by: the IPv4 address, or the /64 of an IPv6
// one (a single host is commonly given a whole /64).
func sourceKey(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return a.String()
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}
