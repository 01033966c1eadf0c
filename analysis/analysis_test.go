package analysis

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/config"
)

// TestWebhookCheck: a webhook check is asked with the release as JSON at every round; 2xx
// passes, and a failing answer fails the step once its failure limit is used up, naming
// the answer.
func TestWebhookCheck(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]string
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || r.Method != http.MethodPost {
			t.Errorf("%s: %v", r.Method, err)
		}
		mu.Lock()
		bodies = append(bodies, b)
		code := status
		mu.Unlock()
		w.WriteHeader(code)
	}))
	defer srv.Close()
	s := Subject{Repo: "shop", Env: "prod", Commit: "abc", Step: "canary 25%", Namespace: "web", Name: "shop", Canary: "v2", Stable: "v1"}

	a, err := New(config.Analysis{Interval: 20 * time.Millisecond, Webhooks: []config.Check{{Name: "smoke", URL: srv.URL, FailureLimit: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	v := a.Watch(ctx, s)
	cancel()
	if v.Failed != "" || strings.Join(v.Measured, ";") != "smoke ok" {
		t.Errorf("a webhook answering 200 passes: %+v", v)
	}
	mu.Lock()
	if len(bodies) == 0 || bodies[0]["canary"] != "v2" || bodies[0]["stable"] != "v1" || bodies[0]["step"] != "canary 25%" || bodies[0]["environment"] != "prod" {
		t.Errorf("the webhook is told the release: %v", bodies)
	}
	status = http.StatusServiceUnavailable
	mu.Unlock()

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v = a.Watch(ctx, s)
	if !strings.Contains(v.Failed, "analysis smoke: answered 503 Service Unavailable (2 round(s) failed, 1 allowed)") {
		t.Errorf("a webhook answering 503 fails the step after its limit: %+v", v)
	}
}

// TestQueryWithoutPrometheus: a query with no reachable Prometheus is a failed round, said
// as such, not a pass.
func TestQueryWithoutPrometheus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	max := 0.01
	a, err := New(config.Analysis{Prometheus: srv.URL, Interval: 10 * time.Millisecond, Queries: []config.Query{{Name: "errors", Query: "up", Max: &max}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v := a.Watch(ctx, Subject{}); !strings.Contains(v.Failed, "analysis errors: query failed") {
		t.Errorf("an unreachable Prometheus fails the check: %+v", v)
	}
}

// TestRoundCutByTheStepsEnd: a check still running when the step ends did not fail: a
// webhook that answers after the step is over fails nothing.
func TestRoundCutByTheStepsEnd(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	a, err := New(config.Analysis{Interval: 10 * time.Millisecond, Webhooks: []config.Check{{Name: "slow", URL: srv.URL, Timeout: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if v := a.Watch(ctx, Subject{}); v.Failed != "" {
		t.Errorf("a check cut by the step's end must not fail it: %+v", v)
	}
}
