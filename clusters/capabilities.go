package clusters

import (
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

// Capabilities returns the cluster's version and served API versions, cached for a minute.
func (r *Registry) Capabilities(name string) (Capabilities, error) {
	r.mu.Lock()
	if c, ok := r.caps[name]; ok && time.Since(c.fetched) < capabilitiesTTL {
		r.mu.Unlock()
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
