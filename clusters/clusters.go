// Package clusters turns the clusters of repos.yaml into Kubernetes clients, built once per
// cluster and kept until the configuration changes, so that every push and every scan
// reuses warm discovery caches and connections.
package clusters

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
)

// Registry hands out one kube.Client per configured cluster. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	conf    map[string]config.Cluster
	clients map[string]*kube.Client
	caps    map[string]Capabilities
	opts    kube.ClientOptions
}

// New returns a registry for the clusters of cfg.
func New(cfg *config.Config, opts kube.ClientOptions) *Registry {
	r := &Registry{clients: map[string]*kube.Client{}, caps: map[string]Capabilities{}, opts: opts}
	r.Update(cfg)
	return r
}

// Update switches to the clusters of a new configuration. Clients of clusters whose
// kubeconfig or context did not change are kept.
func (r *Registry) Update(cfg *config.Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, old := range r.conf {
		if nc, ok := cfg.Clusters[name]; !ok || nc != old {
			delete(r.clients, name)
			delete(r.caps, name)
		}
	}
	r.conf = map[string]config.Cluster{}
	for name, c := range cfg.Clusters {
		r.conf[name] = c
	}
}

// Names lists the configured clusters.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.conf))
	for n := range r.conf {
		names = append(names, n)
	}
	return names
}

// RESTConfig reads the cluster's kubeconfig (and context).
func (r *Registry) RESTConfig(name string) (*rest.Config, error) {
	r.mu.Lock()
	c, ok := r.conf[name]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("cluster %q is not configured", name)
	}
	return restConfig(c)
}

func restConfig(c config.Cluster) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	cfg.UserAgent = "gitopsd"
	return cfg, nil
}

// Client returns the cluster's client, building it on first use.
func (r *Registry) Client(name string) (*kube.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cl, ok := r.clients[name]; ok {
		return cl, nil
	}
	c, ok := r.conf[name]
	if !ok {
		return nil, fmt.Errorf("cluster %q is not configured", name)
	}
	cfg, err := restConfig(c)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	cl, err := kube.New(cfg, r.opts)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	r.clients[name] = cl
	return cl, nil
}

// Ping checks that the cluster's API server answers /readyz within timeout.
func (r *Registry) Ping(ctx context.Context, name string, timeout time.Duration) error {
	cfg, err := r.RESTConfig(name)
	if err != nil {
		return err
	}
	cfg.Timeout = timeout
	rc, err := rest.UnversionedRESTClientFor(withCodec(cfg))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := rc.Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("cluster %s: %w", name, err)
	}
	return nil
}
