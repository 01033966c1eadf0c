package objname

import "testing"

func TestShort(t *testing.T) {
	for _, c := range []struct{ group, kind, ns, name, want string }{
		{"apps", "Deployment", "demo", "web", "Deployment.apps/demo/web"},
		{"", "ConfigMap", "demo", "hello", "ConfigMap/demo/hello"},
		{"", "Namespace", "", "demo", "Namespace/demo"},
		{"", "", "", "", "?/?"},
	} {
		if got := Short(c.group, c.kind, c.ns, c.name); got != c.want {
			t.Errorf("Short(%q, %q, %q, %q) = %q, want %q", c.group, c.kind, c.ns, c.name, got, c.want)
		}
	}
}
