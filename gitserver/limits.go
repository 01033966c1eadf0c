package gitserver

import (
	"net"
	"sync"
	"time"

	"github.com/gliderlabs/ssh"
)

// limitConn wraps each accepted connection with the idle and total timeouts in force when it
// arrived (gliderlabs reads its own timeouts once, so they could not follow a reload), and
// drops connections beyond twice max_sessions before any handshake work. Sessions themselves
// are counted in handleSession, where the client can be told why it is refused.
func (s *Server) limitConn(_ ssh.Context, c net.Conn) net.Conn {
	lim := s.Config().Server.Limits
	if n := s.conns.Add(1); lim.MaxSessions > 0 && n > int64(2*lim.MaxSessions) {
		s.conns.Add(-1)
		s.log.Warn().Str("remote", c.RemoteAddr().String()).Int64("connections", n-1).Msg("connection refused: too many connections")
		return nil
	}
	tc := &timeoutConn{Conn: c, idle: lim.IdleTimeout, release: func() { s.conns.Add(-1) }}
	if lim.MaxTimeout > 0 {
		tc.deadline = time.Now().Add(lim.MaxTimeout)
	}
	tc.touch()
	return tc
}

// timeoutConn moves the connection's deadline on every read and write: idle timeout after
// the last traffic, never past the total timeout.
type timeoutConn struct {
	net.Conn
	idle     time.Duration
	deadline time.Time
	once     sync.Once
	release  func()
}

func (c *timeoutConn) touch() {
	d := c.deadline
	if c.idle > 0 {
		if idle := time.Now().Add(c.idle); d.IsZero() || idle.Before(d) {
			d = idle
		}
	}
	_ = c.Conn.SetDeadline(d)
}

func (c *timeoutConn) Read(b []byte) (int, error) {
	c.touch()
	return c.Conn.Read(b)
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
