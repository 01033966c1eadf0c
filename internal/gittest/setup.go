package gittest

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/sandbox"
)

// Setup builds the binary like Main does, for a TestMain that also starts other things;
// call the returned cleanup after m.Run.
func Setup() (cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "gittest-bin-")
	if err != nil {
		return nil, err
	}
	bin, err := Build(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	binary = bin
	return func() { os.RemoveAll(dir) }, nil
}

// MainWithCluster is Main plus the package's real API server (kubetest): for packages whose
// tests push to gitopsd and look at the cluster. With benchOnly, neither is started unless
// benchmarks run (go test -bench), so that `go test ./...` does not pay for them.
func MainWithCluster(m *testing.M, benchOnly bool) {
	sandbox.Main()
	if benchOnly {
		flag.Parse()
		if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
			os.Exit(m.Run())
		}
	}
	os.Exit(func() int {
		cleanBin, err := Setup()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gittest:", err)
			return 1
		}
		defer cleanBin()
		stop, err := kubetest.Setup()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gittest:", err)
			return 1
		}
		defer stop()
		return m.Run()
	}())
}

// Signal sends sig to the running daemon (SIGHUP to reload, SIGKILL to crash it).
func (d *Daemon) Signal(sig os.Signal) error {
	if d.cmd == nil {
		return os.ErrProcessDone
	}
	return d.cmd.Process.Signal(sig)
}

// Exited returns a channel closed when the daemon process has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.done }

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }
