package gitserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitopsd/gitopsd/config"
)

// refState is what the ref rules need to know of the repository beyond the push itself.
type refState interface {
	// isAncestor reports whether old is an ancestor of new, seeing the push's objects; a
	// commit the repository does not hold is an ancestor of nothing.
	isAncestor(ctx context.Context, old, new string) (bool, error)
	// exists reports whether the full ref name exists (before the push).
	exists(ctx context.Context, ref string) (bool, error)
}

// ruleInput is one push as the ref rules see it.
type ruleInput struct {
	repoName string
	repo     config.Repo
	user     string
	updates  []RefUpdate
	state    refState
	// lastApplied returns the commit last applied to an environment, "" if none is known.
	lastApplied func(env string) string
}

// checkRefRules applies the rules that need nothing but repos.yaml, the repository and
// what was applied: who may write which branch or tag, what environment branches and tags
// refuse, and names that would make a short ref name ambiguous. It returns one message per
// refused update, each naming the ref, the rule and what to do about it.
func checkRefRules(ctx context.Context, in ruleInput) []string {
	var problems []string
	for _, u := range in.updates {
		if msg := in.check(ctx, u); msg != "" {
			problems = append(problems, u.Name+": "+msg)
		}
	}
	return problems
}

// check returns why u is refused, or "".
func (in ruleInput) check(ctx context.Context, u RefUpdate) string {
	if branch, ok := u.Branch(); ok {
		return in.checkBranch(ctx, u, branch)
	}
	if tag, ok := u.Tag(); ok {
		return in.checkTag(ctx, u, tag)
	}
	return "only branches (refs/heads/) and tags (refs/tags/) may be pushed"
}

func (in ruleInput) checkBranch(ctx context.Context, u RefUpdate, branch string) string {
	if !in.repo.CanPushBranch(in.user, branch) {
		return fmt.Sprintf("%s may not push to branch %s of %s (ask for write access in repos.yaml)", in.user, branch, in.repoName)
	}
	if u.IsCreate() {
		if msg := in.caseCollision(branch); msg != "" {
			return msg
		}
		if msg := in.collision(ctx, "refs/tags/"+branch, "tag", branch, "branch"); msg != "" {
			return msg
		}
	}
	// The environments of one branch agree on what the branch allows (config checks it),
	// so the first one speaks for them all.
	envs := in.repo.EnvironmentsForBranch(branch)
	if len(envs) == 0 {
		return ""
	}
	env, names := envs[0], config.Names(envs)
	switch {
	case u.IsDelete():
		if !env.AllowDelete {
			return fmt.Sprintf("branch %s deploys %s and may not be deleted (allow_delete is off)", branch, names)
		}
		return ""
	case env.AllowForcePush:
		return ""
	case u.IsCreate():
		for _, e := range envs {
			if msg := in.checkComeback(ctx, u, branch, e.Name); msg != "" {
				return msg
			}
		}
		return ""
	}
	ff, err := in.state.isAncestor(ctx, u.Old, u.New)
	switch {
	case err != nil:
		return "could not check that the update is a fast-forward; try again"
	case !ff:
		return fmt.Sprintf("non-fast-forward update of branch %s, which deploys %s (allow_force_push is off); pull, rebase or merge, and push again", branch, names)
	}
	return ""
}

// checkComeback is the fast-forward rule for an environment branch that is created: once
// something was applied from it, deleting the branch and pushing other history under its
// name would be a force-push by two steps.
func (in ruleInput) checkComeback(ctx context.Context, u RefUpdate, branch, envName string) string {
	base := ""
	if in.lastApplied != nil {
		base = in.lastApplied(envName)
	}
	if base == "" || base == u.New {
		return ""
	}
	ff, err := in.state.isAncestor(ctx, base, u.New)
	switch {
	case err != nil:
		return "could not check that the branch comes back as a fast-forward; try again"
	case !ff:
		return fmt.Sprintf("branch %s deploys environment %s and may come back only as a fast-forward of %s, the commit last applied to it (allow_force_push is off); push a descendant of that commit",
			branch, envName, short(base))
	}
	return ""
}

func (in ruleInput) checkTag(ctx context.Context, u RefUpdate, tag string) string {
	if !in.repo.CanPushTag(in.user) {
		return fmt.Sprintf("%s may not push tags to %s", in.user, in.repoName)
	}
	if u.IsCreate() {
		if envs := in.repo.EnvironmentsForBranch(tag); len(envs) > 0 {
			return fmt.Sprintf("tag %s has the name of branch %s, which deploys %s: `git push origin HEAD:%s` would match both; name the tag differently", tag, tag, config.Names(envs), tag)
		}
		if msg := in.caseCollision(tag); msg != "" {
			return msg
		}
		return in.collision(ctx, "refs/heads/"+tag, "branch", tag, "tag")
	}
	if in.repo.Tags != nil && in.repo.Tags.AllowMove {
		return ""
	}
	if u.IsDelete() && in.shadowsBranch(ctx, tag) {
		return "" // the way out for a tag pushed before these rules: it hides a branch
	}
	verb := "moved"
	if u.IsDelete() {
		verb = "deleted"
	}
	return fmt.Sprintf("tag %s already exists and may not be %s (tags.allow_move is off); push a new tag instead", tag, verb)
}

// collision refuses a new ref whose short name another ref (other, of kind otherKind)
// holds, or will hold after this push: `git push origin HEAD:name` would then match both.
func (in ruleInput) collision(ctx context.Context, other, otherKind, name, kind string) string {
	where := ""
	for _, u := range in.updates {
		if u.Name == other {
			if u.IsDelete() {
				return ""
			}
			where = "is pushed too"
		}
	}
	if where == "" {
		ok, err := in.state.exists(ctx, other)
		switch {
		case err != nil:
			return fmt.Sprintf("could not check whether %s %s exists; try again", otherKind, name)
		case !ok:
			return ""
		}
		where = "exists"
	}
	return fmt.Sprintf("%s %s %s, and a %s of the same name would make `git push origin HEAD:%s` ambiguous; name the %s differently",
		otherKind, name, where, kind, name, kind)
}

// caseCollision refuses a name that differs from an environment's branch only in case.
func (in ruleInput) caseCollision(name string) string {
	for envName, env := range in.repo.Environments {
		if env.Branch != name && strings.EqualFold(env.Branch, name) {
			return fmt.Sprintf("%s differs from branch %s, which deploys environment %s, only in case; a clone on a case-insensitive file system (macOS, Windows) cannot hold both: use another name",
				name, env.Branch, envName)
		}
	}
	return ""
}

// shadowsBranch reports whether a tag has the name of an environment branch or of an
// existing branch.
func (in ruleInput) shadowsBranch(ctx context.Context, tag string) bool {
	if len(in.repo.EnvironmentsForBranch(tag)) > 0 {
		return true
	}
	ok, err := in.state.exists(ctx, "refs/heads/"+tag)
	return err == nil && ok
}
