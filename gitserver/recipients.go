package gitserver

import (
	"fmt"
	"strings"

	"github.com/gliderlabs/ssh"

	"github.com/gitopsd/gitopsd/config"
)

func init() {
	usage["recipients"] = "recipients REPO ENV | recipients REPO/ENV\n  the age public keys to encrypt the environment's secrets to, one a line:\n" +
		"  sops --encrypt --age \"$(ssh HOST recipients REPO ENV | paste -sd,)\" ... (for its readers)"
}

// recipients answers `ssh HOST recipients REPO ENV`: the age public keys a writer
// encrypts the environment's secrets to, one a line, for anyone who may read the repo
// (public keys hide nothing; readers learn no more about repos they may not read).
func (s *Server) recipients(sess ssh.Session, cfg *config.Config, id identity, args []string) (int, string, string, error) {
	const verb = "recipients"
	if len(args) != 2 {
		return 1, "", verb, fmt.Errorf("usage: %s", strings.SplitN(usage[verb], "\n", 2)[0])
	}
	repoName, envName := args[0], args[1]
	repo, ok := cfg.Repos[repoName]
	if !ok || !repo.CanRead(id.User) {
		return 1, "", verb, fmt.Errorf("repository %q does not exist, or %s may not read it", repoName, id.User)
	}
	env, ok := repo.Environments[envName]
	if !ok {
		return 1, repoName, verb, fmt.Errorf("repository %s has no environment %q", repoName, envName)
	}
	if env.Secrets == nil {
		return 1, repoName, verb, fmt.Errorf("%s/%s decrypts no secrets (no secrets: in repos.yaml)", repoName, envName)
	}
	rs := env.Secrets.Recipients
	if len(rs) == 0 && s.opts.Recipients != nil {
		var err error
		if rs, err = s.opts.Recipients(env); err != nil {
			s.log.Error().Err(err).Str("repo", repoName).Str("env", envName).Msg("recipients: identities unreadable")
			return 1, repoName, verb, fmt.Errorf("the recipients of %s/%s cannot be told: its identities are unreadable (the administrator will find details in the log)", repoName, envName)
		}
	}
	if len(rs) == 0 {
		return 1, repoName, verb, fmt.Errorf("%s/%s lists no recipients", repoName, envName)
	}
	for _, r := range rs {
		fmt.Fprintln(sess, strings.TrimSpace(r))
	}
	return 0, repoName, verb, nil
}
