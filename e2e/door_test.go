package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// TestTagNamedLikeAnEnvironmentBranch is the ref-rule dodge by name: a writer pushed a tag
// called main, and from then on every `git push origin HEAD:main` failed ("matches more
// than one") while nobody could delete the tag. The tag is refused now, as is a tag named
// like an existing branch and a branch named like an existing tag.
func TestTagNamedLikeAnEnvironmentBranch(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("production: {branch: main, cluster: local, path: deploy, namespace: %s}", ns))
	d.Commit(t, alice, work, "one", map[string]string{"deploy/a.yaml": cmYAML("a", "one")})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("first push:\n%s", out)
	}

	refused := func(want string, args ...string) {
		t.Helper()
		out, err := d.Git(t, alice, work, args...)
		if err == nil {
			t.Fatalf("git %s was accepted:\n%s", strings.Join(args, " "), out)
		}
		if !hasWords(out, want) {
			t.Fatalf("git %s: output lacks %q:\n%s", strings.Join(args, " "), want, out)
		}
	}
	refused("remote: gitopsd: refused refs/tags/main\nremote:   ref-name: tag main has the name of branch main, which deploys environment production",
		"push", "origin", "HEAD:refs/tags/main")
	if out := d.MustGit(t, alice, work, "ls-remote", "origin", "refs/tags/*"); out != "" {
		t.Fatalf("a refused tag exists:\n%s", out)
	}

	// The short form of the push keeps working.
	d.Commit(t, alice, work, "two", map[string]string{"deploy/a.yaml": cmYAML("a", "two")})
	if out, err := d.Git(t, alice, work, "push", "origin", "HEAD:main"); err != nil {
		t.Fatalf("git push origin HEAD:main after the refused tag: %v\n%s", err, out)
	}
	waitFor(t, "the second commit applied", func() bool { return configMapValue(cs, ns, "a", "value") == "two" })

	// The other kind of ref of an existing name, both ways.
	d.MustGit(t, alice, work, "push", "--quiet", "origin", "HEAD:refs/heads/feature", "HEAD:refs/tags/v1")
	refused("refused refs/tags/feature\nremote:   ref-name: branch feature exists", "push", "origin", "HEAD:refs/tags/feature")
	refused("refused refs/heads/v1\nremote:   ref-name: tag v1 exists", "push", "origin", "HEAD:refs/heads/v1")
	// In one push, too.
	refused("refused refs/tags/topic\nremote:   ref-name: branch topic is pushed too", "push", "origin", "HEAD:refs/heads/topic", "HEAD:refs/tags/topic")
	// A name that differs from the environment's branch only in case would be one file in
	// a clone on a case-insensitive file system.
	refused("refused refs/heads/Main\nremote:   ref-name: Main differs from branch main", "push", "origin", "HEAD:refs/heads/Main")
}

// TestDeletedEnvironmentBranchComesBackAsFastForward is the force-push dodge: deleting an
// environment branch (allowed here) and pushing unrelated history under its name replaced
// what production ran although allow_force_push is off. The branch may come back only as a
// fast-forward of the commit last applied.
func TestDeletedEnvironmentBranchComesBackAsFastForward(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("production: {branch: prod, cluster: local, path: deploy, namespace: %s, allow_delete: true}", ns))
	applied := d.Commit(t, alice, work, "one", map[string]string{"deploy/a.yaml": cmYAML("a", "one")})
	// main, a plain branch, is the repository's HEAD, which git itself will not delete.
	d.MustGit(t, alice, work, "push", "--quiet", "origin", "HEAD:main")
	if out, ok := push(t, d, alice, work, "prod"); !ok {
		t.Fatalf("first push:\n%s", out)
	}
	waitFor(t, "the first commit applied", func() bool { return configMapValue(cs, ns, "a", "value") == "one" })
	d.MustGit(t, alice, work, "push", "--quiet", "origin", ":prod")
	if head := remoteHead(t, d, "prod", ns); head != "" {
		t.Fatalf("prod still at %s after its deletion", head)
	}

	d.MustGit(t, alice, work, "checkout", "--quiet", "--orphan", "rewrite")
	d.Commit(t, alice, work, "unrelated", map[string]string{"deploy/a.yaml": cmYAML("a", "evil")})
	out, ok := push(t, d, alice, work, "prod")
	if ok {
		t.Fatalf("unrelated history under the deleted branch's name was accepted:\n%s", out)
	}
	want := fmt.Sprintf("refused refs/heads/prod\nremote:   fast-forward: branch prod deploys environment production and may come back only as a fast-forward of %s", applied[:12])
	if !hasWords(out, want) {
		t.Fatalf("push output lacks %q:\n%s", want, out)
	}
	if head := remoteHead(t, d, "prod", ns); head != "" {
		t.Fatalf("prod was created at %s", head)
	}
	if v := configMapValue(cs, ns, "a", "value"); v != "one" {
		t.Fatalf("configmap a = %q after the refused push, want one", v)
	}

	// A descendant of what was applied is welcome.
	d.MustGit(t, alice, work, "checkout", "--quiet", "-b", "again", applied)
	d.Commit(t, alice, work, "two", map[string]string{"deploy/a.yaml": cmYAML("a", "two")})
	if out, ok := push(t, d, alice, work, "prod"); !ok {
		t.Fatalf("a fast-forward of the applied commit was refused:\n%s", out)
	}
	waitFor(t, "the fast-forward applied", func() bool { return configMapValue(cs, ns, "a", "value") == "two" })
}

// TestKustomizeRemoteBaseNeverFetched is the network leak: a scp-like base,
// user@host:path, made krusty run git fetch over ssh in pre-receive, with the daemon's own
// ssh configuration. A ProxyCommand in that configuration shows whether ssh ever ran.
func TestKustomizeRemoteBaseNeverFetched(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	d, alice, work := oneRepo(t, cp, ns, fmt.Sprintf("production: {branch: main, cluster: local, path: k, namespace: %s}", ns))
	marker := filepath.Join(t.TempDir(), "ssh-ran")
	sshDir := filepath.Join(d.Dir, "home", ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := "Host evil.example\n  ProxyCommand touch " + marker + "\n"
	if err := os.WriteFile(filepath.Join(sshDir, "config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Commit(t, alice, work, "remote base", map[string]string{
		"k/kustomization.yaml": "resources:\n- a.yaml\n- deploy@evil.example:infra/base\n",
		"k/a.yaml":             cmYAML("a", "one"),
	})
	out, ok := push(t, d, alice, work, "main")
	refusedBy(t, out, ok, "kustomize-remote")
	for _, want := range []string{`k/kustomization.yaml:3`, `resources: "deploy@evil.example:infra/base" is remote`, "hint: vendor it into the repository"} {
		if !hasWords(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("ssh ran during pre-receive")
	}
}
