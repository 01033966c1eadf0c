package gitserver

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/config"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		verb, path string
		bad        bool
	}{
		{nil, "help", "", false},
		{[]string{"help"}, "help", "", false},
		{[]string{"status"}, "status", "", false},
		{[]string{"status", "platform", "staging"}, "status", "", false},
		{[]string{"status", "a", "b", "c"}, "", "", true},
		{[]string{"sync", "platform", "staging"}, "sync", "", false},
		{[]string{"sync", "platform/staging"}, "sync", "", false}, // REPO/ENV, split by splitEnv
		{[]string{"sync"}, "", "", true},
		{[]string{"sync", "a", "b", "c"}, "", "", true},
		{[]string{"status", "--help"}, "usage", "", false},
		{[]string{"rollback", "-h"}, "usage", "", false},
		{[]string{"help", "sync"}, "usage", "", false},
		{[]string{"rollback", "platform", "staging"}, "rollback", "", false},
		{[]string{"rollback", "platform", "staging", "abc123"}, "rollback", "", false},
		{[]string{"rollback", "platform", "staging", "abc123", "x"}, "", "", true},
		{[]string{"git-upload-pack", "/platform.git"}, "upload-pack", "/platform.git", false},
		{[]string{"git-receive-pack", "platform"}, "receive-pack", "platform", false},
		{[]string{"git", "upload-pack", "platform"}, "upload-pack", "platform", false},
		{[]string{"git", "receive-pack", "platform"}, "receive-pack", "platform", false},
		{[]string{"recipients", "platform", "staging"}, "recipients", "", false},
		{[]string{"recipients", "platform/staging"}, "recipients", "", false},
		{[]string{"recipients"}, "", "", true},
		{[]string{"recipients", "--help"}, "usage", "", false},
		{[]string{"sh"}, "", "", true},
		{[]string{"git-upload-archive", "platform"}, "", "", true},
		{[]string{"git-upload-pack", "a", "b"}, "", "", true},
		{[]string{"git", "-c", "x=y", "upload-pack", "p"}, "", "", true},
	} {
		got, err := parseCommand(tc.args)
		if (err != nil) != tc.bad || (!tc.bad && (got.Verb != tc.verb || got.Path != tc.path)) {
			t.Errorf("parseCommand(%q) = %+v, %v", tc.args, got, err)
		}
	}
}

func TestResolveRepo(t *testing.T) {
	cfg := &config.Config{Repos: map[string]config.Repo{"platform": {}, "team/app": {}}}
	for _, tc := range []struct {
		raw, want string
		err       error
	}{
		{"platform", "platform", nil},
		{"/platform", "platform", nil},
		{"platform.git", "platform", nil},
		{"/platform.git/", "platform", nil},
		{"~/platform", "platform", nil},
		{"team/app.git", "team/app", nil},
		{"nope", "", errNoRepo},
		{"/etc/passwd", "", errNoRepo},
		{"../platform", "", errBadPath},
		{"team/../platform", "", errBadPath},
		{"/srv/../platform", "", errBadPath},
		{"-platform", "", errBadPath},
		{"--upload-pack=x", "", errBadPath},
		{"team//app", "", errBadPath},
		{"team/./app", "", errBadPath},
		{"", "", errBadPath},
		{"plat\x00form", "", errBadPath},
	} {
		got, err := resolveRepo(cfg, tc.raw)
		if !errors.Is(err, tc.err) || (tc.err == nil && got != tc.want) {
			t.Errorf("resolveRepo(%q) = %q, %v; want %q, %v", tc.raw, got, err, tc.want, tc.err)
		}
	}
}

func TestSplitEnv(t *testing.T) {
	cfg := &config.Config{Repos: map[string]config.Repo{"platform": {}, "team/app": {}}}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"platform/staging"}, []string{"platform", "staging"}},
		{[]string{"platform/staging", "abc123"}, []string{"platform", "staging", "abc123"}},
		{[]string{"team/app"}, []string{"team/app"}},                       // a repository with a slash
		{[]string{"team/app/prod"}, []string{"team/app", "prod"}},          // at the last slash
		{[]string{"platform", "staging"}, []string{"platform", "staging"}}, // already apart
		{[]string{"platform/"}, []string{"platform/"}},
		{[]string{"/staging"}, []string{"/staging"}},
		{nil, nil},
	} {
		if got := splitEnv(cfg, tc.in); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("splitEnv(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if err := envArgs("sync", []string{"platform"}); err == nil || !strings.Contains(err.Error(), "usage: sync REPO ENV") {
		t.Errorf("sync with one argument: %v", err)
	}
	if envArgs("rollback", []string{"a", "b", "c"}) != nil || envArgs("sync", []string{"a", "b", "c"}) == nil {
		t.Error("rollback takes a commit, sync does not")
	}
}
