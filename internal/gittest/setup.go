package gittest

import "os"

// Setup builds the binary like Main does, for a TestMain that also starts other things
// (kubetest.Setup); call the returned cleanup after m.Run.
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

// Signal sends sig to the running daemon (SIGHUP to reload, SIGKILL to crash it).
func (d *Daemon) Signal(sig os.Signal) error {
	if d.cmd == nil {
		return os.ErrProcessDone
	}
	return d.cmd.Process.Signal(sig)
}

// Exited returns a channel closed when the daemon process has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.done }
