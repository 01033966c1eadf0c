package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/gitserver"
	"github.com/gitopsd/gitopsd/gittree"
	"github.com/gitopsd/gitopsd/metrics"
	"github.com/gitopsd/gitopsd/notify"
)

// Push options gitopsd understands (git push -o NAME).
const (
	OptionDryRun     = "gitopsd.dry-run"
	OptionAllowPrune = "gitopsd.allow-prune"
	OptionColor      = "gitopsd.color"
	OptionNoWait     = "gitopsd.nowait"
)

// PreReceive checks every environment a push touches. It implements the pre-receive half
// of gitserver.Hooks; main pairs it with the reconciler's post-receive.
type PreReceive struct {
	// Config returns the configuration in force (it changes on reload).
	Config   func() *config.Config
	Clusters Clusters
	Log      zerolog.Logger
	Metrics  *metrics.Metrics
	// Notify, if set, receives a push.rejected event for each refused push; it must not
	// block.
	Notify func(notify.Event)
}

// ErrRejected matches (errors.Is) the error Run returns when a push is refused; the
// details went to out.
var ErrRejected = errors.New("push rejected")

// rejection is a refusal; gitserver already says "push rejected" in front of it.
type rejection string

func (r rejection) Error() string        { return string(r) }
func (r rejection) Is(target error) bool { return target == ErrRejected }

// Run checks push and writes one report per environment to out. A non-nil error refuses
// the whole push, so that a push touching two environments lands in both or neither. The
// verdict is counted (gitopsd_pushes_total) and a refusal sent as push.rejected.
func (h *PreReceive) Run(ctx context.Context, push *gitserver.Push, out io.Writer) error {
	err := h.check(ctx, push, out)
	result := "accepted"
	switch {
	case errors.Is(err, ErrRejected):
		result = "rejected"
	case err != nil:
		result = "error"
	}
	if h.Metrics != nil {
		h.Metrics.Pushes.WithLabelValues(push.Repo, result).Inc()
	}
	if err != nil && h.Notify != nil {
		h.Notify(notify.Event{Type: notify.PushRejected, Repo: push.Repo, Summary: err.Error(), Time: time.Now()})
	}
	return err
}

// check is Run's checking: every environment the push moves, one report each.
func (h *PreReceive) check(ctx context.Context, push *gitserver.Push, out io.Writer) error {
	cfg := h.Config()
	repo, ok := cfg.Repos[push.Repo]
	if !ok {
		return fmt.Errorf("repo %s is no longer configured", push.Repo)
	}
	style := Style{Color: slices.Contains(push.Options, OptionColor)}
	dryRun := slices.Contains(push.Options, OptionDryRun)
	checker := &Checker{Config: cfg, Clusters: h.Clusters}
	objectDirs := append([]string{push.ObjectDir}, push.AlternateObjectDirs...)
	if push.ObjectDir == "" {
		objectDirs = nil
	}

	rejected := 0
	checked := 0
	for _, u := range push.Updates {
		branch, isBranch := u.Branch()
		if isBranch && u.IsDelete() {
			// Deleting a branch whose environment prunes on delete deletes every object
			// the environment owns: the pusher says so explicitly, as for any large prune.
			if envName, env, ok := repo.EnvironmentForBranch(branch); ok && env.OnDelete == config.OnDeletePrune && !slices.Contains(push.Options, OptionAllowPrune) {
				fmt.Fprintf(out, "gitopsd %s/%s: deleting branch %s prunes every object of the environment (on_delete: prune)\n", push.Repo, envName, branch)
				fmt.Fprintf(out, "  hint: if that is what you want: git push -o %s origin :%s\n", OptionAllowPrune, branch)
				return rejection(fmt.Sprintf("deleting branch %s would prune environment %s", branch, envName))
			}
			continue
		}
		if !isBranch {
			continue
		}
		envName, env, ok := repo.EnvironmentForBranch(branch)
		if !ok {
			continue
		}
		checked++
		log := h.Log.With().Str("repo", push.Repo).Str("env", envName).Str("ref", u.Name).Str("commit", u.New).Str("user", push.User).Logger()
		fmt.Fprintf(out, "gitopsd: checking %s/%s (%s) ...\n", push.Repo, envName, env.Path)
		start := time.Now()
		tree, err := gittree.Open(push.RepoDir, u.New, gittree.Options{ObjectDirs: objectDirs, MaxBytes: env.Render.MaxBytes, MaxFileBytes: env.Render.MaxBytes})
		var rep *Report
		if err != nil {
			log.Error().Err(err).Msg("open pushed tree")
			rep = &Report{Repo: push.Repo, Env: envName, Branch: branch, Cluster: env.Cluster, Commit: u.New,
				Problems: []Problem{{Rule: "read", Message: "the pushed commit could not be read", Hint: "this is gitopsd's fault, not yours; the server log has details"}}}
		} else {
			rep = checker.Check(ctx, Target{
				Repo: push.Repo, EnvName: envName, Env: env, Commit: u.New, Tree: tree,
				AllowPrune: slices.Contains(push.Options, OptionAllowPrune),
			}).Report
		}
		rep.Write(out, style)
		if h.Metrics != nil {
			h.Metrics.ValidationSeconds.WithLabelValues(push.Repo, envName).Observe(time.Since(start).Seconds())
		}
		if !rep.OK() {
			rejected++
		}
		log.Info().Bool("ok", rep.OK()).Int("problems", len(rep.Problems)).Dur("duration_ms", time.Since(start)).Msg("pre-receive checked")
	}
	switch {
	case rejected > 0:
		return rejection(fmt.Sprintf("%d of %d environment(s) failed their checks", rejected, checked))
	case dryRun:
		return rejection(fmt.Sprintf("dry run (-o %s): checks passed, nothing was changed", OptionDryRun))
	}
	return nil
}
