package reconcile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update("team/platform", "staging", func(st *Status) {
		st.LastApplied = "abc"
		st.Objects = 3
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update("app", "prod", func(st *Status) { st.LastError = "boom" }); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := s2.Get("team/platform", "staging")
	if got.LastApplied != "abc" || got.Objects != 3 || got.Repo != "team/platform" {
		t.Errorf("status lost across reopen: %+v", got)
	}
	if all := s2.All(); len(all) != 2 || all[0].Key() != "app/prod" {
		t.Errorf("All: %+v", all)
	}
	if _, err := os.Stat(filepath.Join(dir, "team%2Fplatform@staging.json")); err != nil {
		t.Errorf("repo names with / are escaped in file names: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".status-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestStoreIgnoresCorruptFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x@y.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Get("x", "y"); st.LastApplied != "" {
		t.Errorf("corrupt file must read as empty: %+v", st)
	}
}

// TestStoreWriteErr: a failed write is kept until a write succeeds again. The directory is
// replaced by a file, which stops root too (permission bits would not).
func TestStoreWriteErr(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "status")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update("platform", "staging", func(st *Status) { st.LastSeen = "abc" }); err == nil || s.WriteErr() == nil {
		t.Fatalf("a write into a file must fail and be kept: %v", err)
	}
	if s.Get("platform", "staging").LastSeen != "abc" {
		t.Error("the status in memory must still change")
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update("platform", "staging", func(*Status) {}); err != nil || s.WriteErr() != nil {
		t.Fatalf("a write that succeeds clears the failure: %v, %v", err, s.WriteErr())
	}
}
