package clusters

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/discovery"
)

// Capabilities is what Helm's .Capabilities needs from a cluster.
type Capabilities struct {
	KubeVersion string
	// APIVersions holds group/version and group/version/Kind for every served resource.
	APIVersions []string
	fetched     time.Time
}

// capabilitiesTTL bounds how stale Helm's view of the cluster may be; a CRD installed by
// hand shows up within it.
const capabilitiesTTL = time.Minute

// probeTimeout bounds the check that a cluster whose capabilities are cached still answers.
const probeTimeout = 2 * time.Second

// Capabilities returns the cluster's version and served API versions, cached for a minute.
// The cache saves discovery, not the question whether the cluster is there: a cached
// answer is given only while the API server answers, so that a push made in the first
// second of an outage gets the offline checks, not a dry run against a dead server.
func (r *Registry) Capabilities(name string) (Capabilities, error) {
	r.mu.Lock()
	if c, ok := r.caps[name]; ok && time.Since(c.fetched) < capabilitiesTTL {
		r.mu.Unlock()
		if err := r.Ping(context.Background(), name, probeTimeout); err != nil {
			return Capabilities{}, err
		}
		return c, nil
	}
	r.mu.Unlock()
	cfg, err := r.RESTConfig(name)
	if err != nil {
		return Capabilities{}, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return Capabilities{}, err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return Capabilities{}, fmt.Errorf("cluster %s: version: %w", name, err)
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return Capabilities{}, fmt.Errorf("cluster %s: discovery: %w", name, err)
	}
	c := Capabilities{KubeVersion: v.GitVersion, fetched: time.Now()}
	for _, l := range lists {
		c.APIVersions = append(c.APIVersions, l.GroupVersion)
		for _, res := range l.APIResources {
			c.APIVersions = append(c.APIVersions, l.GroupVersion+"/"+res.Kind)
		}
	}
	r.mu.Lock()
	r.caps[name] = c
	r.mu.Unlock()
	return c, nil
}
