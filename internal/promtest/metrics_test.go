package promtest

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// TestMadeUpTraffic drives the traffic by hand (the server's own ticks are an hour apart)
// and checks the counts a scrape then serves: the request rate, the error share with its
// remainder carried over, and the latencies' mean.
func TestMadeUpTraffic(t *testing.T) {
	m := NewMetricsServer(t, MetricsOptions{RequestsPerSecond: 100, Latency: 100 * time.Millisecond, Tick: time.Hour})
	m.SetErrorRate("v", 0.25)
	m.SetRequestRate("idle", 0)

	m.mu.Lock()
	base := m.last
	m.tickLocked(base.Add(time.Second))
	ok, failed := testutil.ToFloat64(m.requests.WithLabelValues("v", "200")), testutil.ToFloat64(m.requests.WithLabelValues("v", "500"))
	m.tickLocked(base.Add(1250 * time.Millisecond)) // 25 requests, 6.25 failures owed
	m.tickLocked(base.Add(2 * time.Second))         // 75 more, 18.75 + 0.25 failures owed
	m.mu.Unlock()

	if ok != 75 || failed != 25 {
		t.Errorf("after 1 s: %v ok and %v failed, want 75 and 25", ok, failed)
	}
	body := scrape(t, m)
	for _, want := range []string{
		`http_requests_total{code="200",version="v"} 150`,
		`http_requests_total{code="500",version="v"} 50`,
		`http_request_duration_seconds_count{version="v"} 200`,
		// A version without traffic has its series, at 0: its error rate is 0/0, not absent.
		`http_requests_total{code="500",version="idle"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("the scrape has no line %q:\n%s", want, body)
		}
	}
	m.mu.Lock()
	sum := histogramSum(t, m, "v")
	m.mu.Unlock()
	if math.Abs(sum-200*0.1) > 1e-9 {
		t.Errorf("latencies add up to %v s, want 20 s (200 requests of 100 ms on average)", sum)
	}
}

func TestBadRatePanics(t *testing.T) {
	m := NewMetricsServer(t, MetricsOptions{Tick: time.Hour})
	defer func() {
		if recover() == nil {
			t.Error("an error rate of 1.5 was taken")
		}
	}()
	m.SetErrorRate("v", 1.5)
}

func scrape(t *testing.T, m *MetricsServer) string {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s %v", resp.Status, err)
	}
	return string(b)
}

func histogramSum(t *testing.T, m *MetricsServer, v string) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.durations.WithLabelValues(v).(prometheus.Metric).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleSum()
}
