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
	repo, ns  string
	bare, nsB string
}

// BenchmarkPushApply times `git push` of n ConfigMaps (one file each) to a running gitopsd
// until the push returns with them applied and healthy, against the baseline `git push`
// to a bare repository over file:// followed by `kubectl apply --server-side -f DIR`. The
// timer holds gitopsd's push alone; both sides are reported with their ratio and the
// baseline's two parts. Sides alternate who goes first.
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
			if out, err := exec.Command("git", "init", "-q", "--bare", "--initial-branch=main", s.bare).CombinedOutput(); err != nil {
				b.Fatalf("git init: %v\n%s", err, out)
			}
			all[n] = append(all[n], s)
			fmt.Fprintf(&repos, "  %s:\n    write: [bench]\n    environments:\n      prod: {branch: main, cluster: local, path: deploy, namespace: %s, apply: {wait: 5m, health_timeout: 2m}}\n", s.repo, s.ns)
		}
	}
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
		baseline := func(s slot) (gitTook, kubectlTook time.Duration) {
			start := time.Now()
			if out, err := d.Git(b, key, work, "push", "-q", "file://"+s.bare, "HEAD:refs/heads/main"); err != nil {
				b.Fatalf("push to the bare repo: %v\n%s", err, out)
			}
			gitTook = time.Since(start)
			start = time.Now()
			out, err := exec.Command(kubectl, "--kubeconfig", cp.Kubeconfig, "--cache-dir", cacheDir,
				"apply", "--server-side", "-n", s.nsB, "-f", filepath.Join(work, "deploy")).CombinedOutput()
			if err != nil {
				b.Fatalf("kubectl apply: %v\n%s", err, out)
			}
			return gitTook, time.Since(start)
		}
		// Warm both: the daemon's clients and discovery, kubectl's discovery cache.
		warm := take()
		gitopsd(warm)
		baseline(warm)

		b.Run(fmt.Sprintf("configmaps-%d", n), func(b *testing.B) {
			var ours, git, kc time.Duration
			side := func(s slot) {
				b.StopTimer()
				g, k := baseline(s)
				git, kc = git+g, kc+k
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
			f := float64(b.N)
			b.ReportMetric(ours.Seconds()/f, "gitopsd-s/op")
			b.ReportMetric((git+kc).Seconds()/f, "baseline-s/op")
			b.ReportMetric(git.Seconds()/f, "git-s/op")
			b.ReportMetric(kc.Seconds()/f, "kubectl-s/op")
			b.ReportMetric(ours.Seconds()/(git+kc).Seconds(), "ratio")
			b.Logf("gitopsd's own report of the last push: %s", last)
		})
	}
}
