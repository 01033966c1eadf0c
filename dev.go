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
// to the local control plane.
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
        # No kubelet or controllers run in the dev control plane: a Deployment is stored
        # but never becomes ready, so keep the health wait short.
        apply: {wait: 30s, health_timeout: 10s}
        drift: {schedule: "@every 1m", mode: correct}
`

func runDev(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var lf logFlags
	lf.register(fs, "console")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "gitopsd-dev"), "directory for the control plane's data, the kubeconfig, the demo repos.yaml and the throwaway key")
	listen := fs.String("listen", "127.0.0.1:2222", "SSH listen address")
	httpListen := fs.String("http-listen", "127.0.0.1:9090", "HTTP listen address (/healthz /readyz /metrics)")
	binDir := fs.String("bin-dir", controlplane.FindBinDir(), "directory holding the etcd and kube-apiserver binaries (built by make testbed)")
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

	fmt.Fprintf(os.Stderr, "gitopsd dev: starting etcd and kube-apiserver from %s (a few seconds)...\n", *binDir)
	start := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Options{BinDir: *binDir, Dir: filepath.Join(*dir, "controlplane"), StartTimeout: 2 * time.Minute})
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
	fmt.Fprintf(os.Stderr, "gitopsd dev: kube-apiserver ready at %s in %v\n", cp.Config.Host, time.Since(start).Round(100*time.Millisecond))

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

  export KUBECONFIG=%s
  export GIT_SSH_COMMAND=%q
  git clone ssh://git@127.0.0.1:%s/demo && cd demo
  mkdir deploy && printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\ndata: {greeting: hi}\n' > deploy/hello.yaml
  git add deploy && git commit -m "hello" && git push origin HEAD:main
  %s git@127.0.0.1 status
  %s/kubectl get configmaps -n demo

Config: %s   Data: %s   Stop with Ctrl-C.

`, kubeconfig, sshCmd, port, sshCmd, *binDir, cfgPath, *dir)
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

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}
