package deploy

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// healthyObjects is the size of the push-to-healthy environment. Smaller sizes are for
// development: go test ./bench/deploy -run '^$' -bench PushHealthy -args -healthy.objects=30
var healthyObjects = flag.Int("healthy.objects", 500, "objects in BenchmarkPushHealthy's environment (a third of them Deployments)")

// target is one environment on both sides: gitopsd's repository and namespace, the
// baseline's bare repository and namespace.
type target struct {
	repo, ns  string
	bare, nsB string
}

// pipeline is the hand-made pipeline: `git push` to a bare repository served by OpenSSH's
// sshd (over file:// when sshd is missing), `kubectl apply --server-side -f DIR`, then a
// kubectl wait for the Deployments.
type pipeline struct {
	d                             *gittest.Daemon
	key                           *gittest.Key
	ssh                           *sshd
	kubectl, kubeconfig, cacheDir string
}

// rolloutStatus is how the baseline waits for the Deployments of namespace ns: `kubectl
// rollout status` of all of them (the pipeline does not know which ones a commit changed;
// the unchanged ones answer at once). It waits for a rolling update too, where `kubectl
// wait --for=condition=Available` returns at once (Available stays true through one), and
// it is the quicker of the two for new ones: kubectl wait takes about 0.1 s per object even
// when every condition is met (17 s for 167 Available Deployments, measured here, against
// 0.5 s for rollout status).
func rolloutStatus(ns string) []string {
	return []string{"rollout", "status", "deployment", "-n", ns, "-l", partOf, "--timeout=4m"}
}

// run pushes the work tree's HEAD to t's bare repository, applies its deploy/ directory to
// t.nsB and waits; it returns the time of each part.
func (p *pipeline) run(b *testing.B, work string, t target) (git, apply, wait time.Duration) {
	url, env := "file://"+t.bare, []string(nil)
	if p.ssh != nil {
		url, env = p.ssh.url(t.bare), []string{"GIT_SSH_COMMAND=" + p.ssh.gitSSH}
	}
	start := time.Now()
	if out, err := p.d.GitEnvRun(b, p.key, work, env, "push", "-q", url, "HEAD:refs/heads/main"); err != nil {
		b.Fatalf("baseline push to %s: %v\n%s", url, err, out)
	}
	git = time.Since(start)
	apply = p.kube(b, "apply", "--server-side", "-n", t.nsB, "-f", filepath.Join(work, "deploy"))
	wait = p.kube(b, rolloutStatus(t.nsB)...)
	return git, apply, wait
}

// kube runs kubectl with args and returns how long it took.
func (p *pipeline) kube(b *testing.B, args ...string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, p.kubectl, append([]string{"--kubeconfig", p.kubeconfig, "--cache-dir", p.cacheDir}, args...)...).CombinedOutput()
	if err != nil {
		b.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

// pushHealthy pushes the work tree's HEAD to gitopsd's repository of t and returns how long
// the push took and the daemon's own report of it. The push must end healthy.
func pushHealthy(b *testing.B, d *gittest.Daemon, key *gittest.Key, work string, t target) (time.Duration, string) {
	start := time.Now()
	out, err := d.Git(b, key, work, "push", d.URL(t.repo), "HEAD:refs/heads/main")
	took := time.Since(start)
	if err != nil || !strings.Contains(out, ": ok: applied") || !strings.Contains(out, "healthy in") {
		b.Fatalf("push to gitopsd (%s): %v\n%s", t.repo, err, out)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		for _, mark := range []string{"ok: checks passed in", "ok: applied"} {
			if i := strings.Index(l, mark); i >= 0 {
				lines = append(lines, strings.TrimSpace(l[i:]))
			}
		}
	}
	return took, strings.Join(lines, "; ")
}

// tally sums one case's parts over its iterations.
type tally struct {
	ours, git, apply, wait time.Duration
	last                   string
}

// report prints t as metrics per iteration; settle is the environment's apply.settle (zero:
// gitopsd's default).
func (t *tally) report(b *testing.B, viaSSH bool, settle time.Duration) {
	f := float64(b.N)
	base := t.git + t.apply + t.wait
	b.ReportMetric(t.ours.Seconds()/f, "gitopsd-s/op")
	b.ReportMetric(base.Seconds()/f, "baseline-s/op")
	unit := "git-file-s/op"
	if viaSSH {
		unit = "git-ssh-s/op"
	}
	b.ReportMetric(t.git.Seconds()/f, unit)
	b.ReportMetric(t.apply.Seconds()/f, "kubectl-apply-s/op")
	b.ReportMetric(t.wait.Seconds()/f, "kubectl-wait-s/op")
	b.ReportMetric(t.ours.Seconds()/base.Seconds(), "ratio")
	// The daemon holds every workload the push created or changed healthy for this long
	// before it says so; the baseline's kubectl has no such time.
	if settle == 0 {
		settle = config.DefaultSettle
	}
	b.ReportMetric(settle.Seconds(), "settle-s")
	b.Logf("gitopsd's own report of the last push: %s", t.last)
}

// BenchmarkPushHealthy times push-to-healthy on the living cluster (controllers, scheduler,
// kwok nodes whose pods turn Ready): from `git push` start until the push returns with
// gitopsd's verdict that every object is applied and healthy, against the hand-made
// pipeline on the same cluster (see pipeline). The cases:
//
//   - new-N: N new objects, a third of them Deployments of 2 replicas (the shop, see
//     shopObject), into an empty namespace on each side;
//   - change-1-in-N: the environment new-N deployed, where one commit changes one
//     Deployment's pod template; both sides wait for its rollout;
//   - change-1-in-N-settle-1ms: the same after the daemon restarted with apply.settle 1ms
//     (the least it takes), to show what gitopsd's default settle time costs.
//
// The timer holds gitopsd's push alone; both sides, the baseline's parts and the ratio are
// reported as metrics. The baseline goes first on even iterations, gitopsd on odd ones.
// Every new-N iteration needs a fresh namespace per side, and the pods of both must fit on
// the kwok nodes: with 500 objects that is one iteration (-benchtime 1x).
func BenchmarkPushHealthy(b *testing.B) {
	h := startHealthy(b, *healthyObjects)
	b.Run(fmt.Sprintf("new-%d", h.n), h.benchNew)
	change := fmt.Sprintf("change-1-in-%d", h.n)
	b.Run(change, h.benchChange)
	h.settle = time.Millisecond
	h.configure(b)
	h.warmUp(b)
	b.Run(change+"-settle-1ms", h.benchChange)
}

// healthyBench is BenchmarkPushHealthy's daemon, baseline and environments.
type healthyBench struct {
	n       int
	cp      *controlplane.ControlPlane
	d       *gittest.Daemon
	key     *gittest.Key
	p       *pipeline
	warm    target
	targets []target // fresh environments, new-N takes the next
	next    int
	// deployed is the environment new-N deployed on both sides; release is what its
	// app-000 runs.
	deployed *target
	release  int
	// settle is the shop environments' apply.settle; zero: gitopsd's default.
	settle         time.Duration
	work, warmWork string
}

// startHealthy makes the environments, starts sshd and the daemon, and warms both sides.
func startHealthy(b *testing.B, n int) *healthyBench {
	h := &healthyBench{n: n, cp: kubetest.Living(b), key: gittest.NewKey(b, "bench"), release: 1}
	kubectl := filepath.Join(kubetest.BinDir(), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		b.Fatalf("no kubectl in the test bed (testbed/build.sh builds it): %v", err)
	}
	// One app (2 pods a side) warms up; each fresh environment takes its Deployments'
	// pods on both sides, plus one surge pod a side for the rollouts.
	perTarget := 2 * (2*shopDeployments(n) + 1)
	room := podRoom(b, h.cp.Config) - 2*2
	if room < perTarget {
		b.Fatalf("the living cluster has room for %d more pods; one %d-object environment a side needs %d", room, n, perTarget)
	}
	h.warm = h.newTarget(b, "warm")
	for i := 0; i < min(room/perTarget, 4); i++ {
		h.targets = append(h.targets, h.newTarget(b, fmt.Sprintf("shop-%02d", i)))
	}
	h.configure(b)
	h.p = &pipeline{d: h.d, key: h.key, ssh: startSSHD(b, h.key), kubectl: kubectl, kubeconfig: h.cp.Kubeconfig, cacheDir: b.TempDir()}
	h.warmWork = h.d.Clone(b, h.key, h.warm.repo)
	h.warmUp(b)
	h.work = h.d.Clone(b, h.key, h.targets[0].repo)
	h.d.Commit(b, h.key, h.work, fmt.Sprintf("shop: %d objects", n), shopFiles(n))
	return h
}

func (h *healthyBench) newTarget(b *testing.B, name string) target {
	t := target{repo: name, ns: kubetest.NamespaceIn(b, h.cp.Config), nsB: kubetest.NamespaceIn(b, h.cp.Config)}
	t.bare = filepath.Join(b.TempDir(), name+".git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "--initial-branch=main", t.bare).CombinedOutput(); err != nil {
		b.Fatalf("git init: %v\n%s", err, out)
	}
	return t
}

// configure writes repos.yaml and starts the daemon on it, or restarts it.
func (h *healthyBench) configure(b *testing.B) {
	var repos strings.Builder
	for _, t := range append([]target{h.warm}, h.targets...) {
		settle := ""
		if h.settle != 0 && t.repo != h.warm.repo {
			settle = fmt.Sprintf(", settle: %v", h.settle)
		}
		fmt.Fprintf(&repos, "  %s:\n    write: [bench]\n    environments:\n      prod: {branch: main, cluster: living, path: deploy, namespace: %s, apply: {wait: 5m, health_timeout: 4m%s}}\n", t.repo, t.ns, settle)
	}
	body := gittest.Users(h.key) +
		fmt.Sprintf("clusters:\n  living: {kubeconfig: %s, context: %s}\n", h.cp.Kubeconfig, controlplane.ContextName) +
		"repos:\n" + repos.String()
	if h.d == nil {
		h.d = gittest.Start(b, body)
		return
	}
	h.d.Reconfigure(b, body)
}

// warmUp pushes a new version of one app to both sides' warm environment: the daemon's
// clients and discovery, kubectl's discovery cache and sshd are then warm.
func (h *healthyBench) warmUp(b *testing.B) {
	h.release++
	files := map[string]string{}
	for i := range shopKinds {
		path, body := shopObject(i, h.release)
		files[path] = body
	}
	h.d.Commit(b, h.key, h.warmWork, "one app", files)
	pushHealthy(b, h.d, h.key, h.warmWork, h.warm)
	h.p.run(b, h.warmWork, h.warm)
}

// benchNew is new-N: each iteration deploys the shop to a fresh environment a side.
func (h *healthyBench) benchNew(b *testing.B) {
	var t tally
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if h.next == len(h.targets) {
			b.Fatalf("the living cluster has room for %d fresh %d-object environments a side: run with -benchtime 1x", len(h.targets), h.n)
		}
		tg := &h.targets[h.next]
		h.next++
		h.both(b, &t, i, *tg, false)
		h.deployed = tg
	}
	t.report(b, h.p.ssh != nil, h.settle)
}

// benchChange is change-1-in-N: each iteration rolls app-000 out at the next release.
func (h *healthyBench) benchChange(b *testing.B) {
	b.StopTimer()
	if h.deployed == nil { // new-N did not run (-bench filtered it out)
		if h.next == len(h.targets) {
			b.Fatal("no environment left to deploy the shop to")
		}
		h.deployed = &h.targets[h.next]
		h.next++
		pushHealthy(b, h.d, h.key, h.work, *h.deployed)
		h.p.run(b, h.work, *h.deployed)
	}
	var t tally
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.release++
		path, body := shopObject(0, h.release)
		h.d.Commit(b, h.key, h.work, fmt.Sprintf("app-000: release %d", h.release), map[string]string{path: body})
		h.both(b, &t, i, *h.deployed, true)
	}
	t.report(b, h.p.ssh != nil, h.settle)
}

// both pushes the work tree's HEAD to tg on both sides, in iteration i's order, with the
// timer on for gitopsd alone, and adds the figures to t. With rollout (app-000 changed),
// it checks that each side's wait covered the rollout.
func (h *healthyBench) both(b *testing.B, t *tally, i int, tg target, rollout bool) {
	b.StopTimer()
	side := func() {
		g, a, w := h.p.run(b, h.work, tg)
		t.git, t.apply, t.wait = t.git+g, t.apply+a, t.wait+w
		if rollout {
			rolledOut(b, h.cp.Config, tg.nsB, "app-000", h.release)
		}
	}
	if i%2 == 0 {
		side()
	}
	b.StartTimer()
	took, last := pushHealthy(b, h.d, h.key, h.work, tg)
	b.StopTimer()
	t.ours, t.last = t.ours+took, last
	if rollout {
		rolledOut(b, h.cp.Config, tg.ns, "app-000", h.release)
	}
	if i%2 == 1 {
		side()
	}
}

// rolledOut fails the benchmark unless Deployment name in ns runs release on all its
// replicas, each Ready: what both sides claim when they return.
func rolledOut(b *testing.B, cfg *rest.Config, ns, name string, release int) {
	cs := kubetest.Client(b, rest.CopyConfig(cfg))
	ctx := context.Background()
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	want := fmt.Sprint(release)
	if env := dep.Spec.Template.Spec.Containers[0].Env; len(env) != 1 || env[0].Value != want {
		b.Fatalf("%s/%s: template has %v, want RELEASE=%s", ns, name, env, want)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + name})
	if err != nil {
		b.Fatal(err)
	}
	ready := 0
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil || pod.Spec.Containers[0].Env[0].Value != want {
			continue
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready != int(*dep.Spec.Replicas) {
		b.Fatalf("%s/%s: %d Ready pods of release %s, want %d: the wait returned before the rollout ended", ns, name, ready, want, *dep.Spec.Replicas)
	}
}

// podRoom is how many more pods the cluster's nodes take: their allocatable pods less the
// pods that exist.
func podRoom(b *testing.B, cfg *rest.Config) int {
	cs := kubetest.Client(b, rest.CopyConfig(cfg))
	ctx := context.Background()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	room := 0
	for _, node := range nodes.Items {
		if q, ok := node.Status.Allocatable[corev1.ResourcePods]; ok {
			room += int(q.Value())
		}
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return room - len(pods.Items)
}
