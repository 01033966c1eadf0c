package controlplane

import (
	"context"
	"crypto/tls"
	_ "embed"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// stages tell kwok what the simulated kubelet does to nodes and pods, including the
// failures a manifest can ask for by image tag (see the file's header).
//
//go:embed stages.yaml
var stages []byte

// Image tags that make a pod fail on the living cluster (see stages.yaml). A tag may also
// end in "-" and the word: "web:v2-crash".
const (
	// TagCrash: the container exits at once and keeps restarting (CrashLoopBackOff).
	TagCrash = "crash"
	// TagCrashLater: the pod turns Ready, then crashes about two seconds later, again and again.
	TagCrashLater = "crash-later"
	// TagUnready: the container runs but never passes readiness.
	TagUnready = "unready"
	// TagFail: a Job's container exits 1.
	TagFail = "fail"
)

// NodeAnnotation marks the nodes kwok plays the kubelet of.
const NodeAnnotation = "kwok.x-k8s.io/node"

// The address ranges of the living cluster. No packet is ever sent to them: kwok only writes
// pod IPs into pod status, and Services get ClusterIPs nothing routes. They are wide so that
// the benchmarks' hundreds of Services and pods fit.
const (
	serviceCIDR = "10.96.0.0/16"
	podCIDR     = "10.128.0.1/14"
	nodeIP      = "10.127.0.1"
)

// workloadBinaries are the extra binaries Options.Workloads needs.
var workloadBinaries = []string{"kube-controller-manager", "kube-scheduler", "kwok"}

// startWorkloads starts the controller manager, the scheduler and kwok against the running
// API server, registers the simulated nodes and waits until they are Ready and schedulable.
func (cp *ControlPlane) startWorkloads(ctx context.Context) error {
	stageFile := filepath.Join(cp.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stageFile, stages, 0o600); err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	kc := cp.Kubeconfig
	// The components talk to the API server as the administrator: the test bed has no other
	// users, and its client certificate is what every test already uses.
	common := func(port int, certDir string) []string {
		return []string{
			"--kubeconfig=" + kc,
			"--leader-elect=false",
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + filepath.Join(cp.Dir, "pki", certDir),
			// Only /healthz is ever read (by startWorkloads); no delegated authentication
			// is configured, so nothing else is served to anyone.
			"--authorization-always-allow-paths=/healthz,/readyz,/livez",
			// client-go's defaults (20 and 30 requests a second) would make a 300-pod
			// rollout wait on the components' own rate limit, not on the cluster.
			"--kube-api-qps=500", "--kube-api-burst=1000",
			"--v=0",
		}
	}
	kcm := append(common(ports[0], "kube-controller-manager"),
		// The legacy token controller needs the service-account key pair; bound tokens
		// need nothing, and ServiceAccount admission is off in this test bed.
		"--controllers=*,-serviceaccount-token",
		"--service-cluster-ip-range="+serviceCIDR,
		"--root-ca-file="+cp.certs.caCert,
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
	)
	sched := common(ports[1], "kube-scheduler")
	kwok := []string{
		"--kubeconfig=" + kc,
		"--config=" + stageFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + NodeAnnotation + "=fake",
		"--cidr=" + podCIDR, "--node-ip=" + nodeIP,
		// Node leases are the heartbeat the node lifecycle controller reads; kwok renews them.
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:0",
		"--v=ERROR",
	}
	for _, c := range []struct {
		name string
		args []string
		p    **process
	}{
		{"kube-controller-manager", kcm, &cp.controllers},
		{"kube-scheduler", sched, &cp.scheduler},
		{"kwok", kwok, &cp.kwok},
	} {
		p, err := startProcess(filepath.Join(cp.opts.BinDir, c.name), c.args, cp.opts.Output)
		if err != nil {
			return err
		}
		*c.p = p
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// Their serving certificates are self-signed at start; only /healthz is read.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe
	}}
	for i, p := range []*process{cp.controllers, cp.scheduler} {
		url := fmt.Sprintf("https://127.0.0.1:%d/healthz", ports[i])
		if err := waitFor(ctx, cp.opts.StartTimeout, p, filepath.Base(p.cmd.Path), func() bool {
			resp, err := hc.Get(url)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}); err != nil {
			return err
		}
	}
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cp.Config))
	if err != nil {
		return err
	}
	for i := 0; i < cp.opts.Nodes; i++ {
		if err := createNode(ctx, cs, fmt.Sprintf("kwok-node-%d", i), cp.opts.PodsPerNode); err != nil {
			return err
		}
	}
	return waitFor(ctx, cp.opts.StartTimeout, cp.kwok, "kwok nodes", func() bool {
		return nodesSchedulable(ctx, cs, cp.opts.Nodes)
	})
}

// createNode registers a simulated node (kept if it exists: a restarted `gitopsd dev`
// finds its nodes in etcd).
func createNode(ctx context.Context, cs kubernetes.Interface, name string, pods int) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{NodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	return nil
}

// nodesSchedulable says whether n nodes are Ready and carry no NoSchedule taint (the node
// lifecycle controller taints a node until it reports Ready).
func nodesSchedulable(ctx context.Context, cs kubernetes.Interface, n int) bool {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	nodes, err := cs.CoreV1().Nodes().List(rctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	ready := 0
	for _, node := range nodes.Items {
		if node.Annotations[NodeAnnotation] != "fake" {
			continue
		}
		ok := false
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		for _, t := range node.Spec.Taints {
			if t.Effect == corev1.TaintEffectNoSchedule {
				ok = false
			}
		}
		if ok {
			ready++
		}
	}
	return ready >= n
}

// stopWorkloads stops kwok, the scheduler and the controller manager, in that order.
func (cp *ControlPlane) stopWorkloads() []error {
	var errs []error
	for _, p := range []**process{&cp.kwok, &cp.scheduler, &cp.controllers} {
		if *p != nil {
			errs = append(errs, (*p).stop(15*time.Second))
			*p = nil
		}
	}
	return errs
}
