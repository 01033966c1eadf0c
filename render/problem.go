package render

import (
	"fmt"
	"strconv"
	"strings"
)

// Rule identifiers of the problems Render reports. They are stable: hooks and tests match
// on them.
const (
	RuleRead            = "read"              // a file could not be read (symlink, submodule, I/O)
	RuleTooLarge        = "too-large"         // a file or the whole input or output exceeds MaxBytes
	RuleBinary          = "binary-file"       // a manifest file holds binary data
	RuleUTF8            = "invalid-utf8"      // a manifest file is not valid UTF-8
	RuleYAMLSyntax      = "yaml-syntax"       // YAML or JSON does not parse
	RuleYAMLAliases     = "yaml-aliases"      // alias expansion exceeds MaxAliasNodes (a YAML bomb)
	RuleYAMLDepth       = "yaml-depth"        // nesting exceeds MaxDepth
	RuleNotObject       = "not-an-object"     // a document is not a mapping
	RuleMissingField    = "missing-field"     // apiVersion, kind or metadata.name is missing
	RuleDuplicate       = "duplicate"         // two objects share group, kind, namespace and name
	RuleUnknownKind     = "unknown-kind"      // the cluster does not serve the kind and no CRD in the push defines it
	RuleNamespace       = "namespace-missing" // a namespaced object has no namespace and the environment none
	RuleClusterScoped   = "namespace-on-cluster-scoped"
	RuleKustomize       = "kustomize"         // krusty failed
	RuleKustomizeRemote = "kustomize-remote"  // a remote base, URL or Helm inflation in a kustomization
	RuleOutsideRepo     = "outside-repo"      // a path climbs above the repository root
	RuleHelm            = "helm"              // loading or rendering the chart failed
	RuleHelmValues      = "helm-values"       // a values file is missing or invalid
	RuleHelmDependency  = "helm-dependency"   // a dependency is not vendored in charts/
	RuleHelmSchema      = "helm-schema"       // values.schema.json refers outside itself
	RuleHelmUnread      = "helm-unread-value" // a warning: no template reads a key of the environment's values
	RuleTimeout         = "timeout"           // rendering took longer than Options.Timeout
	RuleInternal        = "internal"          // a renderer panicked
	RuleLimit           = "render-limit"      // the render process used more memory or CPU than allowed
)

// Problem is one thing wrong with the input, addressed to the person who pushed it.
type Problem struct {
	File    string // slash-separated, relative to the repository root; empty if not tied to a file
	Line    int    // 1-based; 0 when unknown
	Object  string // kind/namespace/name (kind/name for cluster-scoped), or empty
	Rule    string // one of the Rule constants
	Message string
	Hint    string // what to do about it; may be empty
	// Via are the places the value passes through on its way from File:Line (the
	// template that reads a Helm value); empty when the problem is where it is written.
	Via []Source
}

// String formats the problem on one line: file:line: object: message [rule].
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Object != "" {
		b.WriteString(p.Object + ": ")
	}
	fmt.Fprintf(&b, "%s [%s]", p.Message, p.Rule)
	return b.String()
}

// problems collects problems; a nil *problems is never used.
type problems []Problem

func (ps *problems) add(p Problem) { *ps = append(*ps, p) }
