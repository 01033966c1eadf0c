package hooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

	// digests remembers desired.Digest by render (see digestKey), for the environments of
	// shared branches; ndigests counts what was stored.
	digests  sync.Map
	ndigests atomic.Int64
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
		if !isBranch {
			continue
		}
		envs := repo.EnvironmentsForBranch(branch)
		if u.IsDelete() {
			// Deleting a branch whose environment prunes on delete deletes every object
			// the environment owns: the pusher says so explicitly, as for any large prune.
			// The environments of a branch agree on on_delete.
			if len(envs) > 0 && envs[0].OnDelete == config.OnDeletePrune && !slices.Contains(push.Options, OptionAllowPrune) {
				fmt.Fprintf(out, "gitopsd: refused %s\n", u.Name)
				fmt.Fprintf(out, "  %s: deleting branch %s prunes every object of %s (on_delete: prune)\n", RulePruneGuard, branch, config.Names(envs))
				fmt.Fprintf(out, "  hint: if that is what you want: git push -o %s origin :%s\n", OptionAllowPrune, branch)
				return rejection(fmt.Sprintf("deleting branch %s would prune %s", branch, config.Names(envs)))
			}
			continue
		}
		shared := len(envs) > 1
		for _, env := range envs {
			checked++
			t := Target{Repo: push.Repo, EnvName: env.Name, Env: env, Commit: u.New,
				AllowPrune: slices.Contains(push.Options, OptionAllowPrune)}
			if !repo.CanDeploy(push.User, env) {
				t.Denied = fmt.Sprintf("%s may not change environment %s (push: %s), and this push changes what it deploys",
					push.User, env.Name, strings.Join(repo.Deployers(env), ", "))
			}
			if !h.checkEnv(ctx, push, u, t, shared, checker, objectDirs, style, out) {
				rejected++
			}
		}
	}
	switch {
	case rejected > 0:
		return rejection(fmt.Sprintf("%d of %d environment(s) failed their checks", rejected, checked))
	case dryRun:
		return rejection(fmt.Sprintf("dry run (-o %s): checks passed, nothing was changed", OptionDryRun))
	}
	return nil
}

// checkEnv checks one environment of a branch update and writes its report; it reports
// whether the environment passed. On a branch that deploys several environments (shared),
// the environment's render before the push is its Previous, so that one the push does not
// change is said to be unchanged rather than checked again.
func (h *PreReceive) checkEnv(ctx context.Context, push *gitserver.Push, u gitserver.RefUpdate, t Target, shared bool,
	checker *Checker, objectDirs []string, style Style, out io.Writer) bool {
	env := t.Env
	log := h.Log.With().Str("repo", push.Repo).Str("env", env.Name).Str("ref", u.Name).Str("commit", u.New).Str("user", push.User).Logger()
	fmt.Fprintf(out, "gitopsd: checking %s/%s (%s) ...\n", push.Repo, env.Name, env.Path)
	start := time.Now()
	opts := gittree.Options{ObjectDirs: objectDirs, MaxBytes: env.Render.MaxBytes, MaxFileBytes: env.Render.MaxBytes}
	tree, err := gittree.Open(push.RepoDir, u.New, opts)
	var rep *Report
	if err != nil {
		log.Error().Err(err).Msg("open pushed tree")
		rep = &Report{Repo: push.Repo, Env: env.Name, Branch: env.Branch, Cluster: env.Cluster, Commit: u.New,
			Problems: []Problem{{Rule: "read", Message: "the pushed commit could not be read", Hint: "this is gitopsd's fault, not yours; the server log has details"}}}
	} else {
		if shared && !u.IsCreate() {
			t.Previous = h.digest(ctx, checker, push, env, u.Old, opts)
		}
		t.Tree = tree
		checked := checker.Check(ctx, t)
		rep = checked.Report
		h.remember(push.Repo, env, u.New, checked.Digest)
	}
	rep.Write(out, style)
	if h.Metrics != nil {
		h.Metrics.ValidationSeconds.WithLabelValues(push.Repo, env.Name).Observe(time.Since(start).Seconds())
	}
	log.Info().Bool("ok", rep.OK()).Bool("unchanged", rep.Unchanged > 0).Int("problems", len(rep.Problems)).Dur("duration_ms", time.Since(start)).Msg("pre-receive checked")
	return rep.OK()
}

// digest is Checker.Digest of env at commit, remembered: the commit before a push is
// usually the one the last push rendered.
func (h *PreReceive) digest(ctx context.Context, checker *Checker, push *gitserver.Push, env config.Environment, commit string, opts gittree.Options) string {
	key := digestKey(push.Repo, env, commit)
	if d, ok := h.digests.Load(key); ok {
		return d.(string)
	}
	tree, err := gittree.Open(push.RepoDir, commit, opts)
	if err != nil {
		return ""
	}
	d := checker.Digest(ctx, env, tree)
	h.remember(push.Repo, env, commit, d)
	return d
}

// maxDigests bounds the digests remembered; past it they are forgotten all at once, which
// costs one render per shared-branch environment at the next push.
const maxDigests = 4096

func (h *PreReceive) remember(repo string, env config.Environment, commit, digest string) {
	if digest == "" {
		return
	}
	if h.ndigests.Add(1) > maxDigests {
		h.digests.Clear()
		h.ndigests.Store(0)
	}
	h.digests.Store(digestKey(repo, env, commit), digest)
}

// digestKey names a render: the repo, the commit and every setting of the environment
// (one changed by a reload renders differently).
func digestKey(repo string, env config.Environment, commit string) string {
	settings, _ := json.Marshal(env)
	sum := sha256.Sum256(settings)
	return repo + "\x00" + env.Name + "\x00" + commit + "\x00" + hex.EncodeToString(sum[:8])
}
