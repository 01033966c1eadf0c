package kube

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// newClient returns a Client for the package's API server.
func newClient(t testing.TB) *Client {
	t.Helper()
	c, err := New(kubetest.Config(t), ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ctxT returns a context that ends with the test, bounded so a hung request fails it.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// objs parses YAML documents (separated by "---") into objects.
func objs(t testing.TB, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("parse %q: %v", d, err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func mustApply(t testing.TB, c *Client, in []*unstructured.Unstructured, opts ApplyOptions) *ChangeSet {
	t.Helper()
	cs, err := c.Apply(ctxT(t), in, opts)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func wantAction(t testing.TB, cs *ChangeSet, id ObjectID, want Action) Change {
	t.Helper()
	ch, ok := cs.Get(id)
	if !ok {
		t.Fatalf("%s not in change set %v", id.Short(), cs.Changes)
	}
	if ch.Action != want {
		t.Fatalf("%s: action %s (%s), want %s", id.Short(), ch.Action, ch.Message, want)
	}
	return ch
}

// countingClient is newClient whose requests are counted, to check how many a step makes.
func countingClient(t testing.TB) (*Client, *atomic.Int64) {
	t.Helper()
	cfg := kubetest.Config(t)
	n := &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return rt.RoundTrip(r)
		})
	})
	c, err := New(cfg, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
