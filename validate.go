package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/hooks"
	"github.com/gitopsd/gitopsd/kube"
)

// validateHelp follows the flags in `gitopsd validate --help`: where the settings come
// from, since a check that guessed them wrong would pass what the push refuses.
const validateHelp = `
Settings: repos.yaml given with --config, else the first one found in DIR
(default: the current directory) or above it, up to the repository root (the
directory with .git; outside a repository, up to /). Without one, DIR is
checked with the defaults (render type auto, no namespace, no policies), and
--env is an error.

Tree: the repository root, whatever directory it runs in, so that paths such
as ../../base resolve as in a push, and problems name files from the root.
Files not committed are checked too.

Environment: --env REPO/ENV; else the one whose path holds DIR; else the only
one. When several could be meant it names them and checks nothing.

Cluster: the environment's (clusters: in repos.yaml; --kubeconfig replaces
it). The server-side dry run and the preview run when it answers; otherwise
the report says "offline" and why.

Secrets: SOPS files are decrypted with --age-key or $SOPS_AGE_KEY_FILE; without
either, the encryption rules are checked and nothing is decrypted.

The report is the push's, with "working tree" for the commit. Exit status: 0
passed, 1 refused (or an error), 2 usage.
`

// pingTimeout bounds the question whether the cluster answers: a check that waited
// minutes for an unreachable one would not be run before a push.
const pingTimeout = 5 * time.Second

func runValidate(ctx context.Context, fs *flag.FlagSet, args []string) error {
	configPath := fs.String("config", "", "repos.yaml to take the settings from (default: found upward)")
	envFlag := fs.String("env", "", "environment to check, REPO/ENV (default: the one holding DIR)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster (default: the environment's)")
	kubecontext := fs.String("context", "", "kubeconfig context")
	color := fs.Bool("color", false, "colour the report")
	ageKey := fs.String("age-key", "", "age identity to decrypt SOPS files with (default $SOPS_AGE_KEY_FILE)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), validateHelp)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := "."
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		fs.Usage()
		return errUsage
	}

	ws, err := config.FindWorkspace(dir, *configPath)
	if err != nil {
		return err
	}
	cfg, ref, err := validateTarget(ws, *envFlag)
	if err != nil {
		return err
	}
	env := ref.Env
	env.Secrets = validateSecrets(env.Secrets, *ageKey)
	configured := ws.File != ""
	switch cl := cfg.Clusters[env.Cluster]; {
	case *kubeconfig != "":
		cfg.Clusters[env.Cluster] = config.Cluster{Kubeconfig: *kubeconfig, Context: *kubecontext}
		configured = true
	case *kubecontext != "":
		cl.Context = *kubecontext
		cfg.Clusters[env.Cluster] = cl
	}
	reg := clusters.New(cfg, kube.DefaultClientOptions())
	why := offlineWhy(ctx, reg, env.Cluster, configured)

	// os.Root refuses symlinks that leave the tree, as a push's tree does.
	root, err := os.OpenRoot(ws.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	checker := &hooks.Checker{Config: cfg, Clusters: reg}
	fmt.Printf("gitopsd: checking %s (%s) ...\n", ref, env.Path)
	res := checker.Check(ctx, hooks.Target{
		Repo: ref.Repo, EnvName: env.Name, Env: env, Commit: "working tree", Tree: root.FS(),
		Offline: why != "", OfflineWhy: why,
	})
	res.Report.Write(os.Stdout, hooks.Style{Color: *color})
	if !res.Report.OK() {
		return exitError{code: 1}
	}
	return nil
}

// validateTarget is the configuration and the environment a check of ws is for: from
// ws's repos.yaml, or, without one, the defaults repos.yaml gives an environment that
// says nothing, rendering the directory the check runs in.
func validateTarget(ws config.Workspace, envFlag string) (*config.Config, config.EnvRef, error) {
	if ws.File != "" {
		cfg, err := config.Load(ws.File)
		if err != nil {
			return nil, config.EnvRef{}, err
		}
		ref, err := pickEnv(cfg, envFlag, ws.Dir)
		return cfg, ref, err
	}
	if envFlag != "" {
		return nil, config.EnvRef{}, fmt.Errorf("--env %s: no %s found in %s or above, up to %s; give --config FILE", envFlag, config.FileName, ws.Dir, ws.Root)
	}
	cfg, err := config.Parse("(defaults)", []byte("clusters: {local: {kubeconfig: none}}\nrepos: {local: {environments: {local: {branch: main, cluster: local}}}}\n"))
	if err != nil {
		return nil, config.EnvRef{}, err
	}
	env := cfg.Repos["local"].Environments["local"]
	env.Branch = "(no " + config.FileName + ")"
	env.Path = ws.Dir
	return cfg, config.EnvRef{Repo: "local", Env: env}, nil
}

// pickEnv finds the environment --env names; else the one whose path holds dir; else
// the only one there is. It never guesses between several.
func pickEnv(cfg *config.Config, want, dir string) (config.EnvRef, error) {
	all := cfg.Environments()
	if want != "" {
		for _, e := range all {
			if e.String() == want {
				return e, nil
			}
		}
		return config.EnvRef{}, fmt.Errorf("--env %s: no such environment in %s (have: %s)", want, cfg.File, envNames(all))
	}
	at := cfg.EnvironmentsAt(dir)
	if dir == "." {
		dir = "the repository root"
	}
	switch {
	case len(at) == 1:
		return at[0], nil
	case len(at) > 1:
		return config.EnvRef{}, fmt.Errorf("%s is in %d environments of %s; choose one with --env: %s", dir, len(at), cfg.File, envNames(at))
	case len(all) == 1:
		return all[0], nil
	case len(all) == 0:
		return config.EnvRef{}, errors.New(cfg.File + " has no environments")
	}
	return config.EnvRef{}, fmt.Errorf("%s is in none of the %d environments of %s; choose one with --env: %s", dir, len(all), cfg.File, envNames(all))
}

func envNames(envs []config.EnvRef) string {
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.String()
	}
	return strings.Join(names, ", ")
}

// offlineWhy says why the check cannot use the cluster ("" when it can), in the few words
// of the report's note; the error behind it goes to stderr, for whoever wants to fix it.
func offlineWhy(ctx context.Context, reg *clusters.Registry, cluster string, configured bool) string {
	if !configured {
		return "no cluster configured"
	}
	if _, err := reg.RESTConfig(cluster); err != nil {
		fmt.Fprintf(os.Stderr, "gitopsd validate: %v\n", err)
		return "cannot read cluster " + cluster + "'s kubeconfig"
	}
	if err := reg.Ping(ctx, cluster, pingTimeout); err != nil {
		fmt.Fprintf(os.Stderr, "gitopsd validate: %v\n", err)
		return "cluster " + cluster + " unreachable"
	}
	return ""
}

// validateSecrets are the environment's secrets settings for a check on a workstation:
// decrypt with the key given (--age-key, else $SOPS_AGE_KEY_FILE) instead of the daemon's
// identity files, or, without one, check the encryption rules and decrypt nothing.
func validateSecrets(s *config.Secrets, key string) *config.Secrets {
	if key == "" {
		key = os.Getenv("SOPS_AGE_KEY_FILE")
	}
	out := config.Secrets{}
	if s != nil {
		out = *s
	} else {
		off := false
		out.RequireEncryption = &off
	}
	if key == "" {
		out.CheckOnly = true
	} else {
		out.Identities = []string{key}
	}
	return &out
}
