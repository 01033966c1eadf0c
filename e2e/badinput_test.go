package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// badInput is one daemon and one repo whose environments live on different branches, one
// per layout the bad inputs need. Each environment has its own clone, so a subtest can
// commit on top of the branch, see the push refused, and step back.
type badInput struct {
	d     *gittest.Daemon
	alice *gittest.Key
	cs    kubernetes.Interface
	repo  string
	ns    string
	work  map[string]string // environment -> its clone, on the environment's branch
}

// badInputBranches maps each environment to its branch.
var badInputBranches = map[string]string{
	"plain": "plain", "kust": "kust", "helm": "helm", "helmloop": "helm-loop",
	"helmvalues": "helm-values", "nons": "nons",
}

const badChart = "apiVersion: v2\nname: web\nversion: 0.1.0\n"

const badChartCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
data:
  value: {{ .Values.value | quote }}
`

// goodFiles is a good commit of env whose ConfigMap ENV-cm holds value. Object names differ
// per environment because the environments share one namespace and each one's inventory
// prunes only what it applied.
func (b *badInput) goodFiles(env, value string) map[string]string {
	chart := map[string]string{
		"charts/web/Chart.yaml":        badChart,
		"charts/web/values.yaml":       "value: default\n",
		"charts/web/templates/cm.yaml": badChartCM,
	}
	switch env {
	case "plain":
		return map[string]string{"plain/cm.yaml": cmYAML("plain-cm", value)}
	case "kust":
		return map[string]string{
			"kust/base/kustomization.yaml":    "resources: [cm.yaml]\n",
			"kust/base/cm.yaml":               cmYAML("cm", value),
			"kust/overlay/kustomization.yaml": "resources:\n- ../base\nnamePrefix: kust-\n",
		}
	case "helm", "helmvalues":
		chart["envs/"+env+".yaml"] = "value: " + value + "\n"
		return chart
	case "helmloop":
		chart["charts/web/values.yaml"] = "value: " + value + "\n"
		return chart
	case "nons":
		return map[string]string{"nons/cm.yaml": strings.Replace(cmYAML("nons-cm", value), "metadata:\n", "metadata:\n  namespace: "+b.ns+"\n", 1)}
	}
	panic("unknown environment " + env)
}

// startBadInput starts the daemon on an empty repo and clones it once per environment.
func startBadInput(t *testing.T) *badInput {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	b := &badInput{alice: gittest.NewKey(t, "alice"), cs: kubetest.Client(t, cp.Config), repo: ns, ns: ns, work: map[string]string{}}
	common := fmt.Sprintf("cluster: local, namespace: %s, apply: {health_timeout: 20s}", ns)
	b.d = gittest.Start(t, gittest.Users(b.alice)+"clusters:\n"+cluster("local", cp)+fmt.Sprintf(`repos:
  %[1]s:
    write: [alice]
    environments:
      plain: {branch: plain, path: plain, %[2]s}
      kust: {branch: kust, path: kust/overlay, %[2]s}
      helm: {branch: helm, path: charts/web, render: {values: [envs/helm.yaml]}, %[2]s}
      helmloop: {branch: helm-loop, path: charts/web, render: {timeout: 1s}, %[2]s}
      helmvalues: {branch: helm-values, path: charts/web, render: {values: [envs/helmvalues.yaml]}, %[2]s}
      nons: {branch: nons, path: nons, cluster: local, apply: {health_timeout: 20s}}
`, ns, common))
	for env := range badInputBranches {
		b.work[env] = b.d.Clone(t, b.alice, b.repo)
	}
	return b
}

// pushGood commits a good state of env with value and pushes it: it must be accepted and
// applied.
func (b *badInput) pushGood(t *testing.T, env, value string) string {
	t.Helper()
	work := b.work[env]
	b.d.Commit(t, b.alice, work, "good "+value, b.goodFiles(env, value))
	out, ok := push(t, b.d, b.alice, work, badInputBranches[env])
	if !ok || !hasWords(out, "ok: checks passed") || !hasWords(out, ": ok: applied ") {
		t.Fatalf("a good push to %s must be accepted and applied:\n%s", env, out)
	}
	// Every environment names its ConfigMap ENV-cm (Helm: the release is the environment).
	if v := configMapValue(b.cs, b.ns, env+"-cm", "value"); v != value {
		t.Errorf("after the push, ConfigMap %s/%s-cm holds %q, want %q", b.ns, env, v, value)
	}
	return out
}

// pushFiles commits files (content "symlink:T" makes a symlink to T; "" deletes the
// file) on env's branch and pushes.
func (b *badInput) pushFiles(t *testing.T, env string, files map[string]string) (string, bool) {
	t.Helper()
	work := b.work[env]
	for name, content := range files {
		full := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(full)
		if content == "" {
			continue
		}
		if target, ok := strings.CutPrefix(content, "symlink:"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.d.MustGit(t, b.alice, work, "add", "-A")
	b.d.MustGit(t, b.alice, work, "commit", "-q", "-m", t.Name())
	return push(t, b.d, b.alice, work, badInputBranches[env])
}

// refuse pushes files to env (see pushFiles) and checks that the push is refused with
// every want in its output, that the branch did not move and no object of the push stayed
// on the server. It then steps back and pushes a good change: the daemon is still up and
// serving.
func (b *badInput) refuse(t *testing.T, env string, files map[string]string, want ...problemLine) string {
	t.Helper()
	branch := badInputBranches[env]
	head, objects := remoteHead(t, b.d, branch, b.repo), objectCount(t, b.d, b.repo)
	start := time.Now()
	out, ok := b.pushFiles(t, env, files)
	t.Logf("refused in %v", time.Since(start).Round(time.Millisecond))
	if ok {
		t.Errorf("the push must be refused:\n%s", out)
	}
	for _, w := range want {
		w.check(t, out)
	}
	if !hasWords(out, "remote:   REJECTED: ") || !hasWords(out, "pre-receive hook declined") {
		t.Errorf("no rejection verdict:\n%s", out)
	}
	if h := remoteHead(t, b.d, branch, b.repo); h != head {
		t.Errorf("a refused push moved %s from %s to %s", branch, head, h)
	}
	if o := objectCount(t, b.d, b.repo); o != objects {
		t.Errorf("objects of a refused push remain: %s -> %s", objects, o)
	}
	select {
	case <-b.d.Exited():
		t.Fatalf("the daemon exited:\n%s", b.d.Logs())
	default:
	}
	b.d.MustGit(t, b.alice, b.work[env], "reset", "-q", "--hard", "HEAD~1")
	b.pushGood(t, env, "after-"+strings.ToLower(filepath.Base(t.Name())))
	return out
}

// problemLine is one problem as the report prints it: "x LOCATION[  OBJECT]" and, on the
// next line, "RULE: MESSAGE".
type problemLine struct {
	loc, rule, msg string
}

func (w problemLine) check(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines[:len(lines)-1] {
		head, ok := strings.CutPrefix(strings.TrimRight(l, " "), "remote:   x "+w.loc)
		if !ok || (head != "" && !strings.HasPrefix(head, "  ")) {
			continue
		}
		// The problem's own lines, below its head: the object when it did not fit the
		// head, then the rule and message, wrapped.
		var block []string
		for _, b := range lines[i+1:] {
			if !strings.HasPrefix(b, "remote:    ") {
				break
			}
			block = append(block, b)
		}
		text := strings.Join(block, "\n")
		if strings.Contains(text, "remote:     "+w.rule+": ") && hasWords(text, w.msg) {
			return
		}
	}
	t.Errorf("no problem %q %s: %q in the push output:\n%s", w.loc, w.rule, w.msg, out)
}

// yamlBomb is the billion laughs: nine levels of nine aliases.
func yamlBomb() string {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, c := range "bcdefghi" {
		n := string(c)
		bomb += "  " + n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n"
		prev = n
	}
	return bomb
}

// TestBadInput pushes each bad input of the pre-receive issue to a real daemon checking
// against a real API server: each is refused with the rule and the file (and line) in the
// pusher's terminal, leaves the branch and the server's objects as they were, and the next
// good push to the same environment is accepted and applied.
func TestBadInput(t *testing.T) {
	b := startBadInput(t)

	t.Run("good", func(t *testing.T) {
		for _, env := range []string{"plain", "kust", "helm", "helmloop", "helmvalues", "nons"} {
			b.pushGood(t, env, "one")
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("invalid-yaml", func(t *testing.T) {
		b.refuse(t, "plain", map[string]string{"plain/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: 1\n"},
			problemLine{"plain/bad.yaml:5", "yaml-syntax", "invalid YAML: did not find expected key"})
	})
	t.Run("yaml-bomb", func(t *testing.T) {
		b.refuse(t, "plain", map[string]string{"plain/bomb.yaml": yamlBomb()},
			problemLine{"plain/bomb.yaml:6", "yaml-aliases", "YAML aliases expand to more than 100000 nodes"})
	})
	t.Run("huge-manifest", func(t *testing.T) {
		// 100 MiB of one comment line: git compresses it to a small pack, and the
		// renderer refuses it from its size alone.
		line := "# a comment line that pads the manifest to a hundred megabytes....\n"
		big := cmYAML("huge", "x") + strings.Repeat(line, (100<<20)/len(line)+1)
		b.refuse(t, "plain", map[string]string{"plain/huge.yaml": big},
			problemLine{"plain/huge.yaml", "too-large", "file is 100.0 MiB, more than the limit of 64.0 MiB"})
	})
	t.Run("binary-file", func(t *testing.T) {
		b.refuse(t, "plain", map[string]string{"plain/logo.png": "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
			problemLine{"plain/logo.png:3", "binary-file", "binary file in the manifest path"})
	})
	t.Run("invalid-utf8", func(t *testing.T) {
		b.refuse(t, "plain", map[string]string{"plain/latin.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n"},
			problemLine{"plain/latin.yaml:4", "invalid-utf8", "invalid UTF-8 at byte 52"})
	})
	t.Run("deep-nesting", func(t *testing.T) {
		deep := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: " + strings.Repeat("[", 150) + strings.Repeat("]", 150) + "\n"
		// Deeper than the YAML parser's own limit: refused by the parser, with a line.
		deeper := "a: " + strings.Repeat("[", 20000) + "\n"
		b.refuse(t, "plain", map[string]string{"plain/deep.yaml": deep, "plain/deeper.yaml": deeper},
			problemLine{"plain/deep.yaml:5", "yaml-depth", "document is nested more than 100 levels deep"},
			problemLine{"plain/deeper.yaml", "yaml-syntax", "exceeded max depth of 10000"})
	})
	t.Run("symlink-to-etc", func(t *testing.T) {
		b.refuse(t, "plain", map[string]string{"plain/etc": "symlink:/etc"},
			problemLine{"plain/etc", "read", "symlink points outside the repository"})
	})
	t.Run("unknown-kind", func(t *testing.T) {
		b.refuse(t, "plain", map[string]string{"plain/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"},
			problemLine{"plain/widget.yaml:1  Widget.example.com/w", "unknown-kind", "the cluster does not serve example.com/v1 Widget"})
	})
	t.Run("no-namespace", func(t *testing.T) {
		b.refuse(t, "nons", map[string]string{"nons/extra.yaml": cmYAML("nons-extra", "x")},
			problemLine{"nons/extra.yaml:1  ConfigMap/nons-extra", "namespace-missing", "the environment has no default namespace"})
	})
	t.Run("kustomize-outside-repo", func(t *testing.T) {
		b.refuse(t, "kust", map[string]string{"kust/overlay/kustomization.yaml": "resources:\n- ../base\n- ../../..\nnamePrefix: kust-\n"},
			problemLine{"kust/overlay/kustomization.yaml:3", "outside-repo", `resources: "../../.." points outside the repository`})
	})
	t.Run("kustomize-url", func(t *testing.T) {
		b.refuse(t, "kust", map[string]string{"kust/overlay/kustomization.yaml": "resources:\n- ../base\n- https://github.com/example/repo//deploy?ref=v1\nnamePrefix: kust-\n"},
			problemLine{"kust/overlay/kustomization.yaml:3", "kustomize-remote", `resources: "https://github.com/example/repo//deploy?ref=v1" is remote`})
	})
	t.Run("helm-recursion", func(t *testing.T) {
		b.refuse(t, "helm", map[string]string{
			"charts/web/templates/_loop.tpl": `{{ define "loop" }}{{ include "loop" . }}{{ end }}`,
			"charts/web/templates/loop.yaml": `{{ include "loop" . }}`,
		}, problemLine{"charts/web/templates/_loop.tpl:1", "helm", "nested reference name: loop"})
	})
	t.Run("helm-etc-passwd-symlink", func(t *testing.T) {
		b.refuse(t, "helm", map[string]string{
			"charts/web/files/passwd":          "symlink:/etc/passwd",
			"charts/web/templates/passwd.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: passwd\ndata:\n  p: {{ .Files.Get \"files/passwd\" | quote }}\n",
		}, problemLine{"charts/web/files/passwd", "read", "charts/web/files/passwd -> /etc/passwd: symlink points outside the repository"})
	})
	t.Run("helm-files-get-etc-passwd", func(t *testing.T) {
		// .Files holds the chart's own files only; a template that names a file outside
		// the chart is refused at its line, and nothing of the host is read.
		out := b.refuse(t, "helm", map[string]string{
			"charts/web/templates/passwd.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: passwd\ndata:\n" +
				"  abs: {{ .Files.Get \"/etc/passwd\" | quote }}\n  up: {{ .Files.Get \"../../../../etc/passwd\" | quote }}\n",
		},
			problemLine{"charts/web/templates/passwd.yaml:6", "outside-repo", `.Files.Get "/etc/passwd" names a file outside the chart`},
			problemLine{"charts/web/templates/passwd.yaml:7", "outside-repo", `.Files.Get "../../../../etc/passwd" names a file outside the chart`})
		if hasWords(out, "root:") {
			t.Errorf("/etc/passwd leaked into the push output:\n%s", out)
		}
	})
	t.Run("helm-values-missing", func(t *testing.T) {
		b.refuse(t, "helmvalues", map[string]string{"envs/helmvalues.yaml": ""},
			problemLine{"envs/helmvalues.yaml", "helm-values", "values file: no such file or directory"})
	})

	t.Run("helm-loop", func(t *testing.T) {
		// 4*10^7 iterations: several seconds here, far beyond the environment's 1s render
		// timeout. Go templates cannot be stopped, so the abandoned render runs on in the
		// daemon until it ends; it comes last so that it slows nothing else.
		spin := `{{ range until 1000 }}{{ range until 1000 }}{{ range until 40 }}{{ end }}{{ end }}{{ end }}`
		b.refuse(t, "helmloop", map[string]string{"charts/web/templates/spin.yaml": spin},
			problemLine{"charts/web", "timeout", "rendering took longer than 1s"})
	})
	if strings.Contains(b.d.Logs(), "panic") {
		t.Errorf("the daemon logged a panic:\n%s", b.d.Logs())
	}
}

// reportBlock is what a report says about one environment, without what differs between a
// push and a local run (the header with the commit, the notes and the preview, which
// depend on what the cluster holds, and the timings): the problem lines and the verdict.
func reportBlock(out string) []string {
	var block []string
	in, problems, head := false, false, false
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(strings.TrimPrefix(l, "remote: "), " ")
		// The header wraps where the names make it long: its continuation is skipped.
		cont := head && strings.HasPrefix(l, "    ")
		head = head && cont
		switch {
		case strings.HasPrefix(l, "gitopsd ") && !strings.HasPrefix(l, "gitopsd:"):
			in, problems, head = true, true, true
		case !in, cont:
		case strings.HasPrefix(l, "  ok: checks passed"), strings.HasPrefix(l, "  REJECTED: "):
			verdict, _, _ := strings.Cut(l, " in ")
			return append(block, verdict)
		case strings.HasPrefix(l, "  preview:"), strings.HasPrefix(l, "  note:"):
			problems = false
		case problems:
			block = append(block, l)
		}
	}
	return append(block, "(no verdict)")
}

// TestValidateSameVerdict runs `gitopsd validate` on a work tree with the daemon's own
// repos.yaml and the cluster's kubeconfig, then pushes the same tree: both must agree on
// the verdict and print the same problems, for a good tree, a Deployment the API server
// refuses, a policy violation and a render failure.
func TestValidateSameVerdict(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("staging: {branch: main, cluster: local, path: deploy, namespace: %s, "+
		"checks: {policies: [no-latest-tag]}, apply: {health_timeout: 20s}}", ns))
	fixed := strings.Replace(badDeployment, "replicas: -1", "replicas: 1", 1)
	cases := []struct {
		name  string
		files map[string]string
		ok    bool
		want  string // a line the problems must hold
	}{
		{"good", map[string]string{"deploy/cm.yaml": cmYAML("cm", "one")}, true, ""},
		{"api-refused", map[string]string{"deploy/web.yaml": badDeployment}, false, "spec.replicas: Invalid value: -1"},
		{"policy", map[string]string{"deploy/web.yaml": strings.Replace(fixed, "nginx:1.27", "nginx:latest", 1)}, false, "no-latest-tag"},
		{"render", map[string]string{"deploy/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: 1\n"}, false, "yaml-syntax: invalid YAML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d.Commit(t, alice, work, c.name, c.files)
			cmd := exec.Command(gittest.Binary(), "validate", "--config", d.ConfigPath, "--env", ns+"/staging", "--kubeconfig", cp.Kubeconfig, work)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
				t.Fatalf("validate: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			validated := reportBlock(stdout.String())
			t.Logf("validate:\n%s", strings.Join(validated, "\n"))
			if !c.ok && (len(validated) < 3 || !strings.HasPrefix(validated[0], "  x ")) {
				t.Errorf("validate printed no problem:\n%s", stdout.String())
			}

			out, pushed := push(t, d, alice, work, "main")
			if pushed != c.ok || (err == nil) != c.ok {
				t.Errorf("want ok=%v: the push says %v, validate says %v (%v)\npush:\n%s\nvalidate:\n%s%s", c.ok, pushed, err == nil, err, out, stdout.String(), stderr.String())
			}
			if got := reportBlock(out); !slices.Equal(got, validated) {
				t.Errorf("validate and push disagree\nvalidate:\n%s\npush:\n%s", strings.Join(validated, "\n"), strings.Join(got, "\n"))
			}
			if c.want != "" && !strings.Contains(strings.Join(validated, "\n"), c.want) {
				t.Errorf("want %q in the problems:\n%s", c.want, stdout.String())
			}
			if !c.ok {
				d.MustGit(t, alice, work, "reset", "-q", "--hard", "HEAD~1")
			}
		})
	}
}
