package render

import (
	"fmt"
	"sort"
)

// hints are the default hints of the rules, for a problem that carries no hint of its
// own: what the person who pushed does next, in their words (files, repos.yaml keys,
// commands), never the daemon's. Every rule of every stage is here: render's own below,
// the other stages' by RegisterRules, so that Rules lists them all and a test can walk
// every one.
var hints = map[string]string{
	RuleRead:            "commit a regular file here (not a symlink out of the tree, not a submodule)",
	RuleTooLarge:        "split it, or ask the operators to raise render.max_bytes in repos.yaml",
	RuleBinary:          "move it out of the environment's path: only YAML and JSON go there",
	RuleUTF8:            "save the file as UTF-8",
	RuleYAMLSyntax:      "fix the YAML at that line: indentation, a missing ':', an unclosed quote",
	RuleYAMLAliases:     "write the repeated parts out instead of expanding anchors (&, *) so often",
	RuleYAMLDepth:       "no manifest nests this deep: flatten the document",
	RuleNotObject:       "each document must be a mapping with apiVersion, kind and metadata",
	RuleMissingField:    "every object needs apiVersion, kind and metadata.name",
	RuleDuplicate:       "remove one of the two, or give one another name",
	RuleUnknownKind:     "check apiVersion and kind, or add the kind's CustomResourceDefinition",
	RuleNamespace:       "set metadata.namespace, or namespace: of the environment in repos.yaml",
	RuleClusterScoped:   "remove metadata.namespace: objects of this kind have no namespace",
	RuleKustomize:       "fix the kustomization it names; kustomize build shows the same error",
	RuleKustomizeRemote: "vendor it into the repository and refer to it by a relative path",
	RuleOutsideRepo:     "refer only to files inside the repository, by relative paths",
	RuleHelm:            "fix the chart; helm template shows the same error",
	RuleHelmValues:      "fix the values file, or its name in values: of repos.yaml",
	RuleHelmDependency:  "vendor the dependency into charts/ (helm dependency build) and commit it",
	RuleHelmSchema:      "keep values.schema.json self-contained: no $ref to files or URLs",
	RuleTimeout:         "render less at once, or ask the operators to raise render.timeout",
	RuleInternal:        "this is a bug in gitopsd or a library it uses; please report it",
	RuleLimit:           "render less at once, or ask the operators to raise render.max_memory",
	RuleSecretPlain:     "encrypt it with sops for the environment before you commit it",
	RuleSecretRecipients: "re-encrypt it for the environment's recipients " +
		"(ssh ... recipients lists them)",
	RuleSecretTampered: "edit encrypted files with sops only; or encrypt the clear text again",
	RuleSecretDecrypt:  "encrypt it for the environment's recipients (ssh ... recipients)",
}

// RegisterRules adds the rules of another stage and their default hints. It is meant for
// package initialization (var _ = render.RegisterRules(...)), before anything reads the
// registry; a rule registered twice is a programming error.
func RegisterRules(rules map[string]string) struct{} {
	for rule, hint := range rules {
		if _, dup := hints[rule]; dup {
			panic(fmt.Sprintf("render: rule %q registered twice", rule))
		}
		if hint == "" {
			panic(fmt.Sprintf("render: rule %q has no hint", rule))
		}
		hints[rule] = hint
	}
	return struct{}{}
}

// Hint is the default hint of rule, "" for a rule nobody registered (a policy of
// repos.yaml, which carries its own).
func Hint(rule string) string { return hints[rule] }

// Rules lists every registered rule, sorted.
func Rules() []string {
	out := make([]string, 0, len(hints))
	for r := range hints {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// FillHints gives every problem of ps that has no hint its rule's default one.
func FillHints(ps []Problem) {
	for i := range ps {
		if ps[i].Hint == "" {
			ps[i].Hint = Hint(ps[i].Rule)
		}
	}
}
