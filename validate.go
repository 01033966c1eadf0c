package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/hooks"
	"github.com/gitopsd/gitopsd/kube"
)

func runValidate(ctx context.Context, fs *flag.FlagSet, args []string) error {
	configPath := fs.String("config", "", "repos.yaml to take the environment's settings from (render type, path, namespace, policies, tests)")
	envFlag := fs.String("env", "", "environment to check, as REPO/ENV (needed when repos.yaml has more than one)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the target cluster: adds the server-side dry run and the preview (offline checks without it)")
	kubecontext := fs.String("context", "", "kubeconfig context")
	color := fs.Bool("color", false, "colour the report")
	ageKey := fs.String("age-key", "", "age identity file to decrypt SOPS files with (default $SOPS_AGE_KEY_FILE; without either, the encryption rules are checked and nothing is decrypted)")
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

	cfg := &config.Config{Clusters: map[string]config.Cluster{}}
	repoName, envName := "local", "local"
	env := config.Environment{Branch: "(working tree)", Cluster: "local", Path: "."}
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return err
		}
		if repoName, envName, env, err = pickEnv(cfg, *envFlag); err != nil {
			return err
		}
	} else {
		// The same defaults repos.yaml would give an environment that says nothing.
		parsed, err := config.Parse("(defaults)", []byte("clusters: {local: {kubeconfig: none}}\nrepos: {local: {environments: {local: {branch: main, cluster: local}}}}\n"))
		if err != nil {
			return err
		}
		env = parsed.Repos["local"].Environments["local"]
		env.Branch = "(working tree)"
	}
	env.Secrets = validateSecrets(env.Secrets, *ageKey)
	if *kubeconfig != "" {
		cfg.Clusters[env.Cluster] = config.Cluster{Kubeconfig: *kubeconfig, Context: *kubecontext}
	}

	// os.Root refuses symlinks that leave dir, as a push's tree does.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	abs, _ := filepath.Abs(dir)
	checker := &hooks.Checker{Config: cfg, Clusters: clusters.New(cfg, kube.DefaultClientOptions())}
	res := checker.Check(ctx, hooks.Target{
		Repo: repoName, EnvName: envName, Env: env, Commit: "working tree " + abs, Tree: root.FS(),
		Offline: *kubeconfig == "",
	})
	res.Report.Write(os.Stdout, hooks.Style{Color: *color})
	if !res.Report.OK() {
		return exitError{code: 1}
	}
	return nil
}

// pickEnv finds the environment --env names, or the only one there is.
func pickEnv(cfg *config.Config, want string) (string, string, config.Environment, error) {
	var all []string
	for rn, r := range cfg.Repos {
		for en := range r.Environments {
			all = append(all, rn+"/"+en)
		}
	}
	if want == "" {
		if len(all) != 1 {
			return "", "", config.Environment{}, fmt.Errorf("--env REPO/ENV is needed: %s has %d environments (%s)", cfg.File, len(all), strings.Join(all, ", "))
		}
		want = all[0]
	}
	rn, en, ok := strings.Cut(want, "/")
	env, found := cfg.Repos[rn].Environments[en]
	if !ok || !found {
		return "", "", config.Environment{}, errors.New("--env " + want + ": no such environment (have: " + strings.Join(all, ", ") + ")")
	}
	return rn, en, env, nil
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
