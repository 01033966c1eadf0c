package gitserver

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gliderlabs/ssh"

	"github.com/gitopsd/gitopsd/config"
)

// help tells a user who the server thinks they are and what they may do.
func (s *Server) help(sess ssh.Session, cfg *config.Config, id identity) {
	w := sess
	fmt.Fprintf(w, "Hi %s! You are authenticated by key %s.\n", id.User, id.Fingerprint)
	fmt.Fprintf(w, "gitopsd serves git over SSH; a push to an environment branch deploys it.\n\n")
	names := make([]string, 0, len(cfg.Repos))
	for name, r := range cfg.Repos {
		if r.CanRead(id.User) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintf(w, "You may not read any repository yet.\n")
	} else {
		fmt.Fprintf(w, "Repositories:\n")
	}
	for _, name := range names {
		writeRepoHelp(w, name, cfg.Repos[name], id.User)
	}
	host := sess.LocalAddr().String()
	fmt.Fprintf(w, "\nClone:    git clone ssh://git@%s/REPO\n", host)
	fmt.Fprintf(w, "Commands: ssh -p PORT git@HOST help | status [REPO [ENV]] | sync REPO ENV | rollback REPO ENV [COMMIT]\n")
	fmt.Fprintf(w, "          | promote REPO ENV | abort REPO ENV | recipients REPO ENV\n")
	fmt.Fprintf(w, "          (REPO/ENV for REPO ENV; COMMAND --help for what a command does)\n")
}

func writeRepoHelp(w io.Writer, name string, r config.Repo, user string) {
	access := "read"
	if r.CanWrite(user) {
		access = "read, write"
	}
	fmt.Fprintf(w, "  %-20s %-12s %s\n", name, access, r.Description)
	envs := make([]string, 0, len(r.Environments))
	for e := range r.Environments {
		envs = append(envs, e)
	}
	sort.Strings(envs)
	for _, e := range envs {
		env := r.Environments[e]
		may := "you may push"
		if !r.CanDeploy(user, env) {
			may = "read only (" + deployers(r, env) + ")"
		}
		where := "branch " + env.Branch
		if r.SharedBranch(env.Branch) {
			where += " path " + pathOrRoot(env.Path)
		}
		fmt.Fprintf(w, "    %s deploys %s to cluster %s: %s\n", where, e, env.Cluster, may)
	}
	if r.CanWrite(user) && !r.CanPushTag(user) {
		fmt.Fprintf(w, "    tags: read only\n")
	}
}

// deployers says who may deploy env: "push: alice, bob".
func deployers(r config.Repo, env config.Environment) string {
	return "push: " + strings.Join(r.Deployers(env), ", ")
}

func pathOrRoot(p string) string {
	if p == "" || p == "." {
		return "/"
	}
	return p
}
