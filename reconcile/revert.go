package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"

	"github.com/gitopsd/gitopsd/config"
)

// errBranchMoved means the branch no longer points at the commit a rollback reverts: a
// push landed meanwhile, and it is what the branch says now.
var errBranchMoved = errors.New("the branch moved on since the failed commit")

// revertCommit writes, in the bare repository at dir, a commit whose files are target's and
// whose parent is failed, and moves branch to it if the branch still points at failed.
// On a branch that deploys several environments, own says which files are the
// environment's: only those are restored, and the others keep failed's version (see
// ownFiles); nil restores every file.
// It runs the git binary (commit-tree, update-ref): update-ref takes the same lock file as
// receive-pack, so a push racing the rollback either lands first (errBranchMoved) or
// after, as a fast-forward of the revert or not at all. go-git's reference update does
// not take git's lock.
func revertCommit(ctx context.Context, gitBin, dir, branch, failed, target, message string, own func(string) bool) (string, error) {
	run := func(stdin string, args ...string) (string, error) { return gitRun(ctx, gitBin, dir, stdin, args...) }
	tree := target + "^{tree}"
	if own != nil {
		var err error
		if tree, err = restoredTree(ctx, gitBin, dir, failed, target, own); err != nil {
			return "", err
		}
	}
	commit, err := run(message, "commit-tree", tree, "-p", failed)
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

// restoredTree writes the tree of failed with every file that own claims and that differs
// from target set back to target's version (deleted if target has none), and returns its
// id. It works in an index file of its own, removed after: the repository's files and
// refs are not touched.
func restoredTree(ctx context.Context, gitBin, dir, failed, target string, own func(string) bool) (string, error) {
	index, err := os.CreateTemp(dir, "gitopsd-revert-*.index")
	if err != nil {
		return "", err
	}
	index.Close()
	defer os.Remove(index.Name())
	// An empty file is not an index: read-tree writes it.
	os.Remove(index.Name())
	run := func(stdin string, args ...string) (string, error) {
		// Pushed file names are names, never patterns.
		return gitRunEnv(ctx, gitBin, dir, []string{"GIT_INDEX_FILE=" + index.Name(), "GIT_LITERAL_PATHSPECS=1"}, stdin, args...)
	}
	if _, err := run("", "read-tree", failed+"^{tree}"); err != nil {
		return "", err
	}
	diff, err := run("", "diff-tree", "-r", "-z", "--no-renames", "--name-only", target, failed)
	if err != nil {
		return "", err
	}
	var restore []string
	for _, p := range strings.Split(diff, "\x00") {
		if p != "" && own(p) {
			restore = append(restore, p)
		}
	}
	if len(restore) == 0 {
		return run("", "write-tree")
	}
	// Target's entries of those files (mode, id, path), then the ones it lacks removed.
	listed, err := run("", append([]string{"ls-tree", "-r", "-z", "--full-tree", target, "--"}, restore...)...)
	if err != nil {
		return "", err
	}
	var info strings.Builder
	has := map[string]bool{}
	for _, entry := range strings.Split(listed, "\x00") {
		meta, name, ok := strings.Cut(entry, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta) // mode type id
		if len(f) != 3 {
			continue
		}
		has[name] = true
		fmt.Fprintf(&info, "%s %s\t%s\x00", f[0], f[2], name)
	}
	for _, p := range restore {
		if !has[p] {
			fmt.Fprintf(&info, "0 %s\t%s\x00", strings.Repeat("0", 40), p)
		}
	}
	if _, err := run(info.String(), "update-index", "-z", "--index-info"); err != nil {
		return "", err
	}
	return run("", "write-tree")
}

// restoring is what a rollback of env restores: every file (nil), or on a branch that
// deploys several environments, env's own (ownFiles).
func restoring(repo config.Repo, env config.Environment) func(string) bool {
	envs := repo.EnvironmentsForBranch(env.Branch)
	if len(envs) < 2 {
		return nil
	}
	return ownFiles(env, envs)
}

// ownFiles says which files of the repository are env's on a branch that deploys several
// environments (others): those under its path, and those under no other environment's
// path (bases and components they share). A rollback of env restores these; another
// environment's directory keeps its newer files.
func ownFiles(env config.Environment, others []config.Environment) func(string) bool {
	under := func(file, dir string) bool {
		dir = path.Clean(dir)
		return dir == "." || file == dir || strings.HasPrefix(file, dir+"/")
	}
	return func(file string) bool {
		if under(file, env.Path) {
			return true
		}
		for _, o := range others {
			if o.Name != env.Name && under(file, o.Path) {
				return false
			}
		}
		return true
	}
}

// gitRun runs git on the bare repository at dir and returns its trimmed output. No
// configuration of the machine's or the daemon user's may change what it reads or writes,
// and what it commits is authored by gitopsd, whoever runs it.
func gitRun(ctx context.Context, gitBin, dir, stdin string, args ...string) (string, error) {
	return gitRunEnv(ctx, gitBin, dir, nil, stdin, args...)
}

// gitRunEnv is gitRun with extra environment variables (an index file of its own).
func gitRunEnv(ctx context.Context, gitBin, dir string, env []string, stdin string, args ...string) (string, error) {
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
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// revertMessage is the rollback commit's message: what failed, why, and what it restores.
func revertMessage(env, failed, target, why string, shared bool) string {
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
	if shared {
		fmt.Fprintf(&b, "Only %s's files are restored (its directory, and the files that are in no\nenvironment's directory): the other environments of the branch keep theirs.\n", env)
	}
	return b.String()
}
