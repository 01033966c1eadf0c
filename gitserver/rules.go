package gitserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/gitopsd/gitopsd/config"
)

// ancestry answers whether old is an ancestor of new, seeing the push's quarantined objects.
type ancestry func(ctx context.Context, old, new string) (bool, error)

// checkRefRules applies the rules that need nothing but repos.yaml and the objects: who may
// write which branch or tag, and what environment branches and tags refuse. It returns one
// message per refused update, each naming the ref, the rule and what to do about it.
func checkRefRules(ctx context.Context, repoName string, repo config.Repo, user string, updates []RefUpdate, isAncestor ancestry) []string {
	var problems []string
	refuse := func(u RefUpdate, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s", u.Name, fmt.Sprintf(format, args...)))
	}
	for _, u := range updates {
		if branch, ok := u.Branch(); ok {
			if !repo.CanPushBranch(user, branch) {
				refuse(u, "%s may not push to branch %s of %s (ask for write access in repos.yaml)", user, branch, repoName)
				continue
			}
			envName, env, isEnv := repo.EnvironmentForBranch(branch)
			if !isEnv {
				continue
			}
			if u.IsDelete() {
				if !env.AllowDelete {
					refuse(u, "branch %s deploys environment %s and may not be deleted (allow_delete is off)", branch, envName)
				}
				continue
			}
			if u.IsCreate() || env.AllowForcePush {
				continue
			}
			ff, err := isAncestor(ctx, u.Old, u.New)
			switch {
			case err != nil:
				refuse(u, "could not check that the update is a fast-forward; try again")
			case !ff:
				refuse(u, "non-fast-forward update of branch %s, which deploys environment %s (allow_force_push is off); pull, rebase or merge, and push again", branch, envName)
			}
			continue
		}
		if tag, ok := u.Tag(); ok {
			if !repo.CanPushTag(user) {
				refuse(u, "%s may not push tags to %s", user, repoName)
				continue
			}
			if !u.IsCreate() && (repo.Tags == nil || !repo.Tags.AllowMove) {
				verb := "moved"
				if u.IsDelete() {
					verb = "deleted"
				}
				refuse(u, "tag %s already exists and may not be %s (tags.allow_move is off); push a new tag instead", tag, verb)
			}
			continue
		}
		refuse(u, "only branches (refs/heads/) and tags (refs/tags/) may be pushed")
	}
	return problems
}

// gitAncestry runs `git merge-base --is-ancestor` in repoDir with the quarantine environment,
// so that commits of the push itself, not yet in the repo, are found.
func gitAncestry(git, repoDir string, quarantine []string) ancestry {
	return func(ctx context.Context, old, new string) (bool, error) {
		cmd := exec.CommandContext(ctx, git, "merge-base", "--is-ancestor", old, new)
		cmd.Dir = repoDir
		cmd.Env = gitEnv(append([]string{"GIT_DIR=" + repoDir}, quarantine...))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			return false, nil
		default:
			return false, fmt.Errorf("git merge-base %s %s: %w: %s", old, new, err, strings.TrimSpace(string(out)))
		}
	}
}
