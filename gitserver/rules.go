package gitserver

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/termtext"
)

// refState is what the ref rules need to know of the repository beyond the push itself.
type refState interface {
	// isAncestor reports whether old is an ancestor of new, seeing the push's objects; a
	// commit the repository does not hold is an ancestor of nothing.
	isAncestor(ctx context.Context, old, new string) (bool, error)
	// exists reports whether the full ref name exists (before the push).
	exists(ctx context.Context, ref string) (bool, error)
}

// Rules of the built-in ref rules, as the pusher sees them (the renderer's and the checks'
// rules are in packages render and hooks).
const (
	RuleRefKind       = "ref-kind"       // neither a branch nor a tag
	RuleRefPermission = "ref-permission" // the user may not write this branch or push tags
	RuleRefName       = "ref-name"       // the name would make a short ref name ambiguous
	RuleBranchDelete  = "branch-delete"  // an environment branch without allow_delete
	RuleFastForward   = "fast-forward"   // a rewrite of an environment branch without allow_force_push
	RuleTagMove       = "tag-move"       // a tag moved or deleted without tags.allow_move
	RuleRefCheck      = "ref-check"      // the repository could not be read to decide
	// RuleRepoPermission refuses a push by a reader at the SSH session, before any ref.
	RuleRepoPermission = "repo-permission"
)

// RefRules lists every rule of the ref rules, for the tests that walk them all.
var RefRules = []string{RuleRefKind, RuleRefPermission, RuleRefName, RuleBranchDelete, RuleFastForward, RuleTagMove, RuleRefCheck}

// refusal is one refused ref update: the rule that refused it, why, and what to do.
type refusal struct {
	Ref, Rule, Message, Hint string
}

// String is the refusal on one line, for the log.
func (r refusal) String() string { return fmt.Sprintf("%s: %s [%s]", r.Ref, r.Message, r.Rule) }

// write prints the refusal as the checks' reports print a problem: the ref, then the rule
// and message, then the hint.
func (r refusal) write(w io.Writer) {
	fmt.Fprintf(w, "gitopsd: refused %s\n", termtext.Clean(r.Ref))
	fmt.Fprintf(w, "  %s: %s\n", r.Rule, termtext.Clean(r.Message))
	if r.Hint != "" {
		fmt.Fprintf(w, "  hint: %s\n", termtext.Clean(r.Hint))
	}
}

// Error makes a refusal the error of a session that is refused before any ref is read
// (RuleRepoPermission); the session prints it with write.
func (r *refusal) Error() string { return r.String() }

// refused is a refusal of rule without the ref, which checkRefRules adds.
func refused(rule, message, hint string) *refusal {
	return &refusal{Rule: rule, Message: message, Hint: hint}
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
func checkRefRules(ctx context.Context, in ruleInput) []refusal {
	var problems []refusal
	for _, u := range in.updates {
		if r := in.check(ctx, u); r != nil {
			r.Ref = u.Name
			problems = append(problems, *r)
		}
	}
	return problems
}

// check returns why u is refused, or nil.
func (in ruleInput) check(ctx context.Context, u RefUpdate) *refusal {
	if branch, ok := u.Branch(); ok {
		return in.checkBranch(ctx, u, branch)
	}
	if tag, ok := u.Tag(); ok {
		return in.checkTag(ctx, u, tag)
	}
	return refused(RuleRefKind, "only branches (refs/heads/) and tags (refs/tags/) may be pushed",
		"push to a branch: git push origin HEAD:refs/heads/NAME")
}

func (in ruleInput) checkBranch(ctx context.Context, u RefUpdate, branch string) *refusal {
	if !in.repo.CanPushBranch(in.user, branch) {
		return refused(RuleRefPermission, fmt.Sprintf("%s may not push to branch %s of %s", in.user, branch, in.repoName),
			"ask the server's admins for write access (write: and push: in repos.yaml)")
	}
	if u.IsCreate() {
		if r := in.caseCollision(branch); r != nil {
			return r
		}
		if r := in.collision(ctx, "refs/tags/"+branch, "tag", branch, "branch"); r != nil {
			return r
		}
	}
	// The environments of one branch agree on what the branch allows (config checks it),
	// so the first one speaks for them all.
	envs := in.repo.EnvironmentsForBranch(branch)
	if len(envs) == 0 {
		return nil
	}
	env, names := envs[0], config.Names(envs)
	switch {
	case u.IsDelete():
		if !env.AllowDelete {
			return refused(RuleBranchDelete, fmt.Sprintf("branch %s deploys %s and may not be deleted", branch, names),
				"an environment branch stays; allow_delete: true in repos.yaml lets it go")
		}
		return nil
	case env.AllowForcePush:
		return nil
	case u.IsCreate():
		for _, e := range envs {
			if r := in.checkComeback(ctx, u, branch, e.Name); r != nil {
				return r
			}
		}
		return nil
	}
	ff, err := in.state.isAncestor(ctx, u.Old, u.New)
	switch {
	case err != nil:
		return refused(RuleRefCheck, "could not check that the update is a fast-forward", "push again; if it goes on, the server log says why")
	case !ff:
		return refused(RuleFastForward, fmt.Sprintf("non-fast-forward update of branch %s, which deploys %s (allow_force_push is off)", branch, names),
			"pull, rebase or merge, and push again")
	}
	return nil
}

// checkComeback is the fast-forward rule for an environment branch that is created: once
// something was applied from it, deleting the branch and pushing other history under its
// name would be a force-push by two steps.
func (in ruleInput) checkComeback(ctx context.Context, u RefUpdate, branch, envName string) *refusal {
	base := ""
	if in.lastApplied != nil {
		base = in.lastApplied(envName)
	}
	if base == "" || base == u.New {
		return nil
	}
	ff, err := in.state.isAncestor(ctx, base, u.New)
	switch {
	case err != nil:
		return refused(RuleRefCheck, "could not check that the branch comes back as a fast-forward", "push again; if it goes on, the server log says why")
	case !ff:
		return refused(RuleFastForward, fmt.Sprintf("branch %s deploys environment %s and may come back only as a fast-forward of %s, the commit last applied to it (allow_force_push is off)",
			branch, envName, short(base)), "push a descendant of that commit: git fetch, then rebase onto it")
	}
	return nil
}

func (in ruleInput) checkTag(ctx context.Context, u RefUpdate, tag string) *refusal {
	if !in.repo.CanPushTag(in.user) {
		return refused(RuleRefPermission, fmt.Sprintf("%s may not push tags to %s", in.user, in.repoName),
			"ask the server's admins to add you to tags.write in repos.yaml")
	}
	if u.IsCreate() {
		if envs := in.repo.EnvironmentsForBranch(tag); len(envs) > 0 {
			return refused(RuleRefName, fmt.Sprintf("tag %s has the name of branch %s, which deploys %s: `git push origin HEAD:%s` would match both", tag, tag, config.Names(envs), tag),
				"name the tag differently")
		}
		if r := in.caseCollision(tag); r != nil {
			return r
		}
		return in.collision(ctx, "refs/heads/"+tag, "branch", tag, "tag")
	}
	if in.repo.Tags != nil && in.repo.Tags.AllowMove {
		return nil
	}
	if u.IsDelete() && in.shadowsBranch(ctx, tag) {
		return nil // the way out for a tag pushed before these rules: it hides a branch
	}
	verb := "moved"
	if u.IsDelete() {
		verb = "deleted"
	}
	return refused(RuleTagMove, fmt.Sprintf("tag %s already exists and may not be %s (tags.allow_move is off)", tag, verb), "push a new tag instead")
}

// collision refuses a new ref whose short name another ref (other, of kind otherKind)
// holds, or will hold after this push: `git push origin HEAD:name` would then match both.
func (in ruleInput) collision(ctx context.Context, other, otherKind, name, kind string) *refusal {
	where := ""
	for _, u := range in.updates {
		if u.Name == other {
			if u.IsDelete() {
				return nil
			}
			where = "is pushed too"
		}
	}
	if where == "" {
		ok, err := in.state.exists(ctx, other)
		switch {
		case err != nil:
			return refused(RuleRefCheck, fmt.Sprintf("could not check whether %s %s exists", otherKind, name), "push again; if it goes on, the server log says why")
		case !ok:
			return nil
		}
		where = "exists"
	}
	return refused(RuleRefName, fmt.Sprintf("%s %s %s, and a %s of the same name would make `git push origin HEAD:%s` ambiguous",
		otherKind, name, where, kind, name), "name the "+kind+" differently")
}

// caseCollision refuses a name that differs from an environment's branch only in case.
func (in ruleInput) caseCollision(name string) *refusal {
	for envName, env := range in.repo.Environments {
		if env.Branch != name && strings.EqualFold(env.Branch, name) {
			return refused(RuleRefName, fmt.Sprintf("%s differs from branch %s, which deploys environment %s, only in case", name, env.Branch, envName),
				"use another name: a clone on a case-insensitive file system (macOS, Windows) cannot hold both")
		}
	}
	return nil
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
