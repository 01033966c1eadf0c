package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Types of rendering; the same words as repos.yaml's render.type.
const (
	TypeAuto      = "auto"
	TypePlain     = "plain"
	TypeKustomize = "kustomize"
	TypeHelm      = "helm"
)

// Defaults for Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxBytes      = 64 << 20
	DefaultMaxDepth      = 100
	DefaultMaxAliasNodes = 100_000
	DefaultRelease       = "release"
)

// ScopeFunc tells whether a kind is namespaced. known is false when the cluster does not
// serve the kind. Callers with a cluster pass one built on its RESTMapper.
type ScopeFunc func(gvk schema.GroupVersionKind) (namespaced, known bool)

// Options say what to render and bound the work.
type Options struct {
	// Type is TypeAuto (the default), TypePlain, TypeKustomize or TypeHelm. Auto picks
	// Kustomize when Path holds a kustomization, Helm when it holds Chart.yaml, else plain.
	Type string
	// Path is the directory (or, for plain, a single file) to render, slash-separated and
	// relative to the root of the file system; "" or "." is the root.
	Path string
	// DefaultNamespace is set on namespaced objects that have none; it is also Helm's
	// .Release.Namespace. When empty, such objects are a RuleNamespace problem (if their
	// scope is known).
	DefaultNamespace string
	// ValuesFiles are Helm values files relative to the root, merged in order.
	ValuesFiles []string
	// Release is Helm's release name (DefaultRelease if empty).
	Release string
	// KubeVersion (for example "v1.37.2") and APIVersions ("apps/v1",
	// "apps/v1/Deployment") are Helm's .Capabilities; take them from the target cluster.
	// Empty means Helm's defaults.
	KubeVersion string
	APIVersions []string
	// Scope resolves whether a kind is namespaced; nil means offline (a built-in table of
	// core kinds is used and unknown kinds are not reported).
	Scope ScopeFunc
	// Timeout bounds the whole rendering (DefaultTimeout if 0).
	Timeout time.Duration
	// MaxBytes bounds any one input file, the sum of the inputs read, and the rendered
	// output (DefaultMaxBytes if 0).
	MaxBytes int64
	// MaxDepth bounds the nesting of a document (DefaultMaxDepth if 0).
	MaxDepth int
	// MaxAliasNodes bounds the nodes a document's YAML aliases may expand to
	// (DefaultMaxAliasNodes if 0).
	MaxAliasNodes int
	// Secrets say how SOPS-encrypted files are decrypted and which Secrets are refused in
	// clear (see Secrets). Nil: no identity, no rule about clear Secrets; a SOPS file is
	// then refused, since it cannot be decrypted.
	Secrets *Secrets
}

// DefaultOptions returns Options with every default filled in.
func DefaultOptions() Options {
	o := Options{}
	o.defaults()
	return o
}

func (o *Options) defaults() {
	if o.Type == "" {
		o.Type = TypeAuto
	}
	if o.Release == "" {
		o.Release = DefaultRelease
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxAliasNodes <= 0 {
		o.MaxAliasNodes = DefaultMaxAliasNodes
	}
}

// Source is where an object came from. For Kustomize it is the resource file, for Helm
// the template; Line is 0 when it cannot be known (rendered templates).
type Source struct {
	File string
	Line int
	// Patches are, for an object of a Kustomize build, the patches whose target is the
	// object, in the order kustomize applied them: the patch file (the kustomization, for
	// an inline patch) at the line of the patch's object (strategic merge) or of its list
	// of operations (JSON 6902).
	Patches []Source
}

func (s Source) String() string {
	if s.Line > 0 {
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	}
	return s.File
}

// Object is a rendered Kubernetes object and its source.
type Object struct {
	*unstructured.Unstructured
	Source Source
}

// Unstructured returns the objects of objs without their sources, in order.
func Unstructured(objs []Object) []*unstructured.Unstructured {
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Unstructured
	}
	return us
}

// Result is what Render produced. Objects are in input order (files in lexical order,
// documents in file order; Kustomize's and Helm's own order otherwise).
type Result struct {
	Type     string // the type actually used (auto resolved)
	Objects  []Object
	Problems []Problem
	// Warnings are worth telling the pusher but refuse nothing (a Helm values key that no
	// template reads, RuleHelmUnread).
	Warnings []Problem
	// Sensitive are the values decrypted from SOPS files: whatever shows the render's
	// outcome must not show them (they may sit in any object, through Helm values).
	Sensitive []string
}

// OK reports whether rendering found no problem.
func (r *Result) OK() bool { return len(r.Problems) == 0 }

// ErrBadOptions is returned for options no input could satisfy (an unknown type, a path
// that is not valid).
var ErrBadOptions = errors.New("render: bad options")

// Render renders the manifests at opts.Path in fsys (the tree of the pushed commit). What
// is wrong with the input is reported in Result.Problems; an error means Render could not
// do its job (bad options, or ctx ended).
//
// Rendering runs in its own goroutine so that Options.Timeout holds even for a Helm
// template that loops: Go templates cannot be interrupted, so such a goroutine lives on
// until the template finishes, while Render returns a RuleTimeout problem at the deadline.
// Its output is then discarded. The daemon renders in a process of its own per render
// (package sandbox), which ends with the render, abandoned goroutine and all.
func Render(ctx context.Context, fsys fs.FS, opts Options) (*Result, error) {
	opts.defaults()
	dir, err := cleanPath(opts.Path)
	if err != nil {
		return nil, err
	}
	opts.Path = dir
	switch opts.Type {
	case TypeAuto, TypePlain, TypeKustomize, TypeHelm:
	default:
		return nil, fmt.Errorf("%w: unknown type %q", ErrBadOptions, opts.Type)
	}
	res := &Result{Type: opts.Type}
	fi, err := fs.Stat(fsys, dir)
	if err != nil {
		res.Problems = append(res.Problems, Problem{File: dir, Rule: RuleRead,
			Message: "cannot read the manifest path: " + describe(err), Hint: "check path: of the environment in repos.yaml, and that the pushed tree has it"})
		return res, nil
	}
	if res.Type == TypeAuto {
		res.Type = detect(fsys, dir, fi.IsDir())
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	type outcome struct {
		objs []Object
		ps   problems
		r    *renderer // nil after a panic
	}
	done := make(chan outcome, 1) // buffered: an abandoned renderer must not block
	typ := res.Type
	go func() {
		r := &renderer{ctx: ctx, fsys: fsys, opts: opts, in: &budget{max: opts.MaxBytes}, sec: &secretState{decrypted: map[string]bool{}}}
		// A panic in Kustomize or Helm on hostile input must not take the daemon down.
		defer func() {
			if v := recover(); v != nil {
				r.ps.add(Problem{File: dir, Rule: RuleInternal, Message: fmt.Sprintf("rendering failed: %v", v),
					Hint: "this is a bug in gitopsd or a library it uses; please report it"})
				done <- outcome{nil, r.ps, nil}
			}
		}()
		var objs []Object
		switch typ {
		case TypePlain:
			objs = r.plain(dir)
		case TypeKustomize:
			objs = r.kustomize(dir)
		case TypeHelm:
			objs = r.helm(dir)
		}
		done <- outcome{objs, r.ps, r}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-ctx.Done():
		select {
		case out = <-done: // the renderer finished at the deadline: use its outcome
		default:
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				return nil, fmt.Errorf("render %s: %w", dir, cause)
			}
			res.Problems = append(res.Problems, Problem{File: dir, Rule: RuleTimeout,
				Message: fmt.Sprintf("rendering took longer than %s", opts.Timeout),
				Hint:    "look for a template that loops over a huge range or recurses"})
			return res, nil
		}
	}
	res.Problems = append(res.Problems, out.ps...)
	res.Objects = out.objs
	res.Objects = check(res.Objects, opts, (*problems)(&res.Problems))
	if out.r != nil {
		res.Problems = append(res.Problems, out.r.plainSecrets(res.Type, res.Objects)...)
		res.Sensitive = out.r.sec.values
		res.Warnings = out.r.warnings
	}
	return res, nil
}

// renderer holds the state of one rendering, owned by one goroutine.
type renderer struct {
	ctx  context.Context
	fsys fs.FS
	opts Options
	in   *budget
	ps   problems
	sec  *secretState
	// warnings are problems that refuse nothing (Result.Warnings).
	warnings []Problem
}

func (r *renderer) limits() limits {
	return limits{maxDepth: r.opts.MaxDepth, maxAliasNodes: r.opts.MaxAliasNodes}
}

// cleanPath turns a configured path into an fs.ValidPath.
func cleanPath(p string) (string, error) {
	p = path.Clean("/" + strings.TrimSpace(p))[1:]
	if p == "" {
		p = "."
	}
	if !fs.ValidPath(p) {
		return "", fmt.Errorf("%w: path %q", ErrBadOptions, p)
	}
	return p, nil
}

// kustomizationNames are the file names kustomize accepts, in its order of preference.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func detect(fsys fs.FS, dir string, isDir bool) string {
	if !isDir {
		return TypePlain
	}
	for _, n := range kustomizationNames {
		if _, err := fs.Stat(fsys, path.Join(dir, n)); err == nil {
			return TypeKustomize
		}
	}
	if _, err := fs.Stat(fsys, path.Join(dir, "Chart.yaml")); err == nil {
		return TypeHelm
	}
	return TypePlain
}

// describe turns a file system error into words for the pusher, without the server's paths.
func describe(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file or directory"
	}
	return err.Error()
}
