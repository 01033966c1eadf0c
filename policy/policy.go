package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Policy is one rule.
type Policy struct {
	Name string
	// Kinds limits the policy to these kinds; empty means every kind.
	Kinds []string
	// Expression must evaluate to true for an object to pass.
	Expression string
	Message    string
	Hint       string
	// PerContainer evaluates Expression once per container (and init container), with
	// containers holding that one, so that a violation names the container: Message may
	// say {container} and {image}, which are its name and image.
	PerContainer bool
	// Source says where the policy was defined (repos.yaml, or a file in the repo).
	Source string
}

// Violation is one object failing one policy.
type Violation struct {
	Policy  string
	Message string
	Hint    string
}

// costLimit bounds one evaluation; a rule that walks a huge object is stopped, not hung.
const costLimit = 1_000_000

// Set is a compiled list of policies.
type Set struct {
	rules []rule
}

type rule struct {
	Policy
	prg cel.Program
}

var env = mustEnv()

func mustEnv() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("containers", cel.ListType(cel.DynType)),
	)
	if err != nil {
		panic(err)
	}
	return e
}

// Compile checks and compiles policies. Every broken policy is reported, naming its source.
func Compile(policies []Policy) (*Set, error) {
	s := &Set{}
	var errs []error
	for _, p := range policies {
		ast, iss := env.Compile(p.Expression)
		if iss != nil && iss.Err() != nil {
			errs = append(errs, fmt.Errorf("policy %s (%s): %v", p.Name, p.Source, iss.Err()))
			continue
		}
		if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
			errs = append(errs, fmt.Errorf("policy %s (%s): expression must be true or false, it gives %v", p.Name, p.Source, ast.OutputType()))
			continue
		}
		prg, err := env.Program(ast, cel.CostLimit(costLimit))
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s (%s): %v", p.Name, p.Source, err))
			continue
		}
		s.rules = append(s.rules, rule{Policy: p, prg: prg})
	}
	return s, errors.Join(errs...)
}

// Len is the number of compiled policies.
func (s *Set) Len() int { return len(s.rules) }

// Evaluate runs every policy that applies to obj and returns the ones it fails, in policy
// name order. An expression that errors (a missing field it did not guard with has(), or the
// cost limit) counts as a failure, with the error in the message: a policy that cannot tell
// must not let the object through.
func (s *Set) Evaluate(obj *unstructured.Unstructured) []Violation {
	cs := Containers(obj)
	vars := map[string]any{"object": obj.Object, "containers": cs}
	var out []Violation
	for _, r := range s.rules {
		if len(r.Kinds) > 0 && !contains(r.Kinds, obj.GetKind()) {
			continue
		}
		if !r.PerContainer {
			out = r.eval(out, vars, r.Message)
			continue
		}
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			msg := strings.NewReplacer("{container}", str(cm["name"]), "{image}", str(cm["image"])).Replace(r.Message)
			out = r.eval(out, map[string]any{"object": obj.Object, "containers": []any{c}}, msg)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Policy < out[j].Policy })
	return out
}

// eval appends r's violation, saying msg, to out when r does not hold for vars.
func (r rule) eval(out []Violation, vars map[string]any, msg string) []Violation {
	val, _, err := r.prg.Eval(vars)
	switch {
	case err != nil:
		return append(out, Violation{Policy: r.Name, Message: fmt.Sprintf("%s (the rule could not be evaluated: %v)", msg, err), Hint: r.Hint})
	case val.Value() != true:
		return append(out, Violation{Policy: r.Name, Message: msg, Hint: r.Hint})
	}
	return out
}

// str is v as text for a message, "(none)" when it is not a string.
func str(v any) string {
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	return "(none)"
}

// Containers returns the containers and init containers of the pod spec obj carries, or
// nil for kinds without one.
func Containers(obj *unstructured.Unstructured) []any {
	var path []string
	switch obj.GetKind() {
	case "Pod":
		path = []string{"spec"}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		path = []string{"spec", "template", "spec"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil
	}
	spec, ok, _ := unstructured.NestedMap(obj.Object, path...)
	if !ok {
		return nil
	}
	var out []any
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		if list, ok := spec[key].([]any); ok {
			out = append(out, list...)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
