package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const aliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2p2YmnaZCWYK6L1uT70QFbGGW6k6/y0dGV8j3syWyx alice@example"

// minimal is a valid configuration that the error cases below break one key at a time.
const minimal = `server:
  listen: "127.0.0.1:2222"
  data_dir: data
users:
  alice: ["` + aliceKey + `"]
clusters:
  staging: {kubeconfig: staging.kubeconfig}
repos:
  platform:
    read: [alice]
    write: [alice]
    environments:
      staging:
        branch: staging
        cluster: staging
        path: deploy/staging
        namespace: web
        drift: {schedule: "*/5 * * * *", mode: correct}
`

func TestLoadShippedReposYAML(t *testing.T) {
	cfg, err := Load("../repos.yaml")
	if err != nil {
		t.Fatalf("the shipped repos.yaml must load: %v", err)
	}
	if got := len(cfg.Repos); got != 4 {
		t.Errorf("repos: got %d, want 4 (platform, app, env-production, shop)", got)
	}
	if shop := cfg.Repos["shop"]; !shop.SharedBranch("main") || !shop.CanPushBranch("bob", "main") || shop.CanDeploy("bob", shop.Environments["production"]) {
		t.Errorf("shop deploys staging and production from main; bob may push it, but not change production")
	}
	if len(cfg.Repos["app"].Environments) != 0 {
		t.Errorf("app must be a plain repo with no environments")
	}
	if envs := cfg.Repos["platform"].EnvironmentsForBranch("main"); len(envs) != 1 || envs[0].Cluster != "production" {
		t.Errorf("platform main should deploy to production, got %+v", envs)
	}
	if !cfg.Repos["platform"].CanPushBranch("bob", "staging") || cfg.Repos["platform"].CanPushBranch("bob", "main") {
		t.Errorf("bob may push staging but not main")
	}
	if cfg.Repos["env-production"].CanWrite("bob") || !cfg.Repos["env-production"].CanRead("bob") {
		t.Errorf("bob reads but does not write env-production")
	}
}

func TestParseDefaultsAndResolve(t *testing.T) {
	cfg, err := Parse("/etc/gitopsd/repos.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if s.DataDir != "/etc/gitopsd/data" {
		t.Errorf("data_dir resolved against the file's directory: got %q", s.DataDir)
	}
	if s.HostKey != "/etc/gitopsd/data/ssh_host_ed25519_key" {
		t.Errorf("host key default: got %q", s.HostKey)
	}
	if s.HTTPListen != DefaultHTTPListen || s.Git != "git" {
		t.Errorf("defaults: %+v", s)
	}
	if cfg.Clusters["staging"].Kubeconfig != "/etc/gitopsd/staging.kubeconfig" {
		t.Errorf("kubeconfig resolved: got %q", cfg.Clusters["staging"].Kubeconfig)
	}
	env := cfg.Repos["platform"].Environments["staging"]
	if env.Render.Type != RenderAuto || env.Render.Release != "staging" || env.Apply.Wait != DefaultApplyWait || env.Apply.OnFailure != "none" {
		t.Errorf("environment defaults: %+v", env)
	}
	if len(cfg.Users["alice"].PublicKeys) != 1 {
		t.Errorf("alice's key was not parsed")
	}
	if s.Limits.IdleTimeout != DefaultIdleTimeout || s.Limits.MaxPackSize != DefaultMaxPackSize {
		t.Errorf("limits defaults: %+v", s.Limits)
	}
	if s.Limits.HandshakeTimeout != DefaultHandshakeTimeout || s.Limits.MaxUnauthenticated != DefaultMaxUnauthenticated ||
		s.Limits.MaxUnauthenticatedPerAddress != DefaultMaxUnauthenticatedPerAddress {
		t.Errorf("limits before login, defaults: %+v", s.Limits)
	}
}

func TestParseDurations(t *testing.T) {
	in := strings.Replace(minimal, "  data_dir: data\n", "  data_dir: data\n  limits: {idle_timeout: 90s}\n", 1)
	cfg, err := Parse("repos.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Limits.IdleTimeout != 90*time.Second {
		t.Errorf("idle_timeout: got %v", cfg.Server.Limits.IdleTimeout)
	}
}

// TestParseLimitsBeforeLogin: a smaller max_unauthenticated brings the per-address default
// down with it rather than making the file invalid.
func TestParseLimitsBeforeLogin(t *testing.T) {
	in := strings.Replace(minimal, "  data_dir: data\n", "  data_dir: data\n  limits: {max_unauthenticated: 10, handshake_timeout: 5s}\n", 1)
	cfg, err := Parse("repos.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Server.Limits; l.MaxUnauthenticated != 10 || l.MaxUnauthenticatedPerAddress != 10 || l.HandshakeTimeout != 5*time.Second {
		t.Errorf("limits: %+v", l)
	}
}

// TestParseErrors breaks minimal one way per error class and checks the line, the key and
// the words of the message.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name     string
		old, new string // replace old by new in minimal
		line     int
		key      string
		contains string
	}{
		{"yaml syntax", "    read: [alice]", "    read: [alice", 10, "", "did not find expected"},
		{"unknown top-level key", "server:", "sever:\n  x: 1\nserver:", 1, "sever", `unknown key "sever"`},
		{"unknown nested key", "        namespace: web", "        namespce: web", 17, "repos.platform.environments.staging.namespce", "expected one of: branch, cluster, path, namespace"},
		{"wrong kind", "    read: [alice]", "    read: {alice: 1}", 10, "repos.platform.read", "expected a list"},
		{"undefined user in read", "    read: [alice]", "    read: [alice, mallory]", 10, "repos.platform.read[1]", `user "mallory" is not defined`},
		{"undefined user in push", "        namespace: web", "        namespace: web\n        push: [eve]", 18, "repos.platform.environments.staging.push[0]", `user "eve" is not defined`},
		{"undefined cluster", "        cluster: staging", "        cluster: prod", 15, "repos.platform.environments.staging.cluster", `cluster "prod" is not defined under clusters (defined: staging)`},
		{"missing cluster", "        cluster: staging\n", "", 13, "repos.platform.environments.staging.cluster", "missing"},
		{"bad ssh key", aliceKey, "ssh-ed25519 notbase64", 5, "users.alice[0]", "not an SSH public key"},
		{"no keys", `  alice: ["` + aliceKey + `"]`, "  alice: []", 5, "users.alice", "at least one SSH public key"},
		{"bad cron", `"*/5 * * * *"`, `"every five minutes"`, 18, "repos.platform.environments.staging.drift.schedule", "not a cron schedule"},
		{"bad drift mode", "mode: correct", "mode: fix", 18, "repos.platform.environments.staging.drift.mode", "expected report or correct"},
		{"bad duration", "  data_dir: data\n", "  data_dir: data\n  limits: {idle_timeout: soon}\n", 4, "server.limits.idle_timeout", "expected a duration"},
		{"per-address cap above the cap", "  data_dir: data\n", "  data_dir: data\n  limits: {max_unauthenticated: 8, max_unauthenticated_per_address: 9}\n", 4, "server.limits.max_unauthenticated_per_address", "more than max_unauthenticated (8)"},
		{"negative cap", "  data_dir: data\n", "  data_dir: data\n  limits: {max_unauthenticated: -1}\n", 4, "server.limits.max_unauthenticated", "expected a positive number"},
		{"handshake longer than max", "  data_dir: data\n", "  data_dir: data\n  limits: {handshake_timeout: 2h}\n", 4, "server.limits.handshake_timeout", "longer than max_timeout"},
		{"bad address", `listen: "127.0.0.1:2222"`, `listen: "localhost"`, 2, "server.listen", "expected host:port"},
		{"path outside repo", "path: deploy/staging", "path: ../../etc", 16, "repos.platform.environments.staging.path", "inside the repo"},
		{"bad namespace", "namespace: web", "namespace: Web_1", 17, "repos.platform.environments.staging.namespace", "not a valid namespace"},
		{"bad branch", "branch: staging", "branch: refs/heads/staging", 14, "repos.platform.environments.staging.branch", "not a valid branch name"},
		{"bad render type", "        namespace: web", "        namespace: web\n        render: {type: jsonnet}", 18, "repos.platform.environments.staging.render.type", "unknown render type"},
		{"unknown policy", "        namespace: web", "        namespace: web\n        checks: {policies: [no-root]}", 18, "repos.platform.environments.staging.checks.policies[0]", `policy "no-root" is neither built in`},
		{"repeated key", "    write: [alice]", "    write: [alice]\n    write: [alice]", 12, "repos.platform.write", "given twice"},
		{"bad repo name", "  platform:", "  ../platform:", 9, "repos.../platform", "repo name"},
		{"alias", "    read: [alice]", "    read: &r [alice]\n    write: *r", 11, "", "aliases"},
		{"two documents", "repos:", "---\nrepos:", 8, "", "more than one YAML document"},
		{"bad on_failure", "        namespace: web", "        namespace: web\n        apply: {on_failure: panic}", 18, "repos.platform.environments.staging.apply.on_failure", "expected none or rollback"},
		{"bad allowed namespace", "        namespace: web", "        namespace: web\n        namespaces: [shared, Bad_NS]", 18, "repos.platform.environments.staging.namespaces[1]", "not a valid namespace"},
		{"bad cluster-scoped kind", "        namespace: web", "        namespace: web\n        cluster_scoped: [clusterrole]", 18, "repos.platform.environments.staging.cluster_scoped[0]", "not a kind"},
		{"impersonate both", "        namespace: web", "        namespace: web\n        impersonate: {service_account: web/deployer, user: bob}", 18, "repos.platform.environments.staging.impersonate", "not both"},
		{"impersonate nobody", "        namespace: web", "        namespace: web\n        impersonate: {groups: [ops]}", 18, "repos.platform.environments.staging.impersonate", "expected service_account (namespace/name) or user"},
		{"impersonate bad account", "        namespace: web", "        namespace: web\n        impersonate: {service_account: deployer}", 18, "repos.platform.environments.staging.impersonate.service_account", "expected namespace/name"},
		{"impersonate account with groups", "        namespace: web", "        namespace: web\n        impersonate: {service_account: web/deployer, groups: [ops]}", 18, "repos.platform.environments.staging.impersonate.groups", "groups go with user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(minimal, tc.old, tc.new, 1)
			if in == minimal {
				t.Fatalf("test case does not change the input: %q not found", tc.old)
			}
			_, err := Parse("repos.yaml", []byte(in))
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			for _, e := range list {
				line := e.Line
				if tc.key == "" && line == tc.line-1 {
					// yaml.v3 reports some syntax errors at the line before the one
					// that holds the mistake (the 0-based line of the open bracket).
					line = tc.line
				}
				if line == tc.line && e.Key == tc.key && strings.Contains(e.Msg, tc.contains) {
					if !strings.HasPrefix(e.Error(), "repos.yaml:") {
						t.Errorf("message must start with the file name: %q", e.Error())
					}
					return
				}
			}
			t.Errorf("no error at line %d key %q containing %q; got:\n%v", tc.line, tc.key, tc.contains, err)
		})
	}
}

// TestParseBoundary: the keys that bound an environment load as written, and the
// environment knows its own name.
func TestParseBoundary(t *testing.T) {
	in := strings.Replace(minimal, "        namespace: web\n", `        namespace: web
        namespaces: [shared]
        cluster_scoped: [ClusterRole, Widget.example.com]
        impersonate: {user: deployer, groups: [deployers, ops]}
`, 1)
	cfg, err := Parse("repos.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	env := cfg.Repos["platform"].Environments["staging"]
	if env.Name != "staging" || len(env.Namespaces) != 1 || env.Namespaces[0] != "shared" || len(env.ClusterScoped) != 2 {
		t.Errorf("environment: %+v", env)
	}
	if got := env.Impersonate.String(); got != "deployer (groups deployers, ops)" {
		t.Errorf("impersonate: %q", got)
	}
	sa := &Impersonate{ServiceAccount: "web/deployer"}
	if got := sa.String(); got != "system:serviceaccount:web:deployer" {
		t.Errorf("service account: %q", got)
	}
}

func TestParseDuplicateBranchAndKey(t *testing.T) {
	// Several environments may deploy one branch, each from its own directory...
	in := minimal + `      again:
        branch: staging
        cluster: staging
        path: deploy/again
`
	cfg, err := Parse("repos.yaml", []byte(in))
	if err != nil {
		t.Fatalf("two environments of one branch, two directories: %v", err)
	}
	envs := cfg.Repos["platform"].EnvironmentsForBranch("staging")
	if len(envs) != 2 || envs[0].Name != "again" || envs[1].Name != "staging" || !cfg.Repos["platform"].SharedBranch("staging") {
		t.Errorf("environments of branch staging: %+v", envs)
	}
	// ...but not the same directory to the same place,
	in = minimal + `      again:
        branch: staging
        cluster: staging
        path: ./deploy/staging/
        namespace: web
`
	_, err = Parse("repos.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), `already deploys path "deploy/staging" of branch "staging"`) {
		t.Errorf("two environments deploying one directory to one place must be refused, got %v", err)
	}
	// ...and they must agree on what the branch allows.
	in = minimal + `      again:
        branch: staging
        cluster: staging
        path: deploy/again
        allow_force_push: true
`
	_, err = Parse("repos.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), "allow_force_push") || !strings.Contains(err.Error(), "must agree") {
		t.Errorf("environments of one branch disagreeing on allow_force_push must be refused, got %v", err)
	}

	in = strings.Replace(minimal, "users:\n", "users:\n  bob: [\""+aliceKey+"\"]\n", 1)
	in = strings.Replace(in, "read: [alice]", "read: [alice, bob]", 1)
	_, err = Parse("repos.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), "also belongs to user") {
		t.Errorf("one key for two users must be refused, got %v", err)
	}
}

func TestParseReportsAllErrors(t *testing.T) {
	in := strings.Replace(minimal, "cluster: staging", "cluster: nope", 1)
	in = strings.Replace(in, "read: [alice]", "read: [nobody]", 1)
	_, err := Parse("repos.yaml", []byte(in))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("want exactly two errors, got %v", err)
	}
	if list[0].Line > list[1].Line {
		t.Errorf("errors must be sorted by line: %v", err)
	}
}

func TestParseEmptyAndNotMapping(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "- a\n- b\n", "just a string"} {
		if _, err := Parse("repos.yaml", []byte(in)); err == nil {
			t.Errorf("%q must be refused", in)
		}
	}
}

func TestLoadMissingAndOversized(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: got %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	if data, err := os.ReadFile("../repos.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("repos: {x: {environments: {e: {branch: b, cluster: c}}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("repos.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("errors must be an ErrorList: %T %v", err, err)
			}
			return
		}
		// Whatever loads must be usable by the daemon without further checks.
		for name, r := range cfg.Repos {
			if !repoNameRe.MatchString(name) {
				t.Fatalf("invalid repo name accepted: %q", name)
			}
			for _, e := range r.Environments {
				if _, ok := cfg.Clusters[e.Cluster]; !ok {
					t.Fatalf("undefined cluster accepted: %q", e.Cluster)
				}
			}
			for _, u := range append(r.Read, r.Write...) {
				if _, ok := cfg.Users[u]; !ok {
					t.Fatalf("undefined user accepted: %q", u)
				}
			}
		}
	})
}

func TestParseRollout(t *testing.T) {
	in := minimal + `        rollout:
          strategy: canary
          steps: [{weight: 20, pause: 30s}, {weight: 50, pause: {}}, {weight: 100}]
`
	cfg, err := Parse("repos.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Repos["platform"].Environments["staging"].Rollout
	if r == nil || len(r.Steps) != 3 || r.Steps[0].Pause.Duration != 30*time.Second || !r.Steps[1].Pause.Gate || r.Steps[2].Pause != nil {
		t.Fatalf("rollout: %+v", r)
	}
	for _, c := range []struct{ steps, want string }{
		{"[{weight: 50}, {weight: 20}]", "a canary's share only grows"},
		{"[{weight: 0}]", "between 1 and 100"},
		{"[{weight: 10, pause: soon}]", "steps[0].pause: expected a duration such as 1m, or {} to wait for `promote`"},
		{"[{weight: 10, pause: {x: 1}}]", "expected a duration such as 1m, or {}"},
		{"[]", "steps: missing"},
	} {
		in := minimal + "        rollout: {strategy: canary, steps: " + c.steps + "}\n"
		if _, err := Parse("repos.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("steps %s: got %v, want %q", c.steps, err, c.want)
		}
	}
}
