package hooks

import (
	"errors"
	"fmt"
	"regexp"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/kube"
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

// refusals splits the API server's refusal of an object into one refusal per field it
// names (a Deployment with a bad quantity and a bad port is two), so that each is
// reported at its own line.
func refusals(ch kube.Change, env config.Environment) []refusal {
	hint := dryRunHint(ch, env)
	var st apierrors.APIStatus
	if ch.Err == nil || !errors.As(ch.Err, &st) {
		return []refusal{{Message: ch.Message, Hint: hint}}
	}
	var out []refusal
	if d := st.Status().Details; d != nil {
		for _, c := range d.Causes {
			if c.Field == "" {
				continue
			}
			out = append(out, refusal{Field: c.Field, Message: fmt.Sprintf("%s: %s", c.Field, c.Message), Hint: hint})
		}
	}
	if len(out) > 0 {
		return out
	}
	r := refusal{Message: ch.Message, Hint: hint}
	if m := typedPatchField.FindStringSubmatch(st.Status().Message); m != nil {
		r.Field = m[1]
	}
	return []refusal{r}
}

func dryRunHint(ch kube.Change, env config.Environment) string {
	switch {
	case errors.Is(ch.Err, kube.ErrOwnedByOther):
		return "remove it from this push; if its environment gave it up, remove the " + kube.OwnerLabel + " label from the object in the cluster"
	case apierrors.IsForbidden(ch.Err) && env.Impersonate != nil:
		return fmt.Sprintf("this environment acts as %s (impersonate: in repos.yaml), whom the cluster's RBAC does not allow this: remove the object, or ask the cluster's admins for the grant", env.Impersonate)
	case apierrors.IsConflict(ch.Err):
		return "another field manager owns this field: remove it from git, or set apply.force for the environment"
	}
	return "the API server refused this object; fix the field it names"
}
