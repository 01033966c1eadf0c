package reconcile

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/metrics"
	"github.com/gitopsd/gitopsd/notify"
	"github.com/gitopsd/gitopsd/outcome"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// bed is one environment's world: a bare repo with a work tree to commit from, a
// configuration pointing at a real API server, and a reconciler.
type bed struct {
	t       *testing.T
	dir     string
	work    string
	cfg     *config.Config
	store   *Store
	cs      kubernetes.Interface
	ns      string
	rec     *Reconciler
	cancel  context.CancelFunc
	regs    *clusters.Registry
	kubecfg string
	// repo is named after the test's namespace: inventories and leases are per repo and
	// environment in the cluster, and tests share one API server.
	repo    string
	metrics *metrics.Metrics

	mu     sync.Mutex
	events []notify.Event
}

// sent returns the webhook events sent so far.
func (b *bed) sent() []notify.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]notify.Event(nil), b.events...)
}

// outcomes counts the reconciles recorded in gitopsd_reconcile_duration_seconds, by
// result label.
func (b *bed) outcomes() map[string]uint64 {
	b.t.Helper()
	families, err := b.metrics.Registry.Gather()
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "gitopsd_reconcile_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					out[l.GetValue()] += m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return out
}

func newBed(t *testing.T, cp *controlplane.ControlPlane, envTweak func(*config.Environment)) *bed {
	t.Helper()
	b := &bed{t: t, dir: t.TempDir(), kubecfg: cp.Kubeconfig, metrics: metrics.New()}
	b.ns = kubetest.NamespaceIn(t, cp.Config)
	b.cs = kubetest.Client(t, cp.Config)
	b.repo = b.ns
	bare := filepath.Join(b.dir, "repos", b.repo+".git")
	b.work = filepath.Join(b.dir, "work")
	run(t, "", "git", "init", "-q", "--bare", "-b", "main", bare)
	run(t, "", "git", "init", "-q", "-b", "main", b.work)
	run(t, b.work, "git", "remote", "add", "origin", bare)

	env := config.Environment{
		Branch: "main", Cluster: "local", Path: "deploy", Namespace: b.ns,
		Render: config.Render{Type: config.RenderAuto, Release: "main", Timeout: 30 * time.Second, MaxBytes: 64 << 20},
		Apply:  config.Apply{Wait: time.Minute, HealthTimeout: 20 * time.Second, OnFailure: "none"},
		Checks: config.Checks{MaxPrune: 20},
	}
	if envTweak != nil {
		envTweak(&env)
	}
	b.cfg = &config.Config{
		Clusters: map[string]config.Cluster{"local": {Kubeconfig: cp.Kubeconfig, Context: controlplane.ContextName}},
		Repos:    map[string]config.Repo{b.repo: {Environments: map[string]config.Environment{"staging": env}}},
	}
	var err error
	if b.store, err = OpenStore(filepath.Join(b.dir, "status")); err != nil {
		t.Fatal(err)
	}
	b.regs = clusters.New(b.cfg, kube.DefaultClientOptions())
	b.start("")
	return b
}

// start (re)starts the reconciler, as a daemon start does.
func (b *bed) start(identity string) {
	if b.cancel != nil {
		b.cancel()
		b.rec.Wait()
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{
		Config:         func() *config.Config { return b.cfg },
		RepoDir:        func(repo string) string { return filepath.Join(b.dir, "repos", repo+".git") },
		Clusters:       b.regs,
		Store:          b.store,
		Log:            zerolog.New(zerolog.NewTestWriter(b.t)),
		Backoff:        Backoff{Initial: 200 * time.Millisecond, Max: time.Second},
		HealthInterval: 100 * time.Millisecond,
		Metrics:        b.metrics,
		Notify: func(e notify.Event) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.events = append(b.events, e)
		},
	}
	if identity != "" {
		opts.Locker = &LeaseLocker{Clusters: b.regs, Identity: identity, Duration: time.Minute}
	}
	b.rec = New(opts)
	b.cancel = cancel
	b.rec.Start(ctx)
	b.t.Cleanup(func() { cancel(); b.rec.Wait() })
}

// commit writes files (path -> content; "" deletes), commits and pushes to the bare repo,
// and returns the commit.
func (b *bed) commit(files map[string]string) string {
	b.t.Helper()
	for p, content := range files {
		full := filepath.Join(b.work, p)
		if content == "" {
			os.Remove(full)
			continue
		}
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	run(b.t, b.work, "git", "add", "-A")
	run(b.t, b.work, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "change")
	run(b.t, b.work, "git", "push", "-q", "origin", "HEAD:main")
	return strings.TrimSpace(run(b.t, b.work, "git", "rev-parse", "HEAD"))
}

func (b *bed) apply(commit string) Result {
	b.t.Helper()
	select {
	case o := <-b.rec.Enqueue(b.repo, "staging", commit, nil):
		return o
	case <-time.After(2 * time.Minute):
		b.t.Fatal("reconcile did not finish within 2 minutes")
		return Result{}
	}
}

func (b *bed) configMap(name string) (*corev1.ConfigMap, error) {
	return b.cs.CoreV1().ConfigMaps(b.ns).Get(context.Background(), name, metav1.GetOptions{})
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func cmYAML(name, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  value: " + value + "\n"
}

func TestApplyPruneAndStatus(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), nil)
	c1 := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "one"), "deploy/b.yaml": cmYAML("b", "one")})
	o := b.apply(c1)
	if o.Err != nil {
		t.Fatalf("apply: %v", o.Err)
	}
	// The environment's namespace is part of what it deploys (it exists here already, so
	// applying it configures it: the ownership labels).
	if o.Outcome != outcome.Healthy || !strings.HasPrefix(o.Summary, "applied and healthy: 3 objects (2 created, 1 configured, 0 unchanged), pruned 0; healthy in") {
		t.Errorf("outcome %q, summary: %q", o.Outcome, o.Summary)
	}
	a, err := b.configMap("a")
	if err != nil || a.Data["value"] != "one" {
		t.Fatalf("configmap a: %v %v", a, err)
	}
	if a.Labels[kube.OwnerLabel] == "" || a.Annotations[kube.CommitAnnotation] != c1 {
		t.Errorf("applied objects carry owner and commit: %v %v", a.Labels, a.Annotations)
	}

	// An object of the same kind that gitopsd does not own.
	if _, err := b.cs.CoreV1().ConfigMaps(b.ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "handmade"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c2 := b.commit(map[string]string{"deploy/b.yaml": "", "deploy/a.yaml": cmYAML("a", "two")})
	o = b.apply(c2)
	if o.Err != nil || !strings.Contains(o.Summary, "(0 created, 1 configured, 1 unchanged), pruned 1") {
		t.Fatalf("second apply: %+v", o)
	}
	if _, err := b.configMap("b"); !apierrors.IsNotFound(err) {
		t.Errorf("b left git and must be pruned, got %v", err)
	}
	if _, err := b.configMap("handmade"); err != nil {
		t.Errorf("an object gitopsd does not own must survive: %v", err)
	}
	if a, _ := b.configMap("a"); a.Data["value"] != "two" {
		t.Errorf("a not updated: %v", a.Data)
	}
	st := b.store.Get(b.repo, "staging")
	if st.LastApplied != c2 || st.LastHealthy != c2 || st.Objects != 2 || st.LastError != "" || st.Outcome != outcome.Healthy {
		t.Errorf("status: %+v", st)
	}
	// Each reconcile is recorded once: one event and one observation each.
	evs := b.sent()
	if len(evs) != 2 || evs[0].Type != "apply.healthy" || evs[1].Commit != c2 || evs[1].Outcome != outcome.Healthy {
		t.Errorf("events: %+v", evs)
	}
	if got := b.outcomes(); len(got) != 1 || got["healthy"] != 2 {
		t.Errorf("reconciles by result: %v", got)
	}
}

func TestHealthFailureRollsBack(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), func(e *config.Environment) {
		e.Apply.OnFailure = "rollback"
		e.Apply.HealthTimeout = 2 * time.Second
	})
	good := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "good")})
	if o := b.apply(good); o.Err != nil {
		t.Fatal(o.Err)
	}
	// No controllers run in the test API server, so a Deployment never becomes ready:
	// exactly a rollout that fails its health check.
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
`
	bad := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "bad"), "deploy/web.yaml": deploy})
	o := b.apply(bad)
	if o.Err == nil || o.Outcome != outcome.RolledBack || !strings.HasPrefix(o.Summary, "rolled back to "+good[:7]+": "+bad[:7]+" was applied, not healthy: ") ||
		!strings.Contains(o.Summary, "restores "+good[:7]) || !strings.Contains(o.Summary, "Deployment.apps/"+b.ns+"/web") {
		t.Fatalf("want a health failure and a rollback, got %+v", o)
	}
	if a, _ := b.configMap("a"); a.Data["value"] != "good" {
		t.Errorf("rollback must restore the last healthy content, got %v", a.Data)
	}
	// The rollback is a commit on the branch: the failed commit's child, with the files of
	// the good one, by gitopsd, saying why.
	bare := filepath.Join(b.dir, "repos", b.repo+".git")
	revert := strings.TrimSpace(run(t, "", "git", "--git-dir", bare, "rev-parse", "main"))
	if revert == bad || revert == good {
		t.Fatalf("the branch must hold a revert commit, points at %s", revert)
	}
	if parent := strings.TrimSpace(run(t, "", "git", "--git-dir", bare, "rev-parse", revert+"^")); parent != bad {
		t.Errorf("the revert's parent is %s, want the failed commit %s", parent, bad)
	}
	if diff := run(t, "", "git", "--git-dir", bare, "diff", "--stat", good, revert); diff != "" {
		t.Errorf("the revert must hold the good commit's files:\n%s", diff)
	}
	msg := run(t, "", "git", "--git-dir", bare, "log", "-1", "--format=%an <%ae>%n%B", revert)
	for _, want := range []string{"gitopsd <gitopsd@localhost>", "roll staging back to " + good[:12], bad[:12] + " failed its health check", "Deployment.apps/" + b.ns + "/web"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in the revert's message:\n%s", want, msg)
		}
	}
	st := b.store.Get(b.repo, "staging")
	if st.LastHealthy != revert || st.LastApplied != revert || st.Outcome != outcome.RolledBack || !strings.Contains(st.RolledBack, "rolled back to "+good[:7]) {
		t.Errorf("status: %+v", st)
	}
	// The failure and its rollback are one reconcile: one event naming the three commits,
	// not one per apply.
	evs := b.sent()
	last := evs[len(evs)-1]
	if len(evs) != 2 || last.Type != "apply.rolled_back" || last.Commit != revert || last.Failed != bad || last.Target != good {
		t.Errorf("events: %+v", evs)
	}
	if got := b.outcomes(); got["healthy"] != 1 || got["rolled_back"] != 1 || len(got) != 2 {
		t.Errorf("reconciles by result: %v", got)
	}
}

func TestStartReconcilesUnappliedHead(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), nil)
	c1 := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "x")})
	// The push landed while no reconciler ran (a crash, or a stopped daemon): a start
	// must notice that the branch head is not applied and apply it.
	b.start("")
	waitFor(t, func() bool { return b.store.Get(b.repo, "staging").LastHealthy == c1 })
	if _, err := b.configMap("a"); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableClusterIsRetried(t *testing.T) {
	cp := kubetest.Own(t)
	b := newBed(t, cp, nil)
	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	c1 := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "late")})
	o := b.apply(c1)
	if o.Err == nil || !o.Retry || o.Outcome != outcome.Waiting || !strings.HasPrefix(o.Summary, "waiting for the cluster: ") {
		t.Fatalf("an unreachable cluster must be waited for and retried: %+v", o)
	}
	waitFor(t, func() bool { return strings.Contains(b.store.Get(b.repo, "staging").Waiting, "retrying") })
	if err := cp.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.store.Get(b.repo, "staging").LastHealthy == c1 })
	if a, err := b.configMap("a"); err != nil || a.Data["value"] != "late" {
		t.Fatalf("applied after the API server came back: %v %v", a, err)
	}
	if st := b.store.Get(b.repo, "staging"); st.Waiting != "" {
		t.Errorf("waiting must clear once applied: %+v", st)
	}
}

func TestLeaseKeepsSecondInstanceOff(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), nil)
	b.start("instance-a")
	c1 := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "from-a")})
	if o := b.apply(c1); o.Err != nil {
		t.Fatal(o.Err)
	}
	b.start("instance-b")
	c2 := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "from-b")})
	o := b.apply(c2)
	if o.Err == nil || o.Outcome != outcome.Waiting || !strings.Contains(o.Summary, "(instance-a) holds the lease") {
		t.Fatalf("a second instance must not apply while the first holds the lease: %+v", o)
	}
	if a, _ := b.configMap("a"); a.Data["value"] != "from-a" {
		t.Errorf("the second instance changed the cluster: %v", a.Data)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 90s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
