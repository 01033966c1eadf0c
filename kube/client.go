package kube

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// ClientOptions tune the connection to one cluster.
type ClientOptions struct {
	// QPS and Burst replace the rest.Config's client-side rate limit. client-go's defaults
	// (5 and 10) would make a 1,000-object dry-run take minutes, and even 200 QPS was the
	// bottleneck of one here. What bounds the load gitopsd puts on a cluster is the
	// operations' concurrency, and the server's own priority and fairness; the token
	// bucket only stops a runaway loop.
	QPS   float32
	Burst int
	// Timeout bounds each request.
	Timeout time.Duration
	// MinDiscoveryRefresh is the least time between two discovery refreshes caused by a
	// kind that was not found.
	MinDiscoveryRefresh time.Duration
	// UserAgent names gitopsd in the API server's audit log.
	UserAgent string
}

// DefaultClientOptions returns the options New uses for zero fields.
func DefaultClientOptions() ClientOptions {
	return ClientOptions{
		QPS:                 1000,
		Burst:               2000,
		Timeout:             30 * time.Second,
		MinDiscoveryRefresh: 2 * time.Second,
		UserAgent:           "gitopsd",
	}
}

// Client talks to one cluster through the dynamic client, resolving kinds with a
// discovery-backed RESTMapper that refreshes itself when a kind is missing.
type Client struct {
	cfg *rest.Config
	dyn dynamic.Interface
	// inv reads and writes the inventory, always as gitopsd itself: it is gitopsd's record
	// of what an environment owns, which prune trusts, not the environment's to edit (and
	// an identity able to write it could edit every environment's).
	inv    dynamic.Interface
	meta   metadata.Interface           // for requests whose answer is only needed as metadata
	core   corev1client.CoreV1Interface // pods and events of workloads, in protobuf
	apps   appsv1client.AppsV1Interface // ReplicaSets, to tell a Deployment's versions apart
	mapper *mapper
}

// New returns a Client for cfg (which it copies).
func New(cfg *rest.Config, opts ClientOptions) (*Client, error) {
	def := DefaultClientOptions()
	if opts.QPS == 0 {
		opts.QPS = def.QPS
	}
	if opts.Burst == 0 {
		opts.Burst = def.Burst
	}
	if opts.Timeout == 0 {
		opts.Timeout = def.Timeout
	}
	if opts.MinDiscoveryRefresh == 0 {
		opts.MinDiscoveryRefresh = def.MinDiscoveryRefresh
	}
	if opts.UserAgent == "" {
		opts.UserAgent = def.UserAgent
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst, cfg.Timeout, cfg.UserAgent = opts.QPS, opts.Burst, opts.Timeout, opts.UserAgent
	c, err := clientFor(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	c.inv, c.mapper = c.dyn, newMapper(dc, opts.MinDiscoveryRefresh)
	return c, nil
}

// Impersonate returns a client of the same cluster that acts as imp (rest.Config's
// Impersonate), so that the API server bounds what it does by that identity's RBAC, and
// names it in refusals and the audit log. c's own identity needs the impersonate verb on
// imp. The new client shares c's discovery (the same cluster serves the same kinds), and
// keeps the inventory as c (see Client.inv).
func (c *Client) Impersonate(imp rest.ImpersonationConfig) (*Client, error) {
	cfg := rest.CopyConfig(c.cfg)
	cfg.Impersonate = imp
	ic, err := clientFor(cfg)
	if err != nil {
		return nil, err
	}
	ic.inv, ic.mapper = c.inv, c.mapper
	return ic, nil
}

// clientFor builds the clients of cfg that send requests; discovery and the inventory are
// the caller's to set.
func clientFor(cfg *rest.Config) (*Client, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	pcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	core, err := corev1client.NewForConfig(pcfg)
	if err != nil {
		return nil, fmt.Errorf("core client: %w", err)
	}
	apps, err := appsv1client.NewForConfig(pcfg)
	if err != nil {
		return nil, fmt.Errorf("apps client: %w", err)
	}
	return &Client{cfg: cfg, dyn: dyn, meta: mc, core: core, apps: apps}, nil
}

// Dynamic returns the underlying dynamic client.
func (c *Client) Dynamic() dynamic.Interface { return c.dyn }

// Namespaced says whether gvk is namespaced. known is false (and err nil) when the cluster
// does not serve the kind, even after refreshing discovery: for a kind whose CRD is still
// to be applied, that is an answer, not a failure.
func (c *Client) Namespaced(gvk schema.GroupVersionKind) (namespaced, known bool, err error) {
	m, err := c.mapper.mapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, true, nil
}

// ForgetDiscovery drops the cached discovery, for callers that know the served kinds changed.
func (c *Client) ForgetDiscovery() { c.mapper.forget() }

// resourceFor returns the dynamic resource for obj, checking its namespace against the
// kind's scope.
func (c *Client) resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.mapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil, fmt.Errorf("%w: %s", ErrUnknownKind, gvk.GroupVersion().WithKind(gvk.Kind))
		}
		return nil, nil, err
	}
	return c.resource(m, obj.GetNamespace())
}

// resourceForID is resourceFor by ID at the kind's preferred version.
func (c *Client) resourceForID(id ObjectID) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	m, err := c.mapper.mapping(id.GroupKind(), "")
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil, fmt.Errorf("%w: %s", ErrUnknownKind, id.GroupKind())
		}
		return nil, nil, err
	}
	return c.resource(m, id.Namespace)
}

func (c *Client) resource(m *meta.RESTMapping, ns string) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource), m, nil
	}
	if ns == "" {
		return nil, nil, ErrNoNamespace
	}
	return c.dyn.Resource(m.Resource).Namespace(ns), m, nil
}
