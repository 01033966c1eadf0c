package config

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults, applied where repos.yaml is silent.
const (
	DefaultListen        = "0.0.0.0:2222"
	DefaultDataDir       = "/var/lib/gitopsd"
	DefaultHTTPListen    = "127.0.0.1:9090"
	DefaultHostKeyName   = "ssh_host_ed25519_key"
	DefaultMaxSessions   = 64
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultMaxTimeout    = time.Hour
	DefaultMaxPackSize   = 1 << 30
	DefaultRenderTimeout = 30 * time.Second
	DefaultRenderBytes   = 64 << 20
	// DefaultRenderMemory is enough for a 1,000-object chart; a template that doubles a
	// string in a loop reaches it in well under a second.
	DefaultRenderMemory = 512 << 20
	DefaultRenderCPU    = 20 * time.Second
	// MinRenderMemory is what a render process needs for a small chart: about 110 MiB of
	// its data segment are taken before it reads anything.
	MinRenderMemory      = 256 << 20
	DefaultMaxPrune      = 20
	DefaultApplyWait     = 2 * time.Minute
	DefaultHealthTimeout = 2 * time.Minute
	// DefaultSettle catches a version that passes readiness and crashes a moment later,
	// and keeps a push quick.
	DefaultSettle      = 5 * time.Second
	DefaultTestTimeout = time.Minute
)

// What deleting an environment branch does (Environment.OnDelete).
const (
	OnDeleteKeep  = "keep"
	OnDeletePrune = "prune"
)

// Defaults of the limits before login.
const (
	// A handshake on loopback takes milliseconds, one across the world well under a second.
	DefaultHandshakeTimeout = 15 * time.Second
	// Twice the default max_sessions: a burst of clients logging in at once fits.
	DefaultMaxUnauthenticated = 128
	// A CI runner behind one NAT address starting many jobs at once still fits, and one
	// address alone cannot fill max_unauthenticated.
	DefaultMaxUnauthenticatedPerAddress = 32
)

// BuiltinPolicies are the policies gitopsd ships; environments turn them on by name.
var BuiltinPolicies = []string{"no-latest-tag", "require-resources", "no-privileged", "require-labels"}

// WebhookEvents are the events a webhook may subscribe to.
var WebhookEvents = []string{"push.rejected", "apply.succeeded", "apply.failed", "rollback", "drift.found", "branch.deleted"}

var (
	nameRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	repoNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)
	nsRe       = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// refNameBad covers what git check-ref-format refuses in a branch name.
	refNameBad = regexp.MustCompile(`(^[-/.])|(\.\.)|([\x00-\x20\x7f~^:?*\[\\])|(@\{)|(/$)|(\.$)|(\.lock$)|(//)|(/\.)`)
)

func (p *parser) defaults(c *Config) {
	s := &c.Server
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.DataDir == "" {
		s.DataDir = DefaultDataDir
	}
	s.DataDir = p.resolve(s.DataDir)
	if s.HostKey == "" {
		s.HostKey = path.Join(s.DataDir, DefaultHostKeyName)
	}
	s.HostKey = p.resolve(s.HostKey)
	if s.HTTPListen == "" {
		s.HTTPListen = DefaultHTTPListen
	}
	if s.Git == "" {
		s.Git = "git"
	}
	l := &s.Limits
	if l.MaxSessions == 0 {
		l.MaxSessions = DefaultMaxSessions
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxTimeout == 0 {
		l.MaxTimeout = DefaultMaxTimeout
	}
	if l.MaxPackSize == 0 {
		l.MaxPackSize = DefaultMaxPackSize
	}
	if l.HandshakeTimeout == 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.MaxUnauthenticated == 0 {
		l.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if l.MaxUnauthenticatedPerAddress == 0 {
		l.MaxUnauthenticatedPerAddress = min(DefaultMaxUnauthenticatedPerAddress, l.MaxUnauthenticated)
	}
	for name, cl := range c.Clusters {
		cl.Kubeconfig = p.resolve(cl.Kubeconfig)
		c.Clusters[name] = cl
	}
	for i := range c.Webhooks {
		c.Webhooks[i].SecretFile = p.resolve(c.Webhooks[i].SecretFile)
	}
	for name, t := range c.Tests {
		if t.Timeout == 0 {
			t.Timeout = DefaultTestTimeout
		}
		c.Tests[name] = t
	}
	for rname, r := range c.Repos {
		for ename, e := range r.Environments {
			e.Name = ename
			if e.Path == "" {
				e.Path = "."
			}
			e.Path = path.Clean(e.Path)
			if e.Render.Type == "" {
				e.Render.Type = RenderAuto
			}
			if e.Render.Release == "" {
				e.Render.Release = ename
			}
			p.resolveSecrets(&e)
			if e.Render.Timeout == 0 {
				e.Render.Timeout = DefaultRenderTimeout
			}
			if e.Render.MaxBytes == 0 {
				e.Render.MaxBytes = DefaultRenderBytes
			}
			if e.Render.MaxMemory == 0 {
				e.Render.MaxMemory = DefaultRenderMemory
			}
			if e.Render.MaxCPU == 0 {
				e.Render.MaxCPU = DefaultRenderCPU
			}
			if e.Checks.MaxPrune == 0 {
				e.Checks.MaxPrune = DefaultMaxPrune
			}
			if e.Apply.Wait == 0 {
				e.Apply.Wait = DefaultApplyWait
			}
			if e.Apply.HealthTimeout == 0 {
				e.Apply.HealthTimeout = DefaultHealthTimeout
			}
			if e.Apply.Settle == 0 {
				e.Apply.Settle = DefaultSettle
			}
			if e.Apply.OnFailure == "" {
				e.Apply.OnFailure = "none"
			}
			if e.OnDelete == "" {
				e.OnDelete = OnDeleteKeep
			}
			if e.Drift.Schedule != "" && e.Drift.Mode == "" {
				e.Drift.Mode = DriftReport
			}
			r.Environments[ename] = e
		}
		c.Repos[rname] = r
	}
}

func (p *parser) validate(c *Config) {
	p.checkAddr("server.listen", c.Server.Listen)
	p.checkAddr("server.http_listen", c.Server.HTTPListen)
	l := c.Server.Limits
	if l.MaxSessions < 0 {
		p.errorf("server.limits.max_sessions", "expected a positive number, got %d", l.MaxSessions)
	}
	if l.MaxPackSize < 0 {
		p.errorf("server.limits.max_pack_size", "expected a positive number of bytes, got %d", l.MaxPackSize)
	}
	if l.IdleTimeout < 0 || l.MaxTimeout < 0 || l.HandshakeTimeout < 0 {
		p.errorf("server.limits", "timeouts must be positive")
	}
	if l.HandshakeTimeout > l.MaxTimeout {
		p.errorf("server.limits.handshake_timeout", "%s is longer than max_timeout (%s)", l.HandshakeTimeout, l.MaxTimeout)
	}
	if l.MaxUnauthenticated < 0 {
		p.errorf("server.limits.max_unauthenticated", "expected a positive number, got %d", l.MaxUnauthenticated)
	}
	if l.MaxUnauthenticatedPerAddress < 0 {
		p.errorf("server.limits.max_unauthenticated_per_address", "expected a positive number, got %d", l.MaxUnauthenticatedPerAddress)
	} else if l.MaxUnauthenticatedPerAddress > l.MaxUnauthenticated {
		p.errorf("server.limits.max_unauthenticated_per_address", "%d is more than max_unauthenticated (%d); one address could take every place", l.MaxUnauthenticatedPerAddress, l.MaxUnauthenticated)
	}

	for _, name := range sortedKeys(c.Users) {
		u := c.Users[name]
		key := "users." + name
		if !nameRe.MatchString(name) {
			p.errorf(key, "user name %q may hold only letters, digits, '.', '_' and '-'", name)
		}
		if len(u.Keys) == 0 {
			p.errorf(key, "expected at least one SSH public key (an authorized_keys line)")
		}
		u.PublicKeys = nil
		for i, line := range u.Keys {
			k, err := parseKey(line)
			if err != nil {
				p.errorf(fmt.Sprintf("%s[%d]", key, i), "not an SSH public key (%v): expected an authorized_keys line such as \"ssh-ed25519 AAAA... alice@laptop\"", err)
				continue
			}
			u.PublicKeys = append(u.PublicKeys, k)
		}
		c.Users[name] = u
	}
	p.checkDuplicateKeys(c)

	for _, name := range sortedKeys(c.Clusters) {
		cl := c.Clusters[name]
		key := "clusters." + name
		if !nameRe.MatchString(name) {
			p.errorf(key, "cluster name %q may hold only letters, digits, '.', '_' and '-'", name)
		}
		if cl.Kubeconfig == "" {
			p.errorf(key+".kubeconfig", "missing: expected the path of a kubeconfig file")
		}
	}

	for _, name := range sortedKeys(c.Policies) {
		pol := c.Policies[name]
		key := "policies." + name
		if pol.Expression == "" {
			p.errorf(key+".expression", "missing: expected a CEL expression over `object` that is true when the object passes")
		}
		if pol.Message == "" {
			p.errorf(key+".message", "missing: expected the message shown when the policy fails")
		}
		if contains(BuiltinPolicies, name) {
			p.errorf(key, "%q is the name of a built-in policy; pick another name", name)
		}
	}
	for _, name := range sortedKeys(c.Tests) {
		t := c.Tests[name]
		if len(t.Command) == 0 {
			p.errorf("tests."+name+".command", "missing: expected a command as a list, such as [\"conftest\", \"test\", \".\"]")
		}
	}
	for i, w := range c.Webhooks {
		key := fmt.Sprintf("webhooks[%d]", i)
		if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
			p.errorf(key+".url", "expected an http:// or https:// URL, got %q", w.URL)
		}
		for j, ev := range w.Events {
			if !contains(WebhookEvents, ev) {
				p.errorf(fmt.Sprintf("%s.events[%d]", key, j), "unknown event %q (expected one of: %s)", ev, strings.Join(WebhookEvents, ", "))
			}
		}
	}

	if len(c.Repos) == 0 {
		p.errorf("repos", "no repos defined: expected at least one under repos:")
	}
	for _, name := range sortedKeys(c.Repos) {
		p.validateRepo(c, name, c.Repos[name])
	}
}

func (p *parser) checkAddr(key, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		p.errorf(key, "expected host:port, such as 127.0.0.1:2222, got %q", addr)
	}
}

func (p *parser) checkDuplicateKeys(c *Config) {
	owner := map[string]string{}
	for _, name := range sortedKeys(c.Users) {
		for i, k := range c.Users[name].PublicKeys {
			fp := string(k.Marshal())
			if other, ok := owner[fp]; ok && other != name {
				p.errorf(fmt.Sprintf("users.%s[%d]", name, i), "this key also belongs to user %q: a key identifies exactly one user", other)
			}
			owner[fp] = name
		}
	}
}

// validateRollout checks a rollout: a known strategy, and steps whose weights rise, each
// between 1 and 100. A canary that never reaches 100 is promoted after its last step.
func (p *parser) validateRollout(key string, r Rollout) {
	if a := r.Analysis; a != nil {
		p.validateAnalysis(key+".analysis", *a)
	}
	// Steps are a canary's, pause and keep blue-green's; both may be given, for the
	// Deployments whose annotation asks for the other strategy.
	switch r.Strategy {
	case RolloutCanary, RolloutBlueGreen:
	default:
		p.errorf(key+".strategy", "expected canary or blue-green, got %q", r.Strategy)
	}
	if r.Keep < 0 || r.Pause != nil && !r.Pause.Gate && r.Pause.Duration <= 0 {
		p.errorf(key, "pause and keep must be positive durations (pause may be {} to wait for `promote`)")
	}
	if r.Strategy == RolloutBlueGreen && len(r.Steps) == 0 {
		return
	}
	if len(r.Steps) == 0 {
		p.errorf(key+".steps", "missing: expected steps such as [{weight: 20, pause: 1m}, {weight: 100}]")
	}
	last := 0
	for i, st := range r.Steps {
		k := fmt.Sprintf("%s.steps[%d].weight", key, i)
		switch {
		case st.Weight < 1 || st.Weight > 100:
			p.errorf(k, "expected a share of the pods between 1 and 100 (percent), got %d", st.Weight)
		case st.Weight < last:
			p.errorf(k, "%d is less than the step before (%d): a canary's share only grows", st.Weight, last)
		}
		last = st.Weight
		if st.Pause != nil && !st.Pause.Gate && st.Pause.Duration <= 0 {
			p.errorf(fmt.Sprintf("%s.steps[%d].pause", key, i), "expected a positive duration, or {} to wait for `promote`")
		}
	}
}

// validateAnalysis checks an analysis: a Prometheus URL if it has queries, names unique,
// and each query with a bound, each comparison with $version.
func (p *parser) validateAnalysis(key string, a Analysis) {
	if (len(a.Queries) > 0 || len(a.Compare) > 0) && !strings.HasPrefix(a.Prometheus, "http://") && !strings.HasPrefix(a.Prometheus, "https://") {
		p.errorf(key+".prometheus", "expected the URL of the Prometheus HTTP API, such as http://prometheus:9090, got %q", a.Prometheus)
	}
	if a.Interval < 0 {
		p.errorf(key+".interval", "must be positive")
	}
	names := map[string]bool{}
	name := func(k, n string) {
		if n == "" {
			p.errorf(k+".name", "missing: every check has a name, which the push output and the events use")
		} else if names[n] {
			p.errorf(k+".name", "%q is used twice", n)
		}
		names[n] = true
	}
	for i, q := range a.Queries {
		k := fmt.Sprintf("%s.queries[%d]", key, i)
		name(k, q.Name)
		if strings.TrimSpace(q.Query) == "" {
			p.errorf(k+".query", "missing: expected a PromQL query")
		}
		if q.Max == nil && q.Min == nil {
			p.errorf(k, "expected max or min: the bound the value must stay within")
		}
	}
	for i, w := range a.Webhooks {
		k := fmt.Sprintf("%s.webhooks[%d]", key, i)
		name(k, w.Name)
		if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
			p.errorf(k+".url", "expected an http(s) URL, got %q", w.URL)
		}
	}
	for i, c := range a.Compare {
		k := fmt.Sprintf("%s.compare[%d]", key, i)
		name(k, c.Name)
		if !strings.Contains(c.Query, "$version") {
			p.errorf(k+".query", "expected $version in the query: it is asked for the new and the stable version in turn")
		}
	}
}

// checkShared checks environment e, at key, against first, an environment of the same
// branch: several environments may deploy one branch (a directory each), but not the same
// directory to the same place, and what they say about the branch itself must agree,
// since a push or a deletion of the branch is one event for all of them.
func (p *parser) checkShared(key string, first, e Environment) {
	if path.Clean("./"+first.Path) == path.Clean("./"+e.Path) && first.Cluster == e.Cluster && first.Namespace == e.Namespace {
		p.errorf(key+".path", "environment %q already deploys path %q of branch %q to cluster %q: give each environment of a branch its own directory (or cluster, or namespace)",
			first.Name, path.Clean("./"+first.Path), e.Branch, e.Cluster)
	}
	for _, f := range []struct {
		name string
		a, b any
	}{
		{"allow_force_push", first.AllowForcePush, e.AllowForcePush},
		{"allow_delete", first.AllowDelete, e.AllowDelete},
		{"on_delete", first.OnDelete, e.OnDelete},
	} {
		if f.a != f.b {
			p.errorf(key+"."+f.name, "%v, but environment %q of the same branch %q says %v: environments of one branch must agree on what the branch allows",
				f.b, first.Name, e.Branch, f.a)
		}
	}
}

func (p *parser) checkUsers(c *Config, key string, names []string) {
	for i, u := range names {
		if _, ok := c.Users[u]; !ok {
			p.errorf(fmt.Sprintf("%s[%d]", key, i), "user %q is not defined under users (defined: %s)", u, strings.Join(sortedKeys(c.Users), ", "))
		}
	}
}

func (p *parser) validateRepo(c *Config, name string, r Repo) {
	key := "repos." + name
	if !repoNameRe.MatchString(name) || strings.HasSuffix(name, ".git") || strings.Contains(name, "..") {
		p.errorf(key, "repo name %q may hold only letters, digits, '.', '_', '-' and '/' between parts, and must not end in .git", name)
	}
	p.checkUsers(c, key+".read", r.Read)
	p.checkUsers(c, key+".write", r.Write)
	if r.Tags != nil {
		p.checkUsers(c, key+".tags.write", r.Tags.Write)
	}
	branches := map[string]string{}
	for _, ename := range sortedKeys(r.Environments) {
		e := r.Environments[ename]
		ekey := key + ".environments." + ename
		if !nameRe.MatchString(ename) {
			p.errorf(ekey, "environment name %q may hold only letters, digits, '.', '_' and '-'", ename)
		}
		switch {
		case e.Branch == "":
			p.errorf(ekey+".branch", "missing: expected the branch this environment deploys, such as main")
		case refNameBad.MatchString(e.Branch) || strings.HasPrefix(e.Branch, "refs/"):
			p.errorf(ekey+".branch", "%q is not a valid branch name (write it without refs/heads/)", e.Branch)
		case branches[e.Branch] != "":
			p.checkShared(ekey, r.Environments[branches[e.Branch]], e)
		default:
			branches[e.Branch] = ename
		}
		if e.Cluster == "" {
			p.errorf(ekey+".cluster", "missing: expected one of the clusters (%s)", strings.Join(sortedKeys(c.Clusters), ", "))
		} else if _, ok := c.Clusters[e.Cluster]; !ok {
			p.errorf(ekey+".cluster", "cluster %q is not defined under clusters (defined: %s)", e.Cluster, strings.Join(sortedKeys(c.Clusters), ", "))
		}
		if path.IsAbs(e.Path) || e.Path == ".." || strings.HasPrefix(e.Path, "../") {
			p.errorf(ekey+".path", "%q must be a path inside the repo, relative to its root", e.Path)
		}
		if e.Namespace != "" && (!nsRe.MatchString(e.Namespace) || len(e.Namespace) > 63) {
			p.errorf(ekey+".namespace", "%q is not a valid namespace name (lower case letters, digits and '-')", e.Namespace)
		}
		p.validateBoundary(ekey, e)
		p.validateSecrets(ekey, e)
		p.checkUsers(c, ekey+".push", e.Push)
		switch e.Render.Type {
		case RenderAuto, RenderPlain, RenderKustomize, RenderHelm:
		default:
			p.errorf(ekey+".render.type", "unknown render type %q (expected auto, plain, kustomize or helm)", e.Render.Type)
		}
		if e.Render.MaxMemory != 0 && e.Render.MaxMemory < MinRenderMemory {
			p.errorf(ekey+".render.max_memory", "%d bytes is too little to render anything (at least %d)", e.Render.MaxMemory, int64(MinRenderMemory))
		}
		if e.Render.MaxCPU < 0 {
			p.errorf(ekey+".render.max_cpu", "must not be negative")
		}
		if len(e.Render.Values) > 0 && e.Render.Type != RenderHelm && e.Render.Type != RenderAuto {
			p.errorf(ekey+".render.values", "values files apply only to render type helm")
		}
		for i, v := range e.Render.Values {
			if path.IsAbs(v) || strings.HasPrefix(path.Clean(v), "..") {
				p.errorf(fmt.Sprintf("%s.render.values[%d]", ekey, i), "%q must be a path inside the repo", v)
			}
		}
		for i, pol := range e.Checks.Policies {
			if _, ok := c.Policies[pol]; !ok && !contains(BuiltinPolicies, pol) {
				p.errorf(fmt.Sprintf("%s.checks.policies[%d]", ekey, i), "policy %q is neither built in (%s) nor defined under policies", pol, strings.Join(BuiltinPolicies, ", "))
			}
		}
		for i, t := range e.Checks.Tests {
			if _, ok := c.Tests[t]; !ok {
				p.errorf(fmt.Sprintf("%s.checks.tests[%d]", ekey, i), "test %q is not defined under tests", t)
			}
		}
		if e.Checks.MaxPrune < 0 {
			p.errorf(ekey+".checks.max_prune", "expected a positive number")
		}
		switch e.Apply.OnFailure {
		case "none", "rollback":
		default:
			p.errorf(ekey+".apply.on_failure", "expected none or rollback, got %q", e.Apply.OnFailure)
		}
		if e.OnDelete != OnDeleteKeep && e.OnDelete != OnDeletePrune {
			p.errorf(ekey+".on_delete", "expected keep or prune, got %q", e.OnDelete)
		}
		if e.Rollout != nil {
			p.validateRollout(ekey+".rollout", *e.Rollout)
		}
		if e.Drift.Schedule != "" {
			if _, err := cron.ParseStandard(e.Drift.Schedule); err != nil {
				p.errorf(ekey+".drift.schedule", "not a cron schedule (%v): expected 5 fields such as \"*/5 * * * *\" or @every 10m", err)
			}
		}
		switch e.Drift.Mode {
		case "", DriftReport, DriftCorrect:
		default:
			p.errorf(ekey+".drift.mode", "expected report or correct, got %q", e.Drift.Mode)
		}
		if e.Drift.Mode != "" && e.Drift.Schedule == "" {
			p.errorf(ekey+".drift", "mode is set but schedule is missing: expected a cron schedule such as \"*/5 * * * *\"")
		}
	}
}

// kindRe is a kind, optionally with its API group: ClusterRole, or
// ClusterRole.rbac.authorization.k8s.io.
var kindRe = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(\.[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$`)

// validateBoundary checks what the environment may touch: namespaces, cluster-scoped
// kinds and the identity it acts as.
func (p *parser) validateBoundary(ekey string, e Environment) {
	for i, ns := range e.Namespaces {
		if !nsRe.MatchString(ns) || len(ns) > 63 {
			p.errorf(fmt.Sprintf("%s.namespaces[%d]", ekey, i), "%q is not a valid namespace name (lower case letters, digits and '-')", ns)
		}
	}
	for i, k := range e.ClusterScoped {
		if !kindRe.MatchString(k) {
			p.errorf(fmt.Sprintf("%s.cluster_scoped[%d]", ekey, i), "%q is not a kind: expected a kind such as ClusterRole, or ClusterRole.rbac.authorization.k8s.io", k)
		}
	}
	imp := e.Impersonate
	if imp == nil {
		return
	}
	key := ekey + ".impersonate"
	switch {
	case imp.ServiceAccount != "" && imp.User != "":
		p.errorf(key, "expected service_account or user, not both")
	case imp.ServiceAccount != "":
		ns, name, ok := strings.Cut(imp.ServiceAccount, "/")
		if !ok || !nsRe.MatchString(ns) || len(ns) > 63 || !saNameRe.MatchString(name) || len(name) > 253 {
			p.errorf(key+".service_account", "expected namespace/name of a service account, such as web/deployer, got %q", imp.ServiceAccount)
		}
		if len(imp.Groups) > 0 {
			p.errorf(key+".groups", "groups go with user; a service account's groups are its own")
		}
	case imp.User != "":
		for i, g := range imp.Groups {
			if strings.TrimSpace(g) == "" {
				p.errorf(fmt.Sprintf("%s.groups[%d]", key, i), "empty group name")
			}
		}
	default:
		p.errorf(key, "expected service_account (namespace/name) or user (with groups)")
	}
}

// saNameRe is a service account's name (a DNS subdomain).
var saNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
