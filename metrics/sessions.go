package metrics

// SSHSessions counts SSH sessions and refused connections; it is what gitserver reports
// sessions to (gitserver.Options.Metrics).
type SSHSessions struct{ m *Metrics }

// Sessions returns m's SSH session counters.
func (m *Metrics) Sessions() SSHSessions { return SSHSessions{m} }

// Started counts a session that opened.
func (s SSHSessions) Started() { s.m.SSHSessionsActive.Inc() }

// Finished counts a session that ended: its command ("none" when it ran none) and result.
func (s SSHSessions) Finished(command, result string) {
	s.m.SSHSessionsActive.Dec()
	if command == "" {
		command = "none"
	}
	s.m.SSHSessions.WithLabelValues(command, result).Inc()
}

// Refused counts a connection closed before login, by reason.
func (s SSHSessions) Refused(reason string) {
	s.m.SSHConnectionsRefused.WithLabelValues(reason).Inc()
}
