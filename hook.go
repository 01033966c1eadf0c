package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopsd/gitopsd/gitserver"
)

// runHook is what the generated shims run inside git: it hands the hook to the daemon and
// exits with the daemon's verdict.
func runHook(ctx context.Context, fs *flag.FlagSet, args []string) error {
	socket := fs.String("socket", "", "the daemon's hook socket (written into the shims; default: DATA_DIR/"+gitserver.SocketName+" found from the repo)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	if *socket == "" {
		// Repos live in DATA_DIR/repos/NAME.git; the socket in DATA_DIR.
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		*socket = findSocket(wd)
		if *socket == "" {
			fmt.Fprintf(os.Stderr, "gitopsd: cannot find the daemon's hook socket above %s; push refused\n", wd)
			return exitError{1}
		}
	}
	code := gitserver.RunHook(ctx, gitserver.HookClientOptions{
		Hook: fs.Arg(0), Socket: *socket, Stdin: os.Stdin, Output: os.Stderr,
	})
	if code != 0 {
		return exitError{code}
	}
	return nil
}

func findSocket(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if p := filepath.Join(d, gitserver.SocketName); fileExists(p) {
			return p
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
