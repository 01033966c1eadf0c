package config

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
)

// Config is a loaded and validated repos.yaml.
type Config struct {
	Server   Server              `yaml:"server"`
	Users    map[string]User     `yaml:"users"`
	Clusters map[string]Cluster  `yaml:"clusters"`
	Repos    map[string]Repo     `yaml:"repos"`
	Webhooks []Webhook           `yaml:"webhooks"`
	Policies map[string]Policy   `yaml:"policies"`
	Tests    map[string]TestSpec `yaml:"tests"`

	// File is the path the configuration was read from ("" when parsed from bytes).
	File string `yaml:"-"`
}

// Server holds the daemon's own settings.
type Server struct {
	// Listen is the SSH listen address.
	Listen string `yaml:"listen"`
	// DataDir holds the bare repositories, the host key, the hook socket and status.
	DataDir string `yaml:"data_dir"`
	// HostKey is the SSH host key; generated (ed25519, mode 0600) on first start.
	HostKey string `yaml:"host_key"`
	// HTTPListen serves /healthz, /readyz and /metrics.
	HTTPListen string `yaml:"http_listen"`
	// Git is the git binary that serves upload-pack and receive-pack.
	Git    string `yaml:"git"`
	Limits Limits `yaml:"limits"`
}

// Limits bound what one client can take from the server.
type Limits struct {
	// MaxSessions is the number of SSH sessions served at once; more are refused.
	MaxSessions int `yaml:"max_sessions"`
	// IdleTimeout closes a connection with no traffic for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxTimeout closes any connection after this long, busy or not.
	MaxTimeout time.Duration `yaml:"max_timeout"`
	// MaxPackSize is receive.maxInputSize: the largest pack a push may send, in bytes.
	MaxPackSize int64 `yaml:"max_pack_size"`
	// HandshakeTimeout closes a connection that has not finished SSH authentication this
	// long after it was accepted (OpenSSH's LoginGraceTime): a byte now and then keeps the
	// idle timeout away, not this one.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// MaxUnauthenticated caps the connections that have not authenticated yet, apart from
	// MaxSessions (OpenSSH's MaxStartups), so that people without a key cannot use up the
	// room of those with one.
	MaxUnauthenticated int `yaml:"max_unauthenticated"`
	// MaxUnauthenticatedPerAddress caps them per client address, an IPv6 /64 counting as
	// one address (OpenSSH's PerSourceMaxStartups).
	MaxUnauthenticatedPerAddress int `yaml:"max_unauthenticated_per_address"`
}

// User is a person or robot identified by SSH keys.
type User struct {
	// Keys are authorized_keys lines as written in the file.
	Keys []string
	// PublicKeys are Keys parsed, in the same order.
	PublicKeys []ssh.PublicKey
}

// Cluster is a Kubernetes cluster reached through a kubeconfig.
type Cluster struct {
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
}

// Repo is a bare Git repository served by gitopsd.
type Repo struct {
	// Description is shown in the help listing.
	Description string `yaml:"description"`
	// Read names who may clone and fetch. Writers may always read.
	Read []string `yaml:"read"`
	// Write names who may push. Environments may narrow it per branch.
	Write []string `yaml:"write"`
	// Tags names who may create, move or delete tags; defaults to Write.
	Tags *TagRules `yaml:"tags"`
	// Environments map branches to clusters. A repo with none is a plain Git repo.
	Environments map[string]Environment `yaml:"environments"`
}

// TagRules control pushes to refs/tags/.
type TagRules struct {
	Write []string `yaml:"write"`
	// AllowMove lets an existing tag be moved or deleted.
	AllowMove bool `yaml:"allow_move"`
}

// Environment maps a branch of a repo to a cluster.
type Environment struct {
	// Name is the environment's key in repos.yaml, set by the loader, so that what is
	// told about an environment can name it.
	Name      string `yaml:"-"`
	Branch    string `yaml:"branch"`
	Cluster   string `yaml:"cluster"`
	Path      string `yaml:"path"`
	Namespace string `yaml:"namespace"`
	// Namespaces are the namespaces besides Namespace that the environment's objects may
	// be in. An environment with neither has no namespace boundary (see
	// desired.BoundaryOf); one with either may touch no other namespace.
	Namespaces []string `yaml:"namespaces"`
	// ClusterScoped lists the cluster-scoped kinds the environment may apply ("ClusterRole",
	// or "ClusterRole.rbac.authorization.k8s.io" for one group). Its own Namespace object is
	// always allowed, and those of Namespaces.
	ClusterScoped []string `yaml:"cluster_scoped"`
	// Impersonate, if set, is the Kubernetes identity the environment acts as in its
	// cluster (dry run, apply, prune, health, drift), so that the cluster's RBAC bounds it.
	Impersonate *Impersonate `yaml:"impersonate"`
	// Push names who may push to Branch; defaults to the repo's writers.
	Push []string `yaml:"push"`
	// AllowForcePush permits non-fast-forward updates of Branch.
	AllowForcePush bool `yaml:"allow_force_push"`
	// AllowDelete permits deleting Branch.
	AllowDelete bool `yaml:"allow_delete"`
	// OnDelete is what deleting Branch does to the environment's objects: keep (the
	// default: they stay, unmanaged until the branch is back) or prune (every object
	// the environment owns is deleted; the push needs -o gitopsd.allow-prune).
	OnDelete string `yaml:"on_delete"`
	Render   Render `yaml:"render"`
	Checks   Checks `yaml:"checks"`
	Apply    Apply  `yaml:"apply"`
	Drift    Drift  `yaml:"drift"`
	// Rollout, if set, releases a new version of the environment's Deployments step by
	// step instead of all at once (see package rollout).
	Rollout *Rollout `yaml:"rollout"`
	// Secrets: SOPS/age decryption and the rules on Secrets in clear (nil: none).
	Secrets *Secrets `yaml:"secrets"`
}

// Rollout strategies.
const (
	RolloutCanary    = "canary"
	RolloutBlueGreen = "blue-green"
)

// Rollout is how a new pod template of a Deployment is released: as a canary next to
// the stable version, behind the same Service, whose share of the pods (and so of the
// traffic) follows Steps. A Deployment with the annotation gitopsd.dev/rollout: none is
// applied at once.
//
// Blue-green instead runs the new version at full size next to the old one, behind a
// preview Service (NAME-preview for each Service of the Deployment); once it is healthy
// (and Pause is over, or promoted) the Services switch to it, the old version is kept Keep
// long for an instant switch back, then the Deployment takes the new template.
type Rollout struct {
	Strategy string `yaml:"strategy"`
	Steps    []Step `yaml:"steps"`
	// Pause (blue-green) is how long the preview must stay healthy before the switch, or a
	// gate that waits for `ssh HOST promote REPO ENV`.
	Pause *Pause `yaml:"pause"`
	// Keep (blue-green) is how long the old version stays after the switch, the new one
	// watched meanwhile: a failure switches back.
	Keep time.Duration `yaml:"keep"`
	// Analysis judges the new version at each step (package analysis) besides its
	// health.
	Analysis *Analysis `yaml:"analysis"`
}

// Analysis is what judges a new version during a release, every Interval of a step's
// pause (once for a step without one): Prometheus queries with a threshold, webhooks that
// must answer 2xx, and comparisons of the new version with the stable one on the same
// query, by a statistical test on the samples of both (no threshold to tune).
type Analysis struct {
	// Prometheus is the base URL of the Prometheus HTTP API that the queries ask.
	Prometheus string `yaml:"prometheus"`
	// Interval is the time between two rounds of checks (default 10s).
	Interval time.Duration `yaml:"interval"`
	Queries  []Query       `yaml:"queries"`
	Webhooks []Check       `yaml:"webhooks"`
	Compare  []Compare     `yaml:"compare"`
}

// Query is a PromQL query whose single value must stay within Max (and above Min, if set)
// for the new version. $canary, $stable, $namespace and $name in it are replaced by the
// new and stable versions (the pod template's "version" or "app.kubernetes.io/version"
// label, else its first image's tag), the namespace and the Deployment's name.
type Query struct {
	Name  string   `yaml:"name"`
	Query string   `yaml:"query"`
	Max   *float64 `yaml:"max"`
	Min   *float64 `yaml:"min"`
	// FailureLimit is how many rounds may fail before the step does (default 0).
	FailureLimit int `yaml:"failure_limit"`
}

// Check is a webhook asked at each round: a POST with the release as JSON; a 2xx answer
// passes.
type Check struct {
	Name    string        `yaml:"name"`
	URL     string        `yaml:"url"`
	Timeout time.Duration `yaml:"timeout"`
	// FailureLimit is how many rounds may fail before the step does (default 0).
	FailureLimit int `yaml:"failure_limit"`
}

// Compare is a query asked for the new version and for the stable one ($version is each in
// turn) at every round; at the end of a step the new version fails if its samples are
// significantly worse than the stable's (a one-sided Mann-Whitney U test at the 1% level,
// and at least 10% worse in median): lower is better unless Higher says so.
type Compare struct {
	Name   string `yaml:"name"`
	Query  string `yaml:"query"`
	Higher bool   `yaml:"higher_is_better"`
}

// Step is one step of a canary: the canary's share of the pods, in percent, and how long
// it must stay healthy at that share before the next step.
type Step struct {
	Weight int    `yaml:"weight"`
	Pause  *Pause `yaml:"pause"`
}

// Pause is a step's wait: a duration ("1m"), or a gate ("{}") that waits for `ssh HOST
// promote REPO ENV` (or abort).
type Pause struct {
	Duration time.Duration
	Gate     bool
}

// UnmarshalYAML reads "1m" as a duration and an empty mapping as a gate.
func (p *Pause) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		*p = Pause{Gate: true}
		return nil
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*p = Pause{Duration: d}
	return nil
}

// String is the pause as written: "1m0s", or "{}" for a gate.
func (p *Pause) String() string {
	switch {
	case p == nil:
		return "none"
	case p.Gate:
		return "{}"
	}
	return p.Duration.String()
}

// Impersonate is a Kubernetes identity to act as: a service account, or a user with
// groups (Flux's serviceAccountName, Argo CD's sync impersonation). gitopsd's own identity
// needs the impersonate verb on it.
type Impersonate struct {
	// ServiceAccount is "namespace/name".
	ServiceAccount string `yaml:"service_account"`
	// User and Groups name a user (and its groups) instead.
	User   string   `yaml:"user"`
	Groups []string `yaml:"groups"`
}

// String names the identity as the API server does: "system:serviceaccount:ns:name", or
// the user and its groups.
func (i *Impersonate) String() string {
	switch {
	case i == nil:
		return ""
	case i.ServiceAccount != "":
		return "system:serviceaccount:" + strings.Replace(i.ServiceAccount, "/", ":", 1)
	case len(i.Groups) > 0:
		return i.User + " (groups " + strings.Join(i.Groups, ", ") + ")"
	}
	return i.User
}

// Render types.
const (
	RenderAuto      = "auto"
	RenderPlain     = "plain"
	RenderKustomize = "kustomize"
	RenderHelm      = "helm"
)

// Render says how the manifests under the environment's path are produced.
type Render struct {
	// Type is auto (the default: a kustomization or Chart.yaml at Path decides), plain,
	// kustomize or helm.
	Type string `yaml:"type"`
	// Values are Helm values files, relative to the repo root.
	Values []string `yaml:"values"`
	// Release is the Helm release name; defaults to the environment's name.
	Release string `yaml:"release"`
	// Timeout bounds rendering.
	Timeout time.Duration `yaml:"timeout"`
	// MaxBytes bounds the size of the manifests read and produced.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxMemory bounds the memory of the process that renders (bytes; the render runs in
	// a child process of the daemon, killed when it takes more).
	MaxMemory int64 `yaml:"max_memory"`
	// MaxCPU bounds the CPU time of one render.
	MaxCPU time.Duration `yaml:"max_cpu"`
}

// Checks run before a push to the environment is accepted.
type Checks struct {
	// DryRun runs a server-side dry-run apply against the cluster (default true).
	DryRun *bool `yaml:"dry_run"`
	// Policies names policies (built in, or defined under the top-level policies key).
	Policies []string `yaml:"policies"`
	// RepoPolicies also loads .gitopsd/policies/*.yaml from the pushed commit.
	RepoPolicies bool `yaml:"repo_policies"`
	// Tests names commands defined under the top-level tests key.
	Tests []string `yaml:"tests"`
	// MaxPrune is the number of objects a push may delete without -o gitopsd.allow-prune.
	MaxPrune int `yaml:"max_prune"`
	// RequireCluster refuses pushes while the cluster cannot be reached. By default such a
	// push gets the offline checks, is accepted, and is applied when the cluster is back.
	RequireCluster bool `yaml:"require_cluster"`
}

// Apply controls post-receive.
type Apply struct {
	// Force is accepted so that older files load, and changes nothing: every push takes
	// back the fields its manifests declare from other managers (desired.ApplyOptions).
	Force bool `yaml:"force"`
	// Wait is how long post-receive keeps the push open for the outcome.
	Wait time.Duration `yaml:"wait"`
	// HealthTimeout bounds the wait for applied objects to become ready.
	HealthTimeout time.Duration `yaml:"health_timeout"`
	// Settle is how long a workload must stay healthy (no pod restarting) before it counts
	// as healthy; at least its minReadySeconds. A commit seen healthy before and applied
	// again settles only what that apply changed.
	Settle time.Duration `yaml:"settle"`
	// OnFailure is none (default) or rollback.
	OnFailure string `yaml:"on_failure"`
}

// Drift modes.
const (
	DriftReport  = "report"
	DriftCorrect = "correct"
)

// Drift schedules a comparison of the cluster with the branch.
type Drift struct {
	// Schedule is a cron expression (5 fields, or descriptors such as @every 10m).
	Schedule string `yaml:"schedule"`
	// Mode is report or correct.
	Mode string `yaml:"mode"`
	// Ignore lists field paths that never count as drift (for example spec.replicas).
	Ignore []string `yaml:"ignore"`
}

// Policy is a CEL rule evaluated over every rendered object.
type Policy struct {
	// Match limits the policy to these kinds (empty: all).
	Kinds []string `yaml:"kinds"`
	// Expression must be true for the object to pass; it sees the object as `object`.
	Expression string `yaml:"expression"`
	Message    string `yaml:"message"`
	Hint       string `yaml:"hint"`
}

// TestSpec is a command run on the rendered manifests.
type TestSpec struct {
	Command []string      `yaml:"command"`
	Timeout time.Duration `yaml:"timeout"`
}

// Webhook receives notifications.
type Webhook struct {
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key; the key itself never sits in repos.yaml.
	SecretFile string   `yaml:"secret_file"`
	Events     []string `yaml:"events"`
}

// CanRead reports whether user may fetch from the repo.
func (r Repo) CanRead(user string) bool {
	return contains(r.Read, user) || r.CanWrite(user)
}

// CanWrite reports whether user may push to the repo at all.
func (r Repo) CanWrite(user string) bool {
	if contains(r.Write, user) {
		return true
	}
	for _, env := range r.Environments {
		if contains(env.Push, user) {
			return true
		}
	}
	return false
}

// EnvironmentsForBranch returns the environments deployed from branch, by name: none,
// one (a branch per environment), or several (a directory per environment on one
// branch).
func (r Repo) EnvironmentsForBranch(branch string) []Environment {
	var envs []Environment
	for _, name := range sortedKeys(r.Environments) {
		if env := r.Environments[name]; env.Branch == branch {
			env.Name = name
			envs = append(envs, env)
		}
	}
	return envs
}

// Names says which environments envs are, for a message: "environment staging" or
// "environments dev, staging".
func Names(envs []Environment) string {
	n := make([]string, len(envs))
	for i, e := range envs {
		n[i] = e.Name
	}
	if len(n) == 1 {
		return "environment " + n[0]
	}
	return "environments " + strings.Join(n, ", ")
}

// SharedBranch reports whether branch deploys more than one environment. A push to such a
// branch changes only the environments whose rendered objects it changes.
func (r Repo) SharedBranch(branch string) bool {
	return len(r.EnvironmentsForBranch(branch)) > 1
}

// CanDeploy reports whether user may change what environment env deploys (see
// Deployers).
func (r Repo) CanDeploy(user string, env Environment) bool {
	return contains(r.Deployers(env), user)
}

// Deployers are the users who may change what env deploys: its push list, or the repo's
// writers when it has none.
func (r Repo) Deployers(env Environment) []string {
	if len(env.Push) > 0 {
		return env.Push
	}
	return r.Write
}

// CanPushBranch reports whether user may update branch at all: a branch that deploys
// nothing is the writers'; an environment's branch is for those who may deploy one of its
// environments. On a shared branch that is not the whole answer: the door refuses a push
// that changes an environment the user may not deploy (see CanDeploy).
func (r Repo) CanPushBranch(user, branch string) bool {
	envs := r.EnvironmentsForBranch(branch)
	if len(envs) == 0 {
		return contains(r.Write, user)
	}
	for _, env := range envs {
		if r.CanDeploy(user, env) {
			return true
		}
	}
	return false
}

// CanPushTag reports whether user may create, move or delete tags.
func (r Repo) CanPushTag(user string) bool {
	if r.Tags != nil && len(r.Tags.Write) > 0 {
		return contains(r.Tags.Write, user)
	}
	return contains(r.Write, user)
}

// DryRunEnabled reports whether the server-side dry-run check runs.
func (c Checks) DryRunEnabled() bool { return c.DryRun == nil || *c.DryRun }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
