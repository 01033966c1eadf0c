package hooks

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

// quantityParents are the keys whose values are resource quantities in the built-in
// kinds (resources.limits, ResourceQuota's hard, a PV's capacity, LimitRange's max, ...).
var quantityParents = map[string]bool{
	"limits": true, "requests": true, "hard": true, "capacity": true, "allocatable": true,
	"overhead": true, "default": true, "defaultRequest": true, "max": true, "min": true,
	"maxLimitRequestRatio": true,
}

// quantityError matches resource.ParseQuantity's errors (ErrFormatWrong, ErrNumeric,
// ErrSuffix) as the API server passes them on.
var quantityError = regexp.MustCompile(`quantities must match|unable to parse (numeric part of quantity|quantity's suffix)`)

// refusedQuantities names the fields of a bad quantity. The API server refuses one while
// converting the object, before validation, so its refusal names no field ("quantities
// must match the regular expression ...", "unable to parse quantity's suffix"), and nothing would point at the line to fix.
// The quantities of o that do not parse are those fields. rfs is returned as it is for
// any other refusal, or when none is found.
func refusedQuantities(ch kube.Change, o render.Object, rfs []refusal) []refusal {
	if len(rfs) != 1 || rfs[0].Field != "" || o.Unstructured == nil || !quantityError.MatchString(ch.Message) {
		return rfs
	}
	var out []refusal
	badQuantities(o.Object, "", "", func(field, value string) {
		out = append(out, refusal{Field: field,
			Message: fmt.Sprintf("%s: %s is not a quantity", field, strconv.Quote(value)),
			Hint:    "write a number with an optional suffix, such as 256Mi, 1G, 500m or 0.5"})
	})
	if len(out) == 0 {
		return rfs
	}
	return out
}

// badQuantities calls bad for every string under a quantity key of v that does not parse,
// with its path as the API server writes it (spec.containers[0].resources.limits.memory).
func badQuantities(v any, field, parent string, bad func(field, value string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f := k
			if field != "" {
				f = field + "." + k
			}
			if s, isStr := x[k].(string); isStr {
				if quantityParents[parent] || k == "sizeLimit" {
					if _, err := resource.ParseQuantity(s); err != nil {
						bad(f, s)
					}
				}
				continue
			}
			badQuantities(x[k], f, k, bad)
		}
	case []any:
		for i, it := range x {
			badQuantities(it, fmt.Sprintf("%s[%d]", field, i), "", bad)
		}
	}
}
