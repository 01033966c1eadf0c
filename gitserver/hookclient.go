package gitserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// HookClientOptions is what `gitopsd hook` knows: the hook's name, where the daemon listens,
// and what git gave the hook.
type HookClientOptions struct {
	Hook   string
	Socket string
	Stdin  io.Reader
	// Output receives the daemon's messages; git relays the hook's stderr as `remote:` lines.
	Output io.Writer
	// Getenv reads git's environment (os.Getenv when nil).
	Getenv func(string) string
	// Dir is the repository git runs the hook in (the working directory when empty).
	Dir string
	// DialTimeout bounds connecting to the daemon (5s when zero).
	DialTimeout time.Duration
}

// RunHook is the hook side of the bridge: it forwards the hook's input to the daemon,
// streams the daemon's output and returns the daemon's verdict as an exit status. Every
// failure to reach a verdict refuses (status 1) with a message: a push must never be
// accepted because the daemon could not be asked.
func RunHook(ctx context.Context, opts HookClientOptions) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(opts.Output, "gitopsd: "+format+"\n", args...)
		if opts.Hook == "pre-receive" {
			fmt.Fprintf(opts.Output, "gitopsd: push refused: nothing was changed\n")
		}
		return 1
	}
	if opts.Hook != "pre-receive" && opts.Hook != "post-receive" {
		return fail("unknown hook %q (expected pre-receive or post-receive)", opts.Hook)
	}
	req, err := readHookRequest(opts)
	if err != nil {
		return fail("%s: %v", opts.Hook, err)
	}
	timeout := opts.DialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "unix", opts.Socket)
	if err != nil {
		return fail("the gitopsd daemon cannot be reached (%v); ask an administrator to check the gitopsd service", err)
	}
	defer conn.Close()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	line, err := json.Marshal(req)
	if err != nil {
		return fail("%s: %v", opts.Hook, err)
	}
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return fail("the gitopsd daemon hung up (%v)", err)
	}
	r := bufio.NewReader(conn)
	for {
		typ, payload, err := readFrame(r)
		if err != nil {
			return fail("the gitopsd daemon went away before deciding (%v)", err)
		}
		switch typ {
		case frameOutput:
			if _, err := opts.Output.Write(payload); err != nil {
				return 1
			}
		case frameVerdict:
			if len(payload) != 1 {
				return fail("bad verdict from the daemon")
			}
			return int(payload[0])
		default:
			return fail("unexpected message %q from the daemon", typ)
		}
	}
}

// readHookRequest gathers what git hands a hook: ref updates on stdin, push options and the
// quarantine in the environment, the session token the daemon put there.
func readHookRequest(opts HookClientOptions) (*hookRequest, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	dir := opts.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		dir = wd
	}
	if gd := getenv("GIT_DIR"); gd != "" && gd != "." {
		if !filepath.IsAbs(gd) {
			gd = filepath.Join(dir, gd)
		}
		dir = gd
	}
	req := &hookRequest{
		Hook:          opts.Hook,
		Session:       getenv(envSession),
		GitDir:        filepath.Clean(dir),
		QuarantineDir: getenv("GIT_QUARANTINE_PATH"),
		ObjectDir:     getenv("GIT_OBJECT_DIRECTORY"),
	}
	if alt := getenv("GIT_ALTERNATE_OBJECT_DIRECTORIES"); alt != "" {
		req.AlternateObjectDirs = filepath.SplitList(alt)
	}
	if n, err := strconv.Atoi(getenv("GIT_PUSH_OPTION_COUNT")); err == nil {
		for i := range n {
			req.Options = append(req.Options, getenv(fmt.Sprintf("GIT_PUSH_OPTION_%d", i)))
		}
	}
	sc := bufio.NewScanner(opts.Stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			return nil, fmt.Errorf("unexpected hook input %q", sc.Text())
		}
		req.Updates = append(req.Updates, RefUpdate{Old: f[0], New: f[1], Name: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ref updates: %w", err)
	}
	return req, nil
}
