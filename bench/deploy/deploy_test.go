package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// slots is how many fresh targets each size gets: every push goes to a repository and a
// namespace of its own, so that every iteration sends the whole commit and creates every
// object, for gitopsd and the baseline alike. The warm-up takes one.
const slots = 12

func configMap(i int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04[1]d\n  labels: {app: shop}\ndata:\n  index: \"%[1]d\"\n  mode: production\n", i)
}

// slot is one target of each side: gitopsd's repository and namespace, the baseline's bare
// repository and namespace.
type slot struct {
	repo, ns string
	// bare and bareSSH are the baseline's repositories, reached over file:// and sshd.
	bare, bareSSH, nsB string
}

// BenchmarkPushApply times `git push` of n ConfigMaps (one file each) to a running gitopsd
// until the push returns with them applied and healthy, against the baseline `git push`
// to a bare repository served by OpenSSH's sshd (over file:// when sshd is missing)
// followed by `kubectl apply --server-side -f DIR`. The timer holds gitopsd's push alone;
// both sides are reported with their ratio and the baseline's parts (git over ssh, git
// over file://, kubectl). Sides alternate who goes first.
func BenchmarkPushApply(b *testing.B) {
	cp := kubetest.ControlPlane(b)
	kubectl := filepath.Join(kubetest.BinDir(), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		b.Fatalf("no kubectl in the test bed (testbed/build.sh builds it): %v", err)
	}
	cacheDir := b.TempDir()
	sizes := []int{50, 500}
	key := gittest.NewKey(b, "bench")
	all := map[int][]slot{}
	var repos strings.Builder
	for _, n := range sizes {
		for k := 0; k < slots; k++ {
			s := slot{repo: fmt.Sprintf("n%d-%02d", n, k), ns: kubetest.Namespace(b), nsB: kubetest.Namespace(b)}
			s.bare = filepath.Join(b.TempDir(), s.repo+".git")
			s.bareSSH = filepath.Join(b.TempDir(), s.repo+"-ssh.git")
			for _, dir := range []string{s.bare, s.bareSSH} {
				if out, err := exec.Command("git", "init", "-q", "--bare", "--initial-branch=main", dir).CombinedOutput(); err != nil {
					b.Fatalf("git init: %v\n%s", err, out)
				}
			}
			all[n] = append(all[n], s)
			fmt.Fprintf(&repos, "  %s:\n    write: [bench]\n    environments:\n      prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {wait: 5m, health_timeout: 2m}}\n", s.repo, s.ns)
		}
	}
	ssh := startSSHD(b, key)
	d := gittest.Start(b, gittest.Users(key)+
		fmt.Sprintf("clusters:\n  local: {kubeconfig: %s, context: %s}\n", cp.Kubeconfig, controlplane.ContextName)+
		"repos:\n"+repos.String())

	for _, n := range sizes {
		files := map[string]string{}
		for i := 0; i < n; i++ {
			files[fmt.Sprintf("deploy/cm-%04d.yaml", i)] = configMap(i)
		}
		work := d.Clone(b, key, all[n][0].repo)
		d.Commit(b, key, work, fmt.Sprintf("%d configmaps", n), files)
		next := 0
		take := func() slot {
			if next == slots {
				b.Fatalf("more than %d pushes of %d objects: run with -benchtime 3x or raise slots", slots, n)
			}
			next++
			return all[n][next-1]
		}
		var last string // the daemon's summary of the last push
		gitopsd := func(s slot) time.Duration {
			start := time.Now()
			out, err := d.Git(b, key, work, "push", d.URL(s.repo), "HEAD:refs/heads/main")
			took := time.Since(start)
			if err != nil || !strings.Contains(out, ": ok: applied") {
				b.Fatalf("push of %d objects to gitopsd: %v\n%s", n, err, out)
			}
			var lines []string
			for _, l := range strings.Split(out, "\n") {
				for _, mark := range []string{"ok: checks passed in", "ok: applied"} {
					if i := strings.Index(l, mark); i >= 0 {
						lines = append(lines, strings.TrimSpace(l[i:]))
					}
				}
			}
			last = strings.Join(lines, "; ")
			return took
		}
		gitPush := func(url string, env ...string) time.Duration {
			start := time.Now()
			if out, err := d.GitEnvRun(b, key, work, env, "push", "-q", url, "HEAD:refs/heads/main"); err != nil {
				b.Fatalf("push to %s: %v\n%s", url, err, out)
			}
			return time.Since(start)
		}
		// baseline pushes to a bare repository over file:// and, when sshd runs, over ssh
		// (the one counted then), and applies with kubectl.
		baseline := func(s slot) (fileTook, sshTook, kubectlTook time.Duration) {
			fileTook = gitPush("file://" + s.bare)
			if ssh != nil {
				sshTook = gitPush(ssh.url(s.bareSSH), "GIT_SSH_COMMAND="+ssh.gitSSH)
			}
			start := time.Now()
			out, err := exec.Command(kubectl, "--kubeconfig", cp.Kubeconfig, "--cache-dir", cacheDir,
				"apply", "--server-side", "-n", s.nsB, "-f", filepath.Join(work, "deploy")).CombinedOutput()
			if err != nil {
				b.Fatalf("kubectl apply: %v\n%s", err, out)
			}
			return fileTook, sshTook, time.Since(start)
		}
		// Warm both: the daemon's clients and discovery, kubectl's discovery cache.
		warm := take()
		gitopsd(warm)
		baseline(warm)

		b.Run(fmt.Sprintf("configmaps-%d", n), func(b *testing.B) {
			var ours, gitFile, gitSSH, kc time.Duration
			side := func(s slot) {
				b.StopTimer()
				f, g, k := baseline(s)
				gitFile, gitSSH, kc = gitFile+f, gitSSH+g, kc+k
				b.StartTimer()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := take()
				if i%2 == 1 {
					side(s)
				}
				ours += gitopsd(s)
				if i%2 == 0 {
					side(s)
				}
			}
			git := gitFile
			if ssh != nil {
				git = gitSSH
				b.ReportMetric(gitSSH.Seconds()/float64(b.N), "git-ssh-s/op")
			}
			f := float64(b.N)
			b.ReportMetric(ours.Seconds()/f, "gitopsd-s/op")
			b.ReportMetric((git+kc).Seconds()/f, "baseline-s/op")
			b.ReportMetric(gitFile.Seconds()/f, "git-file-s/op")
			b.ReportMetric(kc.Seconds()/f, "kubectl-s/op")
			b.ReportMetric(ours.Seconds()/(git+kc).Seconds(), "ratio")
			b.Logf("gitopsd's own report of the last push: %s", last)
		})
	}
}
