package hooks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/internal/sopstest"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/secrets"
	"github.com/gitopsd/gitopsd/termtext"
)

// wordsCase is one input that makes the checks report a problem of one rule.
type wordsCase struct {
	files map[string]string
	// env adjusts the environment; bed, if set, prepares the cluster or the target.
	env func(e *config.Environment, dir string)
	bed func(t *testing.T, b *checkBed, tg *Target)
	// bug marks a rule no input can trigger (a panic of a renderer): only its default
	// hint is checked.
	bug bool
}

const cmYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n"

// wordsCases has one case per rule of render.Rules: TestEveryRuleHasWords fails for a
// rule without one.
func wordsCases(t *testing.T) map[string]wordsCase {
	key, other := sopstest.NewKey(t), sopstest.NewKey(t)
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: words-secret-1}\n"
	enc := func(k sopstest.Key) string {
		return string(sopstest.Encrypt(t, []byte(secret), secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient))
	}
	withKey := func(e *config.Environment, dir string) {
		id := filepath.Join(dir, "age.key")
		if err := os.WriteFile(id, []byte(key.Identity), 0o600); err != nil {
			t.Fatal(err)
		}
		e.Secrets = &config.Secrets{Identities: []string{id}, Recipients: []string{key.Recipient}}
	}
	chart := func(extra map[string]string) map[string]string {
		files := map[string]string{
			"deploy/Chart.yaml":        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
			"deploy/values.yaml":       "replicas: 1\n",
			"deploy/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
		}
		for k, v := range extra {
			files[k] = v
		}
		return files
	}
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	return map[string]wordsCase{
		render.RuleRead:         {files: map[string]string{"elsewhere/cm.yaml": cmYAML}},
		render.RuleTooLarge:     {files: map[string]string{"deploy/cm.yaml": cmYAML + "# " + strings.Repeat("x", 300) + "\n"}, env: func(e *config.Environment, _ string) { e.Render.MaxBytes = 200 }},
		render.RuleBinary:       {files: map[string]string{"deploy/cm.yaml": "apiVersion: v1\x00\x01\x02"}},
		render.RuleUTF8:         {files: map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \xff\xfe}\n"}},
		render.RuleYAMLSyntax:   {files: map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n   labels: {a: b}\n"}},
		render.RuleYAMLAliases:  {files: map[string]string{"deploy/cm.yaml": bomb}},
		render.RuleYAMLDepth:    {files: map[string]string{"deploy/cm.yaml": "a: " + deep + "\n"}},
		render.RuleNotObject:    {files: map[string]string{"deploy/cm.yaml": "- one\n- two\n"}},
		render.RuleMissingField: {files: map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"}},
		render.RuleDuplicate:    {files: map[string]string{"deploy/a.yaml": cmYAML, "deploy/b.yaml": cmYAML}},
		render.RuleUnknownKind:  {files: map[string]string{"deploy/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"}},
		render.RuleNamespace: {files: map[string]string{"deploy/cm.yaml": cmYAML},
			env: func(e *config.Environment, _ string) { e.Namespace = "" }},
		render.RuleClusterScoped: {files: map[string]string{"deploy/cr.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: words-cr, namespace: somewhere}\n"},
			env: func(e *config.Environment, _ string) { e.ClusterScoped = []string{"ClusterRole"} }},
		render.RuleKustomize:       {files: map[string]string{"deploy/kustomization.yaml": "resources: [missing.yaml]\n"}},
		render.RuleKustomizeRemote: {files: map[string]string{"deploy/kustomization.yaml": "resources: [https://github.com/example/base]\n"}},
		render.RuleOutsideRepo: {files: map[string]string{"deploy/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
			"deploy/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: {{ .Files.Get \"../../etc/passwd\" | quote }}}\n"}},
		render.RuleHelm:           {files: chart(map[string]string{"deploy/templates/bad.yaml": "{{ .Values.x | nosuchfunc }}\n"})},
		render.RuleHelmValues:     {files: chart(nil), env: func(e *config.Environment, _ string) { e.Render.Values = []string{"values-missing.yaml"} }},
		render.RuleHelmDependency: {files: chart(map[string]string{"deploy/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies: [{name: redis, version: 1.0.0, repository: https://charts.example.com}]\n"})},
		render.RuleHelmSchema:     {files: chart(map[string]string{"deploy/values.schema.json": `{"$ref": "https://example.com/schema.json"}`})},
		render.RuleTimeout: {files: chart(map[string]string{"deploy/templates/slow.yaml": "{{ range until 100000000 }}{{ end }}\n"}),
			env: func(e *config.Environment, _ string) { e.Render.Timeout = 200 * time.Millisecond }},
		render.RuleInternal: {bug: true},
		render.RuleLimit: {files: chart(map[string]string{"deploy/templates/big.yaml": "{{ $s := \"x\" }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}{{ $s }}\n"}),
			env: func(e *config.Environment, _ string) { e.Render.MaxMemory = 64 << 20 }},
		render.RuleSecretPlain:      {files: map[string]string{"deploy/db.yaml": secret}, env: withKey},
		render.RuleSecretRecipients: {files: map[string]string{"deploy/db.yaml": enc(other)}, env: withKey},
		render.RuleSecretTampered:   {files: map[string]string{"deploy/db.yaml": strings.Replace(enc(key), "name: db", "name: dc", 1)}, env: withKey},
		render.RuleSecretDecrypt: {files: map[string]string{"deploy/db.yaml": enc(key)}, env: func(e *config.Environment, dir string) {
			e.Secrets = &config.Secrets{Identities: []string{filepath.Join(dir, "no-such.key")}, Recipients: []string{key.Recipient}}
		}},
		RuleDryRun: {files: map[string]string{"deploy/web.yaml": deploymentYAML("-1", "nginx:1.27")}},
		RulePolicy: {files: map[string]string{"deploy/cm.yaml": cmYAML, ".gitopsd/policies/bad.yaml": "name: bad\nexpression: 'object.('\n"},
			env: func(e *config.Environment, _ string) { e.Checks.RepoPolicies = true }},
		RulePruneGuard: {files: map[string]string{"deploy/cm.yaml": cmYAML}, bed: func(t *testing.T, b *checkBed, tg *Target) {
			cl, err := b.checker.Clusters.EnvClient(b.env)
			if err != nil {
				t.Fatal(err)
			}
			inv := kube.NewInventory(kube.ObjectID{Kind: "PersistentVolumeClaim", Namespace: b.ns, Name: "data"})
			if err := cl.WriteInventory(context.Background(), kube.Owner{Repo: tg.Repo, Env: tg.EnvName}, inv); err != nil {
				t.Fatal(err)
			}
		}},
		RuleTest: {files: map[string]string{"deploy/api.yaml": strings.Replace(deploymentYAML("1", "nginx:1.27"), "name: web\nspec", "name: api\nspec", 1)},
			env: func(e *config.Environment, _ string) { e.Checks.Tests = []string{"no-api"} }},
		RuleCluster: {files: map[string]string{"deploy/cm.yaml": cmYAML}, env: func(e *config.Environment, _ string) {
			e.Cluster, e.Checks.RequireCluster = "gone", true
		}},
		RulePermission: {files: map[string]string{"deploy/cm.yaml": cmYAML}, bed: func(_ *testing.T, _ *checkBed, tg *Target) {
			tg.Denied = "carol may not push to environment main"
		}},
		RuleRollout: {files: map[string]string{"deploy/web.yaml": deploymentYAML("1", "nginx:1.27"),
			"deploy/canary.yaml": strings.Replace(deploymentYAML("1", "nginx:1.27"), "name: web\nspec", "name: web-canary\nspec", 1)},
			env: func(e *config.Environment, _ string) {
				e.Rollout = &config.Rollout{Strategy: config.RolloutCanary, Steps: []config.Step{{Weight: 50}}}
			}},
		RuleRender:                {files: map[string]string{"deploy/cm.yaml": cmYAML}, env: func(e *config.Environment, _ string) { e.Render.Type = "nosuchtype" }},
		"namespace-boundary":      {files: map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: elsewhere}\n"}},
		"cluster-scoped-boundary": {files: map[string]string{"deploy/cr.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: words-cr}\n"}},
		"no-latest-tag":           {files: map[string]string{"deploy/web.yaml": deploymentYAML("1", "nginx:latest")}, env: policies("no-latest-tag")},
		"require-resources":       {files: map[string]string{"deploy/web.yaml": deploymentYAML("1", "nginx:1.27")}, env: policies("require-resources")},
		"no-privileged": {files: map[string]string{"deploy/web.yaml": strings.Replace(deploymentYAML("1", "nginx:1.27"), "        image: nginx:1.27\n",
			"        image: nginx:1.27\n        securityContext: {privileged: true}\n", 1)}, env: policies("no-privileged")},
		"require-labels": {files: map[string]string{"deploy/cm.yaml": cmYAML}, env: policies("require-labels")},
	}
}

// longWord says line holds a word too long for any line (a path, a URL), which is left
// whole.
func longWord(line string) bool {
	for _, w := range strings.Fields(line) {
		if termtext.Width(w) > Width-8 {
			return true
		}
	}
	return false
}

func tree(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for p, c := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(c)}
	}
	return fsys
}

func policies(names ...string) func(*config.Environment, string) {
	return func(e *config.Environment, _ string) { e.Checks.Policies = names }
}

// TestEveryRuleHasWords walks every rule gitopsd reports (render.Rules, the registry
// every stage adds to): one input each, through the real checker against a real API
// server. Each must be reported under its rule, every problem with a hint, and every
// line of the report must fit an 80-column terminal after git's "remote: ".
func TestEveryRuleHasWords(t *testing.T) {
	cases := wordsCases(t)
	rules := render.Rules()
	for _, rule := range rules {
		if _, ok := cases[rule]; !ok {
			t.Errorf("rule %s has no case in wordsCases", rule)
		}
	}
	for rule := range cases {
		if render.Hint(rule) == "" {
			t.Errorf("rule %s of wordsCases is not registered (render.RegisterRules), or has no hint", rule)
		}
	}
	sort.Strings(rules)
	for _, rule := range rules {
		c, ok := cases[rule]
		if !ok || c.bug {
			continue
		}
		t.Run(rule, func(t *testing.T) {
			dir := t.TempDir()
			b := newCheckBed(t, func(e *config.Environment) {
				if c.env != nil {
					c.env(e, dir)
				}
			})
			b.cfg.Clusters["gone"] = config.Cluster{Kubeconfig: filepath.Join(dir, "no-kubeconfig")}
			tg := Target{Repo: b.ns, EnvName: "main", Env: b.env, Commit: strings.Repeat("ab", 20), Tree: tree(c.files)}
			if c.bed != nil {
				c.bed(t, b, &tg)
			}
			res := b.checker.Check(context.Background(), tg)
			var out bytes.Buffer
			res.Report.Write(&out, Style{})
			if os.Getenv("WORDS_LOG") != "" {
				t.Log(out.String())
			}
			found := false
			for _, p := range res.Report.Problems {
				found = found || p.Rule == rule
				if p.Hint == "" {
					t.Errorf("problem without a hint: %s", p)
				}
			}
			if !found {
				t.Errorf("no problem of rule %s in:\n%s", rule, out.String())
			}
			for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if w := termtext.Width(line); w > Width && !longWord(line) {
					t.Errorf("line of %d columns (more than %d):\n%s", w, Width, line)
				}
			}
		})
	}
}

// containsWords says whether want is in out once both are read as words: the report wraps
// long lines, and where a line breaks depends on the names of the test (its namespace).
func containsWords(out, want string) bool {
	return strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " "))
}
