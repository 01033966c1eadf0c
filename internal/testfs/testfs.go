// Package testfs writes file trees for tests: path -> content, where a content of
// "symlink:TARGET" makes a symlink to TARGET instead of a file.
package testfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write creates files under dir (slash-separated paths, parents created as needed).
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "symlink:"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
