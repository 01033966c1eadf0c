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
	"github.com/gitopsd/gitopsd/termtext"
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

Trust: a repos.yaml found in the tree came with it: its tests (commands) do not
run, nor a kubeconfig inside the repository; --config FILE trusts the file.

Secrets: SOPS files are decrypted with --age-key or $SOPS_AGE_KEY_FILE; without
either, the encryption rules are checked and nothing is decrypted.

The report is the push's, with "working tree" for the commit. Exit status: 0
passed, 1 refused (or an error), 2 usage.
`

// pingTimeout bounds the question whether the cluster answers: a check that waited
// minutes for an unreachable one would not be run before a push.
const pingTimeout = 5 * time.Second

// validateFlags are the flags of `gitopsd validate` and its directory.
type validateFlags struct {
	config, env, kubeconfig, context, ageKey, dir string
	color                                         bool
}

func runValidate(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var f validateFlags
	fs.StringVar(&f.config, "config", "", "repos.yaml to take the settings from (default: found upward)")
	fs.StringVar(&f.env, "env", "", "environment to check, REPO/ENV (default: the one holding DIR)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: the environment's)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context")
	fs.BoolVar(&f.color, "color", false, "colour the report")
	fs.StringVar(&f.ageKey, "age-key", "", "age identity to decrypt SOPS files with (default $SOPS_AGE_KEY_FILE)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), validateHelp)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f.dir = "."
	switch fs.NArg() {
	case 0:
	case 1:
		f.dir = fs.Arg(0)
	default:
		fs.Usage()
		return errUsage
	}
	return validateTree(ctx, f)
}

// validateTree checks the tree f names and prints its report; a refusal is exit status 1.
func validateTree(ctx context.Context, f validateFlags) error {
	ws, err := config.FindWorkspace(f.dir, f.config)
	if err != nil {
		return err
	}
	cfg, ref, err := validateTarget(ws, f.env)
	if err != nil {
		return err
	}
	env := ref.Env
	env.Secrets = validateSecrets(env.Secrets, f.ageKey)
	// A repos.yaml found in the tree came with it, as a clone's files do: it chooses the
	// settings, never what runs on this machine. Its tests (commands) do not run, nor a
	// kubeconfig inside the tree (one can name a credential command); --config trusts.
	found := f.config == ""
	skipped := found && len(env.Checks.Tests) > 0
	if skipped {
		env.Checks.Tests = nil
	}
	reg, why := validateCluster(ctx, cfg, env.Cluster, ws, f)

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
	if skipped {
		res.Report.Notes = append(res.Report.Notes, "tests not run: a repos.yaml found in the tree runs no commands (see --config)")
	}
	res.Report.Write(os.Stdout, hooks.Style{Color: f.color})
	if !res.Report.OK() {
		return exitError{code: 1}
	}
	return nil
}

// validateCluster is the registry of cfg's clusters, with --kubeconfig and --context in
// place of the one named, and why the check is offline ("" when it is not).
func validateCluster(ctx context.Context, cfg *config.Config, name string, ws config.Workspace, f validateFlags) (*clusters.Registry, string) {
	configured := ws.File != ""
	switch cl := cfg.Clusters[name]; {
	case f.kubeconfig != "":
		cfg.Clusters[name] = config.Cluster{Kubeconfig: f.kubeconfig, Context: f.context}
		configured = true
	case f.context != "":
		cl.Context = f.context
		cfg.Clusters[name] = cl
	}
	reg := clusters.New(cfg, kube.DefaultClientOptions())
	var inTree func(string) bool
	if f.config == "" && f.kubeconfig == "" {
		inTree = ws.Holds
	}
	return reg, offlineWhy(ctx, reg, name, cfg.Clusters[name].Kubeconfig, configured, inTree)
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

// validateStderr is validate's stderr, wrapped to the screen as its report is.
var validateStderr = termtext.NewWrapper(os.Stderr, termtext.ScreenWidth)

// offlineWhy says why the check cannot use the cluster ("" when it can), in the few words
// of the report's note; the error behind it goes to stderr, for whoever wants to fix it.
// inTree, if set, tells the files of the tree, whose kubeconfig is not used.
func offlineWhy(ctx context.Context, reg *clusters.Registry, cluster, kubeconfig string, configured bool, inTree func(string) bool) string {
	if !configured {
		return "no cluster configured"
	}
	if inTree != nil && inTree(kubeconfig) {
		fmt.Fprintf(validateStderr, "gitopsd validate: kubeconfig %s not used: it came with the tree, and can run commands (give --kubeconfig or --config)\n", kubeconfig)
		return "kubeconfig inside the repo not trusted"
	}
	if _, err := reg.RESTConfig(cluster); err != nil {
		fmt.Fprintf(validateStderr, "gitopsd validate: %v\n", err)
		return "cannot read cluster " + cluster + "'s kubeconfig"
	}
	if err := reg.Ping(ctx, cluster, pingTimeout); err != nil {
		fmt.Fprintf(validateStderr, "gitopsd validate: %v\n", err)
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
