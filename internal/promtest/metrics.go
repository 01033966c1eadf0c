package promtest

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/gitopsd/gitopsd/controlplane"
)

// The metrics a MetricsServer serves, named as a typical HTTP service's are, so that a
// test's queries read like a user's.
const (
	// RequestsMetric counts requests by version and code ("200" or "500").
	RequestsMetric = "http_requests_total"
	// DurationMetric is a histogram of request latencies in seconds, by version.
	DurationMetric = "http_request_duration_seconds"
)

// MetricsOptions configure NewMetricsServer.
type MetricsOptions struct {
	// RequestsPerSecond is a new version's steady request rate.
	RequestsPerSecond float64
	// Latency is a new version's mean request latency.
	Latency time.Duration
	// Tick is how often requests are made up. Counters move in steps of one tick's
	// requests; Prometheus sees them at each scrape.
	Tick time.Duration
}

// DefaultMetricsOptions: 100 requests a second per version, 50 ms each on average, made up
// every 100 ms.
func DefaultMetricsOptions() MetricsOptions {
	return MetricsOptions{RequestsPerSecond: 100, Latency: 50 * time.Millisecond, Tick: 100 * time.Millisecond}
}

// MetricsServer serves the metrics of a made-up HTTP service running several versions at
// once, and makes up its traffic at a steady rate, so that rate() over a few seconds has
// data. A version's error rate, latency and request rate are the test's to set at any
// time. The traffic is deterministic, not random: of every n requests of a version,
// errorRate*n (rounded down, the remainder carried over) fail, and latencies cycle
// through 0.55, 0.65, ... 1.45 times the set latency, so that their mean is the set
// latency and their spread is known.
type MetricsServer struct {
	// Addr is host:port on loopback; the metrics are at /metrics.
	Addr string

	opts      MetricsOptions
	mu        sync.Mutex // versions, and the counters against a scrape halfway through a tick
	versions  map[string]*version
	last      time.Time
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	srv       *http.Server
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// version is the traffic of one version and what is owed of it since the last tick.
type version struct {
	rps, errorRate float64
	latency        time.Duration
	due, errDue    float64
	seq            int
}

// NewMetricsServer serves metrics on a free loopback port until the test ends. Versions
// appear when a Set method first names them.
func NewMetricsServer(t testing.TB, opts MetricsOptions) *MetricsServer {
	t.Helper()
	m, err := StartMetricsServer(opts)
	if err != nil {
		t.Fatalf("promtest: metrics server: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// StartMetricsServer is NewMetricsServer for callers without a test (TestMain); the caller
// closes it.
func StartMetricsServer(opts MetricsOptions) (*MetricsServer, error) {
	def := DefaultMetricsOptions()
	if opts.RequestsPerSecond <= 0 {
		opts.RequestsPerSecond = def.RequestsPerSecond
	}
	if opts.Latency <= 0 {
		opts.Latency = def.Latency
	}
	if opts.Tick <= 0 {
		opts.Tick = def.Tick
	}
	m := &MetricsServer{
		opts:     opts,
		versions: map[string]*version{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsMetric, Help: "Requests served, by version and status code.",
		}, []string{"version", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: DurationMetric, Help: "Request latencies in seconds, by version.",
			Buckets: prometheus.DefBuckets,
		}, []string{"version"}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests, m.durations)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m.Addr = l.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(lockedGatherer{&m.mu, reg}, promhttp.HandlerOpts{}))
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go m.srv.Serve(l)
	m.last = time.Now()
	go m.run()
	return m, nil
}

// Target is the server as a scrape target of the test bed's Prometheus.
func (m *MetricsServer) Target() controlplane.ScrapeTarget {
	return controlplane.ScrapeTarget{Addr: m.Addr}
}

// SetErrorRate sets the share of a version's requests that fail (code 500), from 0 to 1.
func (m *MetricsServer) SetErrorRate(v string, rate float64) {
	if rate < 0 || rate > 1 || math.IsNaN(rate) {
		panic(fmt.Sprintf("promtest: error rate %v of %s is not between 0 and 1", rate, v))
	}
	m.set(v, func(ver *version) { ver.errorRate = rate })
}

// SetLatency sets a version's mean request latency.
func (m *MetricsServer) SetLatency(v string, d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("promtest: negative latency %v of %s", d, v))
	}
	m.set(v, func(ver *version) { ver.latency = d })
}

// SetRequestRate sets a version's requests per second; 0 stops its traffic (its series
// stay, unchanging, as a real service's would).
func (m *MetricsServer) SetRequestRate(v string, rps float64) {
	if rps < 0 || math.IsNaN(rps) || math.IsInf(rps, 0) {
		panic(fmt.Sprintf("promtest: request rate %v of %s is not a rate", rps, v))
	}
	m.set(v, func(ver *version) { ver.rps = rps })
}

func (m *MetricsServer) set(v string, f func(*version)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ver := m.versions[v]
	if ver == nil {
		// The traffic so far is owed to the versions that had it, not to this one.
		m.tickLocked(time.Now())
		ver = &version{rps: m.opts.RequestsPerSecond, latency: m.opts.Latency}
		m.versions[v] = ver
		// Both codes exist from the start: a version with no failures has an error rate
		// of 0, not no error rate.
		m.requests.WithLabelValues(v, "200")
		m.requests.WithLabelValues(v, "500")
		m.durations.WithLabelValues(v)
	}
	f(ver)
}

func (m *MetricsServer) run() {
	defer close(m.done)
	tick := time.NewTicker(m.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-tick.C:
			m.mu.Lock()
			m.tickLocked(now)
			m.mu.Unlock()
		}
	}
}

// tickLocked makes up the requests owed since the last tick. They are counted by the time
// that passed, not by ticks, so that a late tick (a busy machine) keeps the rate steady.
func (m *MetricsServer) tickLocked(now time.Time) {
	elapsed := now.Sub(m.last).Seconds()
	if elapsed <= 0 {
		return
	}
	m.last = now
	for name, v := range m.versions {
		v.due += elapsed * v.rps
		n := math.Floor(v.due)
		v.due -= n
		v.errDue += n * v.errorRate
		failed := math.Floor(v.errDue)
		v.errDue -= failed
		m.requests.WithLabelValues(name, "500").Add(failed)
		m.requests.WithLabelValues(name, "200").Add(n - failed)
		h := m.durations.WithLabelValues(name)
		for i := 0; i < int(n); i++ {
			h.Observe(v.latency.Seconds() * (0.55 + 0.1*float64(v.seq%10)))
			v.seq++
		}
	}
}

// Close stops the traffic and the server. It is safe to call twice.
func (m *MetricsServer) Close() {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
		_ = m.srv.Close()
	})
}

// lockedGatherer gathers under the traffic's lock, so that a scrape never sees a tick's
// requests counted and its failures not yet.
type lockedGatherer struct {
	mu *sync.Mutex
	g  prometheus.Gatherer
}

func (l lockedGatherer) Gather() ([]*dto.MetricFamily, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.g.Gather()
}
