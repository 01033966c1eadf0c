package gitserver_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/internal/gittest"
)

// halfOpen is an attacker's TCP connection that never finishes the SSH handshake: it reads
// the server's version line, then trickles the start of its own one byte at a time.
type halfOpen struct {
	dialed   time.Time
	banner   bool // the server spoke: the connection was admitted
	closedAt chan time.Time
	stop     chan struct{}
	conn     net.Conn
}

// dialHalfOpen connects from the loopback address src (Linux routes all of 127/8 to lo, so
// every test "address" is a real, distinct source) and waits for the server's first words
// or for it to hang up.
func dialHalfOpen(t *testing.T, src, addr string) *halfOpen {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	h := &halfOpen{dialed: time.Now(), closedAt: make(chan time.Time, 1), stop: make(chan struct{})}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	h.conn = c
	t.Cleanup(func() { close(h.stop); c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		h.closedAt <- time.Now()
		return h
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		t.Fatalf("server's first line: %q", line)
	}
	h.banner = true
	go func() {
		_, _ = io.Copy(io.Discard, r) // returns when the server closes the connection
		h.closedAt <- time.Now()
	}()
	go func() {
		// A version line the server has to wait for: each byte restarts the idle timeout.
		trickle := "SSH-2.0-slowloris"
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(trickle); i++ {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{trickle[i]}); err != nil {
				return
			}
		}
	}()
	return h
}

// open reports whether the server still holds the connection.
func (h *halfOpen) open() bool {
	select {
	case at := <-h.closedAt:
		h.closedAt <- at
		return false
	default:
		return true
	}
}

// TestHalfOpenConnectionsDoNotLockOut is the pre-login lock-out: before the fix, twice
// max_sessions connections that never authenticate, kept alive by a byte now and then, left
// every user refused until max_timeout. Now each source address holds only a few places,
// a newcomer takes a place of the address holding the most when all are taken, the
// half-open connections are closed at the handshake deadline, and users with keys get in
// meanwhile, even with every place taken.
func TestHalfOpenConnectionsDoNotLockOut(t *testing.T) {
	const (
		maxSessions = 4
		maxPending  = 16
		perAddress  = 3
		handshake   = 6 * time.Second
	)
	alice := gittest.NewKey(t, "alice")
	// The body starts inside gittest's server: section.
	limits := fmt.Sprintf("  limits: {max_sessions: %d, idle_timeout: 1m, handshake_timeout: %s, max_unauthenticated: %d, max_unauthenticated_per_address: %d}\n",
		maxSessions, handshake, maxPending, perAddress)
	d := gittest.Start(t, limits+gittest.Users(alice)+"repos:\n  app: {write: [alice]}\n")
	work := d.Clone(t, alice, "app")
	seed := d.Commit(t, alice, work, "seed", map[string]string{"a.txt": "a\n"})
	d.MustGit(t, alice, work, "push", "--quiet", "origin", "HEAD:main")

	// The attack: from each of six addresses, twice max_sessions connections. Five
	// addresses fill 15 of the 16 places; the sixth gets the last one, then a place of
	// one of the five (which held 3 to its 1), then nothing.
	sources := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"}
	var held []*halfOpen
	admitted := map[string]int{}
	for _, src := range sources {
		for range 2 * maxSessions {
			if h := dialHalfOpen(t, src, d.Addr); h.banner {
				held = append(held, h)
				admitted[src]++
			}
		}
	}
	attempts := len(sources) * 2 * maxSessions
	for _, src := range sources[:5] {
		if admitted[src] != perAddress {
			t.Errorf("%s was admitted %d times, want %d (its cap)", src, admitted[src], perAddress)
		}
	}
	if admitted[sources[5]] != 2 {
		t.Errorf("%s, arriving when the server was full, was admitted %d times, want 2", sources[5], admitted[sources[5]])
	}
	openNow := func() int {
		n := 0
		for _, h := range held {
			if h.open() {
				n++
			}
		}
		return n
	}
	waitUntil(t, "the crowded-out connection to close", func() bool { return openNow() == maxPending })

	// Every place is taken, and users get in: a clone and the help, over the real ssh client.
	clone := d.Clone(t, alice, "app")
	if got := strings.TrimSpace(d.MustGit(t, alice, clone, "rev-parse", "HEAD")); got != seed {
		t.Fatalf("clone during the attack: HEAD = %s, want %s", got, seed)
	}
	if out, errOut, err := d.SSH(t, alice, nil); err != nil || !strings.Contains(out, "alice") {
		t.Fatalf("ssh during the attack: %v\n%s%s", err, out, errOut)
	}
	// The clone, arriving when all were taken, took one place; the help found it free again.
	if n := openNow(); n != maxPending-1 {
		t.Fatalf("%d half-open connections open after the users were served, want %d: either the deadline passed already (machine too slow for %s?) or places were taken wrongly",
			n, maxPending-1, handshake)
	}

	// The others are closed at the handshake deadline, not at the idle timeout (1m) or later.
	atDeadline := 0
	for i, h := range held {
		select {
		case at := <-h.closedAt:
			took := at.Sub(h.dialed)
			switch {
			case took < handshake:
				continue // crowded out
			case took > handshake+15*time.Second:
				t.Errorf("half-open connection %d closed after %s, want the handshake deadline (%s)", i, took.Round(time.Millisecond), handshake)
			}
			atDeadline++
		case <-time.After(handshake + 30*time.Second):
			t.Fatalf("half-open connection %d still open %s after the handshake deadline", i, 30*time.Second)
		}
	}
	if atDeadline != maxPending-1 {
		t.Errorf("%d connections closed at the handshake deadline, want %d", atDeadline, maxPending-1)
	}

	// Refusals and deadlines are in the log and the metrics.
	logs := d.Logs()
	for _, reason := range []string{"too many unauthenticated connections from this address", "too many unauthenticated connections\"", "unauthenticated, and its address held more than its share", "handshake deadline"} {
		if !strings.Contains(logs, `"reason":"`+reason) {
			t.Errorf("log lacks a refusal for %s", reason)
		}
	}
	addressRefused := 5 * (2*maxSessions - perAddress)
	metrics := fetchMetrics(t, d)
	for _, want := range []string{
		fmt.Sprintf(`gitopsd_ssh_connections_refused_total{reason="address_limit"} %d`, addressRefused),
		fmt.Sprintf(`gitopsd_ssh_connections_refused_total{reason="unauthenticated_limit"} %d`, attempts-len(held)-addressRefused),
		`gitopsd_ssh_connections_refused_total{reason="crowded_out"} 2`,
		fmt.Sprintf(`gitopsd_ssh_connections_refused_total{reason="handshake_timeout"} %d`, maxPending-1),
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(metrics, "gitopsd_ssh_connections"))
		}
	}
}

// waitUntil polls cond for up to 30 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var httpAddrRe = regexp.MustCompile(`"addr":"([^"]+)","time":"[^"]+","message":"http listening`)

// fetchMetrics reads the daemon's /metrics (its address is in the log).
func fetchMetrics(t *testing.T, d *gittest.Daemon) string {
	t.Helper()
	m := httpAddrRe.FindStringSubmatch(d.Logs())
	if m == nil {
		t.Fatal("the daemon did not log its HTTP address")
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
