package kube

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// validateAgainstCRD checks obj against the OpenAPI schema that crd, a
// CustomResourceDefinition of the same batch that the cluster does not serve yet, declares
// for obj's version. It is what a dry run can do for such an object: types, required
// fields, enums, patterns and bounds, as the API server would check them. CEL rules
// (x-kubernetes-validations) and admission are left to the real apply. It returns the
// problems, empty when there are none or the CRD declares no schema.
func validateAgainstCRD(crd *unstructured.Unstructured, version string, obj *unstructured.Unstructured) ([]string, error) {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var raw map[string]any
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if vm["name"] == version {
			raw, _, _ = unstructured.NestedMap(vm, "schema", "openAPIV3Schema")
		}
	}
	if raw == nil {
		return nil, nil
	}
	b, err := json.Marshal(structuralToOpenAPI(raw))
	if err != nil {
		return nil, err
	}
	var s spec.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("schema of CustomResourceDefinition %s: %w", crd.GetName(), err)
	}
	res := validate.NewSchemaValidator(&s, nil, "", strfmt.Default).Validate(obj.UnstructuredContent())
	var out []string
	for _, e := range res.Errors {
		out = append(out, e.Error())
	}
	return out, nil
}

// structuralToOpenAPI rewrites the Kubernetes extensions of a CRD schema that plain
// OpenAPI validation would misread: int-or-string accepts both, nullable accepts null.
func structuralToOpenAPI(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, w := range x {
			out[k] = structuralToOpenAPI(w)
		}
		if x["x-kubernetes-int-or-string"] == true {
			delete(out, "type")
		}
		if t, ok := x["type"].(string); ok && x["nullable"] == true {
			out["type"] = []any{t, "null"}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, w := range x {
			out[i] = structuralToOpenAPI(w)
		}
		return out
	}
	return v
}

// invalidMessage formats problems the way the API server words an invalid object.
func invalidMessage(it *item, problems []string) string {
	gk := it.id.Kind
	if it.id.Group != "" {
		gk += "." + it.id.Group
	}
	return fmt.Sprintf("%s %q is invalid: %s", gk, it.id.Name, strings.Join(problems, "; "))
}
