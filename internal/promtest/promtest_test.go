package promtest_test

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/internal/promtest"
)

// window is the rate window of the tests' queries: five scrapes at one a second.
const window = 5 * time.Second

// TestErrorRateByVersion proves the chain a release's analysis stands on: a real
// Prometheus scrapes the metrics server, and a PromQL query through the HTTP API
// (client_golang's client) returns each version's error rate and latency as the test set
// them, first at the start and then after the test changes them at run time.
func TestErrorRateByVersion(t *testing.T) {
	m := promtest.NewMetricsServer(t, promtest.DefaultMetricsOptions())
	m.SetErrorRate("v1", 0)
	m.SetLatency("v1", 20*time.Millisecond)
	m.SetErrorRate("v2", 0.3)
	m.SetLatency("v2", 300*time.Millisecond)
	prom := promtest.Prometheus(t, m.Target())

	// The values below are judged on a whole window of scrapes, not the first one or two.
	prom.AwaitHistory(t, time.Minute, promtest.RequestsMetric, window)

	rates := promtest.ByLabel(prom.Await(t, 10*time.Second, promtest.ErrorRateQuery(window), hasVersions("v1", "v2")), "version")
	t.Logf("error rate per version: %v", rates)
	if !near(rates["v2"], 0.3, 0.02) {
		t.Errorf("v2's error rate is %v, want about 0.3", rates["v2"])
	}
	if !near(rates["v1"], 0, 0.001) {
		t.Errorf("v1's error rate is %v, want about 0", rates["v1"])
	}

	lat := promtest.ByLabel(prom.Await(t, 10*time.Second, promtest.MeanLatencyQuery(window), hasVersions("v1", "v2")), "version")
	t.Logf("mean latency per version (s): %v", lat)
	if !near(lat["v1"], 0.020, 0.002) || !near(lat["v2"], 0.300, 0.030) {
		t.Errorf("mean latencies are %v, want v1 about 0.02 s and v2 about 0.3 s", lat)
	}
	// The histogram's buckets: v2's latencies run from 165 to 435 ms, so its median is
	// in the (0.25, 0.5] bucket and v1's (11 to 29 ms) in (0.025, 0.05] or below.
	p50 := promtest.ByLabel(prom.Await(t, 10*time.Second, promtest.LatencyQuantileQuery(0.5, window), hasVersions("v1", "v2")), "version")
	t.Logf("median latency per version (s): %v", p50)
	if p50["v2"] <= 0.25 || p50["v2"] > 0.5 || p50["v1"] > 0.05 {
		t.Errorf("median latencies are %v, want v2 in (0.25, 0.5] and v1 under 0.05", p50)
	}

	// At run time: v2 recovers and v1 goes bad. Once the window has passed the change, the
	// query says so; until then it mixes both.
	m.SetErrorRate("v2", 0)
	m.SetErrorRate("v1", 0.5)
	start := time.Now()
	prom.Await(t, time.Minute, promtest.ErrorRateQuery(window), func(v model.Vector) bool {
		r := promtest.ByLabel(v, "version")
		return len(r) == 2 && near(r["v1"], 0.5, 0.02) && near(r["v2"], 0, 0.001)
	})
	t.Logf("the error rates followed the change in %v", time.Since(start).Round(100*time.Millisecond))
}

// TestTargetsAtRunTime starts Prometheus with nothing to scrape and gives it a target
// afterwards, as a package that shares one Prometheus would for each test's server.
func TestTargetsAtRunTime(t *testing.T) {
	prom := promtest.Prometheus(t)
	m := promtest.NewMetricsServer(t, promtest.DefaultMetricsOptions())
	m.SetErrorRate("canary", 1)
	if err := prom.SetTargets(controlplane.ScrapeTarget{Addr: m.Addr, Labels: map[string]string{"env": "staging"}}); err != nil {
		t.Fatal(err)
	}
	up := prom.Await(t, 30*time.Second, `up{job="`+controlplane.ScrapeJob+`"}`, func(v model.Vector) bool {
		return len(v) == 1 && v[0].Value == 1
	})
	if got := up[0].Metric["env"]; got != "staging" {
		t.Errorf("the target's label env is %q, want staging (%v)", got, up)
	}
	if got := up[0].Metric["instance"]; string(got) != m.Addr {
		t.Errorf("instance %q, want the metrics server %s", got, m.Addr)
	}
	// Every request of a version at error rate 1 failed, and the series say so.
	prom.Await(t, 30*time.Second, promtest.RequestsMetric+`{version="canary",code="200"} == 0 and on() `+promtest.RequestsMetric+`{version="canary",code="500"} > 0`,
		func(v model.Vector) bool { return len(v) == 1 })
}

// TestStopRemovesEverything checks that a stopped Prometheus is gone: no process serving
// its port, no directory left.
func TestStopRemovesEverything(t *testing.T) {
	p, err := promtest.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir, url := p.Dir, p.URL
	if log := p.Log(); log == "" {
		t.Errorf("no log in %s", p.LogFile)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("a second stop: %v", err)
	}
	if _, err := p.Query(t.Context(), "up"); err == nil {
		t.Errorf("%s still answers after Stop", url)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after Stop: %v", dir, err)
	}
}

// TestNoRemoteAccess: the test bed's Prometheus listens on loopback only and takes no
// writes, admin actions or shutdown over HTTP; it only scrapes and answers queries.
func TestNoRemoteAccess(t *testing.T) {
	prom := promtest.Prometheus(t)
	u, err := url.Parse(prom.URL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Errorf("listens at %s, want 127.0.0.1 (%v)", prom.URL, err)
	}
	for _, path := range []string{"/api/v1/write", "/api/v1/otlp/v1/metrics", "/api/v1/admin/tsdb/snapshot", "/-/quit", "/-/reload"} {
		resp, err := http.Post(prom.URL+path, "application/x-protobuf", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 300 {
			t.Errorf("POST %s: %s, want it refused", path, resp.Status)
		}
	}
	if _, err := prom.Query(t.Context(), "up"); err != nil {
		t.Errorf("after those requests the server does not answer a query: %v", err)
	}
}

func hasVersions(want ...string) func(model.Vector) bool {
	return func(v model.Vector) bool {
		got := promtest.ByLabel(v, "version")
		for _, w := range want {
			if _, ok := got[w]; !ok {
				return false
			}
		}
		return len(got) == len(want)
	}
}

func near(got, want, tolerance float64) bool {
	return !math.IsNaN(got) && math.Abs(got-want) <= tolerance
}

// TestMissingBinary: without the test bed's prometheus the error says how to build it.
func TestMissingBinary(t *testing.T) {
	_, err := controlplane.StartPrometheus(t.Context(), controlplane.DefaultPrometheusOptions(t.TempDir()))
	if !errors.Is(err, controlplane.ErrBinaryMissing) {
		t.Errorf("StartPrometheus without a binary: %v, want ErrBinaryMissing", err)
	}
}
