// Command gitopsd is a Git server over SSH whose built-in hooks make `git push` the deploy
// action for Kubernetes: pre-receive renders, validates and previews what was pushed and
// refuses bad pushes; post-receive applies accepted commits with server-side apply; a
// scheduled drift scan keeps each cluster equal to its branch.
//
// This file holds the subcommands and their flags; serve.go wires the daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gitopsd/gitopsd/sandbox"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, fs *flag.FlagSet, args []string) error
}

var commands = []command{
	{"serve", "[--config repos.yaml]", "run the daemon: SSH Git server, hooks, reconciler, drift scans", runServe},
	{"dev", "[--dir DIR]", "start a local Kubernetes control plane and serve a demo config on it", runDev},
	{"validate", "[--config repos.yaml] [--env REPO/ENV] [DIR]", "check a working tree the way a push would be checked", runValidate},
	{"hook", "<pre-receive|post-receive>", "the hook git runs inside a push (called by the generated shims)", runHook},
	{"version", "", "print the version", runVersion},
}

func main() {
	// First of all: in a render process (started by the daemon) this renders and exits.
	sandbox.Main()
	os.Exit(run(os.Args[1:], os.Stderr))
}

// exitError carries a specific exit status (the hook's verdict) without printing anything.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("gitopsd "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintf(stderr, "usage: gitopsd %s %s\n\n%s.\n\nflags:\n", c.name, c.args, c.summary)
			fs.PrintDefaults()
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, fs, args[1:])
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ee):
			return ee.code
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "gitopsd %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "gitopsd: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage means the flag package already told the user what was wrong.
var errUsage = errors.New("usage")

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "gitopsd: git push is the deploy action.\n\nusage: gitopsd <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'gitopsd <command> --help' for the flags of a command.\n")
}

func runVersion(_ context.Context, fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Printf("gitopsd %s\n", v)
	return nil
}
