// Package clusters turns the clusters of repos.yaml into Kubernetes clients, built once per
// cluster and kept until the configuration changes, so that every push and every scan
// reuses warm discovery caches and connections.
package clusters

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
)

// Registry hands out one kube.Client per configured cluster, and one per cluster and
// identity an environment impersonates. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	conf    map[string]config.Cluster
	clients map[string]*kube.Client
	as      map[identity]*kube.Client
	caps    map[string]Capabilities
	opts    kube.ClientOptions
}

// identity keys the clients that impersonate: a cluster and who they act as.
type identity struct {
	cluster, user, groups string
}

// New returns a registry for the clusters of cfg.
func New(cfg *config.Config, opts kube.ClientOptions) *Registry {
	r := &Registry{clients: map[string]*kube.Client{}, as: map[identity]*kube.Client{}, caps: map[string]Capabilities{}, opts: opts}
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
			for id := range r.as {
				if id.cluster == name {
					delete(r.as, id)
				}
			}
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

// Client returns the cluster's client, acting as gitopsd itself, building it on first use.
// What an environment does goes through EnvClient instead.
func (r *Registry) Client(name string) (*kube.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.client(name)
}

// EnvClient returns the client that env's dry run, apply, prune, health and drift scan use:
// its cluster's, acting as the identity env impersonates (if any), so that the cluster's
// RBAC bounds what the environment's pushes can do.
func (r *Registry) EnvClient(env config.Environment) (*kube.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	base, err := r.client(env.Cluster)
	if err != nil || env.Impersonate == nil {
		return base, err
	}
	imp := Impersonation(env.Impersonate)
	id := identity{cluster: env.Cluster, user: imp.UserName, groups: strings.Join(imp.Groups, "\n")}
	if cl, ok := r.as[id]; ok {
		return cl, nil
	}
	cl, err := base.Impersonate(imp)
	if err != nil {
		return nil, fmt.Errorf("cluster %s as %s: %w", env.Cluster, env.Impersonate, err)
	}
	r.as[id] = cl
	return cl, nil
}

// Impersonation is imp as client-go's rest.ImpersonationConfig. A service account gets no
// groups: the API server gives it its own (system:serviceaccounts and
// system:serviceaccounts:NAMESPACE), as it would to the account's token.
func Impersonation(imp *config.Impersonate) rest.ImpersonationConfig {
	if imp.ServiceAccount != "" {
		return rest.ImpersonationConfig{UserName: imp.String()}
	}
	return rest.ImpersonationConfig{UserName: imp.User, Groups: imp.Groups}
}

// client is Client with r.mu held.
func (r *Registry) client(name string) (*kube.Client, error) {
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
