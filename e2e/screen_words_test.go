package e2e

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// screenWidth is the pusher's terminal: every line gitopsd prints fits it, git's
// "remote: " in front included.
const screenWidth = 80

// tooWide returns the lines of out that git prefixed with "remote: " (gitopsd's, not
// git's own) or, with all set, every line, that are wider than screenWidth. A line that
// holds a word longer than any line (a path, a key) is let through: it is left whole.
func tooWide(out string, all bool) []string {
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		// git pads each remote line with spaces (to clear what a progress line left).
		line = strings.TrimRight(line, " ")
		if !all && !strings.HasPrefix(line, "remote: ") {
			continue
		}
		if utf8.RuneCountInString(line) <= screenWidth {
			continue
		}
		long := false
		for _, w := range strings.Fields(line) {
			long = long || utf8.RuneCountInString(w) > screenWidth-16
		}
		if !long {
			bad = append(bad, line)
		}
	}
	return bad
}

// hasWords says whether out says want, read as words (gittest.Words): the wrapping to 80
// columns may break a line anywhere.
var hasWords = gittest.HasWords

// countWords counts how many times out says want, read as words.
func countWords(out, want string) int {
	return strings.Count(gittest.Words(out), gittest.Words(want))
}

// TestScreenFitsEightyColumns pushes what new users push: a tree with an API refusal, a
// misspelt field, a YAML error and an image policy violation, refused with each rule
// named, a hint for each, and a suggestion for the misspelling; then a good tree, applied
// with its progress; then reads `ssh status`. No line of it is wider than 80 columns.
func TestScreenFitsEightyColumns(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf("staging-with-a-long-environment-name: {branch: main, cluster: local, path: deploy, namespace: %s, "+
			"checks: {policies: [no-latest-tag]}, apply: {health_timeout: 20s}}", ns))
	typo := strings.Replace(strings.Replace(badDeployment, "replicas: -1", "replica: 2", 1), "name: web\n", "name: api\n", 1)
	d.Commit(t, alice, work, "broken", map[string]string{
		"deploy/web.yaml":    strings.Replace(badDeployment, "nginx:1.27", "registry.example.com/team/web-frontend:latest", 1),
		"deploy/api.yaml":    typo,
		"deploy/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   labels: {a: b}\n",
	})
	out, ok := push(t, d, alice, work, "main")
	if ok {
		t.Fatalf("the broken push must be refused:\n%s", out)
	}
	for _, want := range []string{
		"dry-run: spec.replicas: Invalid value: -1",
		"no-latest-tag: container web uses image registry.example.com/team/web-frontend:latest",
		"dry-run: .spec.replica: field not declared in schema",
		"hint: did you mean `replicas`?",
		"yaml-syntax: invalid YAML",
		"hint: fix the YAML at that line",
	} {
		if !hasWords(out, want) {
			t.Errorf("the refused push lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "hint:") < strings.Count(out, "  x ") {
		t.Errorf("a problem without a hint:\n%s", out)
	}
	if strings.Contains(out, "typed patch") || strings.Contains(out, "https://") {
		t.Errorf("the API's internals reach the pusher:\n%s", out)
	}
	for _, l := range tooWide(out, false) {
		t.Errorf("refused push: line wider than %d columns: %q", screenWidth, l)
	}

	d.MustGit(t, alice, work, "rm", "-q", "deploy/api.yaml", "deploy/broken.yaml", "deploy/web.yaml")
	d.Commit(t, alice, work, "good", map[string]string{"deploy/a.yaml": cmYAML("a", "one"), "deploy/b.yaml": cmYAML("b", "two")})
	out, ok = push(t, d, alice, work, "main")
	if !ok {
		t.Fatalf("the good push must be accepted:\n%s", out)
	}
	for _, want := range []string{"ok: checks passed", "applying 3 objects ...", "applied 3 objects, pruned 0; waiting for health ...", "ok: applied and healthy"} {
		if !hasWords(out, want) {
			t.Errorf("the accepted push lacks %q:\n%s", want, out)
		}
	}
	for _, l := range tooWide(out, false) {
		t.Errorf("accepted push: line wider than %d columns: %q", screenWidth, l)
	}

	st, _, err := d.SSH(t, alice, nil, "status")
	if err != nil || !strings.Contains(st, "staging-with-a-long-environment-name") || !strings.Contains(st, "applied and healthy") {
		t.Fatalf("ssh status: %v\n%s", err, st)
	}
	for _, l := range tooWide(st, true) {
		t.Errorf("ssh status: line wider than %d columns: %q", screenWidth, l)
	}
}
