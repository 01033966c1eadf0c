// Package notify delivers gitopsd's events (a push rejected, the outcome of each apply,
// drift found, a branch deleted) to configured webhooks as JSON, signed with HMAC-SHA256,
// with retries. It never blocks a push: events queue, and a full queue drops the event
// with a log line.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/outcome"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" keyed with the
// webhook's secret.
const SignatureHeader = "X-Gitopsd-Signature"

// The event types that are not an apply's outcome; those are outcome.Outcome.Event()
// (apply.healthy, apply.unhealthy, apply.failed, apply.rolled_back, apply.waiting).
const (
	PushRejected  = "push.rejected"
	DriftFound    = "drift.found"
	BranchDeleted = "branch.deleted"
	// A release (see package rollout): it started, passed a step, was promoted (every
	// step passed), or was aborted (a failed step, ssh abort, or a newer commit).
	RolloutStarted  = "rollout.started"
	RolloutStep     = "rollout.step"
	RolloutPromoted = "rollout.promoted"
	RolloutAborted  = "rollout.aborted"
)

// legacy maps the event names of gitopsd before outcomes were named to the type that
// replaced them. repos.yaml may still subscribe to them, and such a webhook gets the new
// event under the old name, so that a receiver written for it keeps working. apply.failed
// kept its name but no longer covers health failures (apply.unhealthy) or an unreachable
// cluster (apply.waiting).
var legacy = map[string]string{
	"apply.succeeded": outcome.Healthy.Event(),
	"rollback":        outcome.RolledBack.Event(),
}

// Events lists every event type a webhook may subscribe to, the legacy names last.
func Events() []string {
	out := []string{PushRejected}
	for _, o := range outcome.All() {
		out = append(out, o.Event())
	}
	out = append(out, DriftFound, BranchDeleted, RolloutStarted, RolloutStep, RolloutPromoted, RolloutAborted)
	for _, name := range slices.Sorted(maps.Keys(legacy)) {
		out = append(out, name)
	}
	return out
}

// Event is one notification. Its JSON form is the webhook's body.
type Event struct {
	Type string `json:"type"`
	Repo string `json:"repo"`
	Env  string `json:"environment,omitempty"`
	// Commit is the commit the event is about: the one applied, or for apply.rolled_back
	// the revert commit that gitopsd wrote and applied.
	Commit string `json:"commit,omitempty"`
	// Outcome is the machine name of an apply's outcome (healthy, unhealthy, failed,
	// rolled_back, waiting), set on apply.* events.
	Outcome outcome.Outcome `json:"outcome,omitempty"`
	// Failed and Target are set on apply.rolled_back: the commit that failed (empty for
	// a rollback asked by hand) and the commit whose files the revert restores.
	Failed  string    `json:"failed,omitempty"`
	Target  string    `json:"target,omitempty"`
	Summary string    `json:"summary"`
	Time    time.Time `json:"time"`
}

// Options configure a Notifier.
type Options struct {
	// Webhooks returns the webhooks in force (they change on reload).
	Webhooks func() []config.Webhook
	Log      zerolog.Logger
	// Attempts per delivery, and the first backoff (doubled each time).
	Attempts int
	Backoff  time.Duration
	Timeout  time.Duration
	// QueueSize bounds undelivered events.
	QueueSize int
}

// Notifier queues and delivers events.
type Notifier struct {
	opts   Options
	queue  chan Event
	client *http.Client
}

// New returns a notifier; Run delivers.
func New(opts Options) *Notifier {
	if opts.Attempts == 0 {
		opts.Attempts = 5
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = 256
	}
	return &Notifier{opts: opts, queue: make(chan Event, opts.QueueSize), client: &http.Client{Timeout: opts.Timeout}}
}

// Send queues ev without blocking.
func (n *Notifier) Send(ev Event) {
	if len(n.opts.Webhooks()) == 0 {
		return
	}
	select {
	case n.queue <- ev:
	default:
		n.opts.Log.Warn().Str("event", ev.Type).Str("repo", ev.Repo).Msg("notification queue full: event dropped")
	}
}

// Run delivers queued events until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-n.queue:
			for _, w := range n.opts.Webhooks() {
				if e, ok := subscribed(w, ev); ok {
					n.deliver(ctx, w, e)
				}
			}
		}
	}
}

// subscribed says whether w wants ev and in which form: as it is, or under the legacy
// name w subscribed to. A webhook that lists both names gets it once, under the new one.
func subscribed(w config.Webhook, ev Event) (Event, bool) {
	if len(w.Events) == 0 || slices.Contains(w.Events, ev.Type) {
		return ev, true
	}
	for _, name := range w.Events {
		if legacy[name] == ev.Type {
			ev.Type = name
			return ev, true
		}
	}
	return ev, false
}

func (n *Notifier) deliver(ctx context.Context, w config.Webhook, ev Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		return
	}
	var key []byte
	if w.SecretFile != "" {
		k, err := os.ReadFile(w.SecretFile)
		if err != nil {
			n.opts.Log.Error().Err(err).Str("webhook", redact(w.URL)).Msg("webhook secret unreadable: not sending unsigned")
			return
		}
		key = bytes.TrimSpace(k)
	}
	backoff := n.opts.Backoff
	for attempt := 1; attempt <= n.opts.Attempts; attempt++ {
		err := n.post(ctx, w.URL, key, body)
		if err == nil {
			n.opts.Log.Debug().Str("event", ev.Type).Str("webhook", redact(w.URL)).Msg("webhook delivered")
			return
		}
		n.opts.Log.Warn().Err(err).Str("event", ev.Type).Str("webhook", redact(w.URL)).Int("attempt", attempt).Msg("webhook delivery failed")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

func (n *Notifier) post(ctx context.Context, url string, key, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gitopsd")
	if key != nil {
		req.Header.Set(SignatureHeader, Sign(key, body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// Sign returns the signature header value of body under key.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// redact drops a URL's query and user info, where tokens tend to hide.
func redact(url string) string {
	if i := strings.IndexAny(url, "?#"); i >= 0 {
		url = url[:i]
	}
	if i := strings.Index(url, "@"); i >= 0 {
		if j := strings.Index(url, "://"); j >= 0 && j < i {
			url = url[:j+3] + "***@" + url[i+1:]
		}
	}
	return url
}
