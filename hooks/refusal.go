package hooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

// refusal is one thing the API server refused in an object: the field it names ("" when
// it names none), what it said of it, and what to do.
type refusal struct {
	Field, Message, Hint string
}

// typedPatchField finds the field in server-side apply's own refusals, which carry no
// causes: "failed to create typed patch object (...): .spec.replicsa: field not declared
// in schema".
var typedPatchField = regexp.MustCompile(`(?:^|: )(\.[^\s:]+): `)

// Hints of a refusal, by what it names.
const (
	hintField     = "the API server refused this field; fix it at the line shown"
	hintObject    = "the API server refused the object as a whole; its message says why"
	hintTransport = "the cluster did not answer; push again, and if it keeps failing tell the cluster's admins"
)

// refusals splits the API server's refusal of an object into one refusal per field it
// names (a Deployment with a bad quantity and a bad port is two), so that each is
// reported at its own line. Their messages are the API's, trimmed of what only the API
// server's authors need (see trimAPI).
// suggest, if set, names the field the schema declares nearest an unknown one (see
// didYouMean).
func refusals(ch kube.Change, env config.Environment, suggest func(field string) string) []refusal {
	var st apierrors.APIStatus
	if ch.Err == nil || !errors.As(ch.Err, &st) {
		return []refusal{{Message: trimAPI(ch.Message, false), Hint: refusalHint(ch, env, false)}}
	}
	var out []refusal
	if d := st.Status().Details; d != nil {
		for _, c := range d.Causes {
			if c.Field == "" {
				continue
			}
			msg := trimAPI(c.Message, true)
			if !strings.HasPrefix(msg, c.Field) {
				msg = c.Field + ": " + msg
			}
			out = append(out, refusal{Field: c.Field, Message: msg, Hint: refusalHint(ch, env, true)})
		}
	}
	if len(out) > 0 {
		return out
	}
	r := refusal{}
	if m := typedPatchField.FindStringSubmatch(st.Status().Message); m != nil {
		r.Field = m[1]
	}
	r.Message = trimAPI(ch.Message, r.Field != "")
	r.Hint = refusalHint(ch, env, r.Field != "")
	if f := unknownField(st.Status().Message); f != "" && suggest != nil {
		if r.Field == "" {
			r.Field = f
		}
		if near := suggest(f); near != "" {
			r.Hint = fmt.Sprintf("did you mean `%s`? the schema has no `%s` there", near, lastSegment(f))
		}
	}
	return []refusal{r}
}

var (
	// typedPatch is server-side apply's wrapper of a schema refusal; it says nothing the
	// field and its complaint do not.
	typedPatch = regexp.MustCompile(`failed to create typed patch object \([^)]*\): `)
	// invalidPrefix is the API's `Deployment.apps "web" is invalid: `, which the report
	// already says in its own words (the object's name above the message).
	invalidPrefix = regexp.MustCompile(`^[A-Za-z0-9.]+ "[^"]*" is invalid: `)
	// requestURL is the request a transport error quotes (`Patch "https://10.0.0.1:6443/apis/...": `):
	// the API server's address is the cluster admins' business, not the pusher's.
	requestURL = regexp.MustCompile(`(?:Get|Post|Put|Patch|Delete|Head) "[^"]*": `)
	anyURL     = regexp.MustCompile(`https?://[^\s"]+`)
	dialAddr   = regexp.MustCompile(`dial tcp [^\s:]*(?::\d+)?: `)
)

// trimAPI keeps the API's words for the pusher and drops its internals: the typed patch
// wrapper, the object's "is invalid" prefix when a field is named, and the URLs and
// addresses of the API server in transport errors.
func trimAPI(msg string, field bool) string {
	msg = typedPatch.ReplaceAllString(msg, "")
	if field {
		msg = invalidPrefix.ReplaceAllString(msg, "")
	}
	msg = requestURL.ReplaceAllString(msg, "")
	msg = dialAddr.ReplaceAllString(msg, "")
	return anyURL.ReplaceAllString(msg, "the API server")
}

// refusalHint is what to do about a refusal of ch; field says the refusal names a field.
func refusalHint(ch kube.Change, env config.Environment, field bool) string {
	switch {
	case errors.Is(ch.Err, kube.ErrOwnedByOther):
		return "remove it from this push; if its environment gave it up, remove the " + kube.OwnerLabel + " label from the object in the cluster"
	case apierrors.IsForbidden(ch.Err) && env.Impersonate != nil:
		return fmt.Sprintf("this environment acts as %s (impersonate: in repos.yaml), whom the cluster's RBAC does not allow this: remove the object, or ask the cluster's admins for the grant", env.Impersonate)
	case apierrors.IsForbidden(ch.Err):
		return "gitopsd may not do this in the cluster: remove the object, or ask the cluster's admins for the grant"
	case apierrors.IsConflict(ch.Err):
		return "another field manager owns this field: remove it from git, or set apply.force for the environment"
	case apierrors.IsNotFound(ch.Err):
		return "something it needs does not exist in the cluster (its namespace?): add it to the push"
	case field:
		return hintField
	case transport(ch.Err):
		return hintTransport
	}
	return hintObject
}

// transport says err is the connection's failing, not the API server's refusal.
func transport(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsTooManyRequests(err)
}

var (
	// notDeclared and strictUnknown are the two ways the API server names a field its
	// schema lacks: server-side apply's typed patch, and strict decoding.
	notDeclared   = regexp.MustCompile(`(?:^|: )(\.[^\s:]+): field not declared in schema`)
	strictUnknown = regexp.MustCompile(`unknown field "([^"]+)"`)
	selector      = regexp.MustCompile(`\[[^\]]*\]`)
)

// unknownField is the path of the field msg says the schema does not declare, "" when it
// says no such thing.
func unknownField(msg string) string {
	if m := notDeclared.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	if m := strictUnknown.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// fieldPath splits an API field path (".spec.template.spec.containers[name="web"].imagee")
// into its names, list selectors dropped: the parent's path and the field's own name.
func fieldPath(field string) (parent []string, name string) {
	segs := strings.Split(strings.TrimPrefix(selector.ReplaceAllString(field, ""), "."), ".")
	return segs[:len(segs)-1], segs[len(segs)-1]
}

func lastSegment(field string) string {
	_, n := fieldPath(field)
	return n
}

// didYouMean returns the field of the schema (names) nearest name: the one fewest edits
// away, if that is close enough to be a misspelling (a third of its letters, at least one;
// case does not count), else "".
func didYouMean(name string, names []string) string {
	best, bestD := "", len(name)/3+2
	for _, n := range names {
		d := render.EditDistance(strings.ToLower(name), strings.ToLower(n))
		if d < bestD || d == bestD && n < best {
			best, bestD = n, d
		}
	}
	return best
}

// fieldSuggester is the suggest of refusals for u: the nearest field the cluster's schema
// of u's kind declares where u has an unknown one. The schema is read only then, and
// cached (kube.Client.FieldNames).
func fieldSuggester(cl *kube.Client, u *unstructured.Unstructured) func(string) string {
	if u == nil {
		return nil
	}
	return func(field string) string {
		parent, name := fieldPath(field)
		names, err := cl.FieldNames(u.GroupVersionKind(), parent)
		if err != nil {
			return ""
		}
		return didYouMean(name, names)
	}
}
