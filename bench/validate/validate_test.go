package validate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/hooks"
	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/internal/testfs"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

// benchCase is one push to validate: its files, the environment's path, how many objects,
// and what the preview must say. deployed, if set, is applied to the environment (as
// gitopsd would) before the benchmark: the push then changes a running environment.
type benchCase struct {
	name     string
	path     string
	files    map[string]string
	want     int
	preview  string
	deployed map[string]string
}

func cases() []benchCase {
	return []benchCase{
		// The worst case: 1,000 objects the cluster has never seen, each dry-run by the API.
		{name: "plain-1000", path: "deploy", files: plainFiles("deploy", 1000), want: 1000,
			preview: "preview: 1000 to create"},
		{name: "helm-200", path: "chart", files: helmFiles("chart", 200), want: 200,
			preview: "preview: 200 to create"},
		// The usual push: the environment runs the 1,000 objects and the push changes 10.
		{name: "plain-1000-update", path: "deploy", files: changed(plainFiles("deploy", 1000), 10), want: 1000,
			preview: "preview: 0 to create, 10 to configure, 991 unchanged", deployed: plainFiles("deploy", 1000)},
	}
}

// deploy applies files at path to ns as gitopsd applies an environment of repo (owner
// stamps, configuration hash), so that a later push of the same objects finds them running.
func deploy(b *testing.B, repo, path, ns string, files map[string]string) {
	b.Helper()
	dir := b.TempDir()
	testfs.Write(b, dir, files)
	res, err := render.Render(context.Background(), os.DirFS(dir), render.Options{Path: path, DefaultNamespace: ns, Release: "main"})
	if err != nil || !res.OK() {
		b.Fatalf("render %s: %v %v", path, err, res.Problems)
	}
	objs := render.WithNamespace(res.Objects, ns)
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Unstructured
	}
	cl, err := kube.New(kubetest.Config(b), kube.DefaultClientOptions())
	if err != nil {
		b.Fatal(err)
	}
	opts := kube.DefaultApplyOptions()
	opts.Owner = &kube.Owner{Repo: repo, Env: "check"}
	cs, err := cl.Apply(context.Background(), us, opts)
	if err != nil || cs.HasFailed() {
		b.Fatalf("deploy %s: %v %v", repo, err, cs.Failed())
	}
}

// kubectl runs the test bed's kubectl as a pusher would, one process per run, with its
// discovery cache in cacheDir (warm after the first run, as gitopsd's is).
type kubectl struct {
	bin, kubeconfig, cacheDir string
}

func newKubectl(b *testing.B, cp *controlplane.ControlPlane) *kubectl {
	bin := filepath.Join(kubetest.BinDir(), "kubectl")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("no kubectl in the test bed (testbed/build.sh builds it): %v", err)
	}
	return &kubectl{bin: bin, kubeconfig: cp.Kubeconfig, cacheDir: b.TempDir()}
}

func (k *kubectl) dryRun(b *testing.B, ns, dir string) time.Duration {
	b.Helper()
	// --force-conflicts: in the update case gitopsd manages the fields kubectl changes.
	args := []string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "apply", "--server-side",
		"--force-conflicts", "--dry-run=server", "-n", ns, "-f", dir}
	start := time.Now()
	out, err := exec.Command(k.bin, args...).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return took
}

// rendered writes what gitopsd renders from the work tree at path into a new directory,
// for kubectl, which cannot read a chart. Rendering is left out of kubectl's time, which
// favours the baseline.
func rendered(b *testing.B, work, path, ns string) string {
	b.Helper()
	res, err := render.Render(context.Background(), os.DirFS(work), render.Options{Path: path, DefaultNamespace: ns, Release: "main"})
	if err != nil || !res.OK() {
		b.Fatalf("render %s: %v %v", path, err, res.Problems)
	}
	var docs []string
	for _, o := range res.Objects {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, string(y))
	}
	dir := b.TempDir()
	testfs.Write(b, dir, map[string]string{"rendered.yaml": strings.Join(docs, "---\n")})
	return dir
}

// BenchmarkPush times what a pusher waits for: `git push -o gitopsd.dry-run` of the whole
// commit over ssh to a running gitopsd whose environment targets the API server (render,
// checks, server-side dry run, preview, then the refusal that lets it repeat), and
// `kubectl apply --server-side --dry-run=server -f DIR` of the same objects. The timer
// holds gitopsd's push alone; both are reported with their ratio. Each iteration runs the
// two in turn, alternating who goes first, so that load from elsewhere falls on both.
func BenchmarkPush(b *testing.B) {
	cp := kubetest.ControlPlane(b)
	kc := newKubectl(b, cp)
	key := gittest.NewKey(b, "bench")
	cs := cases()
	nss := make([]string, len(cs))
	var repos strings.Builder
	for i, c := range cs {
		nss[i] = kubetest.Namespace(b)
		fmt.Fprintf(&repos, "  %s:\n    write: [bench]\n    environments:\n      check: {branch: main, cluster: local, path: %s, namespace: %s}\n", c.name, c.path, nss[i])
	}
	d := gittest.Start(b, gittest.Users(key)+
		fmt.Sprintf("clusters:\n  local: {kubeconfig: %s, context: %s}\n", cp.Kubeconfig, controlplane.ContextName)+
		"repos:\n"+repos.String())

	for i, c := range cs {
		ns := nss[i]
		if c.deployed != nil {
			deploy(b, c.name, c.path, ns, c.deployed)
		}
		work := d.Clone(b, key, c.name)
		d.Commit(b, key, work, c.name, c.files)
		dir := filepath.Join(work, c.path)
		if c.path == "chart" {
			dir = rendered(b, work, c.path, ns)
		}
		var last string // the daemon's own timing line of the last push
		// push returns the time the pusher waited, and the time of the checks as the
		// daemon reports it (the push less SSH, the pack transfer and the hook's start).
		push := func() (took, checks time.Duration) {
			start := time.Now()
			out, err := d.Git(b, key, work, "push", "-o", hooks.OptionDryRun, "origin", "HEAD:refs/heads/main")
			took = time.Since(start)
			if err == nil || !strings.Contains(out, "checks passed, nothing was changed") ||
				!strings.Contains(out, c.preview) {
				b.Fatalf("a dry-run push of %s must pass its checks and be refused:\n%s", c.name, out)
			}
			m := checksLine.FindStringSubmatch(out)
			if m == nil {
				b.Fatalf("no timing line in the push output:\n%s", out)
			}
			secs, _ := strconv.ParseFloat(m[2], 64)
			last = m[1]
			return took, time.Duration(secs * float64(time.Second))
		}
		// Warm both: the daemon's discovery and clients, kubectl's discovery cache.
		push()
		kc.dryRun(b, ns, dir)

		b.Run(c.name, func(b *testing.B) {
			var ours, theirs, checks time.Duration
			// CPU is read around our pushes only: kubectl's runs put their own load on
			// the API server.
			used := map[string]time.Duration{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%2 == 1 {
					b.StopTimer()
					theirs += kc.dryRun(b, ns, dir)
					b.StartTimer()
				}
				before := kubetest.ReadCPU()
				took, checked := push()
				ours += took
				checks += checked
				after := kubetest.ReadCPU()
				for name, d := range after.Children {
					used[name] += d - before.Children[name]
				}
				if i%2 == 0 {
					b.StopTimer()
					theirs += kc.dryRun(b, ns, dir)
					b.StartTimer()
				}
			}
			report(b, ours, theirs)
			b.ReportMetric(checks.Seconds()/float64(b.N), "checks-s/op")
			// The API server and etcd share the machine's two cores with gitopsd: half
			// of the three's CPU time is a floor under the push's time on this machine.
			for name, d := range used {
				b.ReportMetric(d.Seconds()/float64(b.N), name+"-cpu-s/op")
			}
			b.Logf("gitopsd's own timing of the last push: %s", last)
		})
	}
}

// checksLine is the verdict line of a push, with the time the checks took.
var checksLine = regexp.MustCompile(`(ok: checks passed in ([0-9.]+)s[^\n]*)`)

func report(b *testing.B, ours, theirs time.Duration) {
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "gitopsd-s/op")
	b.ReportMetric(theirs.Seconds()/n, "kubectl-s/op")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
}

// BenchmarkChecker is the pre-receive pipeline alone, in-process, without git or ssh:
// hooks.Checker.Check of the same trees (render, policies, server-side dry run, preview).
func BenchmarkChecker(b *testing.B) {
	cp := kubetest.ControlPlane(b)
	cfg := &config.Config{Clusters: map[string]config.Cluster{"local": {Kubeconfig: cp.Kubeconfig, Context: controlplane.ContextName}}}
	checker := &hooks.Checker{Config: cfg, Clusters: clusters.New(cfg, kube.DefaultClientOptions())}
	for _, c := range cases() {
		ns := kubetest.Namespace(b)
		if c.deployed != nil {
			deploy(b, c.name, c.path, ns, c.deployed)
		}
		work := b.TempDir()
		testfs.Write(b, work, c.files)
		env := config.Environment{
			Branch: "main", Cluster: "local", Path: c.path, Namespace: ns,
			Render: config.Render{Type: config.RenderAuto, Release: "main", Timeout: time.Minute, MaxBytes: 64 << 20},
			Checks: config.Checks{MaxPrune: 20},
		}
		target := hooks.Target{Repo: c.name, EnvName: "check", Env: env, Commit: strings.Repeat("ab", 20), Tree: os.DirFS(work)}
		stages := map[string]time.Duration{}
		check := func() {
			res := checker.Check(context.Background(), target)
			for _, t := range res.Report.Timings {
				stages[t.Stage] += t.D
			}
			// The environment's Namespace comes with the objects.
			if !res.Report.OK() || len(res.Objects) != c.want+1 {
				b.Fatalf("%s: %d objects, problems: %v", c.name, len(res.Objects), res.Report.Problems)
			}
			var out strings.Builder
			res.Report.Write(&out, hooks.Style{})
			if !strings.Contains(out.String(), c.preview) {
				b.Fatalf("%s: the report must say %q:\n%s", c.name, c.preview, out.String())
			}
		}
		check() // warm: discovery, the cluster's capabilities
		b.Run(c.name, func(b *testing.B) {
			clear(stages)
			cpu := kubetest.ReadCPU()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				check()
			}
			cpu.Report(b)
			n := float64(b.N)
			b.ReportMetric(time.Since(start).Seconds()/n, "gitopsd-s/op")
			// Where the time goes, per stage of the pipeline.
			for stage, d := range stages {
				b.ReportMetric(d.Seconds()/n, stage+"-s/op")
			}
		})
	}
}
