// Package analysis judges the new version of a release while one of its steps runs:
// Prometheus queries held to a bound, webhooks that must answer 2xx, and comparisons of the
// new version with the stable one on the same query by a statistical test on the samples of
// both (the idea behind Kayenta), so that a version that is worse than the one it replaces
// is caught without a threshold to tune.
package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/gitopsd/gitopsd/config"
)

// DefaultInterval is the time between two rounds of checks.
const DefaultInterval = 10 * time.Second

// Subject is what a step releases: its words for the pusher, and the values substituted
// in the queries ($canary, $stable, $namespace, $name; $version in a comparison).
type Subject struct {
	Repo, Env, Commit string
	// Step names the step ("canary 25%", "preview").
	Step            string
	Namespace, Name string
	// Canary and Stable are the new and the stable version (see Version).
	Canary, Stable string
}

// Version is what the queries know a version by: the pod template's "version" label, or
// its "app.kubernetes.io/version" label, or else its first container's image tag.
func Version(podLabels map[string]string, firstImage string) string {
	for _, k := range []string{"version", "app.kubernetes.io/version"} {
		if v := podLabels[k]; v != "" {
			return v
		}
	}
	if i := strings.LastIndexByte(firstImage, ':'); i >= 0 && !strings.Contains(firstImage[i:], "/") {
		return firstImage[i+1:]
	}
	return "latest"
}

// Analyzer runs one environment's analysis.
type Analyzer struct {
	spec config.Analysis
	prom promv1.API
	http *http.Client
}

// New returns the analyzer of spec.
func New(spec config.Analysis) (*Analyzer, error) {
	a := &Analyzer{spec: spec, http: &http.Client{}}
	if a.spec.Interval <= 0 {
		a.spec.Interval = DefaultInterval
	}
	if spec.Prometheus != "" {
		c, err := api.NewClient(api.Config{Address: spec.Prometheus})
		if err != nil {
			return nil, fmt.Errorf("prometheus %s: %w", spec.Prometheus, err)
		}
		a.prom = promv1.NewAPI(c)
	}
	return a, nil
}

// Verdict is how the analysis of a step ended.
type Verdict struct {
	// Failed says which check failed and with what values; "" when every check passed.
	Failed string
	// Measured says what each check found, for the push output ("error-rate 0.002 <=
	// 0.01").
	Measured []string
}

// Watch checks s every interval until ctx ends (the step is over: its health wait has
// ended) or a check fails more rounds than its limit allows, and then judges the
// comparisons on the samples collected. A step shorter than one interval gets one round.
func (a *Analyzer) Watch(ctx context.Context, s Subject) Verdict {
	failures := map[string]int{}
	last := map[string]string{}
	samples := map[string]*[2][]float64{}
	rounds := 0
	tick := time.NewTicker(a.spec.Interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			if rounds == 0 {
				// The step was shorter than an interval: one round, on a context of its own.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.spec.Interval)
				v, failed := a.round(rctx, s, failures, last, samples)
				cancel()
				if failed {
					return v
				}
			}
			return a.judge(last, samples)
		}
		rounds++
		if v, failed := a.round(ctx, s, failures, last, samples); failed {
			return v
		}
	}
}

// round runs every check once; it reports a verdict when one failed past its limit. A
// round cut short by the end of the step counts for nothing: a check it interrupted did
// not fail.
func (a *Analyzer) round(ctx context.Context, s Subject, failures map[string]int, last map[string]string, samples map[string]*[2][]float64) (Verdict, bool) {
	for _, q := range a.spec.Queries {
		v, err := a.value(ctx, substitute(q.Query, s, ""))
		if ctx.Err() != nil {
			return Verdict{}, false
		}
		msg := ""
		switch {
		case err != nil:
			msg = err.Error()
		case q.Max != nil && v > *q.Max:
			msg = fmt.Sprintf("%s > %s", num(v), num(*q.Max))
		case q.Min != nil && v < *q.Min:
			msg = fmt.Sprintf("%s < %s", num(v), num(*q.Min))
		}
		if msg == "" {
			last[q.Name] = q.Name + " " + num(v) + bound(q)
			continue
		}
		failures[q.Name]++
		last[q.Name] = q.Name + " " + msg
		if failures[q.Name] > q.FailureLimit {
			return a.failed(fmt.Sprintf("analysis %s: %s (%d round(s) failed, %d allowed)", q.Name, msg, failures[q.Name], q.FailureLimit), last), true
		}
	}
	for _, w := range a.spec.Webhooks {
		err := a.webhook(ctx, w, s)
		if ctx.Err() != nil {
			return Verdict{}, false
		}
		if err != nil {
			failures[w.Name]++
			last[w.Name] = w.Name + " " + err.Error()
			if failures[w.Name] > w.FailureLimit {
				return a.failed(fmt.Sprintf("analysis %s: %v (%d round(s) failed, %d allowed)", w.Name, err, failures[w.Name], w.FailureLimit), last), true
			}
			continue
		}
		last[w.Name] = w.Name + " ok"
	}
	for _, c := range a.spec.Compare {
		sm := samples[c.Name]
		if sm == nil {
			sm = &[2][]float64{}
			samples[c.Name] = sm
		}
		// A round that cannot read one of the two keeps neither: the samples stay paired
		// in time.
		canary, err1 := a.value(ctx, substitute(c.Query, s, s.Canary))
		stable, err2 := a.value(ctx, substitute(c.Query, s, s.Stable))
		if err1 == nil && err2 == nil && ctx.Err() == nil {
			sm[0], sm[1] = append(sm[0], canary), append(sm[1], stable)
		}
	}
	return Verdict{}, false
}

func (a *Analyzer) failed(why string, last map[string]string) Verdict {
	return Verdict{Failed: why, Measured: sorted(last)}
}

// judge ends a step whose rounds passed: each comparison's test on its samples.
func (a *Analyzer) judge(last map[string]string, samples map[string]*[2][]float64) Verdict {
	v := Verdict{}
	for _, c := range a.spec.Compare {
		sm := samples[c.Name]
		if sm == nil || len(sm[0]) < MinSamples {
			n := 0
			if sm != nil {
				n = len(sm[0])
			}
			last[c.Name] = fmt.Sprintf("%s: %d sample(s), fewer than %d: not compared (give the step a longer pause)", c.Name, n, MinSamples)
			continue
		}
		res := Compare(sm[0], sm[1], c.Higher)
		last[c.Name] = c.Name + ": " + res.String()
		if res.Worse && v.Failed == "" {
			v.Failed = fmt.Sprintf("analysis %s: the new version is worse than the stable one: %s", c.Name, res)
		}
	}
	v.Measured = sorted(last)
	return v
}

// value runs query and returns its one value.
func (a *Analyzer) value(ctx context.Context, query string) (float64, error) {
	if a.prom == nil {
		return 0, fmt.Errorf("no prometheus: is configured")
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, _, _, err := a.prom.Query(qctx, query, time.Now())
	if err != nil {
		return 0, fmt.Errorf("query failed: %v", err)
	}
	switch v := res.(type) {
	case *model.Scalar:
		return float64(v.Value), nil
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, fmt.Errorf("no data")
		case 1:
			return float64(v[0].Value), nil
		}
		return 0, fmt.Errorf("the query returns %d series, not one: aggregate it (sum, avg)", len(v))
	}
	return 0, fmt.Errorf("the query returns a %s, not a number", res.Type())
}

// webhook asks w about s: a POST of s as JSON, passed by a 2xx answer.
func (a *Analyzer) webhook(ctx context.Context, w config.Check, s Subject) error {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(map[string]string{"repo": s.Repo, "environment": s.Env, "commit": s.Commit, "step": s.Step,
		"namespace": s.Namespace, "name": s.Name, "canary": s.Canary, "stable": s.Stable})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(wctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("no answer (%v)", ctxOr(wctx, err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func substitute(query string, s Subject, version string) string {
	return strings.NewReplacer("$canary", s.Canary, "$stable", s.Stable, "$namespace", s.Namespace, "$name", s.Name, "$version", version).Replace(query)
}

func bound(q config.Query) string {
	switch {
	case q.Max != nil && q.Min != nil:
		return fmt.Sprintf(" within [%s, %s]", num(*q.Min), num(*q.Max))
	case q.Max != nil:
		return " <= " + num(*q.Max)
	}
	return " >= " + num(*q.Min)
}

// num prints a measured value with four significant digits.
func num(v float64) string { return fmt.Sprintf("%.4g", v) }

func sorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
