// Package metrics defines gitopsd's Prometheus metrics in one place, so that every package
// records under the same names and labels, and the HTTP server exposes one registry.
package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gitopsd/gitopsd/outcome"
)

// Metrics are the collectors gitopsd records to. main makes one with New and hands it to
// every package that records.
type Metrics struct {
	Registry *prometheus.Registry

	Pushes            *prometheus.CounterVec   // repo, result (accepted, rejected, error)
	ValidationSeconds *prometheus.HistogramVec // repo, env
	ReconcileSeconds  *prometheus.HistogramVec // repo, env, result (an outcome's name: outcome.Outcome.Label)
	ObjectsApplied    *prometheus.CounterVec   // repo, env, action
	ObjectsPruned     *prometheus.CounterVec   // repo, env
	DriftedObjects    *prometheus.GaugeVec     // repo, env
	// DriftScansSkipped counts scheduled scans that could not start because the previous
	// scan of the environment was still running.
	DriftScansSkipped *prometheus.CounterVec // repo, env
	LastSyncTime      *prometheus.GaugeVec   // repo, env (unix seconds of the last successful apply)
	// ReleaseStep is the last step a running release passed (0: none, or no release).
	ReleaseStep       *prometheus.GaugeVec   // repo, env
	SSHSessions       *prometheus.CounterVec // command, result
	SSHSessionsActive prometheus.Gauge
	// SSHConnectionsRefused counts connections closed before login, by reason:
	// connection_limit, unauthenticated_limit, address_limit, crowded_out, handshake_timeout.
	SSHConnectionsRefused *prometheus.CounterVec
}

// New registers every collector, plus the Go and process collectors, in a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buckets := []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}
	m := &Metrics{
		Registry: r,
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitopsd_pushes_total", Help: "Pushes by repository and result (accepted, rejected, error).",
		}, []string{"repo", "result"}),
		ValidationSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitopsd_validation_duration_seconds", Help: "Time to render and check one environment of a push.", Buckets: buckets,
		}, []string{"repo", "env"}),
		ReconcileSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitopsd_reconcile_duration_seconds", Help: "Time to apply, prune and wait for health, by outcome (" + outcomeLabels() + ").", Buckets: buckets,
		}, []string{"repo", "env", "result"}),
		ObjectsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitopsd_objects_applied_total", Help: "Objects applied, by action (created, configured, unchanged, failed).",
		}, []string{"repo", "env", "action"}),
		ObjectsPruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitopsd_objects_pruned_total", Help: "Objects deleted because they left git.",
		}, []string{"repo", "env"}),
		DriftedObjects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitopsd_drifted_objects", Help: "Objects found different from the branch at the last drift scan.",
		}, []string{"repo", "env"}),
		DriftScansSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitopsd_drift_scans_skipped_total", Help: "Scheduled drift scans skipped because the previous scan was still running.",
		}, []string{"repo", "env"}),
		LastSyncTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitopsd_last_successful_sync_timestamp_seconds", Help: "When the environment was last applied successfully.",
		}, []string{"repo", "env"}),
		ReleaseStep: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitopsd_release_step", Help: "The last step a running canary release passed (0: none running).",
		}, []string{"repo", "env"}),
		SSHSessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitopsd_ssh_sessions_total", Help: "SSH sessions by command (upload-pack, receive-pack, help, status, refused) and result.",
		}, []string{"command", "result"}),
		SSHSessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitopsd_ssh_sessions_active", Help: "SSH sessions open now.",
		}),
		SSHConnectionsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitopsd_ssh_connections_refused_total",
			Help: "Connections closed before login, by reason (connection_limit, unauthenticated_limit, address_limit, crowded_out, handshake_timeout).",
		}, []string{"reason"}),
	}
	r.MustRegister(m.Pushes, m.ValidationSeconds, m.ReconcileSeconds, m.ObjectsApplied, m.ObjectsPruned,
		m.DriftedObjects, m.DriftScansSkipped, m.LastSyncTime, m.ReleaseStep, m.SSHSessions, m.SSHSessionsActive, m.SSHConnectionsRefused)
	return m
}

// outcomeLabels lists the values of the result label of gitopsd_reconcile_duration_seconds.
func outcomeLabels() string {
	var l []string
	for _, o := range outcome.All() {
		l = append(l, o.Label())
	}
	return strings.Join(l, ", ")
}
