package gitserver

import (
	"fmt"
	"os"
	"path/filepath"
)

// FindSocket finds the daemon's hook socket from dir, where git runs a hook: repositories
// live in DATA_DIR/repos/NAME.git (NAME may hold slashes) and the socket in DATA_DIR, so
// it is the nearest SocketName in dir or a directory above it.
func FindSocket(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, SocketName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s in %s or above it", SocketName, dir)
		}
	}
}
