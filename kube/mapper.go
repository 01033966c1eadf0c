package kube

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// mapper is a RESTMapper over cached discovery that refreshes itself when a kind is not
// found. client-go's DeferredDiscoveryRESTMapper only refreshes while its cache is not
// "fresh", which a memory cache always is once filled, so a CRD created after the first
// lookup would never be seen.
type mapper struct {
	cached discovery.CachedDiscoveryInterface
	rm     *restmapper.DeferredDiscoveryRESTMapper
	// minRefresh bounds how often a miss may refresh discovery: a batch of objects of a
	// kind that really does not exist must not turn into one discovery sweep each.
	minRefresh time.Duration
	// fields caches the schemas FieldNames reads; shared, like discovery, by the clients
	// of one cluster.
	fields fieldNames

	mu          sync.Mutex
	generation  uint64
	lastRefresh time.Time
}

func newMapper(dc discovery.DiscoveryInterface, minRefresh time.Duration) *mapper {
	cached := memory.NewMemCacheClient(dc)
	return &mapper{cached: cached, rm: restmapper.NewDeferredDiscoveryRESTMapper(cached), minRefresh: minRefresh}
}

// mapping returns the REST mapping of gk at version (empty: the preferred version).
func (m *mapper) mapping(gk schema.GroupKind, version string) (*meta.RESTMapping, error) {
	var versions []string
	if version != "" {
		versions = []string{version}
	}
	gen := m.gen()
	mp, err := m.rm.RESTMapping(gk, versions...)
	if err == nil || !meta.IsNoMatchError(err) {
		return mp, err
	}
	if !m.refresh(gen) {
		return nil, err
	}
	return m.rm.RESTMapping(gk, versions...)
}

func (m *mapper) gen() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.generation
}

// refresh drops the discovery cache unless someone else already did since gen was read
// (then the retry sees their result) or it was done too recently. It reports whether a
// retry is worth it.
func (m *mapper) refresh(gen uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.generation != gen {
		return true
	}
	if !m.lastRefresh.IsZero() && time.Since(m.lastRefresh) < m.minRefresh {
		return false
	}
	m.rm.Reset()
	m.generation++
	m.lastRefresh = time.Now()
	return true
}

// forget drops the cache unconditionally, after this process changed what the cluster
// serves (it created CRDs).
func (m *mapper) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rm.Reset()
	m.generation++
	m.lastRefresh = time.Now()
}
