package gitserver

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/gitopsd/gitopsd/config"
)

// Services a client may ask for.
const (
	serviceUploadPack  = "upload-pack"
	serviceReceivePack = "receive-pack"
)

var (
	// errBadPath is returned for repo paths that try to leave the data directory.
	errBadPath = errors.New("invalid repository path")
	// errNoRepo is returned for repos that do not exist; the session shows the same message
	// for repos the user may not read, so that names do not leak.
	errNoRepo = errors.New("repository does not exist")
)

// request is a parsed exec request.
type request struct {
	// Verb is upload-pack, receive-pack, help, usage (Args[0] names the command), status,
	// sync or rollback.
	Verb string
	// Path is the repo path as the client wrote it (git commands only).
	Path string
	// Args are the arguments of status ([repo [env]]), sync and recipients (repo env) and
	// rollback (repo env [commit]).
	Args []string
}

// usage is each command's synopsis and what it does, for `CMD --help` and `help CMD`.
var usage = map[string]string{
	"help":     "help\n  your repositories, their environments and these commands",
	"status":   "status [REPO [ENV]] | status REPO/ENV\n  the environments you may read: the commit applied, its outcome, health and drift",
	"sync":     "sync REPO ENV | sync REPO/ENV\n  apply the branch head now, taking back the fields someone changed by hand\n  (for those who may push the environment's branch)",
	"rollback": "rollback REPO ENV [COMMIT] | rollback REPO/ENV [COMMIT]\n  commit a revert of the branch to COMMIT (default: the last healthy one) and apply it\n  (for those who may push the environment's branch)",
	"promote":  "promote REPO ENV | promote REPO/ENV\n  let a release waiting at a step with pause: {} go on to its next step\n  (for those who may push the environment's branch)",
	"abort":    "abort REPO ENV | abort REPO/ENV\n  stop a release waiting at a step with pause: {}: the canary goes, and the release is\n  rolled back as a commit (for those who may push the environment's branch)",
}

func isHelpFlag(s string) bool { return s == "--help" || s == "-h" || s == "help" }

// parseCommand recognizes the few commands gitopsd serves: the git transport in both of its
// spellings, help, status, sync and rollback. Everything else is an error naming the
// command. The REPO/ENV form of an environment is split later, against the configuration
// (see splitEnv).
func parseCommand(args []string) (request, error) {
	if len(args) == 0 {
		return request{Verb: "help"}, nil
	}
	if _, ok := usage[args[0]]; ok && len(args) >= 2 && isHelpFlag(args[1]) {
		return request{Verb: "usage", Args: args[:1]}, nil
	}
	if len(args) == 2 && args[0] == "help" {
		if _, ok := usage[args[1]]; ok {
			return request{Verb: "usage", Args: args[1:]}, nil
		}
	}
	switch {
	case len(args) == 1 && args[0] == "help":
		return request{Verb: args[0]}, nil
	case len(args) <= 3 && args[0] == "status":
		return request{Verb: args[0], Args: args[1:]}, nil
	case (len(args) == 2 || len(args) == 3) && isEnvVerb(args[0]), len(args) >= 2 && len(args) <= 4 && args[0] == "rollback":
		return request{Verb: args[0], Args: args[1:]}, nil
	case (len(args) == 2 || len(args) == 3) && args[0] == "recipients":
		return request{Verb: args[0], Args: args[1:]}, nil
	case isEnvVerb(args[0]) || args[0] == "rollback" || args[0] == "recipients":
		return request{}, fmt.Errorf("usage: %s", strings.SplitN(usage[args[0]], "\n", 2)[0])
	case len(args) == 2 && (args[0] == "git-upload-pack" || args[0] == "git-receive-pack"):
		return request{Verb: strings.TrimPrefix(args[0], "git-"), Path: args[1]}, nil
	case len(args) == 3 && args[0] == "git" && (args[1] == serviceUploadPack || args[1] == serviceReceivePack):
		return request{Verb: args[1], Path: args[2]}, nil
	}
	return request{}, fmt.Errorf("unknown command %q: this server runs only git fetch/push (git-upload-pack, git-receive-pack), help, status, sync, rollback, promote, abort and recipients", strings.Join(args, " "))
}

// isEnvVerb says whether verb takes REPO ENV and nothing else.
func isEnvVerb(verb string) bool { return verb == "sync" || verb == "promote" || verb == "abort" }

// splitEnv turns the REPO/ENV form that status prints into REPO ENV (at the last "/", since
// repository names may hold slashes), unless the whole names a repository.
func splitEnv(cfg *config.Config, args []string) []string {
	if len(args) == 0 {
		return args
	}
	if _, ok := cfg.Repos[args[0]]; ok {
		return args
	}
	i := strings.LastIndexByte(args[0], '/')
	if i <= 0 || i == len(args[0])-1 {
		return args
	}
	return append([]string{args[0][:i], args[0][i+1:]}, args[1:]...)
}

// envArgs checks the arguments of sync (REPO ENV) and rollback (REPO ENV [COMMIT]) once the
// REPO/ENV form is split.
func envArgs(verb string, args []string) error {
	if n := len(args); n == 2 || verb == "rollback" && n == 3 {
		return nil
	}
	return fmt.Errorf("usage: %s", strings.SplitN(usage[verb], "\n", 2)[0])
}

// resolveRepo maps the path a client asked for to a repo of cfg. It accepts the forms git
// and people write ("platform", "/platform", "platform.git", "/platform.git/", "~/platform")
// and nothing that walks: no "..", no other absolute path, no option-looking names. The
// result is always a name listed in repos.yaml, so the directory comes from the server.
func resolveRepo(cfg *config.Config, raw string) (string, error) {
	p := raw
	if p == "" || strings.HasPrefix(p, "-") || strings.ContainsAny(p, "\x00\\") {
		return "", errBadPath
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", errBadPath
		}
	}
	p = strings.TrimPrefix(p, "~/")
	p = strings.Trim(p, "/")
	p = strings.TrimSuffix(p, ".git")
	if p == "" || path.Clean(p) != p || strings.HasPrefix(p, "-") {
		return "", errBadPath
	}
	if _, ok := cfg.Repos[p]; !ok {
		return p, errNoRepo
	}
	return p, nil
}

// RepoDir is where the bare repository of repo lives under dataDir.
func RepoDir(dataDir, repo string) string {
	return filepath.Join(dataDir, "repos", filepath.FromSlash(repo)+".git")
}
