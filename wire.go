package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/gitserver"
	"github.com/gitopsd/gitopsd/hooks"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/metrics"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/reconcile"
)

// app is everything behind the Git server: the checks at pre-receive, the reconciler at
// post-receive, the drift scans, status and metrics. It implements gitserver.Hooks, so
// gitserver never imports what talks to Kubernetes.
type app struct {
	cfg      atomic.Pointer[config.Config]
	log      zerolog.Logger
	metrics  *metrics.Metrics
	clusters *clusters.Registry
	store    *reconcile.Store
	rec      *reconcile.Reconciler
	pre      *hooks.PreReceive
	notifier *notify.Notifier
}

var _ gitserver.Hooks = (*app)(nil)

var _ gitserver.Operator = (*reconcile.Reconciler)(nil)

var _ gitserver.SessionMetrics = metrics.SSHSessions{}

// repos.yaml's webhooks may subscribe to the event types notify sends (the outcomes'
// among them, and the names they replaced); config, a leaf, cannot import notify, so the
// list is handed to it here, before any configuration is loaded.
func init() { config.WebhookEvents = notify.Events() }

// newApp wires the daemon's parts for cfg. Nothing runs until start.
func newApp(cfg *config.Config, log zerolog.Logger, m *metrics.Metrics) (*app, error) {
	a := &app{log: log, metrics: m}
	a.cfg.Store(cfg)
	store, err := reconcile.OpenStore(filepath.Join(cfg.Server.DataDir, "status"))
	if err != nil {
		return nil, err
	}
	store.SetLog(log)
	a.store = store
	a.clusters = clusters.New(cfg, kube.DefaultClientOptions())
	a.notifier = notify.New(notify.Options{
		Webhooks: func() []config.Webhook { return a.config().Webhooks },
		Log:      log,
	})
	a.pre = &hooks.PreReceive{Config: a.config, Clusters: a.clusters, Log: log, Metrics: m, Notify: a.notifier.Send}
	host, _ := os.Hostname()
	a.rec = reconcile.New(reconcile.Options{
		Config:   a.config,
		RepoDir:  func(repo string) string { return gitserver.RepoDir(a.config().Server.DataDir, repo) },
		Clusters: a.clusters,
		Store:    store,
		Log:      log,
		Metrics:  m,
		Notify:   a.notifier.Send,
		Locker:   &reconcile.LeaseLocker{Clusters: a.clusters, Identity: host + ":" + cfg.Server.DataDir, Duration: 2 * time.Minute},
	})
	return a, nil
}

func (a *app) config() *config.Config { return a.cfg.Load() }

// start runs the reconciler (which applies what was pushed while the daemon was down) and
// the drift scans until ctx ends.
func (a *app) start(ctx context.Context) error {
	go a.notifier.Run(ctx)
	a.rec.Start(ctx)
	return a.rec.ScheduleScans()
}

// PreReceive runs the checks of every environment the push touches.
func (a *app) PreReceive(ctx context.Context, push *gitserver.Push, out io.Writer) error {
	return a.pre.Run(ctx, push, out)
}

// PostReceive hands the accepted branch heads to the reconciler and reports its outcome.
func (a *app) PostReceive(ctx context.Context, push *gitserver.Push, out io.Writer) {
	req := reconcile.PushRequest{Repo: push.Repo, User: push.User, NoWait: slices.Contains(push.Options, hooks.OptionNoWait)}
	for _, u := range push.Updates {
		if branch, ok := u.Branch(); ok {
			req.Updates = append(req.Updates, reconcile.Update{Branch: branch, Commit: u.New, Deleted: u.IsDelete()})
		}
	}
	if len(req.Updates) > 0 {
		a.rec.PostReceive(ctx, req, out)
	}
}

// reload switches to a new configuration: clusters and later pushes use it at once. It
// re-applies nothing already configured; only environments it adds get their branch head.
func (a *app) reload(cfg *config.Config) {
	old := a.cfg.Swap(cfg)
	a.clusters.Update(cfg)
	a.rec.Reload(old)
}

// buildHooks assembles and starts what runs behind the Git server.
func buildHooks(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*app, error) {
	a, err := newApp(cfg, log, metrics.New())
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	if err := a.start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}
