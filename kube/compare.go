package kube

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// metadataNoise are the metadata fields the server changes on its own; a difference in
// them is not a change of the object.
var metadataNoise = []string{"resourceVersion", "generation", "managedFields", "creationTimestamp", "uid", "selfLink"}

// ignoredAnnotations change with every push or apply by design, or only when something
// else does; they never make an object "configured" on their own.
var ignoredAnnotations = []string{CommitAnnotation, ConfigHashAnnotation}

// normalized returns obj's content with the noise removed, for diffing and hashing. Only
// the maps it removes keys from are copied: the result shares the rest with obj and must
// be treated as read-only.
func normalized(obj *unstructured.Unstructured) map[string]any {
	if obj == nil {
		return nil
	}
	c, md := withOwnMetadata(obj.Object)
	if md == nil {
		return c
	}
	for _, k := range metadataNoise {
		delete(md, k)
	}
	if ann, ok := md["annotations"].(map[string]any); ok {
		ann = maps.Clone(ann)
		for _, k := range ignoredAnnotations {
			delete(ann, k)
		}
		if len(ann) == 0 {
			delete(md, "annotations")
		} else {
			md["annotations"] = ann
		}
	}
	return c
}

// withOwnMetadata returns a copy of obj whose top level and metadata map are its own, and
// that shares everything else with obj. Changing metadata (namespace, labels and
// annotations set anew) then leaves obj as it was, without the cost of a deep copy of the
// spec. md is nil when obj has no metadata map.
func withOwnMetadata(obj map[string]any) (c, md map[string]any) {
	c = maps.Clone(obj)
	if m, ok := c["metadata"].(map[string]any); ok {
		md = maps.Clone(m)
		c["metadata"] = md
	}
	return c, md
}

// changedFields lists the differences between live and merged (the server's answer to
// an apply), masking Secret values, each with the managers it is taken from (From).
func changedFields(live, merged *unstructured.Unstructured) []FieldChange {
	var out []FieldChange
	diffValue(&out, "", normalized(live), normalized(merged), isSecret(merged))
	if len(out) > 0 {
		takenFrom(out, live, merged)
	}
	return out
}

// takenFrom sets, on each changed field, the field managers that owned it in live's
// managedFields and own it no longer in merged's, while another does: those the apply took
// it from. An apply that forces its fields back (a push re-asserts git) shows whose hand
// edit it undoes; a field that nobody owns after (removed from git) was taken from nobody.
func takenFrom(fields []FieldChange, live, merged *unstructured.Unstructured) {
	before, after := ownedPaths(live), ownedPaths(merged)
	if len(before) == 0 {
		return
	}
	managers := make([]string, 0, len(before))
	for m := range before {
		managers = append(managers, m)
	}
	sort.Strings(managers)
	for i := range fields {
		p := fields[i].Path
		taken := false
		for _, paths := range after {
			taken = taken || owns(paths, p)
		}
		if !taken {
			continue
		}
		var from []string
		for _, m := range managers {
			if owns(before[m], p) && !owns(after[m], p) {
				from = append(from, m)
			}
		}
		fields[i].From = strings.Join(from, ", ")
	}
}

// ownedPaths maps each field manager of obj to the fields it owns, in the diff's notation
// (".spec.replicas", ".spec.template.spec.containers[name=web].image"). Entries of one
// manager (an Update through the scale subresource, another through the main resource)
// count together.
func ownedPaths(obj *unstructured.Unstructured) map[string][]string {
	out := map[string][]string{}
	for _, e := range obj.GetManagedFields() {
		if e.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if err := json.Unmarshal(e.FieldsV1.Raw, &set); err != nil {
			continue
		}
		paths := out[e.Manager]
		fieldPaths(&paths, "", set)
		out[e.Manager] = paths
	}
	return out
}

// fieldPaths appends the leaves of a managedFields set (FieldsV1: "f:spec" for a field,
// "k:{...}" for a list item by key, "i:N" by index, "v:..." for a set member, "." for the
// item itself) under path.
func fieldPaths(out *[]string, path string, set map[string]any) {
	if len(set) == 0 {
		*out = append(*out, displayPath(path))
		return
	}
	for k, v := range set {
		if k == "." {
			*out = append(*out, displayPath(path))
			continue
		}
		child, _ := v.(map[string]any)
		if len(k) < 2 || k[1] != ':' {
			continue
		}
		switch name := k[2:]; k[0] {
		case 'f':
			fieldPaths(out, path+pathKey(name), child)
		case 'k':
			// The diff pairs list items by name; an item keyed otherwise (ports by number)
			// gets a path no diff line has, and so no owner.
			var key map[string]any
			if json.Unmarshal([]byte(name), &key) == nil {
				if n, ok := key["name"].(string); ok {
					fieldPaths(out, fmt.Sprintf("%s[name=%s]", path, n), child)
					continue
				}
			}
			fieldPaths(out, path+"["+name+"]", child)
		case 'i':
			fieldPaths(out, path+"["+name+"]", child)
		case 'v':
			fieldPaths(out, path+"[="+name+"]", child)
		}
	}
}

// owns says whether a manager owning paths owns field p: p itself, a field above it (an
// atomic map or list owned whole), or a field under it (p appeared or went whole).
func owns(paths []string, p string) bool {
	for _, o := range paths {
		if matchPath(p, o) || matchPath(o, p) {
			return true
		}
	}
	return false
}

// diffValue appends the differences between a and b under path. secret says the object is
// a Secret: its data, stringData and last-applied annotation are rendered masked.
func diffValue(out *[]FieldChange, path string, a, b any, secret bool) {
	if valuesEqual(a, b) {
		return
	}
	sensitive := secret && sensitivePath(path)
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	// A Secret's data appearing or going whole is told key by key, values unshown.
	if sensitive && aok != bok && (a == nil || b == nil) {
		aok, bok = true, true
	}
	if aok && bok {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			diffValue(out, path+pathKey(k), am[k], bm[k], secret)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		diffList(out, path, al, bl, secret)
		return
	}
	*out = append(*out, FieldChange{Path: displayPath(path), Old: short(a, sensitive), New: short(b, sensitive), Sensitive: sensitive})
}

// diffList pairs list items by their "name" when every item has a distinct one
// (containers, env, ports, volumes), which is what a reader expects and what SSA's merge
// keys mostly are; otherwise by index.
func diffList(out *[]FieldChange, path string, a, b []any, secret bool) {
	an, aok := namesOf(a)
	bn, bok := namesOf(b)
	if aok && bok {
		seen := map[string]bool{}
		for i, n := range an {
			seen[n] = true
			var other any
			if j := indexOf(bn, n); j >= 0 {
				other = b[j]
			}
			diffValue(out, fmt.Sprintf("%s[name=%s]", path, n), a[i], other, secret)
		}
		for j, n := range bn {
			if !seen[n] {
				diffValue(out, fmt.Sprintf("%s[name=%s]", path, n), nil, b[j], secret)
			}
		}
		return
	}
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y any
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		diffValue(out, fmt.Sprintf("%s[%d]", path, i), x, y, secret)
	}
}

func namesOf(l []any) ([]string, bool) {
	if len(l) == 0 {
		return nil, true
	}
	names := make([]string, len(l))
	seen := map[string]bool{}
	for i, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		n, ok := m["name"].(string)
		if !ok || seen[n] {
			return nil, false
		}
		seen[n] = true
		names[i] = n
	}
	return names, true
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func pathKey(k string) string {
	if plainKey.MatchString(k) {
		return "." + k
	}
	return fmt.Sprintf("[%q]", k)
}

func displayPath(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// valuesEqual is reflect.DeepEqual except that numbers compare by value: objects decoded
// from YAML hold float64 where the API's JSON gives int64.
func valuesEqual(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valuesEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return 0, false
}

const shortMax = 60

// short renders a value for one line of a diff: JSON, cut to shortMax characters; "" for
// absent. Sensitive values keep their shape (map keys) and lose every scalar.
func short(v any, sensitive bool) string {
	if v == nil {
		return ""
	}
	if sensitive {
		v = maskValue(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := string(b)
	if len(s) > shortMax {
		cut := shortMax - 3
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// matchPath says whether field path p is path or lies under it, for ignore lists. Both use
// the diff's notation (".spec.replicas", ".metadata.annotations[\"a/b\"]").
func matchPath(p, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, ".")
	if prefix == "" || prefix == "." {
		return true
	}
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	rest := p[len(prefix):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}
