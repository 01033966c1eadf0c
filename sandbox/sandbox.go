package sandbox

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/render"
)

// Limits bound one render's process.
type Limits struct {
	// Memory bounds the process's data segment in bytes (0: no bound).
	Memory int64
	// CPU bounds its CPU time (0: no bound).
	CPU time.Duration
}

// grace is how long past the render's own timeout the parent waits before it kills the
// child: the child reports its own timeout (with what it knows) when it can.
const grace = time.Second

// maxStderr bounds what is kept of a child's standard error.
const maxStderr = 16 << 10

// slots bounds the renders running at once, and so the memory they can hold together
// (slots x Limits.Memory). A slow render holds its slot until its deadline at most.
var slots = make(chan struct{}, max(4, runtime.NumCPU()))

// ErrNotStarted is returned by Render in a program that did not call Main at start.
var ErrNotStarted = errors.New("sandbox: the program did not call sandbox.Main at start (a test binary needs it in TestMain)")

// Render renders opts.Path of tree in a child process bounded by lim, with the same result
// render.Render would give in process, except that a render that exceeds its memory or
// CPU limit, or its timeout, is killed and reported as a problem of the push. The error is
// for a render that could not run at all.
func Render(ctx context.Context, tree fs.FS, opts render.Options, lim Limits) (*render.Result, error) {
	if !started {
		return nil, ErrNotStarted
	}
	full := opts
	full.Path = strings.TrimSpace(full.Path)
	defaults := render.DefaultOptions()
	if full.Timeout <= 0 {
		full.Timeout = defaults.Timeout
	}
	if full.MaxBytes <= 0 {
		full.MaxBytes = defaults.MaxBytes
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	ch, err := take()
	if err != nil {
		return nil, err
	}
	defer refill()
	// The child is done with once its answer is read: it is reaped off the render's path.
	defer func() { go ch.kill() }()

	srv := &treeServer{tree: tree, scope: full.Scope, maxFile: full.MaxBytes, maxTotal: 2 * full.MaxBytes}
	ahead := path.Clean("/" + full.Path)[1:]
	if ahead == "" {
		ahead = "."
	}
	req := request{Options: full, HasScope: full.Scope != nil, Ahead: ahead, Memory: lim.Memory, CPU: lim.CPU}
	go srv.serve(ch.tree)
	enc := gob.NewEncoder(ch.stdin)
	if err := enc.Encode(&req); err != nil {
		return nil, fmt.Errorf("sandbox: sending the request: %w (%s)", err, ch.stderrText())
	}
	// Sent as the child renders, and within the render's deadline (the child is killed at
	// it, which ends the sending too); an error here is the child gone, which reading its
	// answer tells better.
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		_ = srv.prefetch(ahead, full.MaxBytes, func(p prefetched) error { return enc.Encode(&p) })
		_ = ch.stdin.Close()
	}()
	// The tree is the caller's again once Render returns: a read-ahead still going (the
	// child answered before it needed everything) stops at its next batch, the pipe closed.
	defer func() {
		_ = ch.stdin.Close()
		<-sent
	}()

	type decoded struct {
		resp response
		err  error
	}
	out := make(chan decoded, 1)
	go func() {
		var d decoded
		d.err = gob.NewDecoder(ch.stdout).Decode(&d.resp)
		out <- d
	}()
	timer := time.NewTimer(full.Timeout + grace)
	defer timer.Stop()
	var d decoded
	select {
	case d = <-out:
	case <-timer.C:
		return problem(full, render.RuleTimeout, fmt.Sprintf("rendering took longer than %s", full.Timeout),
			"look for a template that loops over a huge range or recurses"), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("render %s: %w", full.Path, context.Cause(ctx))
	}
	if d.err != nil {
		return failed(full, lim, ch.wait(), ch.stderrText()), nil
	}
	if d.resp.Err != "" {
		return nil, fmt.Errorf("%w: %s", render.ErrBadOptions, strings.TrimPrefix(d.resp.Err, render.ErrBadOptions.Error()+": "))
	}
	res := &render.Result{Type: d.resp.Type, Problems: d.resp.Problems, Warnings: d.resp.Warnings, Sensitive: d.resp.Sensitive}
	objs, err := decodeObjects(d.resp.Objects)
	if err != nil || len(objs) != len(d.resp.Sources) {
		return nil, fmt.Errorf("sandbox: decoding the rendered objects (%d sources): %v", len(d.resp.Sources), err)
	}
	for i, o := range objs {
		res.Objects = append(res.Objects, render.Object{Unstructured: &unstructured.Unstructured{Object: o}, Source: d.resp.Sources[i]})
	}
	return res, nil
}

// failed explains a child that gave no result: it ran out of memory or CPU, or it broke.
func failed(opts render.Options, lim Limits, state *os.ProcessState, stderr string) *render.Result {
	what := "rendering"
	if opts.Type != "" && opts.Type != render.TypeAuto {
		what = opts.Type + " rendering"
	}
	ws, _ := state.Sys().(syscall.WaitStatus)
	switch {
	// The Go runtime says "out of memory"; under the race detector its allocator says
	// "failed to allocate ... (errno: 12)"; a new thread's stack that does not fit makes
	// pthread_create fail with EAGAIN.
	case strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory") ||
		strings.Contains(stderr, "failed to allocate") || strings.Contains(stderr, "pthread_create failed"):
		return problem(opts, render.RuleLimit, fmt.Sprintf("%s used more than %s of memory (render.max_memory)", what, mib(lim.Memory)),
			"look for a template that builds huge strings or recurses (tpl, include); if the chart really needs more, raise render.max_memory in repos.yaml")
	case ws.Signaled() && (ws.Signal() == syscall.SIGXCPU || ws.Signal() == syscall.SIGKILL) && lim.CPU > 0,
		strings.Contains(stderr, "SIGXCPU"):
		return problem(opts, render.RuleLimit, fmt.Sprintf("%s used more than %s of CPU time (render.max_cpu)", what, lim.CPU),
			"look for a template that loops over a huge range; if the chart really needs more, raise render.max_cpu in repos.yaml")
	}
	msg := "the render process failed"
	if first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n"); first != "" {
		msg += ": " + first
	} else if state != nil {
		msg += ": " + state.String()
	}
	return problem(opts, render.RuleInternal, msg, "this is a bug in gitopsd or a library it uses; please report it")
}

func problem(opts render.Options, rule, msg, hint string) *render.Result {
	file := strings.Trim(opts.Path, "/")
	if file == "" {
		file = "."
	}
	return &render.Result{Type: opts.Type, Problems: []render.Problem{{File: file, Rule: rule, Message: msg, Hint: hint}}}
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// child is a started render process waiting for its request.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	tree   *os.File // the parent's end of the tree socket
	stderr *boundedBuffer
	once   sync.Once
	done   chan struct{} // closed once the process has been reaped
	state  *os.ProcessState
}

// The warm child: started ahead of need, so that a render does not wait for a process (and
// the Go runtime and package initialisation of a large binary) to start.
var warm struct {
	mu    sync.Mutex
	ready *child
	// starting is open while the next warm child is being started.
	starting chan struct{}
}

// take returns a started child: the warm one, once it is started, or a new one.
func take() (*child, error) {
	warm.mu.Lock()
	if wait := warm.starting; warm.ready == nil && wait != nil {
		warm.mu.Unlock()
		<-wait
		warm.mu.Lock()
	}
	ch := warm.ready
	warm.ready = nil
	warm.mu.Unlock()
	if ch != nil && !ch.exited() {
		return ch, nil
	}
	if ch != nil {
		go ch.kill()
	}
	return start()
}

// Warm starts the next render process if none is ready or starting, and waits until it is
// ready: the daemon calls it at start, so that the first push does not wait for one either.
func Warm() error {
	if !started {
		return ErrNotStarted
	}
	refill()
	warm.mu.Lock()
	wait := warm.starting
	warm.mu.Unlock()
	if wait != nil {
		<-wait
	}
	warm.mu.Lock()
	defer warm.mu.Unlock()
	if warm.ready == nil {
		return errors.New("sandbox: the render process did not start")
	}
	return nil
}

// refill starts the next warm child in the background, unless one is ready or starting.
func refill() {
	warm.mu.Lock()
	defer warm.mu.Unlock()
	if warm.ready != nil || warm.starting != nil {
		return
	}
	done := make(chan struct{})
	warm.starting = done
	go func() {
		next, err := start() // on error, the next render starts its own and reports it
		warm.mu.Lock()
		defer warm.mu.Unlock()
		if err == nil {
			if warm.ready == nil {
				warm.ready = next
			} else {
				go next.kill()
			}
		}
		warm.starting = nil
		close(done)
	}()
}

// isolate says whether children get a user and network namespace of their own; it is
// turned off, once and for all, when the kernel refuses one.
var isolate = struct {
	sync.Mutex
	off bool
	why error
}{}

// Isolation says why render processes get no network namespace of their own (nil when they
// do): the kernel or the service manager refused to make one. They still get no
// credentials, no PATH and no files but the pushed tree. Meaningful after Warm.
func Isolation() error {
	isolate.Lock()
	defer isolate.Unlock()
	return isolate.why
}

func start() (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	for {
		isolate.Lock()
		ns := !isolate.off
		isolate.Unlock()
		ch, err := startWith(exe, ns)
		if err == nil || !ns {
			return ch, err
		}
		isolate.Lock()
		if !isolate.off {
			isolate.off, isolate.why = true, err
		}
		isolate.Unlock()
	}
}

func startWith(exe string, ns bool) (*child, error) {
	parentEnd, childEnd, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer childEnd.Close()
	cmd := exec.Command(exe)
	// No inherited environment: no HOME, ssh or git configuration, no credentials, and no
	// PATH to find git (Kustomize's way to fetch).
	cmd.Env = []string{modeEnv + "=render"}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{childEnd}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if ns {
		uid, gid := os.Getuid(), os.Getgid()
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	}
	// Pipes of our own rather than cmd's: cmd.Wait, which runs as soon as the process ends,
	// would close cmd's read end before the result is read.
	inR, inW, err := os.Pipe()
	if err != nil {
		parentEnd.Close()
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		parentEnd.Close()
		inR.Close()
		inW.Close()
		return nil, err
	}
	ch := &child{cmd: cmd, tree: parentEnd, stdin: inW, stdout: outR, stderr: &boundedBuffer{max: maxStderr}, done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, ch.stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		parentEnd.Close()
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("sandbox: starting the render process: %w", err)
	}
	go ch.wait()
	// Ready once it has warmed up (see warmUp) and said so.
	var b [1]byte
	if _, err := io.ReadFull(ch.stdout, b[:]); err != nil || b[0] != readyByte {
		ch.kill()
		return nil, fmt.Errorf("sandbox: the render process did not start: %v %s", err, ch.stderrText())
	}
	return ch, nil
}

func socketPair() (parent, child *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "tree"), os.NewFile(uintptr(fds[1]), "tree-child"), nil
}

// wait reaps the child once and returns how it ended.
func (c *child) wait() *os.ProcessState {
	c.once.Do(func() {
		_ = c.cmd.Wait()
		c.state = c.cmd.ProcessState
		close(c.done)
	})
	<-c.done
	return c.state
}

// exited reports whether a warm child died while it waited (killed from outside).
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill ends the child's process group (nothing it may have started outlives it) and
// releases its pipes.
func (c *child) kill() {
	if c.cmd.Process != nil {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	c.wait()
	_ = c.tree.Close()
	_ = c.stdin.Close()
	_ = c.stdout.Close()
}

func (c *child) stderrText() string { return c.stderr.String() }

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
