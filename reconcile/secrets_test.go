package reconcile

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/secrets"
)

func TestScrubChanges(t *testing.T) {
	orig := errors.New(`ConfigMap "c" is invalid: metadata.labels: Invalid value: "decrypted-value-1"`)
	cs := &kube.ChangeSet{Changes: []kube.Change{
		{Action: kube.Failed, Message: orig.Error(), Err: orig},
		{Action: kube.Created},
	}}
	scrubChanges(cs, secrets.NewScrubber([]string{"decrypted-value-1"}))
	ch := cs.Changes[0]
	if strings.Contains(ch.Message, "decrypted-value-1") || strings.Contains(ch.Err.Error(), "decrypted-value-1") || !strings.Contains(ch.Message, `Invalid value: "***"`) {
		t.Fatalf("not scrubbed: %q / %v", ch.Message, ch.Err)
	}
	if !errors.Is(ch.Err, orig) {
		t.Fatal("the scrubbed error no longer unwraps to the original")
	}
	scrubChanges(nil, nil) // no render values, no change set: nothing to do
}
