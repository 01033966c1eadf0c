package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsRegisterAndRecord(t *testing.T) {
	m := New()
	m.Pushes.WithLabelValues("platform", "accepted").Inc()
	m.ObjectsApplied.WithLabelValues("platform", "staging", "created").Add(3)
	if got := testutil.ToFloat64(m.ObjectsApplied.WithLabelValues("platform", "staging", "created")); got != 3 {
		t.Errorf("objects applied: %v", got)
	}
	n, err := testutil.GatherAndCount(m.Registry, "gitopsd_pushes_total")
	if err != nil || n != 1 {
		t.Errorf("gather: %d %v", n, err)
	}
	err = testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP gitopsd_pushes_total Pushes by repository and result (accepted, rejected, error).
# TYPE gitopsd_pushes_total counter
gitopsd_pushes_total{repo="platform",result="accepted"} 1
`), "gitopsd_pushes_total")
	if err != nil {
		t.Error(err)
	}
	m.SSHConnectionsRefused.WithLabelValues("handshake_timeout").Add(2)
	if n, err := testutil.GatherAndCount(m.Registry, "gitopsd_ssh_connections_refused_total"); err != nil || n != 1 {
		t.Errorf("connections refused: %d series, %v", n, err)
	}
}
