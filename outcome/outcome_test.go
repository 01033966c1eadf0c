package outcome

import (
	"strings"
	"testing"
)

// The words are what the issue promises and what README documents; a rename here is a
// change every reader sees.
func TestWordsAndNames(t *testing.T) {
	want := map[Outcome][3]string{
		Healthy:     {"applied and healthy", "healthy", "apply.healthy"},
		Unhealthy:   {"applied, not healthy", "unhealthy", "apply.unhealthy"},
		ApplyFailed: {"apply failed", "failed", "apply.failed"},
		RolledBack:  {"rolled back", "rolled_back", "apply.rolled_back"},
		Waiting:     {"waiting for the cluster", "waiting", "apply.waiting"},
	}
	if len(All()) != len(want) {
		t.Fatalf("All() = %v, want %d outcomes", All(), len(want))
	}
	for _, o := range All() {
		w, ok := want[o]
		if !ok {
			t.Fatalf("unexpected outcome %q", o)
		}
		if o.String() != w[0] || o.Label() != w[1] || o.Event() != w[2] {
			t.Errorf("%q: words %q, label %q, event %q; want %q", string(o), o.String(), o.Label(), o.Event(), w)
		}
		if strings.ContainsAny(o.Label(), " ,.") {
			t.Errorf("label %q must be one word", o.Label())
		}
	}
	if Outcome("other").String() != "other" {
		t.Error("an unknown outcome prints as itself")
	}
	if Waiting.Decided() || !Unhealthy.Decided() {
		t.Error("only Waiting is undecided")
	}
}
