// Package kubetest gives integration tests a real Kubernetes API server: one control plane
// (etcd + kube-apiserver from the test bed) per test package, started in TestMain, and one
// namespace per test.
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
//
//	func TestX(t *testing.T) {
//		cfg := kubetest.Config(t)
//		ns := kubetest.Namespace(t)
//		...
//	}
//
// Tests of what happens after an apply ask for the living cluster instead: a second control
// plane with controllers, a scheduler and kwok nodes, started on first use and shared by the
// package (see controlplane.Options.Workloads).
//
//	cp := kubetest.Living(t)
//	ns := kubetest.NamespaceIn(t, cp.Config)
package kubetest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopsd/gitopsd/controlplane"
	"github.com/gitopsd/gitopsd/sandbox"
)

var shared *controlplane.ControlPlane

// The package's living cluster, started by the first Living call and stopped after m.Run.
var (
	livingOnce sync.Once
	living     *controlplane.ControlPlane
	livingErr  error
)

// Main starts the package's control plane, runs the tests and stops it. A missing test bed
// is a failure, not a skip: `make test` builds it first.
func Main(m *testing.M) {
	sandbox.Main() // this binary may start render processes of itself
	os.Exit(run(m))
}

func run(m *testing.M) int {
	stop, err := Setup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// Setup starts the package's control plane like Main does, for a TestMain that also
// starts other things; call the returned stop after m.Run.
func Setup() (stop func(), err error) {
	cp, err := Start(context.Background())
	if err != nil {
		return nil, err
	}
	shared = cp
	return func() {
		cp.Stop()
		if living != nil {
			living.Stop()
		}
	}, nil
}

// Start starts a new control plane, for tests that need more than one cluster. The caller
// stops it.
func Start(ctx context.Context) (*controlplane.ControlPlane, error) {
	return start(ctx, controlplane.DefaultOptions(BinDir()))
}

// Own starts a control plane for one test (one it may stop and start again), stopped when
// the test ends.
func Own(t testing.TB) *controlplane.ControlPlane {
	t.Helper()
	cp, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Stop() })
	return cp
}

// StartLiving starts a new living cluster (controllers, scheduler, kwok nodes), for tests
// that need one of their own (one they may stop). The caller stops it.
func StartLiving(ctx context.Context) (*controlplane.ControlPlane, error) {
	opts := controlplane.DefaultOptions(BinDir())
	opts.Workloads = true
	return start(ctx, opts)
}

func start(ctx context.Context, opts controlplane.Options) (*controlplane.ControlPlane, error) {
	if os.Getenv("KUBETEST_VERBOSE") != "" {
		opts.Output = os.Stderr
	}
	begin := time.Now()
	cp, err := controlplane.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	what := "kube-apiserver"
	if opts.Workloads {
		what = fmt.Sprintf("living cluster (%d kwok nodes)", opts.Nodes)
	}
	fmt.Fprintf(os.Stderr, "kubetest: %s ready at %s in %v\n", what, cp.Config.Host, time.Since(begin).Round(time.Millisecond))
	return cp, nil
}

// Living returns the package's living cluster, starting it on first use; Main stops it.
func Living(t testing.TB) *controlplane.ControlPlane {
	t.Helper()
	livingOnce.Do(func() { living, livingErr = StartLiving(context.Background()) })
	if livingErr != nil {
		t.Fatalf("kubetest: living cluster: %v", livingErr)
	}
	return living
}

// BinDir is where the test bed binaries are (see controlplane.FindBinDir).
func BinDir() string { return controlplane.FindBinDir() }

// ControlPlane returns the package's control plane; Main must have started it.
func ControlPlane(t testing.TB) *controlplane.ControlPlane {
	t.Helper()
	if shared == nil {
		t.Fatal("kubetest: no control plane: call kubetest.Main(m) from TestMain")
	}
	return shared
}

// Config returns a copy of the admin rest.Config of the package's API server.
func Config(t testing.TB) *rest.Config {
	return rest.CopyConfig(ControlPlane(t).Config)
}

// Client returns a typed clientset for cfg.
func Client(t testing.TB, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var nsSeq atomic.Int64

var nsUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace named after the test in the package's API server and
// deletes it when the test ends.
func Namespace(t testing.TB) string {
	t.Helper()
	return NamespaceIn(t, Config(t))
}

// NamespaceIn is Namespace for the API server of cfg.
func NamespaceIn(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	name := nsUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-")
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("%s-%d", strings.Trim(name, "-"), nsSeq.Add(1))
	cs := Client(t, cfg)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Without controllers (all but the living cluster) the namespace stays Terminating;
		// its objects are what matters and each test only looks inside its own namespace.
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}
