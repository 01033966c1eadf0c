package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	// OwnerLabel carries Owner.LabelValue on every object gitopsd applies. It is a label,
	// not an annotation, so that owned objects can be listed with a selector.
	OwnerLabel = "gitopsd.dev/owner"
	// RepoAnnotation and EnvAnnotation spell out the owner, since the label value may be
	// sanitized or hashed.
	RepoAnnotation = "gitopsd.dev/repo"
	EnvAnnotation  = "gitopsd.dev/environment"
	// CommitAnnotation records the commit that last applied the object. It changes on
	// every push, so diffs ignore it.
	CommitAnnotation = "gitopsd.dev/commit"
	// PruneAnnotation set to PruneDisabled keeps an object when it leaves git.
	PruneAnnotation = "gitopsd.dev/prune"
	PruneDisabled   = "disabled"
)

// Owner is the repository environment that owns applied objects.
type Owner struct {
	Repo string
	Env  string
	// Commit, if set, is stamped as CommitAnnotation.
	Commit string
}

var labelUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// LabelValue is "<repo>.<env>" made a valid label value: other characters become "-",
// and if anything had to change, or it is longer than 63, it is cut and suffixed with a
// hash of the original, so two owners never share a value.
func (o Owner) LabelValue() string {
	return sanitize(o.Repo+"."+o.Env, labelUnsafe, 63, false)
}

// sanitize makes s match a Kubernetes name or label rule: unsafe runs become "-", ends
// are alphanumeric; when that changed s or it is too long, a 10-hex-digit hash of the
// original keeps it unique.
func sanitize(s string, unsafe *regexp.Regexp, max int, lower bool) string {
	clean := s
	if lower {
		clean = strings.ToLower(clean)
	}
	clean = unsafe.ReplaceAllString(clean, "-")
	clean = strings.Trim(clean, "-_.")
	if clean == s && len(s) <= max && s != "" {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:10]
	if keep := max - len(h) - 1; len(clean) > keep {
		clean = strings.TrimRight(clean[:keep], "-_.")
	}
	if clean == "" {
		return h
	}
	return clean + "-" + h
}

// Stamp sets the owner label and annotations on obj.
func (o Owner) Stamp(obj *unstructured.Unstructured) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[OwnerLabel] = o.LabelValue()
	obj.SetLabels(labels)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[RepoAnnotation] = o.Repo
	ann[EnvAnnotation] = o.Env
	if o.Commit != "" {
		ann[CommitAnnotation] = o.Commit
	}
	obj.SetAnnotations(ann)
}

// Owns says whether obj carries this owner's label.
func (o Owner) Owns(obj *unstructured.Unstructured) bool {
	return obj.GetLabels()[OwnerLabel] == o.LabelValue()
}

// PruneOptedOut says whether obj asks not to be pruned.
func PruneOptedOut(obj *unstructured.Unstructured) bool {
	return strings.EqualFold(obj.GetAnnotations()[PruneAnnotation], PruneDisabled)
}

// OwnerOf names the environment whose label obj carries, as "repo/env" from its
// annotations (or the label value, if they are gone); "" if it carries none.
func OwnerOf(obj *unstructured.Unstructured) string {
	label := obj.GetLabels()[OwnerLabel]
	if label == "" {
		return ""
	}
	ann := obj.GetAnnotations()
	if repo, env := ann[RepoAnnotation], ann[EnvAnnotation]; repo != "" && env != "" && (Owner{Repo: repo, Env: env}).LabelValue() == label {
		return repo + "/" + env
	}
	return label
}

// OwnedByOther says whether live carries the label of an owner other than o, and names it.
// Such an object is never adopted, overwritten or pruned: an environment's writers may
// change only what their environment owns, or what no environment owns yet.
func (o Owner) OwnedByOther(live *unstructured.Unstructured) (string, bool) {
	if live == nil || live.GetLabels()[OwnerLabel] == "" || o.Owns(live) {
		return "", false
	}
	return OwnerOf(live), true
}
