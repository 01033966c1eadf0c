package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/internal/promtest"
)

// TestCanaryAnalysis: releases judged by a real Prometheus that scrapes a service whose
// error rate per version the test sets. A version within the query's bound goes through
// every step, the push output showing what was measured; one whose error rate rises past
// it is rolled back by itself, the output naming the query and its value; and one below any
// bound but worse than the stable version is caught by the comparison alone.
func TestCanaryAnalysis(t *testing.T) {
	cp := kubetest.Living(t)
	cs := kubetest.Client(t, cp.Config)
	m := promtest.NewMetricsServer(t, promtest.DefaultMetricsOptions())
	for v, rate := range map[string]float64{"v1": 0.01, "v2": 0.01, "v3": 0.3, "v4": 0.04} {
		m.SetErrorRate(v, rate)
	}
	prom := promtest.Prometheus(t, m.Target())
	window := 5 * time.Second
	prom.AwaitHistory(t, time.Minute, promtest.RequestsMetric, window)

	errorRate := func(version string) string {
		return fmt.Sprintf(`sum(rate(%s{version="%s",code="500"}[5s])) / sum(rate(%s{version="%s"}[5s]))`,
			promtest.RequestsMetric, version, promtest.RequestsMetric, version)
	}
	nsA, nsB := kubetest.NamespaceIn(t, cp.Config), kubetest.NamespaceIn(t, cp.Config)
	d, alice, work := oneRepo(t, cp, nsA,
		fmt.Sprintf(`bounded: {branch: bounded, cluster: local, path: deploy, namespace: %s, apply: {settle: 1s, health_timeout: 60s},
        rollout: {strategy: canary, steps: [{weight: 50, pause: 4s}, {weight: 100}],
          analysis: {prometheus: %q, interval: 1s, queries: [{name: error-rate, query: %q, max: 0.05}]}}}`,
			nsA, prom.URL, errorRate("$canary")),
		fmt.Sprintf(`compared: {branch: compared, cluster: local, path: deploy, namespace: %s, apply: {settle: 1s, health_timeout: 60s},
        rollout: {strategy: canary, steps: [{weight: 50, pause: 8s}, {weight: 100}],
          analysis: {prometheus: %q, interval: 1s, compare: [{name: errors-vs-stable, query: %q}]}}}`,
			nsB, prom.URL, errorRate("$version")))

	release := func(branch, ns, tag string) string {
		d.Commit(t, alice, work, tag, shop(tag))
		out, _ := push(t, d, alice, work, branch)
		return out
	}
	for _, env := range []struct{ branch, ns string }{{"bounded", nsA}, {"compared", nsB}} {
		d.MustGit(t, alice, work, "checkout", "-q", "--orphan", env.branch)
		if out := release(env.branch, env.ns, "v1"); !hasWords(out, "ok: applied and healthy") {
			t.Fatalf("%s v1:\n%s", env.branch, out)
		}
		waitFor(t, env.branch+" runs v1", func() bool { return stableAt(cs, env.ns, "v1") })
	}

	// Within the bound: released, the measured value in the output.
	d.MustGit(t, alice, work, "checkout", "-q", "bounded")
	out := release("bounded", nsA, "v2")
	if !hasWords(out, "release: canary 50% healthy, stayed healthy for 4s; error-rate 0.01 <= 0.05") || !hasWords(out, "ok: applied and healthy") {
		t.Errorf("v2 is within the bound:\n%s", out)
	}
	waitFor(t, "v2 runs", func() bool { return stableAt(cs, nsA, "v2") && canaryGone(cs, nsA) })
	good := remoteHead(t, d, "bounded", nsA)

	// Past the bound: rolled back, the query and its value named.
	out = release("bounded", nsA, "v3")
	outputHas(t, out,
		"release stopped at canary 50% (step 1 of 2): analysis error-rate: 0.3 > 0.05 (1 round(s) failed, 0 allowed)",
		"rolled back to "+good[:7],
		"the canary is gone, and the stable version runs at full size")
	waitFor(t, "v2 at full size, no canary", func() bool { return stableAt(cs, nsA, "v2") && canaryGone(cs, nsA) })

	// No bound at all: a version as good as the stable passes the comparison; v4's 4%
	// errors against the stable's 1% are caught by it.
	d.MustGit(t, alice, work, "checkout", "-q", "compared")
	out = release("compared", nsB, "v2")
	if !hasWords(out, "errors-vs-stable: not worse than the stable (medians 0.01 vs 0.01") || !hasWords(out, "ok: applied and healthy") {
		t.Errorf("v2 is as good as v1:\n%s", out)
	}
	waitFor(t, "v2 runs", func() bool { return stableAt(cs, nsB, "v2") && canaryGone(cs, nsB) })
	out = release("compared", nsB, "v4")
	outputHas(t, out,
		"release stopped at canary 50% (step 1 of 2): analysis errors-vs-stable: the new version is worse than the stable one: worse than the stable (medians 0.04 vs 0.01",
		"rolled back to ")
	waitFor(t, "v2 at full size, no canary", func() bool { return stableAt(cs, nsB, "v2") && canaryGone(cs, nsB) })
}
