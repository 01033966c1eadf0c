package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSessions(t *testing.T) {
	m := New()
	s := m.Sessions()
	s.Started()
	s.Started()
	s.Finished("", "refused")
	s.Refused("address_limit")
	if got := testutil.ToFloat64(m.SSHSessionsActive); got != 1 {
		t.Errorf("active sessions: %v", got)
	}
	if got := testutil.ToFloat64(m.SSHSessions.WithLabelValues("none", "refused")); got != 1 {
		t.Errorf("a session without a command counts as none: %v", got)
	}
	if got := testutil.ToFloat64(m.SSHConnectionsRefused.WithLabelValues("address_limit")); got != 1 {
		t.Errorf("refused: %v", got)
	}
}
