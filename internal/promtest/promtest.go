// Package promtest gives tests a real Prometheus (the test bed's, from testbed/build.sh)
// and a metrics server whose traffic the test makes up: per-version request counters and
// latency histograms, with an error rate and a latency per version that the test sets at
// run time. Together they let a test judge a version by PromQL the way a user's analysis
// would, through the Prometheus HTTP API.
//
//	m := promtest.NewMetricsServer(t, promtest.DefaultMetricsOptions())
//	m.SetErrorRate("v1", 0)
//	m.SetErrorRate("v2", 0.3)
//	prom := promtest.Prometheus(t, m.Target())
//	window := 5 * time.Second
//	prom.AwaitHistory(t, time.Minute, promtest.RequestsMetric, window)
//	v := prom.Await(t, time.Minute, promtest.ErrorRateQuery(window), func(v model.Vector) bool {
//		return len(v) == 2
//	})
//	rates := promtest.ByLabel(v, "version") // {"v1": 0, "v2": 0.3}
package promtest

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/gitopsd/gitopsd/controlplane"
)

// Server is a running Prometheus and a client of its HTTP API.
type Server struct {
	*controlplane.Prometheus
	// API is client_golang's client of the HTTP API, as the product would use it.
	API promv1.API
}

// Prometheus starts a Prometheus for the test that scrapes targets every second, and
// stops it when the test ends. The log of a failed test's Prometheus is in the test's
// output.
func Prometheus(t testing.TB, targets ...controlplane.ScrapeTarget) *Server {
	t.Helper()
	s, err := Start(context.Background(), targets...)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus at %s, its log:\n%s", s.URL, tail(s.Log(), 100))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("promtest: stop prometheus: %v", err)
		}
	})
	return s
}

// Start starts a Prometheus that scrapes targets every second, for callers without a test
// (TestMain, to share one by a package's tests through SetTargets). The caller stops it.
// With KUBETEST_VERBOSE set, its log also goes to stderr.
func Start(ctx context.Context, targets ...controlplane.ScrapeTarget) (*Server, error) {
	opts := controlplane.DefaultPrometheusOptions(controlplane.FindBinDir())
	opts.Targets = targets
	if os.Getenv("KUBETEST_VERBOSE") != "" {
		opts.Output = os.Stderr
	}
	begin := time.Now()
	p, err := controlplane.StartPrometheus(ctx, opts)
	if err != nil {
		return nil, err
	}
	client, err := api.NewClient(api.Config{Address: p.URL})
	if err != nil {
		p.Stop()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "promtest: prometheus ready at %s in %v\n", p.URL, time.Since(begin).Round(time.Millisecond))
	return &Server{Prometheus: p, API: promv1.NewAPI(client)}, nil
}

// Query runs an instant PromQL query at the current time and returns its vector. Warnings
// and infos are not errors and are dropped.
func (s *Server) Query(ctx context.Context, query string) (model.Vector, error) {
	v, _, _, err := s.API.Query(ctx, query, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("query %s: the result is a %s, not a vector", query, v.Type())
	}
	return vec, nil
}

// Await runs query every 250 ms until ok holds for its result, and returns that result.
// After timeout the test fails with the last result or error and the state of every
// scrape target.
func (s *Server) Await(t testing.TB, timeout time.Duration, query string, ok func(model.Vector) bool) model.Vector {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		// Each query has its own timeout: the last one says what was wrong, not that the
		// wait was over.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := s.Query(ctx, query)
		cancel()
		if err == nil && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("promtest: after %v: %v (%s)", timeout, err, s.targets())
			}
			t.Fatalf("promtest: after %v, %s is still %s (%s)", timeout, query, describe(v), s.targets())
			return nil
		}
		<-tick.C
	}
}

// AwaitHistory waits until every series of metric has samples older than window and one
// scrape, so that rate() over window covers the whole window. Before, it covers only the
// seconds since a series' first sample, extrapolated: a query judges a version that just
// appeared on a scrape or two.
func (s *Server) AwaitHistory(t testing.TB, timeout time.Duration, metric string, window time.Duration) {
	t.Helper()
	d := model.Duration(window + s.ScrapeInterval).String()
	s.Await(t, timeout, fmt.Sprintf("count(%s) == count(%s offset %s)", metric, metric, d),
		func(v model.Vector) bool { return len(v) == 1 })
}

// targets says how each scrape target fared, for a failure message.
func (s *Server) targets() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := s.API.Targets(ctx)
	if err != nil {
		return "targets: " + err.Error()
	}
	if len(res.Active) == 0 {
		return "no active scrape target"
	}
	var b []string
	for _, at := range res.Active {
		line := fmt.Sprintf("%s %s", at.ScrapeURL, at.Health)
		if at.LastError != "" {
			line += ": " + at.LastError
		}
		b = append(b, line)
	}
	return "targets: " + strings.Join(b, "; ")
}

// ByLabel maps each sample of v by its value of label.
func ByLabel(v model.Vector, label string) map[string]float64 {
	m := make(map[string]float64, len(v))
	for _, s := range v {
		m[string(s.Metric[model.LabelName(label)])] = float64(s.Value)
	}
	return m
}

// Labels lists the values of label in v, sorted.
func Labels(v model.Vector, label string) []string {
	var out []string
	for _, s := range v {
		out = append(out, string(s.Metric[model.LabelName(label)]))
	}
	sort.Strings(out)
	return out
}

// ErrorRateQuery is the share of failed requests (5xx) per version over the last window.
func ErrorRateQuery(window time.Duration) string {
	w := model.Duration(window).String()
	return fmt.Sprintf(`sum by (version) (rate(%s{code=~"5.."}[%s])) / sum by (version) (rate(%s[%s]))`,
		RequestsMetric, w, RequestsMetric, w)
}

// MeanLatencyQuery is the mean request latency in seconds per version over the last window.
func MeanLatencyQuery(window time.Duration) string {
	w := model.Duration(window).String()
	return fmt.Sprintf(`sum by (version) (rate(%s_sum[%s])) / sum by (version) (rate(%s_count[%s]))`,
		DurationMetric, w, DurationMetric, w)
}

// LatencyQuantileQuery is the q-quantile (0.9: the 90th percentile) of request latency in
// seconds per version over the last window, from the histogram's buckets.
func LatencyQuantileQuery(q float64, window time.Duration) string {
	w := model.Duration(window).String()
	return fmt.Sprintf(`histogram_quantile(%g, sum by (version, le) (rate(%s_bucket[%s])))`, q, DurationMetric, w)
}

func describe(v model.Vector) string {
	if len(v) == 0 {
		return "empty"
	}
	return strings.ReplaceAll(v.String(), "\n", "; ")
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = append([]string{fmt.Sprintf("... (%d lines before)", len(l)-lines)}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}
