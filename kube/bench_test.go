package kube

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// benchObjects returns n objects for ns, half ConfigMaps and half Deployments, as objects
// and as one multi-document YAML file's text, so gitopsd and kubectl get the same input.
func benchObjects(t testing.TB, ns string, n int) ([]*unstructured.Unstructured, string) {
	var docs []string
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			docs = append(docs, configMap(ns, fmt.Sprintf("cm-%04d", i), fmt.Sprintf("value-%d", i)))
		} else {
			docs = append(docs, deployment(ns, fmt.Sprintf("dep-%04d", i), "registry.example.com/app:1.0"))
		}
	}
	return objs(t, docs...), strings.Join(docs, "---\n")
}

// benchNamespace creates a fresh namespace outside the timer.
func benchNamespace(b *testing.B, prefix string) string {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	name := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	cs := kubetest.Client(b, kubetest.Config(b))
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	return name
}

// benchOptions lets a run try another concurrency: KUBE_BENCH_CONCURRENCY=32.
func benchOptions() ApplyOptions {
	o := DefaultApplyOptions()
	if v, err := strconv.Atoi(os.Getenv("KUBE_BENCH_CONCURRENCY")); err == nil && v > 0 {
		o.Concurrency = v
	}
	return o
}

func warmClient(b *testing.B) *Client {
	b.Helper()
	c := newClient(b)
	// A daemon's client has discovery cached; so does this one before the timer.
	if _, _, err := c.Namespaced(corev1.SchemeGroupVersion.WithKind("ConfigMap")); err != nil {
		b.Fatal(err)
	}
	return c
}

func runApply(b *testing.B, c *Client, in []*unstructured.Unstructured, opts ApplyOptions) {
	b.Helper()
	cs, err := c.Apply(context.Background(), in, opts)
	if err != nil {
		b.Fatal(err)
	}
	if cs.HasFailed() {
		b.Fatalf("%d failed, first: %v", cs.Count(Failed), cs.Failed()[0])
	}
}

// BenchmarkDryRun1000 is the pre-receive check: a server-side dry-run of 1,000 objects,
// new (none exists yet) and existing (all applied before, unchanged).
func BenchmarkDryRun1000(b *testing.B) {
	c := warmClient(b)
	opts := benchOptions()
	opts.DryRun = true
	b.Run("new", func(b *testing.B) {
		ns := benchNamespace(b, "bench-dry-new")
		in, _ := benchObjects(b, ns, 1000)
		cpu := kubetest.ReadCPU()
		for i := 0; i < b.N; i++ {
			runApply(b, c, in, opts)
		}
		cpu.Report(b)
	})
	b.Run("existing", func(b *testing.B) {
		ns := benchNamespace(b, "bench-dry-existing")
		in, _ := benchObjects(b, ns, 1000)
		b.StopTimer()
		runApply(b, c, in, benchOptions())
		b.StartTimer()
		cpu := kubetest.ReadCPU()
		for i := 0; i < b.N; i++ {
			runApply(b, c, in, opts)
		}
		cpu.Report(b)
	})
}

// BenchmarkApply500 applies 500 new objects into a fresh namespace per iteration.
func BenchmarkApply500(b *testing.B) {
	c := warmClient(b)
	cpu := kubetest.ReadCPU()
	defer cpu.Report(b)
	for i := 0; i < b.N; i++ {
		ns := benchNamespace(b, "bench-apply")
		b.StopTimer()
		in, _ := benchObjects(b, ns, 500)
		b.StartTimer()
		runApply(b, c, in, benchOptions())
	}
}

// BenchmarkVsKubectl times gitopsd and `kubectl apply --server-side` (from the test bed)
// on the same objects, the same way, and reports both and their ratio:
// dry-run of 1,000 objects, and a real apply of 500 into a fresh namespace.
func BenchmarkVsKubectl(b *testing.B) {
	kubectl := filepath.Join(kubetest.BinDir(), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		b.Skipf("no kubectl in the test bed: %v", err)
	}
	cp := kubetest.ControlPlane(b)
	cacheDir := b.TempDir()
	runKubectl := func(file string, args ...string) time.Duration {
		b.Helper()
		args = append([]string{"--kubeconfig", cp.Kubeconfig, "--cache-dir", cacheDir, "apply", "--server-side", "-f", file}, args...)
		start := time.Now()
		out, err := exec.Command(kubectl, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	c := warmClient(b)
	cases := []struct {
		name string
		n    int
		dry  bool
	}{{"dry-run-1000", 1000, true}, {"apply-500", 500, false}}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var ours, theirs time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				nsA, nsB := benchNamespace(b, "vs-gitopsd"), benchNamespace(b, "vs-kubectl")
				inA, _ := benchObjects(b, nsA, tc.n)
				_, text := benchObjects(b, nsB, tc.n)
				file := filepath.Join(b.TempDir(), "objects.yaml")
				if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
					b.Fatal(err)
				}
				var extra []string
				if tc.dry {
					extra = []string{"--dry-run=server"}
				}
				if i == 0 {
					// Warm kubectl's discovery cache, as gitopsd's is warm.
					runKubectl(file, "--dry-run=server")
				}
				opts := benchOptions()
				opts.DryRun = tc.dry
				start := time.Now()
				runApply(b, c, inA, opts)
				ours += time.Since(start)
				theirs += runKubectl(file, extra...)
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(ours.Seconds()/n, "gitopsd-s/op")
			b.ReportMetric(theirs.Seconds()/n, "kubectl-s/op")
			b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
			b.Logf("%s: gitopsd %v, kubectl %v, ratio %.2f", tc.name, ours/time.Duration(b.N), theirs/time.Duration(b.N), ours.Seconds()/theirs.Seconds())
		})
	}
}

// BenchmarkDrift5000 scans 5,000 live objects (half ConfigMaps, half Deployments, ten of
// them edited by hand) and reports the API requests per scan, which should grow with
// kinds, not objects, and the peak heap.
func BenchmarkDrift5000(b *testing.B) {
	c, requests := countingClient(b)
	ns := benchNamespace(b, "bench-drift")
	b.StopTimer()
	in, _ := benchObjects(b, ns, 5000)
	owner := Owner{Repo: "bench", Env: "drift"}
	opts := benchOptions()
	opts.Owner = &owner
	runApply(b, c, in, opts)
	cs := kubetest.Client(b, kubetest.Config(b))
	for i := 0; i < 20; i += 2 {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), fmt.Sprintf("cm-%04d", i), metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cm.Data["key"] = "edited"
		if _, err := cs.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			b.Fatal(err)
		}
	}
	dopts := DefaultDriftOptions()
	dopts.Owner = &owner
	peak := heapPeak()
	before := requests.Load()
	cpu := kubetest.ReadCPU()
	b.StartTimer()
	for i := 0; i < b.N; i++ {
		r, err := c.Drift(context.Background(), in, dopts)
		if err != nil {
			b.Fatal(err)
		}
		if r.Count(Configured) != 10 || r.Count(Unchanged) != 4990 {
			b.Fatalf("drift: %s", r.Summary())
		}
	}
	b.StopTimer()
	cpu.Report(b)
	b.ReportMetric(float64(requests.Load()-before)/float64(b.N), "requests/op")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
}

// heapPeak samples the heap until the returned function is called, which returns the
// highest value seen.
func heapPeak() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var max uint64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > max {
				max = ms.HeapAlloc
			}
			select {
			case <-stop:
				done <- max
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
