package hooks

import (
	"github.com/gitopsd/gitopsd/policy"
	"github.com/gitopsd/gitopsd/render"
)

// RuleRender is a render that could not run at all: its process did not start, or the
// environment's render settings cannot work (an unknown render type).
const RuleRender = "render"

// The default hints of this package's rules and of the built-in policies, in the one
// registry of rules (render.Rules); hints written for the situation at hand, where a
// problem is found, take their place.
var _ = render.RegisterRules(map[string]string{
	RuleDryRun:     "the API server refused the object; its message says why",
	RulePolicy:     "fix the policy file; every push is checked with the policies it carries",
	RulePruneGuard: "if that is what you want: git push -o gitopsd.allow-prune",
	RuleTest:       "the test's own output is above",
	RuleCluster:    "push again later: the environment's checks need its cluster",
	RulePermission: "ask one of the environment's pushers (push: in repos.yaml) to push it",
	RuleRollout:    "rename it: a release creates and deletes objects of these names",
	RuleRender:     "the render could not run at all: tell gitopsd's operators (the message says why)",
})

var _ = render.RegisterRules(builtinHints())

func builtinHints() map[string]string {
	m := make(map[string]string, len(policy.Builtins))
	for name, p := range policy.Builtins {
		m[name] = p.Hint
	}
	return m
}
