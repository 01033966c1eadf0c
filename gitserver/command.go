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
	// Verb is upload-pack, receive-pack, help, status, sync or rollback.
	Verb string
	// Path is the repo path as the client wrote it (git commands only).
	Path string
	// Args are the arguments of status ([repo [env]]), sync (repo env) and rollback (repo
	// env [commit]).
	Args []string
}

// parseCommand recognizes the few commands gitopsd serves: the git transport in both of its
// spellings, help and status. Everything else is an error naming the command.
func parseCommand(args []string) (request, error) {
	if len(args) == 0 {
		return request{Verb: "help"}, nil
	}
	switch {
	case len(args) == 1 && args[0] == "help":
		return request{Verb: args[0]}, nil
	case len(args) <= 3 && args[0] == "status":
		return request{Verb: args[0], Args: args[1:]}, nil
	case len(args) == 3 && args[0] == "sync", (len(args) == 3 || len(args) == 4) && args[0] == "rollback":
		return request{Verb: args[0], Args: args[1:]}, nil
	case args[0] == "sync" || args[0] == "rollback":
		return request{}, fmt.Errorf("usage: sync REPO ENV | rollback REPO ENV [COMMIT]")
	case len(args) == 2 && (args[0] == "git-upload-pack" || args[0] == "git-receive-pack"):
		return request{Verb: strings.TrimPrefix(args[0], "git-"), Path: args[1]}, nil
	case len(args) == 3 && args[0] == "git" && (args[1] == serviceUploadPack || args[1] == serviceReceivePack):
		return request{Verb: args[1], Path: args[2]}, nil
	}
	return request{}, fmt.Errorf("unknown command %q: this server runs only git fetch/push (git-upload-pack, git-receive-pack), help, status, sync and rollback", strings.Join(args, " "))
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
