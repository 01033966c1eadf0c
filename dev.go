package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/controlplane"
)

// devConfig is the demo repos.yaml `gitopsd dev` serves: one repo whose main branch deploys
// to the local cluster, and rolls back a version that fails its health check.
const devConfig = `# Written by gitopsd dev. Edit it and restart gitopsd dev to try other settings.
server:
  listen: %q
  data_dir: data
  http_listen: %q
users:
  dev: [%q]
clusters:
  local: {kubeconfig: kubeconfig}
repos:
  demo:
    description: demo repo; main deploys deploy/ to the local cluster
    read: [dev]
    write: [dev]
    environments:
      local:
        branch: main
        cluster: local
        path: deploy
        namespace: demo
        # A version whose pods do not come up within health_timeout, or crash within
        # the settle time, fails; the last healthy commit is applied again.
        apply: {wait: 2m, health_timeout: 1m, settle: 5s, on_failure: rollback}
        drift: {schedule: "@every 1m", mode: correct}
`

// demoApp is the first push of the tour: a web Deployment, its Service and its ConfigMap.
// The cluster's simulated nodes run any image; a tag ending in "crash" makes it crash
// (controlplane.TagCrash).
var demoApp = map[string]string{
	"web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        envFrom: [{configMapRef: {name: web}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
`,
	"config.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: web}
data: {GREETING: hello}
`,
}

func runDev(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var lf logFlags
	lf.register(fs, "console")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "gitopsd-dev"), "directory for the control plane's data, the kubeconfig, the demo repos.yaml and the throwaway key")
	listen := fs.String("listen", "127.0.0.1:2222", "SSH listen address")
	httpListen := fs.String("http-listen", "127.0.0.1:9090", "HTTP listen address (/healthz /readyz /metrics)")
	binDir := fs.String("bin-dir", controlplane.FindBinDir(), "directory holding the test bed's etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (built by make testbed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := lf.logger(os.Stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "gitopsd dev: starting a local cluster from %s (etcd, kube-apiserver, controllers, scheduler, kwok nodes; a few seconds)...\n", *binDir)
	start := time.Now()
	opts := controlplane.DefaultOptions(*binDir)
	opts.Dir, opts.StartTimeout, opts.Workloads = filepath.Join(*dir, "controlplane"), 2*time.Minute, true
	cp, err := controlplane.Start(ctx, opts)
	if errors.Is(err, controlplane.ErrBinaryMissing) {
		return fmt.Errorf("%w\n(the first build takes about ten minutes; `make dev` builds and starts in one step)", err)
	}
	if err != nil {
		return err
	}
	defer cp.Stop()
	kubeconfig := filepath.Join(*dir, "kubeconfig")
	if err := copyFile(cp.Kubeconfig, kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gitopsd dev: cluster ready at %s in %v (%d simulated nodes)\n", cp.Config.Host, time.Since(start).Round(100*time.Millisecond), opts.Nodes)
	appDir := filepath.Join(*dir, "demo-app")
	if err := writeDemoApp(appDir); err != nil {
		return err
	}

	keyPath := filepath.Join(*dir, "id_ed25519")
	pub, err := devKey(keyPath)
	if err != nil {
		return fmt.Errorf("user key: %w", err)
	}
	cfgPath := filepath.Join(*dir, "repos.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, devConfig, *listen, *httpListen, pub), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(*listen)
	sshCmd := fmt.Sprintf("ssh -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=accept-new -p %s", keyPath, filepath.Join(*dir, "known_hosts"), port)
	fmt.Fprintf(os.Stderr, `
gitopsd dev is serving. In another terminal:

  export KUBECONFIG=%[1]s
  export GIT_SSH_COMMAND=%[2]q
  git clone ssh://git@127.0.0.1:%[3]s/demo && cd demo
  cp -r %[4]s deploy && git add deploy && git commit -m "web 1.27" && git push origin HEAD:main
  %[5]s/kubectl get deployments,pods -n demo

Then a broken version: its pods crash, the push says which and why, and 1.27 runs again:

  sed -i 's/nginx:1.27/nginx:1.28-crash/' deploy/web.yaml && git commit -qam "web 1.28" && git push origin HEAD:main
  %[2]s git@127.0.0.1 status

Config: %[6]s   Data: %[7]s   Stop with Ctrl-C.

`, kubeconfig, sshCmd, port, appDir, *binDir, cfgPath, *dir)
	return serve(ctx, cfg, log)
}

// devKey returns the authorized_keys line of the throwaway key at path, creating it first.
func devKey(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " gitopsd-dev", nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "gitopsd-dev")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	return devKey(path)
}

// writeDemoApp writes the tour's first push into dir (again each time: a tour that went
// wrong starts over from the same files).
func writeDemoApp(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, body := range demoApp {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}
