package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/config"
)

// Status lists what the user may read, narrowed by the arguments, with environments never
// reconciled included; a repo one may not read is refused like one that does not exist.
func TestReadable(t *testing.T) {
	cfg := &config.Config{Repos: map[string]config.Repo{
		"app":    {Read: []string{"bob"}, Environments: map[string]config.Environment{"prod": {Branch: "main", Cluster: "c1"}, "stage": {Branch: "stage", Cluster: "c1"}}},
		"secret": {Read: []string{"carol"}, Environments: map[string]config.Environment{"prod": {Branch: "main", Cluster: "c2"}}},
	}}
	all := []Status{
		{Repo: "app", Env: "prod", LastApplied: "abc"},
		{Repo: "app", Env: "gone", LastApplied: "old"}, // left repos.yaml
		{Repo: "secret", Env: "prod", LastApplied: "def"},
	}
	keys := func(sts []Status) string {
		var k []string
		for _, s := range sts {
			k = append(k, s.Key()+"="+s.LastApplied+"@"+s.Cluster)
		}
		return strings.Join(k, " ")
	}
	for _, c := range []struct {
		user string
		args []string
		want string
		err  string
	}{
		{"bob", nil, "app/prod=abc@ app/stage=@c1", ""},
		{"bob", []string{"app", "stage"}, "app/stage=@c1", ""},
		{"bob", []string{"secret"}, "", `repository "secret" does not exist, or bob may not read it`},
		{"bob", []string{"nope"}, "", `repository "nope" does not exist, or bob may not read it`},
		{"bob", []string{"app", "gone"}, "", `repository app has no environment "gone"`},
		{"carol", nil, "secret/prod=def@", ""},
		{"mallory", nil, "", ""},
	} {
		sts, err := Readable(cfg, all, c.user, c.args)
		if got := keys(sts); got != c.want || (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) {
			t.Errorf("%s %v: got %q, %v; want %q, %q", c.user, c.args, got, err, c.want, c.err)
		}
	}
}

// TestStatusSaysWhenNoDriftScanRuns: an environment without drift.schedule is never
// scanned, and status says so instead of "not scanned yet" forever.
func TestStatusSaysWhenNoDriftScanRuns(t *testing.T) {
	cfg := &config.Config{Repos: map[string]config.Repo{"app": {Read: []string{"bob"}, Environments: map[string]config.Environment{
		"prod":  {Branch: "main", Cluster: "c1"},
		"stage": {Branch: "stage", Cluster: "c1", Drift: config.Drift{Schedule: "@every 5m"}},
	}}}}
	sts, err := Readable(cfg, []Status{{Repo: "app", Env: "prod", LastApplied: "abc"}}, "bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WriteStatus(&b, sts, time.Now())
	for _, want := range []string{"drift    not scanned: no drift.schedule for this environment", "drift    not scanned yet (schedule @every 5m)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

func TestStatusSaysADriftWasCorrected(t *testing.T) {
	now := time.Now()
	var b strings.Builder
	WriteStatus(&b, []Status{{Repo: "app", Env: "prod", DriftSchedule: "@every 1m", DriftScanAt: now.Add(-5 * time.Second),
		DriftCorrectedBy: "0123456789abcdef", DriftCorrectedAt: now.Add(-3 * time.Second)}}, now)
	if want := "drift    none: corrected by the apply of 0123456789ab 3s ago (scanned 5s ago)"; !strings.Contains(b.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, b.String())
	}
}
