package render

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
)

// fakeGit puts a git on PATH that records that it ran, so that a test sees whether krusty
// tried to clone anything (its cloner runs the git it finds on PATH).
func fakeGit(t *testing.T) (ran func() bool) {
	t.Helper()
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "git-ran")
	script := "#!/bin/sh\necho \"$@\" >> " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return func() bool {
		_, err := os.Stat(marker)
		return err == nil
	}
}

// TestKustomizeRemoteForms refuses every way a kustomization can name something that is
// not in the pushed tree, each at its file and line with a hint, before krusty (which
// would run git or an HTTP GET for it) sees any of them.
func TestKustomizeRemoteForms(t *testing.T) {
	ran := fakeGit(t)
	for _, tc := range []struct {
		name, field, ref string
		rule             string // RuleKustomizeRemote unless set
	}{
		{"https URL", "resources", "https://example.com/deploy.yaml", ""},
		{"http URL", "resources", "http://example.com/deploy.yaml", ""},
		{"git@ scp-like", "resources", "git@github.com:org/repo.git//deploy", ""},
		{"user@host scp-like", "resources", "deploy@gitserver.example:infra/base", ""},
		{"user@host path", "resources", "deploy@gitserver.example/infra/base", ""},
		{"host:path scp-like", "resources", "gitserver.example:infra/base", ""},
		{"github shorthand with ref", "resources", "github.com/org/repo//deploy?ref=v1", ""},
		{"github shorthand, capitals", "resources", "GitHub.com/org/repo/deploy", ""},
		{"gitlab shorthand", "resources", "gitlab.com/org/repo/deploy", ""},
		{"forced git getter", "resources", "git::https://example.com/org/repo", ""},
		{"forced git getter, capitals", "resources", "GIT::ssh://git@example.com/org/repo", ""},
		{"ssh URL", "resources", "ssh://git@example.com/org/repo", ""},
		{"ssh URL, capitals", "resources", "SSH://git@example.com/org/repo", ""},
		{"file URL outside the tree", "resources", "file:///srv/other-repo", ""},
		{"file URL inside the tree", "resources", "file://./base", ""},
		{"query only", "resources", "base?ref=main", ""},
		{"azure _git marker", "resources", "dev.azure.com/org/project/_git/repo", ""},
		{"component remote", "components", "git@github.com:org/components.git/feature", ""},
		{"base remote", "bases", "deploy@host.example:repo", ""},
		{"crd URL", "crds", "https://example.com/crd.yaml", ""},
		{"configuration URL", "configurations", "https://example.com/config.yaml", ""},
		{"generator URL", "generators", "https://example.com/gen.yaml", ""},
		{"transformer scp", "transformers", "deploy@host.example:t.yaml", ""},
		{"absolute path", "resources", "/etc/kubernetes", RuleOutsideRepo},
		{"parent of the repo", "resources", "../../elsewhere", RuleOutsideRepo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kust := "resources:\n- ../base\n"
			if tc.field != "resources" {
				kust += tc.field + ":\n"
			}
			kust += "- " + tc.ref + "\n"
			res := render(t, tree(withFiles(map[string]string{"k/kustomization.yaml": kust})), Options{Path: "k", DefaultNamespace: "shop"})
			rule := tc.rule
			if rule == "" {
				rule = RuleKustomizeRemote
			}
			p := wantProblem(t, res, rule, "k/kustomization.yaml:", tc.field+": ", tc.ref)
			if p.Hint == "" {
				t.Errorf("no hint: %s", p)
			}
			if want := strings.Count(kust, "\n"); p.Line != want {
				t.Errorf("line %d, want %d: %s", p.Line, want, p)
			}
			if len(res.Objects) != 0 {
				t.Errorf("objects built: %v", names(res))
			}
		})
	}
	if ran() {
		t.Error("krusty ran git")
	}
}

// TestKustomizeRemoteInPluginConfig: generator and transformer configurations name files
// too, in a file of their own or inline, and krusty loads those the same way.
func TestKustomizeRemoteInPluginConfig(t *testing.T) {
	ran := fakeGit(t)
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"generator file with a URL", map[string]string{
			"k/kustomization.yaml": "resources:\n- ../base\ngenerators:\n- gen.yaml\n",
			"k/gen.yaml":           "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: cfg\nfiles:\n- https://example.com/settings.env\n",
		}, []string{"k/gen.yaml:6:", "files: ", "https://example.com/settings.env"}},
		{"transformer file with an scp-like patch", map[string]string{
			"k/kustomization.yaml": "resources:\n- ../base\ntransformers:\n- patch.yaml\n",
			"k/patch.yaml":         "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: deploy@host.example:patch.yaml\ntarget: {kind: Deployment}\n",
		}, []string{"k/patch.yaml:5:", "path: ", "deploy@host.example:patch.yaml"}},
		{"inline generator with an env URL", map[string]string{
			"k/kustomization.yaml": "resources:\n- ../base\ngenerators:\n- |-\n  apiVersion: builtin\n  kind: SecretGenerator\n  metadata:\n    name: s\n  envs:\n  - http://example.com/s.env\n",
		}, []string{"k/kustomization.yaml:10:", "envs: ", "http://example.com/s.env"}},
		{"helm inflation as a generator", map[string]string{
			"k/kustomization.yaml": "resources:\n- ../base\ngenerators:\n- helm.yaml\n",
			"k/helm.yaml":          "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: h\nname: nginx\nrepo: https://charts.example.com\n",
		}, []string{"k/helm.yaml:2:", "HelmChartInflationGenerator"}},
		{"generator file outside the tree", map[string]string{
			"k/kustomization.yaml": "resources:\n- ../base\ngenerators:\n- gen.yaml\n",
			"k/gen.yaml":           "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: cfg\nenvs:\n- /etc/environment\n",
		}, []string{"k/gen.yaml:6:", "/etc/environment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := render(t, tree(withFiles(tc.files)), Options{Path: "k", DefaultNamespace: "shop"})
			if len(res.Problems) != 1 {
				t.Fatalf("want one problem, got %s", dump(res))
			}
			p := res.Problems[0]
			for _, f := range tc.want {
				if !strings.Contains(p.String(), f) {
					t.Errorf("%s lacks %q", p, f)
				}
			}
			if p.Hint == "" {
				t.Errorf("no hint: %s", p)
			}
		})
	}
	if ran() {
		t.Error("krusty ran git")
	}
}

// TestKustomizeLocalLookalikes: local names with dots, dashes and colons after a slash
// still build (kustomize's in-memory file system holds no '@' in a name).
func TestKustomizeLocalLookalikes(t *testing.T) {
	res := render(t, tree(withFiles(map[string]string{
		"k/kustomization.yaml":               "resources:\n- ../base\n- v1.2/team:ops.yaml\n- ./my-app.config\n",
		"k/v1.2/team:ops.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ops\n",
		"k/my-app.config/kustomization.yaml": "resources: [cm.yaml]\n",
		"k/my-app.config/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
	})), Options{Path: "k", DefaultNamespace: "shop"})
	wantOK(t, res)
	if len(res.Objects) != 4 {
		t.Errorf("objects: %v", names(res))
	}
}

// TestKustomizeLocalizeFence runs krusty on the in-memory copy without the checks, as if a
// remote form had slipped past them: as given, krusty runs git and GETs the URL; after
// localize it does neither and fails on files that are not there.
func TestKustomizeLocalizeFence(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(deploy))
	}))
	defer srv.Close()
	cases := map[string]map[string]string{
		"resources": withFiles(map[string]string{
			"k/kustomization.yaml": "resources:\n- " + srv.URL + "/deploy.yaml\n- deploy@" + strings.TrimPrefix(srv.URL, "http://") + ":infra/base\n",
		}),
		"generator file": withFiles(map[string]string{
			"k/kustomization.yaml": "resources:\n- ../base\ngenerators:\n- gen.yaml\n",
			"k/gen.yaml":           "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: cfg\nfiles:\n- s=" + srv.URL + "/settings.env\n",
		}),
	}
	build := func(files map[string]string, fence bool) error {
		r := &renderer{ctx: context.Background(), fsys: tree(files), opts: Options{MaxBytes: 1 << 20}, in: &budget{max: 1 << 20}}
		mem, kusts := r.copyTree()
		if len(r.ps) > 0 {
			t.Fatalf("copy: %v", r.ps)
		}
		if fence {
			if err := r.localize(mem, kusts); err != nil {
				t.Fatal(err)
			}
		}
		_, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, path.Join(memRoot, "k"))
		return err
	}
	for name, files := range cases {
		ran := fakeGit(t)
		hits.Store(0)
		if err := build(files, false); !ran() && hits.Load() == 0 {
			t.Fatalf("%s without the fence: err %v, git ran %v, %d HTTP requests; the test cannot show the fence works", name, err, ran(), hits.Load())
		}
		t.Logf("%s without the fence: git ran %v, %d HTTP requests", name, ran(), hits.Load())
		ran = fakeGit(t)
		hits.Store(0)
		err := build(files, true)
		if err == nil {
			t.Fatalf("%s: the build succeeded", name)
		}
		if ran() || hits.Load() != 0 {
			t.Fatalf("%s with the fence: git ran %v, %d HTTP requests; err %v", name, ran(), hits.Load(), err)
		}
		t.Logf("%s with the fence: %v", name, stripRoot(err.Error()))
	}
}
