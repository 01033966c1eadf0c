package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// errBranchMoved means the branch no longer points at the commit a rollback reverts: a
// push landed meanwhile, and it is what the branch says now.
var errBranchMoved = errors.New("the branch moved on since the failed commit")

// revertCommit writes, in the bare repository at dir, a commit whose tree is target's and
// whose parent is failed, and moves branch to it if the branch still points at failed.
// It runs the git binary (commit-tree, update-ref): update-ref takes the same lock file as
// receive-pack, so a push racing the rollback either lands first (errBranchMoved) or
// after, as a fast-forward of the revert or not at all. go-git's reference update does
// not take git's lock.
func revertCommit(ctx context.Context, gitBin, dir, branch, failed, target, message string) (string, error) {
	run := func(stdin string, args ...string) (string, error) { return gitRun(ctx, gitBin, dir, stdin, args...) }
	commit, err := run(message, "commit-tree", target+"^{tree}", "-p", failed)
	if err != nil {
		return "", err
	}
	if _, err := run("", "update-ref", "-m", "gitopsd: roll back to "+target, "refs/heads/"+branch, commit, failed); err != nil {
		if head, herr := branchHead(dir, branch); herr == nil && head != failed {
			return "", errBranchMoved
		}
		return "", err
	}
	return commit, nil
}

// gitRun runs git on the bare repository at dir and returns its trimmed output. No
// configuration of the machine's or the daemon user's may change what it reads or writes,
// and what it commits is authored by gitopsd, whoever runs it.
func gitRun(ctx context.Context, gitBin, dir, stdin string, args ...string) (string, error) {
	if gitBin == "" {
		gitBin = "git"
	}
	cmd := exec.CommandContext(ctx, gitBin, append([]string{"--git-dir", dir}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=gitopsd", "GIT_AUTHOR_EMAIL=gitopsd@localhost",
		"GIT_COMMITTER_NAME=gitopsd", "GIT_COMMITTER_EMAIL=gitopsd@localhost",
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// revertMessage is the rollback commit's message: what failed, why, and what it restores.
func revertMessage(env, failed, target, why string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gitopsd: roll %s back to %.12s\n\n", env, target)
	fmt.Fprintf(&b, "%.12s failed its health check", failed)
	if why != "" {
		b.WriteString(":\n\n")
		for _, l := range strings.Split(why, "\n") {
			b.WriteString(strings.TrimRight(l, " ") + "\n")
		}
	} else {
		b.WriteString(".\n")
	}
	fmt.Fprintf(&b, "\nThis commit restores the files of %s, the last commit seen healthy,\nso that the branch says what runs. Revert it (or push a fix) to try again.\n", target)
	return b.String()
}
