package gitserver

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindSocket(t *testing.T) {
	data := t.TempDir()
	repo := filepath.Join(data, "repos", "team", "app.git")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := FindSocket(repo); err == nil {
		t.Error("no socket yet: FindSocket must fail")
	}
	sock := filepath.Join(data, SocketName)
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := FindSocket(repo); err != nil || got != sock {
		t.Errorf("FindSocket(%s) = %q, %v; want %q", repo, got, err, sock)
	}
}
