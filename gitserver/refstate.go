package gitserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// gitRefState answers with git in repoDir, with the quarantine environment, so that
// commits of the push itself, not yet in the repo, are found.
type gitRefState struct {
	git, repoDir string
	quarantine   []string
}

var _ refState = gitRefState{}

func (g gitRefState) run(ctx context.Context, args ...string) (exit int, out string, err error) {
	cmd := exec.CommandContext(ctx, g.git, args...)
	cmd.Dir = g.repoDir
	cmd.Env = gitEnv(append([]string{"GIT_DIR=" + g.repoDir}, g.quarantine...))
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(b), nil
	}
	if err != nil {
		return -1, string(b), fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return 0, string(b), nil
}

func (g gitRefState) isAncestor(ctx context.Context, old, new string) (bool, error) {
	exit, out, err := g.run(ctx, "merge-base", "--is-ancestor", old, new)
	switch {
	case err != nil:
		return false, err
	case exit == 0:
		return true, nil
	case exit == 1:
		return false, nil
	}
	// A commit the repository no longer holds (pruned after its branch was deleted)
	// cannot be in new's history.
	if missing, _, err := g.run(ctx, "cat-file", "-e", old+"^{commit}"); err == nil && missing != 0 {
		return false, nil
	}
	return false, fmt.Errorf("git merge-base %s %s: exit %d: %s", old, new, exit, strings.TrimSpace(out))
}

func (g gitRefState) exists(ctx context.Context, ref string) (bool, error) {
	exit, out, err := g.run(ctx, "show-ref", "--verify", "--quiet", ref)
	switch {
	case err != nil:
		return false, err
	case exit == 0:
		return true, nil
	case exit == 1:
		return false, nil
	}
	return false, fmt.Errorf("git show-ref %s: exit %d: %s", ref, exit, strings.TrimSpace(out))
}
