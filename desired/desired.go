// Package desired says what an environment wants in its cluster at a commit: the one place
// where an environment's settings become render options and the rendered objects get the
// environment's namespace. The door (pre-receive and `gitopsd validate`), the apply and the
// drift scan all call Render, so what the door checked is what gets applied; and all take
// its objects through PlanSync, which says how they are synced (Argo CD's waves and hooks).
package desired

import (
	"context"
	"io/fs"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/clusters"
	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/sandbox"
)

// Cluster is what rendering needs to know of the target cluster. The zero value means
// offline: Helm's default capabilities, and the scope of only the built-in kinds known.
type Cluster struct {
	KubeVersion string
	APIVersions []string
	// Scope says whether a kind is namespaced (nil: offline).
	Scope render.ScopeFunc
}

// Online is the Cluster of a reachable cluster: its capabilities, and its discovery for
// the scope of every kind it serves.
func Online(caps clusters.Capabilities, cl *kube.Client) Cluster {
	return Cluster{
		KubeVersion: caps.KubeVersion,
		APIVersions: caps.APIVersions,
		Scope: func(gvk schema.GroupVersionKind) (bool, bool) {
			namespaced, known, err := cl.Namespaced(gvk)
			if err != nil {
				return false, false
			}
			return namespaced, known
		},
	}
}

// Options turns env's settings into render options for cluster c.
func Options(env config.Environment, c Cluster) render.Options {
	return render.Options{
		Type:             env.Render.Type,
		Path:             env.Path,
		DefaultNamespace: env.Namespace,
		ValuesFiles:      env.Render.Values,
		Release:          env.Render.Release,
		Timeout:          env.Render.Timeout,
		MaxBytes:         env.Render.MaxBytes,
		KubeVersion:      c.KubeVersion,
		APIVersions:      c.APIVersions,
		Scope:            c.Scope,
	}
}

// ApplyOptions are the apply options of a push, at the door's dry run and at the apply
// alike: owned by owner, and taking back from any other manager (kubectl, a console) the
// fields the manifests declare. Git is the truth for what it says; fields it does not
// declare (an HPA's replicas) stay with whoever owns them. Without it, one hand edit made
// every later push of the environment fail with a conflict, whatever it changed.
func ApplyOptions(owner kube.Owner) kube.ApplyOptions {
	opts := kube.DefaultApplyOptions()
	opts.Force = true
	opts.Owner = &owner
	return opts
}

// Limits are the bounds of env's render process.
func Limits(env config.Environment) sandbox.Limits {
	return sandbox.Limits{Memory: env.Render.MaxMemory, CPU: env.Render.MaxCPU}
}

// Render renders env from tree (the commit's files) for cluster c, in a render process of
// its own (package sandbox): the objects the environment wants, with its namespace object
// in front (see render.WithNamespace), and the problems found on the way. The error is for
// a render that could not run at all.
func Render(ctx context.Context, tree fs.FS, env config.Environment, c Cluster) (*render.Result, error) {
	opts := Options(env, c)
	sec, err := Secrets(env)
	if err != nil {
		return secretsProblem(env, err), nil
	}
	opts.Secrets = sec
	res, err := sandbox.Render(ctx, tree, opts, Limits(env))
	if err != nil {
		return nil, err
	}
	res.Objects = render.WithNamespace(res.Objects, env.Namespace)
	bound(res, env, c.Scope)
	syncProblems(res)
	return res, nil
}
