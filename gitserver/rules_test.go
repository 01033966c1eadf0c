package gitserver

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/config"
)

// fakeRefs is a repository for the rules: b descends from a, and refs exist or not.
type fakeRefs struct{ refs []string }

const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func (f fakeRefs) isAncestor(_ context.Context, old, new string) (bool, error) {
	if old == "broken" {
		return false, errors.New("boom")
	}
	return old == a && new == b, nil
}

func (f fakeRefs) exists(_ context.Context, ref string) (bool, error) {
	if ref == "refs/heads/broken" || ref == "refs/tags/broken" {
		return false, errors.New("boom")
	}
	return slices.Contains(f.refs, ref), nil
}

func TestCheckRefRules(t *testing.T) {
	repo := config.Repo{
		Write: []string{"alice", "bob"},
		Tags:  &config.TagRules{Write: []string{"alice"}},
		Environments: map[string]config.Environment{
			"production": {Branch: "main", Push: []string{"alice"}},
			"staging":    {Branch: "staging"},
			"preview":    {Branch: "preview", AllowForcePush: true, AllowDelete: true},
			"qa":         {Branch: "qa"},
		},
	}
	state := fakeRefs{refs: []string{"refs/heads/main", "refs/heads/feature", "refs/tags/v1", "refs/tags/main"}}
	// staging was applied at a, preview at a too; production and qa never.
	lastApplied := func(env string) string {
		if env == "staging" || env == "preview" {
			return a
		}
		return ""
	}
	seen := map[string]bool{}
	defer func() {
		for _, r := range RefRules {
			if !seen[r] {
				t.Errorf("no case refuses by rule %s", r)
			}
		}
	}()
	for _, tc := range []struct {
		name, user string
		u          RefUpdate
		want       string // substring of the refusal; "" means allowed
		rule       string
	}{
		{"writer on plain branch", "bob", RefUpdate{"refs/heads/feature", a, b}, "", ""},
		{"force on plain branch", "bob", RefUpdate{"refs/heads/feature", b, a}, "", ""},
		{"delete plain branch", "bob", RefUpdate{"refs/heads/feature", a, ZeroID}, "", ""},
		{"not a writer of production", "bob", RefUpdate{"refs/heads/main", a, b}, "bob may not push to branch main", "ref-permission"},
		{"production writer fast-forward", "alice", RefUpdate{"refs/heads/main", a, b}, "", ""},
		{"production non-fast-forward", "alice", RefUpdate{"refs/heads/main", b, a}, "non-fast-forward update of branch main, which deploys environment production", "fast-forward"},
		{"ancestry unknown", "alice", RefUpdate{"refs/heads/main", "broken", a}, "could not check", "ref-check"},
		{"delete environment branch", "bob", RefUpdate{"refs/heads/staging", a, ZeroID}, "may not be deleted", "branch-delete"},
		{"create environment branch never applied", "bob", RefUpdate{"refs/heads/qa", ZeroID, a}, "", ""},
		{"create environment branch an old tag shadows", "alice", RefUpdate{"refs/heads/main", ZeroID, a}, "tag main exists", "ref-name"},
		{"environment branch back at the applied commit", "bob", RefUpdate{"refs/heads/staging", ZeroID, a}, "", ""},
		{"environment branch back as a fast-forward", "bob", RefUpdate{"refs/heads/staging", ZeroID, b}, "", ""},
		{"environment branch back with other history", "bob", RefUpdate{"refs/heads/staging", ZeroID, "cccccccccccccccccccccccccccccccccccccccc"},
			"branch staging deploys environment staging and may come back only as a fast-forward of aaaaaaaaaaaa", "fast-forward"},
		{"environment branch back with force allowed", "bob", RefUpdate{"refs/heads/preview", ZeroID, "cccccccccccccccccccccccccccccccccccccccc"}, "", ""},
		{"force where allowed", "bob", RefUpdate{"refs/heads/preview", b, a}, "", ""},
		{"delete where allowed", "bob", RefUpdate{"refs/heads/preview", a, ZeroID}, "", ""},
		{"tag by tag writer", "alice", RefUpdate{"refs/tags/v2", ZeroID, a}, "", ""},
		{"tag by other writer", "bob", RefUpdate{"refs/tags/v2", ZeroID, a}, "bob may not push tags", "ref-permission"},
		{"tag move", "alice", RefUpdate{"refs/tags/v1", a, b}, "may not be moved", "tag-move"},
		{"tag delete", "alice", RefUpdate{"refs/tags/v1", a, ZeroID}, "may not be deleted", "tag-move"},
		{"tag named like an environment branch", "alice", RefUpdate{"refs/tags/staging", ZeroID, a}, "tag staging has the name of branch staging, which deploys environment staging", "ref-name"},
		{"tag named like a branch", "alice", RefUpdate{"refs/tags/feature", ZeroID, a}, "branch feature exists, and a tag of the same name would make `git push origin HEAD:feature` ambiguous", "ref-name"},
		{"branch named like a tag", "bob", RefUpdate{"refs/heads/v1", ZeroID, a}, "tag v1 exists", "ref-name"},
		{"branch differing in case", "bob", RefUpdate{"refs/heads/Staging", ZeroID, a}, "Staging differs from branch staging, which deploys environment staging, only in case", "ref-name"},
		{"tag differing in case", "alice", RefUpdate{"refs/tags/MAIN", ZeroID, a}, "MAIN differs from branch main", "ref-name"},
		{"refs unreadable", "bob", RefUpdate{"refs/heads/broken", ZeroID, a}, "could not check whether tag broken exists", "ref-check"},
		{"delete a tag hiding a branch", "alice", RefUpdate{"refs/tags/main", a, ZeroID}, "", ""},
		{"delete a tag hiding a branch, not a tag writer", "bob", RefUpdate{"refs/tags/main", a, ZeroID}, "bob may not push tags", "ref-permission"},
		{"other namespace", "alice", RefUpdate{"refs/notes/commits", ZeroID, a}, "only branches", "ref-kind"},
		{"stranger", "mallory", RefUpdate{"refs/heads/feature", ZeroID, a}, "mallory may not push", "ref-permission"},
	} {
		seen[tc.rule] = true
		t.Run(tc.name, func(t *testing.T) {
			got := checkRefRules(context.Background(), ruleInput{repoName: "platform", repo: repo, user: tc.user,
				updates: []RefUpdate{tc.u}, state: state, lastApplied: lastApplied})
			switch {
			case tc.want == "" && len(got) > 0:
				t.Fatalf("refused: %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].Message, tc.want) || got[0].Ref != tc.u.Name || got[0].Rule != tc.rule || got[0].Hint == ""):
				t.Fatalf("got %+v, want one refusal of %s by rule %s, with a hint, containing %q", got, tc.u.Name, tc.rule, tc.want)
			}
		})
	}

	movable := repo
	movable.Tags = &config.TagRules{AllowMove: true}
	if got := checkRefRules(context.Background(), ruleInput{repoName: "platform", repo: movable, user: "bob",
		updates: []RefUpdate{{"refs/tags/v1", a, b}}, state: state}); len(got) > 0 {
		t.Fatalf("tag move with allow_move refused: %v", got)
	}

	// A branch and a tag of one name in one push are both refused; a tag that is deleted
	// in the same push frees its name.
	both := checkRefRules(context.Background(), ruleInput{repoName: "platform", repo: repo, user: "alice",
		updates: []RefUpdate{{"refs/heads/topic", ZeroID, a}, {"refs/tags/topic", ZeroID, a}}, state: state})
	if len(both) != 2 || !strings.Contains(both[0].Message, "tag topic is pushed too") || !strings.Contains(both[1].Message, "branch topic is pushed too") {
		t.Fatalf("branch and tag topic in one push: %q", both)
	}
	swap := checkRefRules(context.Background(), ruleInput{repoName: "platform", repo: movable, user: "alice",
		updates: []RefUpdate{{"refs/tags/v1", a, ZeroID}, {"refs/heads/v1", ZeroID, a}}, state: state})
	if len(swap) != 0 {
		t.Fatalf("tag v1 deleted and branch v1 created in one push: %q", swap)
	}
}
