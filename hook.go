package main

import (
	"context"
	"flag"
	"fmt"
	"os"

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
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if *socket, err = gitserver.FindSocket(wd); err != nil {
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
