package gitserver

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
)

// ctxKeyConn finds a connection's timeoutConn from its ssh.Context, for the authentication
// callbacks.
type ctxKeyConn struct{}

// limitConn admits or refuses each accepted connection before any handshake work (see
// gate), and wraps it with the timeouts in force when it arrived: gliderlabs reads its own
// timeouts once, so they could not follow a reload. Sessions themselves are counted in
// handleSession, where the client can be told why it is refused.
func (s *Server) limitConn(ctx ssh.Context, c net.Conn) net.Conn {
	lim := s.Config().Server.Limits
	t, crowded, refused := s.gate.admit(sourceKey(c.RemoteAddr()), c, gateLimitsOf(lim))
	if crowded != nil {
		_ = crowded.conn.Close()
		s.refuse(refusedCrowdedOut, crowded.conn.RemoteAddr())
	}
	if refused != "" {
		s.refuse(refused, c.RemoteAddr())
		return nil
	}
	now := time.Now()
	tc := &timeoutConn{Conn: c, idle: lim.IdleTimeout, release: func() { s.gate.release(t) }}
	if lim.MaxTimeout > 0 {
		tc.deadline = now.Add(lim.MaxTimeout)
	}
	if lim.HandshakeTimeout > 0 {
		tc.loginBy = now.Add(lim.HandshakeTimeout)
		tc.loginLate = func() { s.refuse(refusedHandshake, c.RemoteAddr()) }
	}
	tc.ticket = t
	tc.touch()
	ctx.SetValue(ctxKeyConn{}, tc)
	return tc
}

// authenticated is called once the connection's client has proved a key: from then on the
// connection counts against the authenticated places and the handshake deadline is off.
func (s *Server) authenticated(ctx ssh.Context) {
	tc, ok := ctx.Value(ctxKeyConn{}).(*timeoutConn)
	if !ok || !s.gate.authenticate(tc.ticket) {
		return
	}
	tc.authed.Store(true)
	tc.touch()
}

// timeoutConn moves the connection's deadline on every read and write: idle timeout after
// the last traffic, never past the total timeout, nor past the handshake deadline until
// the client has authenticated.
type timeoutConn struct {
	net.Conn
	idle     time.Duration
	deadline time.Time
	once     sync.Once
	release  func()

	ticket    *ticket
	loginBy   time.Time
	authed    atomic.Bool
	loginLate func()
	lateOnce  sync.Once
}

func (c *timeoutConn) touch() {
	d := c.deadline
	if c.idle > 0 {
		if idle := time.Now().Add(c.idle); d.IsZero() || idle.Before(d) {
			d = idle
		}
	}
	if !c.loginBy.IsZero() && !c.authed.Load() && (d.IsZero() || c.loginBy.Before(d)) {
		d = c.loginBy
	}
	_ = c.Conn.SetDeadline(d)
}

func (c *timeoutConn) Read(b []byte) (int, error) {
	c.touch()
	n, err := c.Conn.Read(b)
	if err != nil && !c.loginBy.IsZero() && !c.authed.Load() && !time.Now().Before(c.loginBy) && errors.Is(err, os.ErrDeadlineExceeded) {
		c.lateOnce.Do(c.loginLate)
	}
	return n, err
}

func (c *timeoutConn) Write(b []byte) (int, error) {
	c.touch()
	return c.Conn.Write(b)
}

// SetDeadline and friends are ignored: gliderlabs, configured without timeouts, clears the
// deadline on every read and write, which would undo ours.
func (c *timeoutConn) SetDeadline(time.Time) error      { return nil }
func (c *timeoutConn) SetReadDeadline(time.Time) error  { return nil }
func (c *timeoutConn) SetWriteDeadline(time.Time) error { return nil }

func (c *timeoutConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// refusalLog keeps the log readable under a flood: one line per reason a second, the
// next one saying how many were not logged. The metrics count every one.
type refusalLog struct {
	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

// next reports whether a refusal for reason is logged now, and how many were not since the
// last one that was.
func (l *refusalLog) next(reason string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.suppressed = map[string]time.Time{}, map[string]int{}
	}
	if now.Sub(l.last[reason]) < time.Second {
		l.suppressed[reason]++
		return false, 0
	}
	n := l.suppressed[reason]
	l.last[reason], l.suppressed[reason] = now, 0
	return true, n
}

// refuse records a connection closed before login: counted always, logged within bounds.
func (s *Server) refuse(reason string, remote net.Addr) {
	if m := s.opts.Metrics; m != nil {
		m.Refused(reason)
	}
	logIt, suppressed := s.refusals.next(reason, time.Now())
	if !logIt {
		return
	}
	authed, pending := s.gate.counts()
	s.log.Warn().Str("remote", remote.String()).Str("reason", refusalText[reason]).
		Int("authenticated", authed).Int("unauthenticated", pending).Int("not_logged", suppressed).
		Msg("connection closed before login")
}
