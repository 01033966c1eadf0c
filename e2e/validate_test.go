package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/internal/testfs"
)

// pushReport is one environment's report as the pusher (or `gitopsd validate`) reads it,
// with what must differ between the two taken out: git's "remote: " prefix, the commit
// in the header, and the timings.
type pushReport struct {
	// Checking is the "gitopsd: checking REPO/ENV (PATH) ..." line, Header the report's
	// first line up to " @ " (the commit, or "working tree").
	Checking, Header string
	// Problems are the problems in order, each one string of its lines with runs of
	// spaces made one, so that a message wrapped at another width reads the same.
	Problems []string
	Notes    []string
	// Verdict is "ok: checks passed" or "REJECTED: N problems".
	Verdict string
}

var spaces = regexp.MustCompile(`\s+`)

// parseReport reads the first report in out.
func parseReport(out string) pushReport {
	var r pushReport
	in, inProblem := false, false
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(strings.TrimPrefix(l, "remote: "), " \r")
		switch {
		case !in && strings.HasPrefix(l, "gitopsd: checking "):
			r.Checking = l
		case !in && strings.HasPrefix(l, "gitopsd ") && strings.Contains(l, " -> cluster "):
			in = true
			r.Header, _, _ = strings.Cut(l, " @ ")
		case !in:
		case strings.HasPrefix(l, "  ok: "), strings.HasPrefix(l, "  REJECTED: "):
			r.Verdict, _, _ = strings.Cut(strings.TrimSpace(l), " in ")
			return r
		case strings.HasPrefix(l, "  x "):
			r.Problems = append(r.Problems, strings.TrimSpace(l))
			inProblem = true
		case strings.HasPrefix(l, "  note: "):
			r.Notes = append(r.Notes, strings.TrimPrefix(l, "  note: "))
			inProblem = false
		case !strings.HasPrefix(l, "    "):
			inProblem = false
		case inProblem:
			r.Problems[len(r.Problems)-1] += " " + spaces.ReplaceAllString(strings.TrimSpace(l), " ")
		}
	}
	r.Verdict = "(no verdict)"
	return r
}

// withoutRule is ps without the problems of rule.
func withoutRule(ps []string, rule string) []string {
	return slices.DeleteFunc(slices.Clone(ps), func(p string) bool { return strings.Contains(p, " "+rule+": ") })
}

// validate runs `gitopsd validate args...` in dir and returns its stdout, its stderr and
// whether it passed; an exit status other than 0 or 1 fails the test.
func validate(t *testing.T, dir string, args ...string) (string, string, bool) {
	t.Helper()
	cmd := exec.Command(gittest.Binary(), append([]string{"validate"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		t.Fatalf("validate %v in %s: %v\n%s%s", args, dir, err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String(), err == nil
}

// validateBroken is one repo with a plain, a Kustomize and a Helm environment, each on a
// branch of its own, all broken twice: an image the policy refuses (found offline) and
// replicas the API server refuses (found by the dry run only).
var validateBroken = map[string]string{
	"deploy/apps/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:latest"}]
`,
	"kust/bases/web/kustomization.yaml": "resources: [deployment.yaml]\n",
	"kust/bases/web/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`,
	"kust/overlays/prod/kustomization.yaml": `resources: [../../bases/web]
images: [{name: nginx, newTag: latest}]
patches:
- target: {kind: Deployment, name: web}
  patch: |-
    - {op: replace, path: /spec/replicas, value: -1}
`,
	"chart/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	"chart/values.yaml": "replicas: 1\nimage: nginx:1.27\n",
	"chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: {{ .Values.image | quote }}}]
`,
	"envs/prod/values.yaml": "replicas: -1\nimage: nginx:latest\n",
}

// TestValidateAsPush: `gitopsd validate`, run as a person would (inside the environment's
// directory, with the repository's repos.yaml found on its own and no other flag), says
// what the push of the same tree says: the same verdict and the same problem lines, for a
// plain environment, a Kustomize overlay run from inside the overlay (its base in
// ../../bases) and a Helm environment with its own values file. With the cluster of
// repos.yaml reachable it runs the dry run the push runs; with it unreachable it says so,
// and finds the push's problems except the dry run's.
func TestValidateAsPush(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf("plain: {branch: plain, cluster: local, path: deploy, namespace: %s, checks: {policies: [no-latest-tag]}}", ns),
		fmt.Sprintf("kust: {branch: kust, cluster: local, path: kust/overlays/prod, namespace: %s, checks: {policies: [no-latest-tag]}}", ns),
		fmt.Sprintf("helm: {branch: helm, cluster: local, path: chart, namespace: %s, render: {values: [envs/prod/values.yaml]}, checks: {policies: [no-latest-tag]}}", ns))
	daemonConfig, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	// The repository carries the daemon's repos.yaml, its kubeconfig the test's API server.
	files := map[string]string{"repos.yaml": string(daemonConfig)}
	for p, c := range validateBroken {
		files[p] = c
	}
	d.Commit(t, alice, work, "broken three ways", files)

	// A kubeconfig of the same cluster at a port nobody listens on.
	kc, err := os.ReadFile(cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kc), cp.Config.Host) {
		t.Fatalf("the kubeconfig does not name %s", cp.Config.Host)
	}
	closed := filepath.Join(t.TempDir(), "closed.kubeconfig")
	writeFile(t, closed, strings.ReplaceAll(string(kc), cp.Config.Host, "https://127.0.0.1:"+freePort(t)))
	unreachable := strings.ReplaceAll(string(daemonConfig), cp.Kubeconfig, closed)
	if unreachable == string(daemonConfig) {
		t.Fatalf("repos.yaml does not name %s:\n%s", cp.Kubeconfig, daemonConfig)
	}

	elsewhere := t.TempDir()
	cases := []struct {
		env, branch string
		dir         string   // where validate runs
		args        []string // and what it is given
	}{
		{"plain", "plain", filepath.Join(work, "deploy", "apps"), nil},
		{"kust", "kust", filepath.Join(work, "kust", "overlays", "prod"), nil},
		{"helm", "helm", elsewhere, []string{filepath.Join(work, "chart")}},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			out, ok := push(t, d, alice, work, c.branch)
			pushed := parseReport(out)
			if ok || pushed.Verdict == "(no verdict)" {
				t.Fatalf("the push must be refused with a report:\n%s", out)
			}
			if len(withoutRule(pushed.Problems, "dry-run")) == 0 || len(withoutRule(pushed.Problems, "dry-run")) == len(pushed.Problems) {
				t.Fatalf("the push must find problems offline and by the dry run:\n%s", out)
			}
			wantHeader := fmt.Sprintf("gitopsd %s/%s: %s -> cluster local", ns, c.env, c.branch)
			if pushed.Header != wantHeader {
				t.Fatalf("push header %q, want %q", pushed.Header, wantHeader)
			}

			stdout, stderr, passed := validate(t, c.dir, c.args...)
			got := parseReport(stdout)
			t.Logf("validate, cluster reachable:\n%s%s", stdout, stderr)
			if passed || got.Checking != pushed.Checking || got.Header != pushed.Header || got.Verdict != pushed.Verdict ||
				!slices.Equal(got.Problems, pushed.Problems) || !hasWords(stdout, " @ working tree\n") {
				t.Errorf("validate and push disagree\nvalidate:\n%s%s\npush:\n%s", stdout, stderr, out)
			}
			if hasWords(stdout, "offline") {
				t.Errorf("the cluster is reachable, and validate says offline:\n%s", stdout)
			}

			writeFile(t, filepath.Join(work, "repos.yaml"), unreachable)
			defer writeFile(t, filepath.Join(work, "repos.yaml"), string(daemonConfig))
			stdout, stderr, passed = validate(t, c.dir, c.args...)
			got = parseReport(stdout)
			t.Logf("validate, cluster unreachable:\n%s%s", stdout, stderr)
			if passed || got.Header != pushed.Header || !strings.HasPrefix(got.Verdict, "REJECTED: ") ||
				!slices.Equal(got.Problems, withoutRule(pushed.Problems, "dry-run")) {
				t.Errorf("offline, validate must find the push's problems but the dry run's\nvalidate:\n%s%s\npush:\n%s", stdout, stderr, out)
			}
			if want := []string{"offline: cluster local unreachable; no dry run, no preview"}; !slices.Equal(got.Notes, want) {
				t.Errorf("notes %q, want %q", got.Notes, want)
			}
			if !hasWords(stderr, "connection refused") {
				t.Errorf("stderr must say what failed: %q", stderr)
			}
		})
	}
}

// TestValidateNoGuess: `gitopsd validate` refuses to guess. --env without a repos.yaml to
// find it in is an error (it once checked the whole tree as plain YAML); a directory that
// two environments render names both, and checks nothing; and without a cluster it says it
// checks offline, and why.
func TestValidateNoGuess(t *testing.T) {
	repo := t.TempDir()
	testfs.Write(t, repo, map[string]string{
		".git/HEAD":               "ref: refs/heads/main\n",
		"chart/Chart.yaml":        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {v: {{ .Values.v | quote }}}\n",
		"chart/values.yaml":       "v: one\n",
		"docs/README.md":          "docs\n",
		"deploy/cm.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: other}\ndata: {v: one}\n",
	})

	stdout, stderr, ok := validate(t, filepath.Join(repo, "chart"), "--env", "web/dev")
	if ok || stdout != "" || !hasWords(stderr, "--env web/dev: no repos.yaml found in chart or above") {
		t.Errorf("--env without repos.yaml must be an error:\n%s%s", stdout, stderr)
	}
	stdout, stderr, ok = validate(t, filepath.Join(repo, "deploy"))
	if !ok || !hasWords(stdout, "gitopsd local/local: (no repos.yaml) -> cluster local @ working tree") ||
		!hasWords(stdout, "note: offline: no cluster configured; no dry run, no preview") {
		t.Errorf("without repos.yaml, the directory is checked offline, saying so:\n%s%s", stdout, stderr)
	}

	writeFile(t, filepath.Join(repo, "repos.yaml"), `clusters: {local: {kubeconfig: ../none.kubeconfig}}
repos:
  web:
    environments:
      dev: {branch: dev, cluster: local, path: chart, namespace: dev, render: {values: [chart/values.yaml]}}
      prod: {branch: main, cluster: local, path: chart, namespace: prod}
  other:
    environments:
      plain: {branch: main, cluster: local, path: deploy, namespace: other}
`)
	stdout, stderr, ok = validate(t, filepath.Join(repo, "chart", "templates"))
	if ok || stdout != "" || !hasWords(stderr, "chart/templates is in 2 environments of ") ||
		!hasWords(stderr, "choose one with --env: web/dev, web/prod\n") {
		t.Errorf("two environments render the directory: both must be named:\n%s%s", stdout, stderr)
	}
	stdout, stderr, ok = validate(t, filepath.Join(repo, "docs"))
	if ok || stdout != "" || !hasWords(stderr, "docs is in none of the 3 environments") ||
		!hasWords(stderr, "other/plain, web/dev, web/prod\n") {
		t.Errorf("no environment renders the directory: every one must be named:\n%s%s", stdout, stderr)
	}
	stdout, stderr, ok = validate(t, repo, "--env", "web/dev")
	if !ok || !hasWords(stdout, "gitopsd web/dev: dev -> cluster local @ working tree") ||
		!hasWords(stdout, "note: offline: cannot read cluster local's kubeconfig; no dry run, no preview") ||
		!hasWords(stderr, "none.kubeconfig") {
		t.Errorf("--env picks the environment; a kubeconfig that is not there is said:\n%s%s", stdout, stderr)
	}
	stdout, stderr, ok = validate(t, filepath.Join(repo, "deploy"))
	if !ok || !hasWords(stdout, "gitopsd: checking other/plain (deploy) ...") {
		t.Errorf("the one environment that renders the directory is checked:\n%s%s", stdout, stderr)
	}
}

// TestValidateFoundConfigRunsNothing: a repos.yaml that came with a clone chooses the
// settings, never what runs on the machine of whoever checks it: its tests (commands) do
// not run, nor does a kubeconfig inside the tree (whose exec credential plugin is a
// command), and the report says so. Given with --config, the same file is trusted.
func TestValidateFoundConfigRunsNothing(t *testing.T) {
	repo, marks := t.TempDir(), t.TempDir()
	testMark, execMark := filepath.Join(marks, "test-ran"), filepath.Join(marks, "exec-ran")
	testfs.Write(t, repo, map[string]string{
		".git/HEAD":      "ref: refs/heads/main\n",
		"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: app}\ndata: {v: one}\n",
		"kc.yaml": `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:` + freePort(t) + `"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, interactiveMode: Never, command: sh, args: [-c, "touch ` + execMark + `; exit 1"]}
`,
		"repos.yaml": `clusters: {local: {kubeconfig: kc.yaml}}
tests:
  mark: {command: [sh, -c, "touch ` + testMark + `"]}
repos:
  app:
    environments:
      prod: {branch: main, cluster: local, path: deploy, namespace: app, checks: {tests: [mark]}}
`,
	})
	ran := func(p string) bool { _, err := os.Stat(p); return err == nil }

	stdout, stderr, ok := validate(t, filepath.Join(repo, "deploy"))
	t.Logf("found:\n%s%s", stdout, stderr)
	if !ok || !hasWords(stdout, "note: tests not run: a repos.yaml found in the tree runs no commands (see --config)") ||
		!hasWords(stdout, "note: offline: kubeconfig inside the repo not trusted; no dry run, no preview") {
		t.Errorf("the report must say what did not run:\n%s%s", stdout, stderr)
	}
	if ran(testMark) || ran(execMark) {
		t.Fatalf("a found repos.yaml ran a command (test %v, kubeconfig exec %v)", ran(testMark), ran(execMark))
	}

	stdout, stderr, ok = validate(t, filepath.Join(repo, "deploy"), "--config", filepath.Join(repo, "repos.yaml"))
	t.Logf("given:\n%s%s", stdout, stderr)
	if !ok || !hasWords(stdout, "note: offline: cluster local unreachable") || hasWords(stdout, "tests not run") {
		t.Errorf("with --config, its tests and kubeconfig are used:\n%s%s", stdout, stderr)
	}
	if !ran(testMark) || !ran(execMark) {
		t.Errorf("with --config, the test and the kubeconfig's command run (test %v, exec %v)", ran(testMark), ran(execMark))
	}
}
