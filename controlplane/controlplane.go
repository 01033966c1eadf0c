// Package controlplane starts a real, local Kubernetes control plane (etcd and
// kube-apiserver, from binaries built by testbed/build.sh) on loopback, and hands back a
// rest.Config and a kubeconfig file for it.
//
// With Options.Workloads it is a living cluster: kube-controller-manager and kube-scheduler
// run next to the API server, and kwok plays the kubelet of simulated nodes, so Deployments
// roll out, Jobs complete and pods become Ready or fail (stages.yaml says how a manifest
// asks for a failure). Without it the API server stores objects and nothing acts on them,
// which is all most tests need, and starts in a few seconds.
//
// It serves both `gitopsd dev` and the integration tests. controller-runtime's envtest does
// the same for tests, but it is a test library: `gitopsd dev` needs this in the product
// binary, and the tests need to stop and restart the API server in place (to test what
// gitopsd does while a cluster is unreachable), which envtest does not offer.
//
// StartPrometheus starts the test bed's Prometheus the same way (loopback, a free port, its
// own directory and log), scraping the targets its caller names.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure Start.
type Options struct {
	// BinDir holds the etcd and kube-apiserver binaries.
	BinDir string
	// Dir holds etcd's data, certificates and the kubeconfig. Empty: a new temporary
	// directory, removed by Stop.
	Dir string
	// Output receives both processes' logs; nil discards them.
	Output io.Writer
	// StartTimeout bounds the wait for each process to become ready.
	StartTimeout time.Duration
	// Workloads also starts kube-controller-manager, kube-scheduler and kwok, and
	// registers Nodes simulated nodes that take PodsPerNode pods each.
	Workloads   bool
	Nodes       int
	PodsPerNode int
}

// DefaultOptions returns options with the binaries in binDir: the API server only. A
// living cluster (Workloads) gets two nodes of 500 pods each unless told otherwise.
func DefaultOptions(binDir string) Options {
	return Options{BinDir: binDir, StartTimeout: 90 * time.Second, Nodes: 2, PodsPerNode: 500}
}

// ControlPlane is a running etcd and kube-apiserver.
type ControlPlane struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file for Config (context "gitopsd-dev").
	Kubeconfig string
	// Dir holds the data, certificates and kubeconfig.
	Dir string

	opts      Options
	removeDir bool
	etcdURL   string
	apiPort   int
	certs     *certs
	mu        sync.Mutex
	etcd      *process
	apiserver *process
	// The living cluster's components (Options.Workloads).
	controllers, scheduler, kwok *process
	stopOnce                     sync.Once
	stopResult                   error
}

// ErrBinaryMissing means the test bed has not been built.
var ErrBinaryMissing = errors.New("control plane binary missing: run `make testbed` (testbed/build.sh) first")

// Start starts etcd and kube-apiserver and waits until the API server is ready.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = DefaultOptions("").StartTimeout
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	def := DefaultOptions("")
	if opts.Nodes <= 0 {
		opts.Nodes = def.Nodes
	}
	if opts.PodsPerNode <= 0 {
		opts.PodsPerNode = def.PodsPerNode
	}
	bins := []string{"etcd", "kube-apiserver"}
	if opts.Workloads {
		bins = append(bins, workloadBinaries...)
	}
	for _, b := range bins {
		if _, err := os.Stat(filepath.Join(opts.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%w (%s)", ErrBinaryMissing, filepath.Join(opts.BinDir, b))
		}
	}
	cp := &ControlPlane{opts: opts, Dir: opts.Dir}
	if cp.Dir == "" {
		if cp.Dir, err = os.MkdirTemp("", "gitopsd-controlplane-"); err != nil {
			return nil, err
		}
		cp.removeDir = true
	}
	if err := os.MkdirAll(cp.Dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()

	if cp.certs, err = loadOrCreateCerts(filepath.Join(cp.Dir, "pki")); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	if err := cp.startEtcd(ctx); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	cp.apiPort = ports[0]
	if err := cp.StartAPIServer(ctx); err != nil {
		return nil, err
	}
	cp.Kubeconfig = filepath.Join(cp.Dir, "kubeconfig")
	if err := writeKubeconfig(cp.Kubeconfig, cp.Config); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if opts.Workloads {
		if err := cp.startWorkloads(ctx); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

func (cp *ControlPlane) startEtcd(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cp.etcdURL = client
	args := []string{
		"--name=default",
		"--data-dir=" + filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=default=" + peer,
		// Test and dev data are throwaway: skip fsync, it dominates on slow disks.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
	p, err := startProcess(filepath.Join(cp.opts.BinDir, "etcd"), args, cp.opts.Output)
	if err != nil {
		return err
	}
	cp.etcd = p
	hc := &http.Client{Timeout: 2 * time.Second}
	return waitFor(ctx, cp.opts.StartTimeout, p, "etcd", func() bool {
		resp, err := hc.Get(client + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// StartAPIServer starts kube-apiserver (again, after StopAPIServer) on the same port and
// waits until it is ready.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.apiserver != nil {
		return errors.New("kube-apiserver is already running")
	}
	c := cp.certs
	args := []string{
		"--etcd-servers=" + cp.etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(cp.apiPort),
		"--cert-dir=" + filepath.Join(cp.Dir, "pki"),
		"--tls-cert-file=" + c.servingCert, "--tls-private-key-file=" + c.servingKey,
		"--client-ca-file=" + c.caCert,
		"--service-account-key-file=" + c.saKey,
		"--service-account-signing-key-file=" + c.saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		// ServiceAccount admission refuses a pod until its namespace's service account
		// exists; without controllers nothing makes it, and with them a test's first pods
		// would race its creation. No pod here runs code that needs a token.
		"--disable-admission-plugins=ServiceAccount",
		// The kubernetes Service endpoint cannot be a loopback address; nothing here needs it.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=0",
	}
	p, err := startProcess(filepath.Join(cp.opts.BinDir, "kube-apiserver"), args, cp.opts.Output)
	if err != nil {
		return err
	}
	cp.apiserver = p
	if cp.Config == nil {
		cp.Config = &rest.Config{
			Host: fmt.Sprintf("https://127.0.0.1:%d", cp.apiPort),
			TLSClientConfig: rest.TLSClientConfig{
				CAData:   c.caPEM,
				CertData: c.adminCertPEM,
				KeyData:  c.adminKeyPEM,
			},
			QPS:   200,
			Burst: 400,
		}
	}
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cp.Config))
	if err != nil {
		return err
	}
	return waitFor(ctx, cp.opts.StartTimeout, p, "kube-apiserver", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		return err == nil && string(body) == "ok"
	})
}

// StopAPIServer stops kube-apiserver, leaving etcd and the data in place, so that a test
// can see what happens while a cluster is unreachable. The living cluster's components keep
// running and reconnect when StartAPIServer brings it back.
func (cp *ControlPlane) StopAPIServer() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.apiserver == nil {
		return nil
	}
	var err error
	if cp.controllers != nil {
		// With the living cluster's watches open, kube-apiserver drains them before it
		// exits, for up to a minute. Callers want an outage, not a drain, and etcd holds
		// all the state: kill it.
		err = cp.apiserver.kill()
	} else {
		err = cp.apiserver.stop(15 * time.Second)
	}
	cp.apiserver = nil
	return err
}

// Stop stops every process and removes a temporary Dir. It is safe to call twice.
func (cp *ControlPlane) Stop() error {
	cp.stopOnce.Do(func() {
		errs := cp.stopWorkloads()
		errs = append(errs, cp.StopAPIServer())
		if cp.etcd != nil {
			errs = append(errs, cp.etcd.stop(15*time.Second))
		}
		if cp.removeDir {
			errs = append(errs, os.RemoveAll(cp.Dir))
		}
		cp.stopResult = errors.Join(errs...)
	})
	return cp.stopResult
}

// process is a child process whose exit is observed once.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(bin string, args []string, out io.Writer) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: if the parent dies (a test binary killed by its timeout), so does the
	// child, instead of holding ports and disk forever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within %v and was killed", filepath.Base(p.cmd.Path), grace)
	}
}

// kill ends the process group at once.
func (p *process) kill() error {
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", filepath.Base(p.cmd.Path), err)
	}
	<-p.done
	return nil
}

// waitFor polls ready until it holds, the process exits, or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, p *process, name string, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready: %v", name, p.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %w", name, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// freePorts asks the kernel for n free loopback ports. Another process may take one
// before we use it; Start fails clearly then, and a retry picks new ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FindBinDir is where the test bed binaries are: $GITOPSD_TESTBED_BIN, or .testbed/bin at
// the top of the gitopsd source tree that holds the working directory.
func FindBinDir() string {
	if d := os.Getenv("GITOPSD_TESTBED_BIN"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "testbed", "build.sh")); err == nil {
			return filepath.Join(dir, ".testbed", "bin")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join(".testbed", "bin")
		}
		dir = parent
	}
}
