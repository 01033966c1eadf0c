package gitserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/config"
)

func TestCheckRefRules(t *testing.T) {
	repo := config.Repo{
		Write: []string{"alice", "bob"},
		Tags:  &config.TagRules{Write: []string{"alice"}},
		Environments: map[string]config.Environment{
			"production": {Branch: "main", Push: []string{"alice"}},
			"staging":    {Branch: "staging"},
			"preview":    {Branch: "preview", AllowForcePush: true, AllowDelete: true},
		},
	}
	const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	// b descends from a; nothing else is an ancestor of anything.
	ancestry := func(_ context.Context, old, new string) (bool, error) {
		if old == "broken" {
			return false, errors.New("boom")
		}
		return old == a && new == b, nil
	}
	for _, tc := range []struct {
		name, user string
		u          RefUpdate
		want       string // substring of the refusal; "" means allowed
	}{
		{"writer on plain branch", "bob", RefUpdate{"refs/heads/feature", a, b}, ""},
		{"force on plain branch", "bob", RefUpdate{"refs/heads/feature", b, a}, ""},
		{"delete plain branch", "bob", RefUpdate{"refs/heads/feature", a, ZeroID}, ""},
		{"not a writer of production", "bob", RefUpdate{"refs/heads/main", a, b}, "bob may not push to branch main"},
		{"production writer fast-forward", "alice", RefUpdate{"refs/heads/main", a, b}, ""},
		{"production non-fast-forward", "alice", RefUpdate{"refs/heads/main", b, a}, "non-fast-forward update of branch main, which deploys environment production"},
		{"ancestry unknown", "alice", RefUpdate{"refs/heads/main", "broken", a}, "could not check"},
		{"delete environment branch", "bob", RefUpdate{"refs/heads/staging", a, ZeroID}, "may not be deleted"},
		{"create environment branch", "bob", RefUpdate{"refs/heads/staging", ZeroID, a}, ""},
		{"force where allowed", "bob", RefUpdate{"refs/heads/preview", b, a}, ""},
		{"delete where allowed", "bob", RefUpdate{"refs/heads/preview", a, ZeroID}, ""},
		{"tag by tag writer", "alice", RefUpdate{"refs/tags/v1", ZeroID, a}, ""},
		{"tag by other writer", "bob", RefUpdate{"refs/tags/v1", ZeroID, a}, "bob may not push tags"},
		{"tag move", "alice", RefUpdate{"refs/tags/v1", a, b}, "may not be moved"},
		{"tag delete", "alice", RefUpdate{"refs/tags/v1", a, ZeroID}, "may not be deleted"},
		{"other namespace", "alice", RefUpdate{"refs/notes/commits", ZeroID, a}, "only branches"},
		{"stranger", "mallory", RefUpdate{"refs/heads/feature", ZeroID, a}, "mallory may not push"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkRefRules(context.Background(), "platform", repo, tc.user, []RefUpdate{tc.u}, ancestry)
			switch {
			case tc.want == "" && len(got) > 0:
				t.Fatalf("refused: %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want) || !strings.HasPrefix(got[0], tc.u.Name+": ")):
				t.Fatalf("got %q, want one refusal naming %s and containing %q", got, tc.u.Name, tc.want)
			}
		})
	}
	movable := repo
	movable.Tags = &config.TagRules{AllowMove: true}
	if got := checkRefRules(context.Background(), "platform", movable, "bob", []RefUpdate{{"refs/tags/v1", a, b}}, ancestry); len(got) > 0 {
		t.Fatalf("tag move with allow_move refused: %v", got)
	}
}
