package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/outcome"
)

func TestDeliverSignedWithRetry(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get(SignatureHeader) != Sign([]byte("s3cret"), body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev Event
		json.Unmarshal(body, &ev)
		got = append(got, ev)
	}))
	defer srv.Close()
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("s3cret\n"), 0o600)
	hooks := []config.Webhook{
		{URL: srv.URL, SecretFile: key, Events: []string{"apply.succeeded"}},
	}
	n := New(Options{Webhooks: func() []config.Webhook { return hooks }, Log: zerolog.Nop(), Backoff: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	n.Send(Event{Type: "drift.found", Repo: "p"}) // not subscribed
	n.Send(Event{Type: "apply.succeeded", Repo: "p", Env: "e", Commit: "abc", Summary: "applied"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no signed delivery after a retry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0].Type != "apply.succeeded" || got[0].Commit != "abc" || calls != 2 {
		t.Errorf("got %+v after %d calls", got, calls)
	}
}

func TestSendNeverBlocks(t *testing.T) {
	n := New(Options{Webhooks: func() []config.Webhook { return []config.Webhook{{URL: "http://127.0.0.1:1"}} }, Log: zerolog.Nop(), QueueSize: 1})
	done := make(chan struct{})
	go func() {
		for range 100 {
			n.Send(Event{Type: "x"}) // nobody runs the queue
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked on a full queue")
	}
}

func TestRedact(t *testing.T) {
	if got := redact("https://user:tok@hooks.example/x?token=abc"); got != "https://***@hooks.example/x" {
		t.Errorf("got %q", got)
	}
}

// A webhook subscribed to a name from before outcomes were named gets the new event under
// that name; one that lists the new name gets the new name; none gets it twice.
func TestLegacySubscriptions(t *testing.T) {
	healthy := Event{Type: outcome.Healthy.Event(), Outcome: outcome.Healthy}
	rolled := Event{Type: outcome.RolledBack.Event(), Outcome: outcome.RolledBack, Target: "abc"}
	cases := []struct {
		events []string
		ev     Event
		want   string // "" = not delivered
	}{
		{nil, healthy, "apply.healthy"},
		{[]string{"apply.succeeded"}, healthy, "apply.succeeded"},
		{[]string{"apply.healthy", "apply.succeeded"}, healthy, "apply.healthy"},
		{[]string{"rollback"}, rolled, "rollback"},
		{[]string{"apply.rolled_back"}, rolled, "apply.rolled_back"},
		{[]string{"apply.failed"}, Event{Type: outcome.Unhealthy.Event()}, ""},
		{[]string{"apply.succeeded"}, rolled, ""},
	}
	for _, c := range cases {
		got, ok := subscribed(config.Webhook{Events: c.events}, c.ev)
		switch {
		case c.want == "" && ok:
			t.Errorf("%v got %s delivered as %s", c.events, c.ev.Type, got.Type)
		case c.want != "" && (!ok || got.Type != c.want):
			t.Errorf("%v, %s: delivered %v as %q, want %q", c.events, c.ev.Type, ok, got.Type, c.want)
		}
	}
	for _, name := range []string{"push.rejected", "apply.healthy", "apply.unhealthy", "apply.failed", "apply.rolled_back", "apply.waiting", "drift.found", "branch.deleted", "apply.succeeded", "rollback"} {
		if !slices.Contains(Events(), name) {
			t.Errorf("Events() lacks %s: %v", name, Events())
		}
	}
}
