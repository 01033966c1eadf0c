package config

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitopsd/gitopsd/internal/testfs"
)

func TestFindWorkspace(t *testing.T) {
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testfs.Write(t, top, map[string]string{
		// Above the repository: never taken for the repository's.
		"repos.yaml":      "above",
		"repo/.git/HEAD":  "ref: refs/heads/main\n",
		"repo/repos.yaml": "root",
		"repo/deploy/overlays/dev/kustomization.yaml": "resources: [../../base]\n",
		"repo/deploy/base/kustomization.yaml":         "resources: []\n",
		"bare/repo/deploy/overlays/dev/k.yaml":        "",
		"bare/repo/deploy/repos.yaml":                 "nearest",
		"wt/.git":                                     "gitdir: /elsewhere\n", // a worktree's .git is a file
		"wt/deploy/x.yaml":                            "",
		"loose/a/x.yaml":                              "",
		"given/repos.yaml":                            "given",
		"given/deploy/x.yaml":                         "",
		"link":                                        "symlink:repo/deploy",
	})
	j := func(p string) string { return filepath.Join(top, filepath.FromSlash(p)) }
	cases := []struct {
		dir, file        string
		root, found, rel string
	}{
		{"repo/deploy/overlays/dev", "", "repo", "repo/repos.yaml", "deploy/overlays/dev"},
		{"repo", "", "repo", "repo/repos.yaml", "."},
		{"link/overlays/dev", "", "repo", "repo/repos.yaml", "deploy/overlays/dev"},
		// No repository: the directory of the nearest repos.yaml is the root.
		{"bare/repo/deploy/overlays/dev", "", "bare/repo/deploy", "bare/repo/deploy/repos.yaml", "overlays/dev"},
		{"wt/deploy", "", "wt", "", "deploy"},
		{"loose/a", "", ".", "repos.yaml", "loose/a"},
		// A repository's root wins over the directory of the file given.
		{"repo/deploy", "given/repos.yaml", "repo", "given/repos.yaml", "deploy"},
		{"given/deploy", "given/repos.yaml", "given", "given/repos.yaml", "deploy"},
	}
	for _, c := range cases {
		file := ""
		if c.file != "" {
			file = j(c.file)
		}
		ws, err := FindWorkspace(j(c.dir), file)
		if err != nil {
			t.Fatalf("%s: %v", c.dir, err)
		}
		found := ""
		if c.found != "" {
			found = j(c.found)
		}
		if ws.Root != j(c.root) || ws.File != found || ws.Dir != c.rel {
			t.Errorf("%s (file %q): got root %s, file %q, dir %s; want %s, %q, %s", c.dir, c.file, ws.Root, ws.File, ws.Dir, j(c.root), found, c.rel)
		}
	}
	if _, err := FindWorkspace(j("repo/deploy/base/kustomization.yaml"), ""); err == nil {
		t.Error("a file is not a directory to check")
	}
	if _, err := FindWorkspace(j("missing"), ""); err == nil {
		t.Error("a missing directory is an error")
	}
}

func TestEnvironmentsAt(t *testing.T) {
	env := func(p string) Environment { return Environment{Path: p} }
	c := &Config{Repos: map[string]Repo{
		"web":   {Environments: map[string]Environment{"dev": env("deploy/overlays/dev"), "prod": env("deploy/overlays/prod")}},
		"chart": {Environments: map[string]Environment{"a": env("chart"), "b": env("/chart")}},
		"all":   {Environments: map[string]Environment{"root": env(".")}},
	}}
	for name, e := range c.Repos {
		for en, v := range e.Environments {
			v.Name = en
			e.Environments[en] = v
		}
		c.Repos[name] = e
	}
	names := func(refs []EnvRef) []string {
		var s []string
		for _, r := range refs {
			s = append(s, r.String())
		}
		return s
	}
	for dir, want := range map[string][]string{
		"deploy/overlays/dev":     {"all/root", "web/dev"},
		"deploy/overlays/dev/sub": {"all/root", "web/dev"},
		"deploy/overlays/develop": {"all/root"},
		"deploy":                  {"all/root"},
		"chart/templates":         {"all/root", "chart/a", "chart/b"},
		".":                       {"all/root"},
	} {
		if got := names(c.EnvironmentsAt(dir)); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", dir, got, want)
		}
	}
	if got := names(c.Environments()); !slices.Equal(got, []string{"all/root", "chart/a", "chart/b", "web/dev", "web/prod"}) {
		t.Errorf("Environments: %v", got)
	}
}

func TestWorkspaceHolds(t *testing.T) {
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testfs.Write(t, top, map[string]string{
		"repo/.git/HEAD":    "",
		"repo/kc.yaml":      "",
		"repo/out.yaml":     "symlink:../kc-outside.yaml",
		"repo/in.yaml":      "symlink:kc.yaml",
		"kc-outside.yaml":   "",
		"repo-other/x.yaml": "",
	})
	ws, err := FindWorkspace(filepath.Join(top, "repo"), "")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"repo/kc.yaml": true, "repo/in.yaml": true, "repo/missing.yaml": true,
		"repo/out.yaml": false, "kc-outside.yaml": false, "repo-other/x.yaml": false,
	} {
		if got := ws.Holds(filepath.Join(top, p)); got != want {
			t.Errorf("Holds(%s) = %v, want %v", p, got, want)
		}
	}
}
