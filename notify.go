package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/reconcile"
)

// notifier adapts the reconciler's events to the webhook notifier.
type notifier struct{ n *notify.Notifier }

func newNotifier(cfg func() *config.Config, log zerolog.Logger) *notifier {
	return &notifier{n: notify.New(notify.Options{
		Webhooks: func() []config.Webhook { return cfg().Webhooks },
		Log:      log,
	})}
}

func (n *notifier) start(ctx context.Context) { go n.n.Run(ctx) }

func (n *notifier) send(e reconcile.Event) {
	n.n.Send(notify.Event{Type: e.Type, Repo: e.Repo, Env: e.Env, Commit: e.Commit, Summary: e.Summary, Time: e.Time})
}
